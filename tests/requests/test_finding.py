"""Finding requests end to end: /request list (filters, pages), /request show, /request export."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest

from clock import utcnow
from localslack.payloads import action
from models.db import session_scope
from models.requests import Request
from models.requests.forms import CleanForm
from models.requests.lifecycle import add_comment, assign, file_request, transition
from tests.conftest import wait_until
from tests.requests.conftest import OPS, OPS_ZH, OUTSIDER, PM1, PM2, file_quickly

HOSTILE = "<!channel> 上线活动 🎉 \u202eRTL עברית & <b>"


# -- helpers ----------------------------------------------------------------------------------
def file_direct(tandem, team_id, requester=OPS, *, kind="feature", title="A request", labels=(), priority="P2",
                fields=None, when=None) -> Request:
    """File through the rule only (no card): quick, for lists that need many requests."""
    form = CleanForm(kind=kind, title=title, priority=priority, wanted_by=None, labels=list(labels),
                     fields=fields or {"problem": "p", "user_story": "s", "expected_value": "v"})
    with session_scope(tandem.engine) as session:
        return file_request(session, team_id=team_id, requester=requester, form=form, now=when or utcnow()).request


def change(tandem, team_id, number, action_name, *, actor=PM1, reason=None, now=None):
    with session_scope(tandem.engine) as session:
        transition(session, team_id=team_id, number=number, action=action_name, actor=actor, may_triage=True,
                   now=now or utcnow(), reason=reason)


def give(tandem, team_id, number, assignee, *, actor=PM1, now=None):
    with session_scope(tandem.engine) as session:
        assign(session, team_id=team_id, number=number, actor=actor, assignee=assignee, may_triage=True,
               now=now or utcnow())


def refs(message: dict) -> list[str]:
    """The REQ-n shown in bold at the start of each line of a list, in order."""
    return [m for block in message["blocks"] if block["type"] == "section"
            for m in re.findall(r"^\*(REQ-\d+)\*", block.get("text", {}).get("text", ""))]


def buttons(message: dict) -> dict[str, dict]:
    return {e["action_id"]: e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]}


def everything(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False)


def listing(sender, user, text=""):
    response = sender.command("/request", f"list {text}".strip(), user_id=user)
    assert response.status == 200
    return response.json()


def click(sender, slack, user, message, action_id):
    """Click a list button on the ephemeral message; the new page replaces it via response_url."""
    sent = sender.action(user, [action(action_id)], message={"ts": "1763780000.000100", **message}).sent
    return wait_until(lambda: slack.responses(sent["response_url"]), message="the next page")[-1]


# -- /request list ----------------------------------------------------------------------------
def test_every_filter_alone_and_combined(sender, slack, tandem, workspace):
    team = workspace.team_id
    first = file_quickly(tandem, team, OPS, title="Checkout button", labels=["checkout", "q4"])     # 1
    file_quickly(tandem, team, OPS_ZH, kind="activity", title="Double 11 campaign",                  # 2
                 fields={"details": "d", "expected_effect": "e"}, labels=["q4"])
    file_direct(tandem, team, OPS, kind="optimisation", title="Slow search",                         # 3
                fields={"current_problem": "c", "proposed_change": "p", "affected": "a"})
    file_direct(tandem, team, OPS_ZH, title="Dark mode", labels=["checkout"])                         # 4
    file_direct(tandem, team, OPS, title="Old idea")                                                  # 5
    assert first.number == 1
    change(tandem, team, 1, "accept")
    give(tandem, team, 1, PM2)
    change(tandem, team, 2, "accept")
    change(tandem, team, 2, "start")
    give(tandem, team, 2, PM2)
    change(tandem, team, 3, "need_info", reason="which page?")
    change(tandem, team, 5, "decline", reason="not now")
    give(tandem, team, 4, PM1)

    assert refs(listing(sender, OPS)) == ["REQ-5", "REQ-4", "REQ-3", "REQ-2", "REQ-1"]
    expected = {
        "mine": ["REQ-5", "REQ-3", "REQ-1"],
        "assigned": [],
        "open": ["REQ-4", "REQ-3", "REQ-2", "REQ-1"],
        "status:new": ["REQ-4"],
        "status:need_info": ["REQ-3"],
        "open status:done": [],
        "open status:declined status:new": ["REQ-4"],
        "status:accepted status:in_progress": ["REQ-2", "REQ-1"],
        "status:declined": ["REQ-5"],
        "kind:activity": ["REQ-2"],
        "kind:optimisation kind:feature": ["REQ-5", "REQ-4", "REQ-3", "REQ-1"],
        "label:q4": ["REQ-2", "REQ-1"],
        "label:#Checkout": ["REQ-4", "REQ-1"],
        "label:checkout label:q4": ["REQ-1"],
        "MINE OPEN": ["REQ-3", "REQ-1"],
        "mine open kind:feature label:checkout": ["REQ-1"],
    }
    for text, want in expected.items():
        assert refs(listing(sender, OPS, text)) == want, text
    assert refs(listing(sender, PM2, "assigned")) == ["REQ-2", "REQ-1"]
    assert refs(listing(sender, PM2, "assigned status:in_progress")) == ["REQ-2"]
    assert refs(listing(sender, PM1, "assigned open")) == ["REQ-4"]


def test_a_line_shows_ref_title_status_kind_priority_and_people(sender, slack, tandem, workspace):
    file_quickly(tandem, workspace.team_id, OPS, title="Faster export", priority="P1")
    give(tandem, workspace.team_id, 1, PM1)
    message = listing(sender, OPS, "mine")
    assert message["response_type"] == "ephemeral"
    assert message["text"] == "Requests matching `mine`"
    line = message["blocks"][1]["text"]["text"]
    assert line.startswith("*REQ-1*  \u2068Faster export\u2069\n")
    for part in ("New", "New feature", "P1", f"requested by <@{OPS}>", f"owner <@{PM1}>"):
        assert part in line
    assert not buttons(message)  # one page: no Previous/Next


def test_pages_forward_and_back_keep_the_filter(sender, slack, tandem, workspace):
    team = workspace.team_id
    for n in range(1, 26):  # 25 requests: activity ones on odd numbers (13 of them)
        file_direct(tandem, team, OPS, kind="activity" if n % 2 else "feature", title=f"Request {n}",
                    fields={"details": "d", "expected_effect": "e"} if n % 2 else None)
    page1 = listing(sender, OPS)
    assert refs(page1) == [f"REQ-{n}" for n in range(25, 15, -1)]
    assert set(buttons(page1)) == {"request_list_older"}
    page2 = click(sender, slack, OPS, page1, "request_list_older")
    assert page2["replace_original"] is True
    assert refs(page2) == [f"REQ-{n}" for n in range(15, 5, -1)]
    assert set(buttons(page2)) == {"request_list_older", "request_list_newer"}
    page3 = click(sender, slack, OPS, page2, "request_list_older")
    assert refs(page3) == ["REQ-5", "REQ-4", "REQ-3", "REQ-2", "REQ-1"]
    assert set(buttons(page3)) == {"request_list_newer"}
    back = click(sender, slack, OPS, page3, "request_list_newer")
    assert refs(back) == refs(page2) and set(buttons(back)) == {"request_list_older", "request_list_newer"}
    first_again = click(sender, slack, OPS, back, "request_list_newer")
    assert refs(first_again) == refs(page1) and set(buttons(first_again)) == {"request_list_older"}

    activity = listing(sender, OPS, "kind:activity")
    assert refs(activity) == [f"REQ-{n}" for n in range(25, 5, -2)]
    assert buttons(activity)["request_list_older"]["value"] == "7|kind:activity"
    rest = click(sender, slack, OPS, activity, "request_list_older")
    assert refs(rest) == ["REQ-5", "REQ-3", "REQ-1"]
    assert rest["text"] == "Requests matching `kind:activity`"
    assert refs(click(sender, slack, OPS, rest, "request_list_newer")) == refs(activity)


def test_a_forged_page_button_gets_a_clear_answer(sender, slack, workspace):
    message = {"ts": "1763780000.000100", "blocks": []}
    sent = sender.action(OPS, [action("request_list_older", "12|kind:nonsense")], message=message).sent
    answer = wait_until(lambda: slack.responses(sent["response_url"]), message="the answer")[-1]
    assert "Unknown filter `kind:nonsense`" in answer["text"]


def test_empty_lists_say_so_and_suggest_a_filter(sender, slack, tandem, workspace):
    empty = listing(sender, OPS)
    assert "No requests yet. File one with `/request`." in everything(empty)
    file_direct(tandem, workspace.team_id, OPS)
    nothing = listing(sender, OPS, "assigned status:done")
    assert refs(nothing) == []
    assert "No requests match `assigned status:done`." in everything(nothing)
    assert "Try `/request list open`, `/request list mine` or fewer filters." in everything(nothing)


@pytest.mark.parametrize("text, given", [("bogus", "bogus"), ("open status:closed", "status:closed"),
                                         ("kind:", "kind:"), ("label:", "label:")])
def test_an_unknown_filter_is_named(sender, workspace, text, given):
    message = listing(sender, OPS, text)
    assert message["response_type"] == "ephemeral"
    assert f"Unknown filter `{given}`" in message["text"]
    assert "status:new|need_info" in message["text"]


def test_hostile_titles_are_shown_escaped(sender, slack, tandem, workspace):
    file_quickly(tandem, workspace.team_id, OPS, title=HOSTILE)
    for message in (listing(sender, OPS), sender.command("/request", "show REQ-1", user_id=OPS).json()):
        text = "\n".join(mrkdwn(message))
        assert "<!channel>" not in text and "<b>" not in text
        assert "&lt;!channel&gt; 上线活动 🎉 \u202eRTL עברית &amp; &lt;b&gt;" in text
    header = sender.command("/request", "show REQ-1", user_id=OPS).json()["blocks"][0]
    assert header["text"] == {"type": "plain_text", "text": f"REQ-1 {HOSTILE}"}  # plain text never pings


def mrkdwn(message: dict) -> list[str]:
    """The message's text and every mrkdwn text object in it: what Slack parses for mentions."""
    found = [message["text"]]

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message["blocks"])
    return found


