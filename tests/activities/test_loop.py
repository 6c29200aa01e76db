"""The whole loop with the clock driven: file with two goals, approve, triage, record values day by
day, the daily progress lines and the card's progress, the at-risk DM at half time, the no-data DM,
the review DM at the end + settle time, the prefilled numbers (worked out by hand below), the
review posted, the template saved and reused. English and Chinese."""

from datetime import timedelta

from sqlmodel import select

from handlers.requests.activities import look
from localslack.payloads import action
from models import keys
from models.activities import ActivityFlag
from models.db import session_scope
from models.outbox import message_ref
from tests.activities.conftest import (
    DAYS,
    START,
    define,
    goal_state,
    last_request,
    open_form,
    record,
    submit,
)
from tests.activities.conftest import (
    day as day_of,
)
from tests.approvals.conftest import LEAD1, PROD1, PROD2, click
from tests.outbox import drained
from tests.requests.conftest import OPS, OPS_ZH, PM1, TRIAGE

# GMV: 1,000 a day in the 10 days before → baseline 10,000; goal +20 % → 12,000 over the window.
# Days 1–5: 700 a day (3,500 at half time: 29.2 % of the way, 58 % of pace → at risk below 70 %);
# days 6–10: 2,000 a day → 13,500 in all: +35 %, hit.
# SIGNUPS (a total): goal sum ≥ 1,000; 100 a day on days 1–5 and 8–10, none on 6–7 → 800, missed;
# on day 7 it has been silent two days → one DM.
GMV = {**{n: 700 for n in range(1, 6)}, **{n: 2000 for n in range(6, 11)}}
SIGNUPS = {n: 100 for n in (1, 2, 3, 4, 5, 8, 9, 10)}


def evening(n: int):
    return START + timedelta(days=n - 1, hours=18)


def file_and_run(sender, slack, tandem, workspace, requester):
    team = workspace.team_id
    define(tandem, team, "GMV")
    from models.digests import metrics
    with session_scope(tandem.engine) as session:
        metrics.define_metric(session, team_id=team, actor=OPS, now=START, definition=metrics.parse_definition(
            ["SIGNUPS", "Sign-ups", "users", "sum"]))
    record(tandem, team, "GMV", {n: 1000 for n in range(-DAYS + 1, 1)})
    view = open_form(sender, slack, requester)
    assert submit(sender, slack, view, goal_state([("GMV", "+20 %"), ("SIGNUPS", "sum ≥ 1,000")]),
                  user=requester) is None
    request = last_request(tandem)
    for approver, stage in ((LEAD1, "Ops lead"), (PROD1, "Product"), (PROD2, "Product")):
        click(sender, slack, approver, request.ref, stage)
    card = drained(lambda: slack.messages(TRIAGE), "the triage card")[0]
    sender.action(PM1, [action("request_start")], message=card)
    drained(lambda: last_request(tandem).status == "in_progress", "work started")
    sender.action(PM1, [action("request_assign", type="users_select", selected_user=PM1)],
                  message=slack.messages(TRIAGE)[0])
    drained(lambda: last_request(tandem).assignee == PM1, "the owner set")
    return request


def sent(tandem, now) -> None:
    """Send what the driven day queued (its messages are due at the driven time, not the wall clock's)."""
    tandem.settle()
    tandem.services.delivery.drain(now=now + timedelta(minutes=10))
    tandem.settle()


def thread(slack, tandem, request) -> list[str]:
    with session_scope(tandem.engine) as session:
        channel, ts = message_ref(session, key=keys.request_card(request.id))
    return [m["text"] for m in slack.replies(channel, ts)[1:]]


def digest_section(tandem, team: str, inside, kind: str = "week") -> str:
    """The default digest's text for the week (month, quarter) holding the day `inside`."""
    from handlers.digests import rendering
    from models.digests import Digest, week
    from models.digests.period import containing

    with session_scope(tandem.engine) as session:
        digest = Digest(team_id=team, name="weekly", channel=TRIAGE, timezone="UTC", owner=OPS, created_at=START)
        context = week.compute(session, digest=digest, period=containing(kind, inside))
    return str(rendering.render("", "default", language="en", context=context))


def dms(slack, user, words: str) -> list[dict]:
    return [m for m in slack.messages(user) if words in m["text"]]


