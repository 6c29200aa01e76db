"""The alarm clock: jobs rebuilt from tables, caught up once inside the grace window (in the
scheduler's own threads), one active scheduler per database, and no database error stops it."""

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

import logs
from clock import utcnow
from models.db import session_scope
from models.schedule import schedule_changed
from scheduler import Job, Scheduler, last_due
from tests.conftest import make_settings, wait_until
from tests.dbfaults import close_fault, fault_for, outage

SHANGHAI = ZoneInfo("Asia/Shanghai")
NINE_THIRTY = CronTrigger(hour=9, minute=30, timezone=SHANGHAI)
FAST = {"poll_seconds": 0.05, "takeover_seconds": 0.2}  # the back-off, scaled down for tests


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


class Ahead:
    """The scheduler's clock, running at the wall clock's pace from `start` on."""

    def __init__(self, start: datetime):
        self.offset = start - utcnow()

    def __call__(self):
        return utcnow() + self.offset

    def wall(self, moment: datetime) -> float:
        """The wall clock's unix time when this clock reads `moment`."""
        return (moment - self.offset).timestamp()


def daily_job(runs: list, fail_after: int | None = None):
    def run(due_at, now):
        if fail_after is not None and len(runs) >= fail_after:
            raise RuntimeError("process died mid fan-out")
        runs.append(due_at)

    def source(session, now):
        yield Job(key="test:daily", trigger=NINE_THIRTY, run=run)

    return source


def started(scheduler: Scheduler) -> Scheduler:
    """Start it and wait until it has taken over and caught up (which happens in its own threads)."""
    scheduler.start()
    wait_until(lambda: scheduler.caught_up_at is not None, message="the scheduler to take over and catch up")
    return scheduler


def test_a_missed_run_inside_the_grace_window_runs_once(engine, database_url):
    runs: list = []
    clock = Clock(local(2026, 11, 23, 9, 50))  # we were down at 09:30
    first = Scheduler(engine, database_url, grace=timedelta(hours=1), clock=clock, **FAST)
    first.add_source(daily_job(runs))
    started(first)
    try:
        assert first.role() == "active"
        assert runs == [local(2026, 11, 23, 9, 30)]
        first.rebuild()
        first.catch_up()  # catching up again (a schedule change, a new term) does not repeat it
    finally:
        first.stop()
    second = Scheduler(engine, database_url, grace=timedelta(hours=1), clock=clock, **FAST)  # a restart
    second.add_source(daily_job(runs))
    started(second).stop()
    assert runs == [local(2026, 11, 23, 9, 30)]


def test_a_run_missed_beyond_the_grace_window_is_not_replayed(engine, database_url):
    runs: list = []
    scheduler = Scheduler(engine, database_url, grace=timedelta(hours=1), clock=Clock(local(2026, 11, 23, 10, 31)),
                          **FAST)
    scheduler.add_source(daily_job(runs))
    started(scheduler).stop()
    assert runs == []


def test_catch_up_runs_in_the_schedulers_threads_not_the_callers(engine, database_url):
    """start() returns at once: a slow job that fell due during the downtime runs in a scheduler thread."""
    release, threads = threading.Event(), []

    def slow(due_at, now):
        threads.append(threading.current_thread())
        release.wait(5)

    scheduler = Scheduler(engine, database_url, clock=Clock(local(2026, 11, 23, 9, 50)), **FAST)
    scheduler.add_source(lambda session, now: [Job(key="test:slow", trigger=NINE_THIRTY, run=slow)])
    began = time.monotonic()
    scheduler.start()
    assert time.monotonic() - began < 0.5
    try:
        wait_until(lambda: threads, message="the missed run to start")
        assert threads[0] is not threading.current_thread()
    finally:
        release.set()
        scheduler.stop()


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

    settings = make_settings(slack, database_url, scheduler_enabled=True, scheduler_poll_seconds=0.05,
                             scheduler_takeover_seconds=0.1)
    first, second = build(settings, "http"), build(settings, "http")
    try:
        first.scheduler.start()
        wait_until(lambda: first.scheduler.role() == "active", message="the first to take the lock")
        second.scheduler.start()
        time.sleep(0.3)  # several takeover attempts
        assert second.scheduler.role() == "standby"
        first.scheduler.stop()
        wait_until(lambda: second.scheduler.role() == "active", timeout=5, message="the standby to take over")
    finally:
        first.stop_background()
        second.stop_background()


def test_a_schedule_change_saved_elsewhere_reaches_the_active_scheduler(engine, database_url):
    """Another process bumps the schedule version with its change: the jobs follow within a poll."""
    keys = ["test:a"]

    def source(session, now):
        return [Job(key=key, trigger=NINE_THIRTY, run=lambda due_at, now: None) for key in keys]

    scheduler = Scheduler(engine, database_url, poll_seconds=1.0, takeover_seconds=1.0)
    scheduler.add_source(source)
    started(scheduler)
    try:
        keys.append("test:b")
        with session_scope(engine) as session:  # the change and its signal, in one transaction
            schedule_changed(session)
        saved = time.monotonic()
        wait_until(lambda: scheduler._aps.get_job("test:b"), timeout=5, message="the new job")
        assert time.monotonic() - saved < 2.5  # one poll, plus the rebuild
    finally:
        scheduler.stop()