# -- /request show ----------------------------------------------------------------------------
def test_show_gives_every_field_and_the_whole_timeline(sender, slack, tandem, workspace):
    team = workspace.team_id
    start = utcnow()  # the later changes happen in the following hours
    file_quickly(tandem, team, OPS, kind="activity", title="Spring sale", labels=["q4", "growth"], priority="P1",
                 fields={"details": "Banner & push", "expected_effect": "+5% GMV", "support": ["design", "data"],
                         "target_metric": "GMV", "target_value": "5", "budget_amount": "1000",
                         "budget_currency": "CNY", "starts_at": (start + timedelta(days=10)).isoformat(),
                         "ends_at": (start + timedelta(days=12)).isoformat()})
    change(tandem, team, 1, "need_info", reason="Which <!here> regions?", now=start + timedelta(hours=1))
    with session_scope(tandem.engine) as session:
        add_comment(session, team_id=team, request_id=_id(session, team, 1), author=OPS,
                    text="Only =China & HK", slack_ts="1763780001.000001", now=start + timedelta(hours=2))
    change(tandem, team, 1, "accept", now=start + timedelta(hours=3))
    give(tandem, team, 1, PM2, now=start + timedelta(hours=4))
    change(tandem, team, 1, "start", actor=PM2, now=start + timedelta(hours=5))
    change(tandem, team, 1, "done", actor=PM2, now=start + timedelta(hours=6))

    message = sender.command("/request", "show REQ-1", user_id=OUTSIDER).json()
    assert message["response_type"] == "ephemeral"
    assert message["blocks"][0]["text"]["text"] == "REQ-1 Spring sale"
    text = everything(message)
    for part in ("Activity request", "Done", "P1", f"<@{OPS}>", f"<@{PM2}>", "`q4`", "`growth`", "Banner &amp; push",
                 "+5% GMV", "Design, Data", "GMV → 5", "1000 CNY", "*Filed*", "*Triaged*", "*Starts*"):
        assert part in text, part
    timeline = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"
                and "<!date^" in b.get("text", {}).get("text", "") and "·" in b["text"]["text"]]
    lines = "\n".join(timeline).split("\n")
    assert len(lines) == 8  # filed, need_info, comment, replied (back to new), accept, assigned, start, done
    assert f"<@{OPS}> filed the request" in lines[0]
    assert f"<@{PM1}> asked for more information · New → Needs info — “Which &lt;!here&gt; regions?”" in lines[1]
    assert f"<@{OPS}> commented: “Only =China &amp; HK”" in lines[2]
    assert f"<@{OPS}> replied · Needs info → New" in lines[3]
    assert f"<@{PM1}> accepted · New → Accepted" in lines[4]
    assert f"<@{PM1}> changed the owner · <@{PM2}>" in lines[5]
    assert f"<@{PM2}> marked as done · In progress → Done" in lines[7]
    stamps = [int(re.search(r"<!date\^(\d+)\^", line).group(1)) for line in lines]
    assert stamps == sorted(stamps) and stamps[1] == int((start + timedelta(hours=1)).timestamp())