def test_the_loop_in_english(sender, slack, tandem, workspace):
    request = file_and_run(sender, slack, tandem, workspace, OPS)
    services, team = tandem.services, workspace.team_id
    assert look(services, team, now=START - timedelta(hours=1)) == 0  # before the start: nothing
    for n in range(1, 8):
        record(tandem, team, "GMV", {n: GMV[n]})
        if n in SIGNUPS:
            record(tandem, team, "SIGNUPS", {n: SIGNUPS[n]})
        assert look(services, team, now=evening(n)) == 1
        assert look(services, team, now=evening(n) + timedelta(minutes=5)) == 0  # twice a day: once
        sent(tandem, evening(n))
    lines = [t for t in thread(slack, tandem, request) if t.startswith(":bar_chart:")]
    assert len(lines) == 7 and lines[0].startswith(":bar_chart: Day 1 of 10")
    # Day 5: GMV 3,500 of 12,000 = 29 % of the way, pace 29.17 / 0.5 = 58 %; SIGNUPS 500 of 1,000 = 50 %, on pace.
    assert "• GMV +20 %: 3,500 (-30 %) / 12,000 · 29 % of the way · :large_orange_circle: 58 % of pace" in lines[4]
    assert "• SIGNUPS sum ≥ 1,000: 500 / 1,000 · 50 % of the way · :large_green_circle: on pace" in lines[4]
    [risk] = dms(slack, OPS, "at risk")
    assert risk["text"] == "REQ-1 is at risk: at half time it is below 70 % of its pace"
    assert "GMV +20 %" in str(risk["blocks"]) and "SIGNUPS" not in str(risk["blocks"])
    assert len(dms(slack, PM1, "at risk")) == 1  # the owner too, once
    [silent] = dms(slack, OPS, "no values of SIGNUPS")
    assert silent["text"] == "REQ-1: no values of SIGNUPS for 2 days"
    assert f"/metric record SIGNUPS VALUE {(START + timedelta(days=6)).date()}" in str(silent["blocks"])
    card = slack.messages(TRIAGE)[0]
    assert ":warning: *At risk*" in str(card["blocks"]) and "progress on" in str(card["blocks"])
    with session_scope(tandem.engine) as session:
        flags = set(session.exec(select(ActivityFlag.what).where(ActivityFlag.request_id == request.id)))
    assert flags == {"half_time", "at_risk", "no_data.1"}
    # The digest of the week of the start: running, with the slowest goal's pace on the week's last
    # day looked at (days 1–5: GMV 58 %; day 6: GMV 5,500/12,000 ÷ 0.6 = 76 %; day 7: SIGNUPS 50 % ÷ 0.7 = 71 %).
    first = day_of(1)
    last = min(first - timedelta(days=first.weekday()) + timedelta(days=6), day_of(7))
    pace = {1: 58, 2: 58, 3: 58, 4: 58, 5: 58, 6: 76, 7: 71}[(last - first).days + 1]
    assert f"REQ-1 Member day · :large_orange_circle: {pace} % of pace" in digest_section(tandem, workspace.team_id, first)


def run_to_the_review(sender, slack, tandem, workspace, requester, monkeypatch):
    """Days 1–10 recorded and looked at, then the days after; the review's handlers read the driven clock."""
    from handlers.requests import review

    team = workspace.team_id
    for n in range(1, 13):
        if n in GMV:
            record(tandem, team, "GMV", {n: GMV[n]})
        if n in SIGNUPS:
            record(tandem, team, "SIGNUPS", {n: SIGNUPS[n]})
        look(tandem.services, team, now=evening(n))
        sent(tandem, evening(n))
        if n == 11:  # the end + 1 day: late data still settling, nobody asked yet
            assert dms(slack, requester, "review") == []
    monkeypatch.setattr(review, "utcnow", lambda: evening(12) + timedelta(hours=1))


def review_values(cost="4,000", worked="Evening push", not_worked="Slow coupon page", next_time="Warm up earlier"):
    from localslack.payloads import state_value

    return {"actual_cost": {"value": state_value("plain_text_input", cost)},
            "worked": {"value": state_value("plain_text_input", worked)},
            "not_worked": {"value": state_value("plain_text_input", not_worked)},
            "next_time": {"value": state_value("plain_text_input", next_time)}}