def test_after_a_database_outage_each_due_run_happens_once_and_on_time(engine, database_url):
    """The database goes away for 2.5 s (PostgreSQL: connections cut and refused, so the lock is lost;
    SQLite: the file unreachable). A run due during it happens once when it is back; the next due
    run happens once, on time; /healthz's answer during it is never "active"."""
    url, fault = fault_for(database_url)
    start = utcnow().replace(microsecond=0) + timedelta(seconds=5)  # on the scheduler's clock: T0 - 4 s
    runs: dict[str, list] = {"during": [], "after": []}

    def job(name: str, at: datetime) -> Job:
        return Job(key=f"test:{name}", trigger=CronTrigger(minute=at.minute, second=at.second, timezone=UTC),
                   run=lambda due_at, now: runs[name].append((due_at, now)), grace=timedelta(seconds=30))

    t0 = start + timedelta(seconds=4)
    scheduler = Scheduler(engine, url, clock=Ahead(start), **FAST)
    scheduler.add_source(lambda session, now: [job("during", t0 - timedelta(seconds=2)), job("after", t0)])
    try:
        started(scheduler)
        with outage(fault, seconds=2.5):
            time.sleep(0.6)
            asked = time.monotonic()
            assert scheduler.role(wait=0.5) != "active"
            assert time.monotonic() - asked < 1.0
            wait_until(lambda: runs["after"], timeout=8, message="the run due after the outage")
        time.sleep(0.3)  # a second run would come now
        [(due, ran)] = runs["during"]
        assert due == t0 - timedelta(seconds=2) and ran - due < timedelta(seconds=2)
        [(due, ran)] = runs["after"]
        assert due == t0 and ran - due < timedelta(seconds=1)
        assert scheduler.role() == "active"
    finally:
        scheduler.stop()
        close_fault(fault)


def test_a_failure_in_the_watcher_is_logged_and_the_role_restarts(engine, database_url, caplog):
    failures = [RuntimeError("a job source with a bug")]

    def source(session, now):
        if failures:
            raise failures.pop()
        return [Job(key="test:a", trigger=NINE_THIRTY, run=lambda due_at, now: None)]

    scheduler = Scheduler(engine, database_url, **FAST)
    scheduler.add_source(source)
    with caplog.at_level(logging.ERROR, logger="tandem.scheduler"):
        started(scheduler)
    try:
        [record] = [r for r in caplog.records if "restarting the scheduler role" in r.getMessage()]
        assert record.exc_info[0] is RuntimeError
        assert scheduler.role() == "active" and scheduler._aps.get_job("test:a")
    finally:
        scheduler.stop()


def test_runs_are_counted_timed_and_logged_with_their_job_key(engine, database_url, caplog):
    """Metrics: a catch-up run after downtime is started, finished, 20 minutes late, and a catch-up;
    a run that fails counts as failed. Its log lines name the job key."""
    from prometheus_client import REGISTRY

    def value(name: str, **labels) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    def broken(due_at, now):
        logging.getLogger("tandem.test").warning("the job says something")
        raise RuntimeError("broken job")

    before = {state: value("tandem_scheduler_runs_total", job="test", state=state)
              for state in ("started", "finished", "failed")}
    lateness = value("tandem_scheduler_lateness_seconds_sum", job="test")
    catch_up = value("tandem_scheduler_catch_up_runs_total", job="test")
    runs: list = []
    scheduler = Scheduler(engine, database_url, grace=timedelta(hours=1), clock=Clock(local(2026, 11, 23, 9, 50)),
                          **FAST)
    scheduler.add_source(daily_job(runs))
    scheduler.add_source(lambda session, now: [Job(key="test:broken", trigger=NINE_THIRTY, run=broken)])
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    handler.addFilter(logs.ContextFilter())
    logging.getLogger("tandem.test").addHandler(handler)
    try:
        started(scheduler).stop()
    finally:
        logging.getLogger("tandem.test").removeHandler(handler)
    assert runs == [local(2026, 11, 23, 9, 30)]
    grew = {state: value("tandem_scheduler_runs_total", job="test", state=state) - before[state]
            for state in before}
    assert grew == {"started": 2, "finished": 1, "failed": 1}
    assert value("tandem_scheduler_lateness_seconds_sum", job="test") - lateness == 2 * 20 * 60
    assert value("tandem_scheduler_catch_up_runs_total", job="test") - catch_up == 1
    assert [record.job_key for record in records] == ["test:broken"]