def _id(session, team, number):
    from sqlmodel import select

    return session.exec(select(Request.id).where(Request.team_id == team, Request.number == number)).one()


def test_a_long_timeline_still_fits_one_message(sender, slack, tandem, workspace):
    team = workspace.team_id
    file_direct(tandem, team, OPS)
    with session_scope(tandem.engine) as session:
        request_id = _id(session, team, 1)
        for n in range(230):
            add_comment(session, team_id=team, request_id=request_id, author=OPS, text=f"note {n} " + "&" * 900,
                        slack_ts=f"1763780001.{n:06d}", now=utcnow())
    message = sender.command("/request", "show 1", user_id=OPS).json()
    assert len(message["blocks"]) <= 50
    text = everything(message)
    assert "filed the request" in text and "note 229" in text and "note 0 " in text
    assert "… 51 more events, not shown here" in text


@pytest.mark.parametrize("text, answer", [
    ("show REQ-999", "There is no REQ-999 in this workspace."),
    ("show 999", "There is no REQ-999 in this workspace."),
    ("show REQ-x1", "`REQ-x1` is not a request id. Use the form REQ-42 (or just 42)."),
    ("show <!channel>", "`&lt;!channel&gt;` is not a request id."),
    ("show", "Which request? Use `/request show REQ-42` (or just 42)."),
])
def test_show_unknown_or_malformed_ids(sender, workspace, text, answer):
    message = sender.command("/request", text, user_id=OPS).json()
    assert message["response_type"] == "ephemeral"
    assert answer in everything(message)
    assert "<!channel>" not in everything(message)


