"""The alarm clock: jobs rebuilt from tables, caught up once inside the grace window, one active
scheduler per database."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from scheduler import Job, Scheduler, last_due
from tests.conftest import make_settings, wait_until

SHANGHAI = ZoneInfo("Asia/Shanghai")
NINE_THIRTY = CronTrigger(hour=9, minute=30, timezone=SHANGHAI)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)


def test_last_due_finds_the_latest_fire_time_in_the_window():
    now = local(2026, 11, 23, 9, 40)
    assert last_due(NINE_THIRTY, now=now, since=now - timedelta(hours=1)) == local(2026, 11, 23, 9, 30)
    assert last_due(NINE_THIRTY, now=now, since=now - timedelta(minutes=5)) is None
    assert last_due(NINE_THIRTY, now=now, since=now - timedelta(days=2)) == local(2026, 11, 23, 9, 30)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def daily_job(runs: list, fail_after: int | None = None):
    def run(due_at, now):
        if fail_after is not None and len(runs) >= fail_after:
            raise RuntimeError("process died mid fan-out")
        runs.append(due_at)

    def source(session, now):
        yield Job(key="test:daily", trigger=NINE_THIRTY, run=run)

    return source


def test_a_missed_run_inside_the_grace_window_runs_once(engine, database_url):
    runs: list = []
    clock = Clock(local(2026, 11, 23, 9, 50))  # we were down at 09:30
    first = Scheduler(engine, database_url, grace=timedelta(hours=1), clock=clock)
    first.add_source(daily_job(runs))
    first.start()
    try:
        assert first.active
        assert runs == [local(2026, 11, 23, 9, 30)]
        first.rebuild(catch_up=True)  # rebuilding again (a config change) does not repeat it
    finally:
        first.stop()
    second = Scheduler(engine, database_url, grace=timedelta(hours=1), clock=clock)  # a restart
    second.add_source(daily_job(runs))
    second.start()
    second.stop()
    assert runs == [local(2026, 11, 23, 9, 30)]


def test_a_run_missed_beyond_the_grace_window_is_not_replayed(engine, database_url):
    runs: list = []
    scheduler = Scheduler(engine, database_url, grace=timedelta(hours=1),
                          clock=Clock(local(2026, 11, 23, 10, 31)))
    scheduler.add_source(daily_job(runs))
    scheduler.start()
    scheduler.stop()
    assert runs == []


def test_a_run_that_died_midway_is_resumed_after_its_lease(engine, database_url):
    runs: list = []
    clock = Clock(local(2026, 11, 23, 9, 30))
    job = next(daily_job(runs, fail_after=0)(None, None))
    scheduler = Scheduler(engine, database_url, clock=clock)
    with pytest.raises(RuntimeError):
        scheduler.run_once(job, due_at=clock.now, now=clock.now)
    healthy = next(daily_job(runs)(None, None))
    assert not scheduler.run_once(healthy, due_at=clock.now, now=clock.now + timedelta(minutes=1))  # lease held
    assert scheduler.run_once(healthy, due_at=clock.now, now=clock.now + timedelta(minutes=6))
    assert not scheduler.run_once(healthy, due_at=clock.now, now=clock.now + timedelta(minutes=20))  # finished
    assert runs == [clock.now]


def test_one_active_scheduler_per_database_across_app_instances(slack, database_url):
    """Two Tandem instances on one database: one scheduler runs, the other stands by and takes over."""
    from bot import build

    settings = make_settings(slack, database_url, scheduler_enabled=True)
    first, second = build(settings, "http"), build(settings, "http")
    for app in (first, second):
        app.scheduler.standby_poll_seconds = 0.05
    try:
        first.scheduler.start()
        second.scheduler.start()
        assert first.scheduler.active and not second.scheduler.active
        first.scheduler.stop()
        wait_until(lambda: second.scheduler.active, timeout=5, message="the standby to take over")
    finally:
        first.stop_background()
        second.stop_background()
