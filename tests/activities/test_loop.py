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
from tests.approvals.conftest import LEAD1, PROD1, PROD2, click
from tests.outbox import drained
from tests.requests.conftest import OPS, PM1, TRIAGE

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