def test_show_accepts_both_forms_of_id(sender, tandem, workspace):
    file_direct(tandem, workspace.team_id, OPS, title="Both forms")
    for ref in ("REQ-1", "req-1", "REQ1", "1"):
        assert sender.command("/request", f"show {ref}", user_id=OPS).json()["blocks"][0]["text"]["text"] == \
            "REQ-1 Both forms"


# -- Chinese ----------------------------------------------------------------------------------
def test_a_chinese_user_reads_chinese(sender, slack, tandem, workspace):
    file_direct(tandem, workspace.team_id, OPS_ZH, title="双十一活动")
    message = listing(sender, OPS_ZH)
    assert message["text"] == "全部需求"
    assert "提出人 <@U0OPSZH>" in everything(message) and "尚无负责人" in everything(message)
    assert "没有符合 `assigned` 的需求。" in everything(listing(sender, OPS_ZH, "assigned"))
    assert "未知筛选条件 `bogus`" in listing(sender, OPS_ZH, "bogus")["text"]
    shown = everything(sender.command("/request", "show REQ-1", user_id=OPS_ZH).json())
    assert "*时间线*" in shown and "*提交时间*" in shown
    assert "要查看哪个需求" in everything(sender.command("/request", "show", user_id=OPS_ZH).json())


