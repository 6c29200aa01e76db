"""/approval show, /approval pending, /approval export, App Home, and the digest's metrics."""

import csv
import io
from datetime import timedelta

from clock import utcnow
from localslack.payloads import app_home_opened, state_value
from models.approvals import queries
from models.db import session_scope
from tests.approvals.conftest import LEAD1, LEAD2, PROD1, PROD2, click, file_activity, modal_of
from tests.conftest import wait_until
from tests.outbox import drained
from tests.requests.conftest import OPS


def test_show_lists_every_event_of_the_approval(sender, slack, tandem, workspace):
    file_activity(sender, slack, tandem)
    click(sender, slack, LEAD1, "REQ-1", "Ops lead")
    click(sender, slack, PROD1, "REQ-1", "Product")
    click(sender, slack, PROD2, "REQ-1", "Product", "approval_reject")
    view = wait_until(lambda: modal_of(slack, PROD2), message="the reason modal")
    sender.view_submission(PROD2, view, {"reason": {"reason": state_value("plain_text_input", "Too late <!channel>")}})
    tandem.settle()
    shown = sender.command("/approval", "show REQ-1", user_id=OPS).json()
    text = "\n".join(b["text"]["text"] for b in shown["blocks"] if b["type"] == "section")
    for words in ("approval started", f"<@{LEAD1}> approved", "stage completed", f"<@{PROD2}> rejected",
                  "Too late &lt;!channel&gt;", "approval ended: rejected"):
        assert words in text, words
    assert "REQ-9" in sender.command("/approval", "show REQ-9", user_id=OPS).json()["text"]


def test_pending_and_home_show_what_waits_for_me(sender, slack, tandem, workspace):
    file_activity(sender, slack, tandem, title="First")
    file_activity(sender, slack, tandem, title="Second")
    click(sender, slack, LEAD1, "REQ-1", "Ops lead")
    tandem.settle()
    theirs = sender.command("/approval", "pending", user_id=LEAD2).json()  # REQ-1's first stage is decided
    assert "Awaiting your approval: 1." in theirs["text"] and "REQ-2" in str(theirs["blocks"])
    assert "REQ-1" not in str(theirs["blocks"])
    mine = sender.command("/approval", "pending", user_id=PROD1).json()
    assert "Awaiting your approval: 1." in mine["text"] and "REQ-1" in str(mine["blocks"])
    assert "Nothing awaits" in sender.command("/approval", "pending", user_id=OPS).json()["text"]
    sender.event(app_home_opened(LEAD2))
    home = drained(lambda: (slack.views.get(LEAD2) or {}).get("home"), "the Home tab")
    texts = [b.get("text", {}).get("text", "") for b in home["blocks"]]
    assert "Awaiting my approval (1)" in texts and any("REQ-2" in t for t in texts)


def test_export_uploads_every_decision_as_csv(sender, slack, tandem, workspace):
    file_activity(sender, slack, tandem)
    click(sender, slack, LEAD1, "REQ-1", "Ops lead")
    click(sender, slack, PROD1, "REQ-1", "Product")
    tandem.settle()
    sent = sender.command("/approval", "export", user_id=OPS)
    assert sent.status == 200 and sent.text in ("", "{}")
    answer = wait_until(lambda: slack.responses(sent.sent["response_url"]), message="the export answer")[-1]
    assert "Decisions exported: 2." in answer["text"]
    [upload] = slack.files
    rows = list(csv.DictReader(io.StringIO(upload.content.decode("utf-8-sig"))))
    assert [(r["request"], r["stage_name"], r["approver"], r["decision"]) for r in rows] == [
        ("REQ-1", "Ops lead", LEAD1, "approve"), ("REQ-1", "Product", PROD1, "approve")]


def test_lead_time_per_stage_and_approval_rate_for_the_digest(sender, slack, tandem, workspace):
    file_activity(sender, slack, tandem, title="Approved")
    for user, stage in ((LEAD1, "Ops lead"), (PROD1, "Product"), (PROD2, "Product")):
        click(sender, slack, user, "REQ-1", stage)
    file_activity(sender, slack, tandem, title="Rejected")
    click(sender, slack, LEAD2, "REQ-2", "Ops lead", "approval_reject")
    view = wait_until(lambda: modal_of(slack, LEAD2), message="the reason modal")
    sender.view_submission(LEAD2, view, {"reason": {"reason": state_value("plain_text_input", "No")}})
    tandem.settle()
    now = utcnow()
    with session_scope(tandem.engine) as session:
        team = workspace.team_id
        lead = queries.lead_time_per_stage(session, team_id=team, start=now - timedelta(hours=1), end=now)
        rate = queries.approval_rate(session, team_id=team, start=now - timedelta(hours=1), end=now)
        assert queries.approval_rate(session, team_id=team, start=now - timedelta(days=9),
                                     end=now - timedelta(days=8)) is None
    assert set(lead) == {"Ops lead", "Product"} and all(0 <= seconds < 60 for seconds in lead.values())
    assert rate == 0.5


def test_a_chinese_approver_gets_a_chinese_card_and_usage_is_listed(sender, slack, tandem, workspace):
    slack.add_user(LEAD1, name="lead-zh", locale="zh-CN")
    file_activity(sender, slack, tandem)
    from tests.approvals.conftest import buttons, card_for

    card = drained(lambda: next((m for m in slack.messages(LEAD1) if "REQ-1" in m["text"]), None),
                   "the Chinese card")
    assert card["text"].startswith("需要审批") and "批准" in str(card["blocks"])
    assert "approval_approve" in buttons(card_for(slack, LEAD2, "REQ-1", "Ops lead"))
    usage = sender.command("/approval", "frobnicate", user_id=OPS).json()
    assert "Unknown subcommand `frobnicate`" in usage["text"]
    assert "/approval delegate @deputy until 2026-12-31" in str(usage["blocks"])
