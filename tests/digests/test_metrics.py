"""/metric define, record, list, show and import, through signed slash commands; every bad input answered."""

from datetime import timedelta

import pytest
from sqlmodel import select

from clock import utcnow
from handlers.common import plain, rule_error_message
from models.db import session_scope
from models.digests import Metric, MetricPoint, metrics
from models.errors import RuleError
from tests.digests.conftest import define, reply
from tests.outbox import drained
from tests.slack import ALICE


def refusal(key: str, **params) -> str:
    return rule_error_message(RuleError(key, **params), language="en")["text"]


def points(tandem, name: str) -> dict:
    with session_scope(tandem.engine) as session:
        metric = session.exec(select(Metric).where(Metric.name == name)).one()
        rows = session.exec(select(MetricPoint).where(MetricPoint.metric_id == metric.id)).all()
        return {row.day.isoformat(): row.value for row in rows}


def test_define_a_preset_and_a_custom_metric_then_list(sender, slack, tandem):
    said = reply(sender, slack, "/metric", "define DAU")["text"]
    assert said == ("Metric DAU (Daily active users) defined: weekly value is the average of the week's days, "
                    "higher is better.")
    said = reply(sender, slack, "/metric", 'define signups "Sign-ups" people 500 lower-is-better sum')["text"]
    assert said.startswith("Metric SIGNUPS (Sign-ups) defined") and "sum" in said and "lower is better" in said
    with session_scope(tandem.engine) as session:
        row = session.exec(select(Metric).where(Metric.name == "SIGNUPS")).one()
    assert (row.label, row.unit, row.target, row.direction, row.aggregation) == \
        ("Sign-ups", "people", 500.0, "lower", "sum")
    listed = reply(sender, slack, "/metric", "list")
    text = listed["blocks"][0]["text"]["text"]
    assert "*DAU* Daily active users (users)" in text and "*SIGNUPS* Sign-ups (people) · target 500.0" in text
    assert "MAU" in listed["blocks"][1]["elements"][0]["text"] and "DAU," not in listed["blocks"][1]["elements"][0]["text"]


def test_bad_definitions_are_refused(sender, slack, tandem):
    reply(sender, slack, "/metric", "define DAU")
    assert reply(sender, slack, "/metric", "define dau")["text"] == refusal("digests.metric_exists", name="DAU")
    assert reply(sender, slack, "/metric", "define 9lives")["text"] == refusal("digests.bad_name", given="9lives")
    assert reply(sender, slack, "/metric", "define CUSTOM")["text"] == refusal("digests.define_usage")
    with session_scope(tandem.engine) as session:
        assert [m.name for m in session.exec(select(Metric))] == ["DAU"]


def test_record_replaces_the_day_and_refuses_bad_values(sender, slack, tandem):
    define(tandem.engine, slack.team_id, ["DAU"])
    today = utcnow().date()  # the workspace zone is UTC
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    assert reply(sender, slack, "/metric", "record WAU 5")["text"] == refusal("digests.unknown_metric", name="WAU")
    assert reply(sender, slack, "/metric", "record DAU lots")["text"] == refusal("digests.not_a_number", given="lots")
    assert reply(sender, slack, "/metric", "record DAU 5 20-11-2026")["text"] == \
        refusal("digests.bad_date", given="20-11-2026")
    assert reply(sender, slack, "/metric", f"record DAU 5 {tomorrow}")["text"] == \
        refusal("digests.future_date", given=tomorrow.isoformat(), today=today.isoformat())
    assert reply(sender, slack, "/metric", "record DAU")["text"] == refusal("digests.record_usage")
    assert points(tandem, "DAU") == {}
    assert reply(sender, slack, "/metric", f"record dau 12,450 {yesterday}", user=ALICE)["text"] == \
        f"Recorded DAU = 12450.0 for {yesterday}."
    assert reply(sender, slack, "/metric", f"record DAU 12500 {yesterday}")["text"] == \
        f"Replaced DAU for {yesterday} with 12500.0."
    reply(sender, slack, "/metric", "record DAU 7")
    assert points(tandem, "DAU") == {yesterday.isoformat(): 12500.0, today.isoformat(): 7.0}


def test_import_stores_good_rows_and_says_why_each_bad_row_was_refused(sender, slack, tandem):
    define(tandem.engine, slack.team_id, ["DAU"])
    define(tandem.engine, slack.team_id, ["NPS"])
    future = (utcnow().date() + timedelta(days=3)).isoformat()
    csv_text = "\n".join(["metric,date,value", "DAU,2026-11-02,100", "nps,2026-11-02,42", "WAU,2026-11-02,1",
                          "DAU,2026-11-03,many", f"DAU,{future},5", "DAU,2026-11-04", "DAU,2026-11-05,120"])
    said = reply(sender, slack, "/metric", "import\n" + csv_text)
    assert said["text"] == "Import: 3 rows accepted, 4 rejected."
    lines = said["blocks"][1]["text"]["text"].split("\n")
    assert lines == [
        "Line 4: " + refusal("digests.unknown_metric", name="WAU"),
        "Line 5: " + refusal("digests.not_a_number", given="many"),
        "Line 6: " + refusal("digests.future_date", given=future, today=utcnow().date().isoformat()),
        "Line 7: " + refusal("digests.csv_columns", count=2),
    ]
    assert points(tandem, "DAU") == {"2026-11-02": 100.0, "2026-11-05": 120.0}
    assert points(tandem, "NPS") == {"2026-11-02": 42.0}