def test_the_review_in_english(sender, slack, tandem, workspace, monkeypatch):
    from models.activities import ActivityReview
    from models.requests import RequestEvent
    from tests.approvals.conftest import modal_of
    from tests.conftest import wait_until
    from tests.requests.conftest import OUTSIDER

    request = file_and_run(sender, slack, tandem, workspace, OPS)
    run_to_the_review(sender, slack, tandem, workspace, OPS, monkeypatch)
    [ask] = dms(slack, OPS, "time for its review")
    assert ask["text"] == "REQ-1 has ended: time for its review"
    assert dms(slack, PM1, "review") == []  # the requester is asked
    for n in range(13, 23):  # one reminder a business day, five at most
        look(tandem.services, workspace.team_id, now=evening(n))
        sent(tandem, evening(n))
    reminders = dms(slack, OPS, "Reminder: the review of REQ-1 is still due")
    business = [n for n in range(13, 23) if evening(n).weekday() < 5][:5]
    assert len(reminders) == 5 and len(business) == 5
    listed = sender.command("/request", "list status:review_due", user_id=OPS).json()
    assert "REQ-1" in str(listed["blocks"])
    # The outsider cannot, whatever they click.
    sender.action(OUTSIDER, [action("activity_review_open", value="1")], message=ask)
    told = drained(lambda: [e for e in slack.ephemerals if e["user"] == OUTSIDER], "the outsider told")
    assert "Only the requester or the owner of REQ-1 can write its review." in told[0]["text"]
    sender.action(OPS, [action("activity_review_open")], message=ask)
    modal = wait_until(lambda: (m := modal_of(slack, OPS)) and m["callback_id"] == "activity_review" and m,
                       message="the review modal")
    shown = str(modal["blocks"])
    # By hand: GMV 5 × 700 + 5 × 2,000 = 13,500 against 10,000 before: +35 %, target 12,000, hit.
    # SIGNUPS 8 × 100 = 800 of 1,000, no baseline: missed. ROI with the budget (5,000) as the cost:
    # (3,500 gained − 5,000) / 5,000 = −30 %.
    assert "• GMV +20 %: actual 13,500 (+35 %) · target 12,000 · baseline 10,000 · :white_check_mark: hit" in shown
    assert "• SIGNUPS sum ≥ 1,000: actual 800 · target 1,000 · baseline — · :x: missed" in shown
    assert "ROI with a cost of 5,000: -30 % (GMV gained over the baseline: 3,500)." in shown
    cost = next(b for b in modal["blocks"] if b.get("block_id") == "actual_cost")
    assert cost["element"]["initial_value"] == "5,000"
    assert submit(sender, slack, modal, review_values(cost="lots"), user=OPS) == {
        "actual_cost": "Please enter a number, e.g. 12000 or 0.5."}
    assert submit(sender, slack, modal, review_values(), user=OPS) is None
    drained(lambda: last_request(tandem).status == "reviewed", "the request reviewed")
    sent(tandem, evening(12) + timedelta(hours=1))
    posted = next(m for m in slack.messages(TRIAGE) if m["text"].startswith("Review of REQ-1"))
    # (3,500 − 4,000) / 4,000 = −12.5 %
    assert "-12.5 %" in str(posted["blocks"]) and "Evening push" in str(posted["blocks"])
    assert any(t.startswith("Review of REQ-1") for t in thread(slack, tandem, request))
    with session_scope(tandem.engine) as session:
        events = [(e.action, e.from_status, e.to_status) for e in session.exec(
            select(RequestEvent).where(RequestEvent.request_id == request.id).order_by(RequestEvent.id))]
        assert events[-1] == ("reviewed", "in_progress", "reviewed")
        assert session.get(ActivityReview, request.id).hit is False
    # A second save edits the first, in both places; the status stays. `/request review` opens it too.
    assert "REQ-1" not in str(sender.command("/request", "list status:review_due", user_id=OPS).json()["blocks"])
    sender.command("/request", "review REQ-1", user_id=OPS)
    again = wait_until(lambda: (m := modal_of(slack, OPS)) and m["callback_id"] == "activity_review"
                       and m["id"] != modal["id"] and m, message="the review modal again")
    assert next(b for b in again["blocks"] if b.get("block_id") == "worked")["element"]["initial_value"] == \
        "Evening push"
    assert submit(sender, slack, again, review_values(worked="Evening push and the banner"), user=OPS) is None
    sent(tandem, evening(12) + timedelta(hours=1))
    reviews = [m for m in slack.messages(TRIAGE) if m["text"].startswith("Review of REQ-1")]
    assert len(reviews) == 2  # one in the card's thread, one in the channel: both edited
    assert all("the banner" in str(m["blocks"]) and "edited" in str(m["blocks"]) for m in reviews)
    assert last_request(tandem).status == "reviewed"
    # The digest of the week the activity ended in: ended, missed (SIGNUPS), the review's ROI.
    assert "REQ-1 Member day · :x: missed · ROI -12.5 %" in digest_section(tandem, workspace.team_id, day_of(10))
    monthly = digest_section(tandem, workspace.team_id, day_of(10), kind="month")  # the month it ended in
    assert "Ended: 1, goals hit 0, missed 1" in monthly and "ROI -12.5 %" in monthly

    # Save as template (on the review), then start the next activity from it.
    sender.action(OPS, [action("activity_template_save")], message=reviews[-1])
    saved = drained(lambda: [e for e in slack.ephemerals if e["user"] == OPS and "template" in e["text"]],
                    "the template saved")
    assert saved[0]["text"].startswith("Saved as the template “Member day”.")
    listed = sender.command("/request", "templates", user_id=OPS).json()
    assert "Uses: 0" in str(listed["blocks"]) and "from REQ-1" in str(listed["blocks"])
    form = open_form(sender, slack)
    sender.action(OPS, [action("activity_template_pick", block_id="template", type="static_select",
                               selected_option={"value": "1"})], view=form)
    drained(lambda: any(c.args.get("view", {}).get("callback_id") == "request_form"
                        for c in slack.calls_to("views.update")), "the form prefilled")
    prefilled = slack.view(form["id"])
    initial = {b["block_id"]: b["element"].get("initial_value") for b in prefilled["blocks"]
               if b.get("type") == "input" and b["element"]["type"] == "plain_text_input"}
    assert initial["title"] == "Member day" and initial["details"] == "Double points for members"
    assert (initial["goal1_target"], initial["goal2_target"]) == ("+20%", "sum ≥ 1000")
    dates = [b for b in prefilled["blocks"] if b.get("block_id") in ("starts_at", "ends_at")]
    assert all("initial_date_time" not in b["element"] for b in dates)
    values = goal_state([("GMV", "+20%"), ("SIGNUPS", "sum ≥ 1000")], title="Member day 2")
    assert submit(sender, slack, prefilled, values) is None
    again = last_request(tandem)
    assert again.fields["template_id"] == 1 and again.number == 2
    assert "Uses: 1" in str(sender.command("/request", "templates", user_id=OPS).json()["blocks"])