# -- /request export --------------------------------------------------------------------------
def exported(sender, slack, user, text=""):
    sent = sender.command("/request", f"export {text}".strip(), user_id=user)
    assert sent.status == 200 and sent.text in ("", "{}")  # acked at once; the answer follows
    return wait_until(lambda: slack.responses(sent.sent["response_url"]), message="the export answer")[-1]


def csv_rows(upload) -> list[dict]:
    assert upload.content.startswith("\ufeff".encode())  # BOM: Excel reads it as UTF-8
    return list(csv.DictReader(io.StringIO(upload.content.decode("utf-8-sig"))))


def test_export_uploads_a_csv_to_the_users_dm(sender, slack, tandem, workspace):
    team = workspace.team_id
    file_quickly(tandem, team, OPS, title="=HYPERLINK(\"http://evil\",\"x\")", labels=["q4"])
    file_direct(tandem, team, OPS_ZH, kind="activity", title="双十一 🎉 <!channel>", labels=["q4", "growth"],
                fields={"details": "@everyone 看这里", "expected_effect": "-5% churn"}, priority="P0")
    file_direct(tandem, team, OPS, title="+1 for dark mode")
    file_direct(tandem, team, OPS, title="Not exported", labels=["other"])
    give(tandem, team, 2, PM1)
    change(tandem, team, 2, "accept")

    answer = exported(sender, slack, OPS, "label:q4")
    assert answer["text"] == "Your export of 2 requests is in your DM with Tandem."
    [upload] = slack.files
    assert upload.completed and upload.channel_id == slack.dm_channel_of(OPS)
    assert upload.filename.endswith(".csv")
    assert "Requests matching `label:q4`: 2." in upload.initial_comment
    rows = csv_rows(upload)
    assert list(rows[0]) == ["id", "kind", "title", "status", "priority", "requester", "assignee", "wanted_by",
                             "labels", "created_at", "triaged_at", "done_at", "fields"]
    assert [r["id"] for r in rows] == ["REQ-1", "REQ-2"]
    one, two = rows
    assert one["title"] == "'=HYPERLINK(\"http://evil\",\"x\")"  # never a formula
    assert (one["status"], one["requester"], one["assignee"], one["triaged_at"]) == ("new", OPS, "", "")
    assert two["title"] == "双十一 🎉 <!channel>"  # CSV keeps the user's text as typed
    assert (two["kind"], two["status"], two["priority"], two["assignee"]) == ("activity", "accepted", "P0", PM1)
    assert two["labels"] == "q4, growth" and two["triaged_at"] and two["created_at"].endswith("+00:00")
    assert json.loads(two["fields"]) == {"details": "@everyone 看这里", "expected_effect": "-5% churn"}


def test_export_neutralises_every_formula_start(sender, slack, tandem, workspace):
    for title in ("=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tTab", "Plain = fine"):
        file_direct(tandem, workspace.team_id, OPS, title=title, labels=["x"] if title == "=1+1" else ())
    exported(sender, slack, OPS)
    titles = [r["title"] for r in csv_rows(slack.files[0])]
    assert titles == ["'=1+1", "'+cmd", "'-2+3", "'@SUM(A1)", "'\tTab", "Plain = fine"]


def test_export_without_matches_uploads_nothing(sender, slack, tandem, workspace):
    assert exported(sender, slack, OPS)["text"] == "There are no requests yet, so there is nothing to export."
    file_direct(tandem, workspace.team_id, OPS)
    answer = exported(sender, slack, OUTSIDER, "mine")
    assert answer["text"] == "No requests match `mine`, so there is nothing to export."
    assert slack.files == []
    assert "Unknown filter `nope`" in exported(sender, slack, OPS, "nope")["text"]


def test_export_in_chinese(sender, slack, tandem, workspace):
    file_direct(tandem, workspace.team_id, OPS_ZH, title="中文标题")
    assert exported(sender, slack, OPS_ZH)["text"] == "已导出 1 个需求，文件在你与 Tandem 的私信中。"
    [upload] = slack.files
    assert upload.channel_id == slack.dm_channel_of(OPS_ZH)
    assert upload.title == "Tandem 需求" and "全部需求：1 个。" in upload.initial_comment
    assert csv_rows(upload)[0]["title"] == "中文标题"
