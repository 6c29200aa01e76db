"""The minute tick puts each prompt in the right local minute on the right local day, through
2026's clock changes, with participants in several zones; weekends and holidays skipped.

Time is driven: the tick runs with chosen `now` values around each expected minute (one minute
before, on it, one after), so a prompt an hour early or late, or twice, shows."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from handlers.standups import job_sources
from models.db import session_scope
from models.workspaces import Member
from tests.conftest import wait_until
from tests.standups.conftest import BERLIN, NY, OWNER, SHANGHAI, TEAM, ZONES, make_standup, sends, tick, utc


def local(user, moment, zone=None):
    return moment.astimezone(ZoneInfo(zone or ZONES[user])).strftime("%a %Y-%m-%d %H:%M")


def around(tandem, *moments):
    """Tick one minute before, on, and one minute after each moment (in time order)."""
    ticks = sorted({m + timedelta(minutes=d) for m in moments for d in (-1, 0, 1)})
    for moment in ticks:
        tick(tandem, moment)


def prompts_by_user(tandem):
    found = {}
    for user, at in sends(tandem, "prompt"):
        found.setdefault(user, []).append(at)
    return found


def test_own_zones_through_the_spring_changes(tandem, people):
    """New York moves on 8 Mar, Berlin on 29 Mar; Shanghai never. Each prompt stays at 09:30 local."""
    make_standup(tandem)  # 09:30 in each participant's own zone, Monday to Friday
    days = {  # UTC instants of 09:30 local
        "Fri 6 Mar": {NY: utc(2026, 3, 6, 14, 30), OWNER: utc(2026, 3, 6, 14, 30), BERLIN: utc(2026, 3, 6, 8, 30),
                      SHANGHAI: utc(2026, 3, 6, 1, 30)},
        "Mon 9 Mar": {NY: utc(2026, 3, 9, 13, 30), OWNER: utc(2026, 3, 9, 13, 30), BERLIN: utc(2026, 3, 9, 8, 30),
                      SHANGHAI: utc(2026, 3, 9, 1, 30)},
        "Mon 30 Mar": {NY: utc(2026, 3, 30, 13, 30), OWNER: utc(2026, 3, 30, 13, 30),
                       BERLIN: utc(2026, 3, 30, 7, 30), SHANGHAI: utc(2026, 3, 30, 1, 30)},
    }
    for expected in days.values():
        around(tandem, *expected.values())
    # the weekend between: the same minutes, nothing
    around(tandem, utc(2026, 3, 7, 14, 30), utc(2026, 3, 8, 13, 30), utc(2026, 3, 7, 8, 30), utc(2026, 3, 8, 1, 30))
    got = prompts_by_user(tandem)
    for user in (OWNER, NY, BERLIN, SHANGHAI):
        assert [local(user, at) for at in got[user]] == [
            local(user, days[day][user]) for day in days], user
        assert {local(user, at)[-5:] for at in got[user]} == {"09:30"}
    assert [local(BERLIN, at)[:14] for at in got[BERLIN]] == ["Fri 2026-03-06", "Mon 2026-03-09", "Mon 2026-03-30"]


def test_own_zones_through_the_autumn_changes(tandem, people):
    make_standup(tandem)
    expected = {  # Berlin back to CET on 25 Oct, New York back to EST on 1 Nov
        BERLIN: [utc(2026, 10, 23, 7, 30), utc(2026, 10, 26, 8, 30)],
        NY: [utc(2026, 10, 30, 13, 30), utc(2026, 11, 2, 14, 30)],
        SHANGHAI: [utc(2026, 10, 23, 1, 30), utc(2026, 11, 2, 1, 30)],
    }
    around(tandem, *[m for moments in expected.values() for m in moments])
    got = prompts_by_user(tandem)
    for user, moments in expected.items():
        assert got[user] == moments, user
        assert {local(user, at)[-5:] for at in got[user]} == {"09:30"}


def test_one_team_zone_for_everyone(tandem, people):
    make_standup(tandem, zone_mode="team", timezone="Asia/Shanghai")
    around(tandem, utc(2026, 3, 9, 1, 30), utc(2026, 3, 9, 13, 30))
    got = prompts_by_user(tandem)
    assert {user: [local(user, m, "Asia/Shanghai") for m in moments] for user, moments in got.items()} == {
        user: ["Mon 2026-03-09 09:30"] for user in (OWNER, NY, BERLIN, SHANGHAI)}


def test_prompt_time_in_the_spring_gap_and_the_autumn_repeat(tandem, people):
    """02:30 does not exist in New York on 8 Mar: the prompt comes at 03:30 EDT, once. 01:30 happens
    twice on 1 Nov: the prompt comes at the first one, once."""
    make_standup(tandem, participants=[NY], prompt_time="02:30", days=list("0123456"))
    around(tandem, utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 8, 30))
    make_standup(tandem, name="late-night", participants=[OWNER], prompt_time="01:30", days=list("0123456"))
    around(tandem, utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30))
    got = prompts_by_user(tandem)
    assert [local(NY, m) for m in got[NY]] == ["Sun 2026-03-08 03:30"]
    assert got[OWNER] == [utc(2026, 11, 1, 5, 30)]


def test_holidays_and_paused_standups_are_skipped(tandem, people):
    standup = make_standup(tandem, holidays="2026-03-09")
    around(tandem, utc(2026, 3, 9, 1, 30), utc(2026, 3, 9, 8, 30), utc(2026, 3, 9, 13, 30))
    assert sends(tandem) == []
    with session_scope(tandem.engine) as session:
        standup.paused = True
        session.add(standup)
    around(tandem, utc(2026, 3, 10, 1, 30), utc(2026, 3, 10, 8, 30))
    assert sends(tandem) == []


def test_a_countrys_public_holidays_are_skipped(tandem, people):
    """China's National Day (Thursday 1 October 2026) has no standup; Friday 9 October has."""
    make_standup(tandem, zone_mode="team", timezone="Asia/Shanghai", holiday_country="CN")
    around(tandem, utc(2026, 10, 1, 1, 30), utc(2026, 10, 9, 1, 30))
    assert {at for _, at in sends(tandem)} == {utc(2026, 10, 9, 1, 30)}


