"""/standup history and /standup stats: the numbers a week of answers, skips and absences give."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from handlers.standups import running
from models.db import session_scope
from models.standups import StandupRun
from models.standups.answers import record_answer, record_skip
from models.standups.stats import standup_stats
from tests.standups.conftest import BERLIN, NY, OWNER, SHANGHAI, TEAM, make_standup, tick


def run_days(tandem, standup, days):
    """Prompt, answer and finalise `days` recent days: NY answers (late on the first day, a blocker on the
    second), Berlin skips once, the owner never answers."""
    today = datetime.now(UTC).replace(hour=15, minute=0, second=0, microsecond=0)  # 10:00/11:00 in New York
    for back in range(days, 0, -1):
        now = today - timedelta(days=back)
        tick(tandem, now)
        with session_scope(tandem.engine) as session:
            run_id = session.exec(select(StandupRun.id).order_by(StandupRun.id.desc())).first()
        with session_scope(tandem.engine) as session:
            answered_at = now + timedelta(minutes=200 if back == days else 1)
            record_answer(session, team_id=TEAM, run_id=run_id, user_id=NY,
                          answers=["y", "t", "API down" if back == days - 1 else "none"], now=answered_at)
            if back == 1:
                record_skip(session, team_id=TEAM, run_id=run_id, user_id=BERLIN, now=now)
        running.finalise(tandem.services, run_id=run_id, now=now + timedelta(hours=3))
    return today


def test_stats_per_person_and_overall(tandem, people, sender):
    standup = make_standup(tandem, participants=[NY, BERLIN, OWNER], zone_mode="team", timezone="America/New_York",
                           prompt_time="09:00", days=list("0123456"))
    today = run_days(tandem, standup, 3)
    with session_scope(tandem.engine) as session:
        numbers = standup_stats(session, standup=standup, since=(today - timedelta(days=10)).date())
    by_user = {p["user"]: p for p in numbers["people"]}
    assert numbers["days"] == 3
    assert (by_user[NY]["answered"], by_user[NY]["participation"], by_user[NY]["on_time_rate"],
            by_user[NY]["blockers"]) == (3, 100, 67, 1)
    assert (by_user[BERLIN]["skipped"], by_user[BERLIN]["participation"]) == (1, 0)
    assert (by_user[OWNER]["expected"], by_user[OWNER]["answered"]) == (3, 0)
    assert (numbers["total"]["expected"], numbers["total"]["answered"], numbers["total"]["participation"]) == (9, 3, 33)
    body = sender.command("/standup", "stats daily 14d", user_id=OWNER).json()
    text = str(body["blocks"])
    assert "Standup daily: last 14 days" in body["text"]
    assert "*Nick York*: participation 100% (3 of 3) · on time 67% · 0 skipped · 1 blocker" in text
    assert "Overall: participation 33% (3 of 9)" in text and "· 0 blockers" in text
    assert "· 3 standup days" in text
    chinese = sender.command("/standup", "stats daily 1d", user_id=SHANGHAI).json()
    assert chinese["text"] == "站会 daily：最近 1 天"
    english = sender.command("/standup", "stats daily 1d", user_id=OWNER).json()
    assert english["text"] == "Standup daily: last 1 day"


def test_history_of_a_person(tandem, people, sender):
    standup = make_standup(tandem, participants=[NY, BERLIN, OWNER], zone_mode="team", timezone="America/New_York",
                           prompt_time="09:00", days=list("0123456"))
    run_days(tandem, standup, 2)
    body = sender.command("/standup", f"history <@{NY}|nick> 7d", user_id=OWNER).json()
    rows = [b["text"]["text"] for b in body["blocks"][1:]]
    assert len(rows) == 2 and all("daily · answered" in row for row in rows)
    assert ":rotating_light:" in rows[0] and "API down" in rows[0]  # newest first
    own = sender.command("/standup", "history", user_id=OWNER).json()
    assert [b["text"]["text"].split(" · ")[-1] for b in own["blocks"][1:]] == ["missing", "missing"]
    assert "is not a period" in sender.command("/standup", "history 999d", user_id=OWNER).json()["text"]
    assert "is not a person" in sender.command("/standup", "history nick", user_id=OWNER).json()["text"]


def test_history_of_a_person_as_typed(tandem, people, sender, slack):
    """`/standup history @nick` as typed: escaped by Slack (the manifest), or resolved where escaping is off."""
    standup = make_standup(tandem, participants=[NY, BERLIN, OWNER], zone_mode="team", timezone="America/New_York",
                           prompt_time="09:00", days=list("0123456"))
    run_days(tandem, standup, 2)
    for escaped in (True, False):
        slack.escape_overrides["/standup"] = escaped
        body = sender.command("/standup", "history @nick 7d", user_id=OWNER).json()
        assert len([b for b in body["blocks"][1:] if "daily · answered" in b["text"]["text"]]) == 2, body
    assert "There is no one called @nobody" in sender.command("/standup", "history @nobody", user_id=OWNER).json()["text"]
    assert "本工作区没有叫 @nobody 的人" in sender.command("/standup", "history @nobody", user_id=SHANGHAI).json()["text"]