def test_the_loop_in_chinese(sender, slack, tandem, workspace, monkeypatch):
    from tests.approvals.conftest import modal_of
    from tests.conftest import wait_until

    file_and_run(sender, slack, tandem, workspace, OPS_ZH)
    run_to_the_review(sender, slack, tandem, workspace, OPS_ZH, monkeypatch)
    [risk] = dms(slack, OPS_ZH, "有风险")
    assert risk["text"] == "REQ-1 有风险：过半时进度低于应有进度的 70 %"
    assert "GMV +20 %: 3,500 (-30 %) / 12,000 · 已完成 29 % · :large_orange_circle: 达到进度的 58 %" in str(risk["blocks"])
    assert dms(slack, OPS_ZH, "没有数据")[0]["text"] == "REQ-1：SIGNUPS 已 2 天没有数据"
    [ask] = dms(slack, OPS_ZH, "该写复盘了")
    assert ask["text"] == "REQ-1 已结束：该写复盘了"
    sender.action(OPS_ZH, [action("activity_review_open")], message=ask)
    modal = wait_until(lambda: (m := modal_of(slack, OPS_ZH)) and m["callback_id"] == "activity_review" and m,
                       message="the review modal")
    assert modal["title"]["text"] == "复盘 REQ-1"
    shown = str(modal["blocks"])
    assert "• GMV +20 %: 实际 13,500 (+35 %) · 目标 12,000 · 基线 10,000 · :white_check_mark: 达成" in shown
    assert "• SIGNUPS 总和 ≥ 1,000: 实际 800 · 目标 1,000 · 基线 — · :x: 未达成" in shown
    assert "花费 5,000 时 ROI 为 -30 %" in shown