def test_a_50_mb_csv_is_refused_and_nothing_is_stored(engine):
    with session_scope(engine) as session:
        metrics.define_metric(session, team_id="T1", actor="U1", definition=metrics.parse_definition(["DAU"]),
                              now=utcnow())
    data = b"DAU,2026-11-02,1\n" * (50 * 1024 * 1024 // 17 + 1)
    with pytest.raises(RuleError) as refused, session_scope(engine) as session:
        metrics.import_csv(session, team_id="T1", actor="U1", data=data, today=utcnow().date(), now=utcnow())
    assert refused.value.key == "digests.csv_too_big" and refused.value.params == {"size_mb": 50.0, "limit_mb": 5}
    assert refusal("digests.csv_too_big", size_mb=50.0, limit_mb=5) == \
        "That CSV is 50.0 MB; an import takes at most 5 MB. Nothing was stored."
    with session_scope(engine) as session:
        assert session.exec(select(MetricPoint)).all() == []


def test_show_gives_weekly_values_with_change(sender, slack, tandem):
    define(tandem.engine, slack.team_id, ["GMV"])  # preset: weekly sum
    today = utcnow().date()
    monday = today - timedelta(days=today.weekday())
    reply(sender, slack, "/metric", "import\n" + "\n".join([
        f"GMV,{monday - timedelta(weeks=2)},100", f"GMV,{monday - timedelta(weeks=2, days=-1)},100",
        f"GMV,{monday - timedelta(weeks=1)},250", f"GMV,{monday},50"]))
    shown = reply(sender, slack, "/metric", "show gmv 3w")
    lines = shown["blocks"][0]["text"]["text"].split("\n")
    assert lines[0] == "*GMV* Gross merchandise value"  # money in the workspace's currency: none chosen here
    assert [line.split("  ", 1)[1] for line in lines[1:]] == ["200.0", "250.0  ▲ 25.0%", "50.0  ▼ -80.0%"]
    assert reply(sender, slack, "/metric", "show GMV forever")["text"] == refusal("digests.show_usage")


def test_import_of_an_uploaded_csv_file(sender, slack, tandem):
    from tests.conftest import wait_until
    from tests.slack import ADMIN

    define(tandem.engine, slack.team_id, ["DAU"])
    reply_count = len(slack.ephemerals)
    sender.command("/metric", "import", user_id=ADMIN)
    view = wait_until(lambda: ((slack.views.get(ADMIN) or {}).get("modals") or [None])[-1], message="the modal")
    assert view["callback_id"] == "metric_import" and len(slack.ephemerals) == reply_count

    def submit(*files):
        state = {"file": {"file": {"type": "file_input", "files": list(files)}}}
        return (sender.view_submission(ADMIN, view, state).json() or {}).get("errors")

    huge = dict(slack.add_file("huge.csv", b"x"), size=50 * 1024 * 1024)  # Slack says 50 MB: not downloaded
    assert submit(huge) == {"file": refusal("digests.csv_too_big", size_mb=50.0, limit_mb=5)}
    lying = dict(slack.add_file("lying.csv", b"DAU,2026-11-02,1\n" * 400_000), size=100)  # bigger than it said
    errors = submit(lying)  # inline errors are plain text: "> 5", not the mrkdwn-escaped "&gt; 5"
    assert errors == {"file": plain(refusal("digests.csv_too_big", size_mb="> 5", limit_mb=5))}
    assert errors["file"].startswith("That CSV is > 5 MB")
    assert submit() == {"file": refusal("digests.import_usage")}
    assert points(tandem, "DAU") == {}
    good = slack.add_file("dau.csv", "\ufeffmetric,date,value\nDAU,2026-11-02,100\nDAU,2026-11-03,x\n".encode())
    assert submit(good) is None
    dm = drained(lambda: slack.messages(slack.dm_channel_of(ADMIN)), "the report")[0]
    assert dm["text"] == "Import: 1 row accepted, 1 rejected."
    assert dm["blocks"][1]["text"]["text"] == "Line 3: " + refusal("digests.not_a_number", given="x")
    assert points(tandem, "DAU") == {"2026-11-02": 100.0}


def test_a_file_slack_will_not_hand_over_is_refused_clearly(sender, slack, tandem, monkeypatch):
    from tests.conftest import wait_until
    from tests.slack import ADMIN

    define(tandem.engine, slack.team_id, ["DAU"])
    sender.command("/metric", "import", user_id=ADMIN)
    view = wait_until(lambda: ((slack.views.get(ADMIN) or {}).get("modals") or [None])[-1], message="the modal")
    upload = slack.add_file("dau.csv", b"DAU,2026-11-02,100\n")
    monkeypatch.setattr(tandem.services.settings, "slack_bot_token", "xoxb-without-files-read")
    state = {"file": {"file": {"type": "file_input", "files": [upload]}}}
    errors = (sender.view_submission(ADMIN, view, state).json() or {}).get("errors")
    assert errors == {"file": refusal("digests.csv_no_access")}
    assert points(tandem, "DAU") == {}