def test_an_unknown_zone_is_asked_of_slack_before_the_prompt(tandem, people, slack):
    make_standup(tandem, participants=[BERLIN, SHANGHAI])
    with session_scope(tandem.engine) as session:
        session.delete(session.get(Member, (TEAM, BERLIN)))  # never met: Slack has to say where they are
    slack.clear_calls()
    around(tandem, utc(2026, 3, 9, 8, 30))
    assert sends(tandem) == [(BERLIN, utc(2026, 3, 9, 8, 30))]  # 09:30 in Berlin, not in the workspace's UTC
    assert [call.args["user"] for call in slack.calls_to("users.info")] == [BERLIN]


def test_a_restart_sends_what_is_due_in_the_window_once_and_not_closed_windows(tandem, people):
    make_standup(tandem, participants=[NY, BERLIN])  # report 120 minutes after the prompt
    tick(tandem, utc(2026, 3, 9, 15, 0))  # down from before Berlin's 08:30 until 15:00 UTC
    assert [user for user, _ in sends(tandem)] == [NY]  # NY's window (13:30–15:30) is open; Berlin's closed
    tick(tandem, utc(2026, 3, 9, 15, 1))
    tick(tandem, utc(2026, 3, 9, 15, 1))
    assert [user for user, _ in sends(tandem)] == [NY]


def test_the_tick_is_a_scheduler_job_once_a_standup_exists(tandem, people):
    [source] = job_sources(tandem.services)
    with session_scope(tandem.engine) as session:
        assert list(source(session, utc(2026, 3, 9))) == []
    make_standup(tandem, participants=[SHANGHAI])
    with session_scope(tandem.engine) as session:
        [job] = list(source(session, utc(2026, 3, 9)))
    assert job.key == "standups:tick"
    assert job.trigger.get_next_fire_time(None, utc(2026, 3, 9, 1, 29, 30)) == utc(2026, 3, 9, 1, 30)
    job.run(utc(2026, 3, 9, 1, 30), utc(2026, 3, 9, 1, 30))
    assert sends(tandem) == [(SHANGHAI, utc(2026, 3, 9, 1, 30))]


def test_after_downtime_the_scheduler_catches_up_once_inside_the_window(tandem, people, database_url):
    """Down over Shanghai's 09:30; started at 10:10 local: the prompts go out once. A second start (a
    restart, a replica taking over) sends nothing more; a start after the window closed sends nothing."""
    from scheduler import Scheduler

    make_standup(tandem, zone_mode="team", timezone="Asia/Shanghai", participants=[NY, SHANGHAI])
    [source] = job_sources(tandem.services)
    for started in (utc(2026, 3, 9, 2, 10), utc(2026, 3, 9, 2, 10, 30), utc(2026, 3, 10, 3, 31)):
        scheduler = Scheduler(tandem.engine, database_url, grace=timedelta(hours=1), clock=lambda at=started: at)
        scheduler.add_source(source)
        scheduler.start()
        wait_until(lambda s=scheduler: s.caught_up_at is not None, message="the catch-up")
        scheduler.stop()
    assert sorted(sends(tandem)) == [(NY, utc(2026, 3, 9, 2, 10)), (SHANGHAI, utc(2026, 3, 9, 2, 10))]
