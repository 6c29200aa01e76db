"""The alarm clock. Schedules live in our tables; APScheduler only wakes the rule.

- Each capability registers a *job source*, a function that reads its tables and yields Jobs.
- One scheduler is active per database (scheduler_lock.ActiveLock); the others stand by. The
  active one's watcher confirms the lock with the database every `poll_seconds` and reads the
  schedule version there: a change saved on any replica bumps it (models.schedule), and the jobs
  are rebuilt from the tables. A standby tries to take over every `takeover_seconds`.
- No database error stops it: the watcher retries with back-off, keeping the role while the
  lock is held; a run that failed because the database was unreachable is tried again inside its
  grace window. Any other failure of the watcher is logged and restarts the role.
- Every run is claimed in `scheduled_run` under (job key, due time) first, so a run happens once
  even if two processes think they are active for a moment. On taking over, a job that fell due
  while nothing ran is run once, in the scheduler's threads, if still inside its grace window.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_PAUSED
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy.engine import Engine
from sqlmodel import Session

import logs
import metrics
from clock import utcnow, wall
from models.db import database_unavailable, error_summary, session_scope
from models.schedule import RUN_LEASE, claim_run, finish_run, held_until
from scheduler_lock import ActiveLock, LockLost

log = logging.getLogger("tandem.scheduler")
CATCH_UP = "tandem:catch-up"


@dataclass(frozen=True)
class Job:
    key: str                                   # unique and stable, e.g. "standup:42"
    trigger: BaseTrigger                       # an APScheduler trigger with its time zone
    run: Callable[[datetime, datetime], None]  # run(due_at, now)
    grace: timedelta | None = None             # how late it may still run; None: the default
    lease: timedelta = RUN_LEASE               # how long a started run is left to its runner before another takes it


JobSource = Callable[[Session, datetime], Iterable[Job]]


def last_due(trigger: BaseTrigger, *, now: datetime, since: datetime) -> datetime | None:
    """The latest fire time in (since, now], or None."""
    latest, cursor = None, since
    while True:
        fire = trigger.get_next_fire_time(latest, cursor)
        if fire is None or fire > now:
            return latest
        if latest is not None and fire <= latest:
            return latest
        latest, cursor = fire, fire + timedelta(microseconds=1)


def same_schedule(a: BaseTrigger, b: BaseTrigger) -> bool:
    """Same fire times (an interval trigger's start, set when it is made, does not count)."""
    return type(a) is type(b) and str(a) == str(b) and str(getattr(a, "timezone", "")) == str(getattr(b, "timezone", ""))


class OnClock(BaseTrigger):
    """A trigger read on the scheduler's clock when that clock runs `offset` ahead of the wall clock
    APScheduler sleeps on (tests drive the scheduler's clock to just before a due time)."""

    def __init__(self, trigger: BaseTrigger, offset: timedelta):
        self.trigger, self.offset = trigger, offset

    def __str__(self) -> str:
        return f"{self.trigger} on a clock {self.offset} ahead"

    def get_next_fire_time(self, previous_fire_time, now):
        previous = previous_fire_time and previous_fire_time + self.offset
        fire = self.trigger.get_next_fire_time(previous, now + self.offset)
        return fire and fire - self.offset


class Scheduler:
    def __init__(self, engine: Engine, database_url: str, *, grace: timedelta = timedelta(hours=1),
                 poll_seconds: float = 1.0, takeover_seconds: float = 5.0, clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.grace = grace
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.takeover_seconds = takeover_seconds
        self.sources: list[JobSource] = []
        self.lock = ActiveLock(engine, database_url)
        self.caught_up_at: datetime | None = None  # the scheduler clock's time of the last finished catch-up
        self._aps = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._checked = threading.Condition()  # notified after each of the watcher's checks
        self._confirmed = float("-inf")  # monotonic time of the last check that confirmed the lock
        self._failures = 0  # database errors in a row, for the watcher's back-off
        self._watch: threading.Thread | None = None
        self._jobs: dict[str, Job] = {}
        self._rebuilding = threading.RLock()  # the watcher and the sandbox's clock control both rebuild
        self._version: int | None = None  # the schedule version the jobs were built from
        # (job, due) → when our own attempt claimed it before the database cut it short: that attempt
        # is over, so the run may be taken again at once instead of after its lease.
        self._interrupted: dict[tuple[str, datetime], datetime] = {}

    def add_source(self, source: JobSource) -> None:
        self.sources.append(source)

    @property
    def jobs(self) -> dict[str, Job]:
        """The jobs this process runs now, by key (none on a standby)."""
        return dict(self._jobs)

    def role(self, *, wait: float = 0.0) -> str:
        """What this process is now: "active" (holds the lock, confirmed with the database lately),
        "standby", or "unverified" (held the lock at its last check but cannot confirm it now).
        With `wait` (/healthz), "active" needs a check made after the question: the watcher is woken
        for one and given at most `wait` seconds. Without, a check within the last two polls will do."""
        if wait and self.lock.held:
            since = time.monotonic()
            with self._checked:
                self._wake.set()
                self._checked.wait_for(lambda: self._confirmed >= since or not self.lock.held, timeout=wait)
        else:
            since = time.monotonic() - 2 * self.poll_seconds - 1
        if not self.lock.held:
            return "standby"
        return "active" if self._confirmed >= since else "unverified"

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start watching: take the lock when it is free, run the jobs while holding it. Returns at once."""
        self._stop.clear()
        if not self._aps.running:
            self._aps.start(paused=True)
        self._watch = threading.Thread(target=self._watch_role, name="tandem-scheduler-watch", daemon=True)
        self._watch.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._watch is not None:
            self._watch.join(10)
        if self._aps.running:
            self._stand_down()  # first, so that APScheduler is handling no job as it shuts down
            self._aps.shutdown(wait=True)
        self.lock.release()

    def _watch_role(self) -> None:
        delay = 0.0
        while not self._stop.is_set():
            self._wake.wait(delay)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                delay = self._check()
            except Exception:  # a bug, not an outage: the log says what, and the role starts over
                log.exception("the scheduler's check failed; restarting the scheduler role")
                self._stand_down()
                delay = self.takeover_seconds
            with self._checked:
                self._checked.notify_all()

    def _check(self) -> float:
        """One look at the database: a standby tries to take the lock; the active one confirms it and
        picks up schedule changes. Returns the seconds until the next look."""
        try:
            if not self.lock.held and not self._take_over():
                self._failures = 0
                return self.takeover_seconds
            version = self.lock.verify()
            self._confirmed = time.monotonic()
            if version != self._version:
                self.rebuild(version=version)
            if self._aps.state == STATE_PAUSED:  # just took over: catch up, then run
                self._aps.add_job(self.catch_up, id=CATCH_UP, replace_existing=True, misfire_grace_time=None)
                self._aps.resume()
        except LockLost as lost:
            log.warning("scheduler lost its lock (%s); standing by", lost)
            self._stand_down()
            return self.poll_seconds
        except sa.exc.SQLAlchemyError as exc:
            if not database_unavailable(exc):
                raise
            self._failures += 1
            delay = self._backoff(self._failures)
            log.warning("scheduler cannot reach the database (%s); holding the lock: %s; next try in %.1f s",
                        error_summary(exc), self.lock.held, delay)
            return delay
        self._failures = 0
        return self.poll_seconds

    def _backoff(self, failures: int) -> float:
        return min(self.poll_seconds * 2 ** failures, self.takeover_seconds)

    def _take_over(self) -> bool:
        if not self.lock.try_acquire():
            return False
        log.info("scheduler active for this database")
        self._version = None  # build the jobs afresh
        return True

    def _stand_down(self) -> None:
        self._aps.pause()
        self._aps.remove_all_jobs()
        self._jobs, self._version = {}, None
        self.lock.release()

    # -- jobs -------------------------------------------------------------------------------
    def load_jobs(self, now: datetime) -> list[Job]:
        with session_scope(self.engine) as session:
            return [job for source in self.sources for job in source(session, now)]

    def rebuild(self, *, version: int | None = None) -> None:
        """Make the APScheduler jobs what the tables say now. A job whose schedule did not change is
        left alone: adding it again at its fire time could skip that fire."""
        with self._rebuilding:
            self._rebuild(version)

    def resync(self) -> None:
        """The clock jumped ahead (the sandbox's clock control): put every job on the new offset, so
        APScheduler wakes at the new clock's due times. Nothing to do on a standby."""
        with self._rebuilding:
            if not self.lock.held:
                return
            for key in self._jobs:
                if self._aps.get_job(key) is not None:
                    self._aps.remove_job(key)
            self._jobs = {}
            self._rebuild(self._version)

    @contextlib.contextmanager
    def held(self):
        """APScheduler fires nothing meanwhile (the sandbox's clock control runs what fell due itself,
        each at its own moment); a job already running finishes."""
        pausing = self._aps.running and self._aps.state != STATE_PAUSED
        if pausing:
            self._aps.pause()
        try:
            yield
        finally:
            if pausing and self.lock.held:
                self._aps.resume()

    def _rebuild(self, version: int | None) -> None:
        jobs = {job.key: job for job in self.load_jobs(self.clock())}
        offset = self._offset()
        for key in self._jobs.keys() - jobs.keys():
            if self._aps.get_job(key) is not None:
                self._aps.remove_job(key)
        for key, job in jobs.items():
            old = self._jobs.get(key)
            if old is None or not same_schedule(old.trigger, job.trigger) or old.grace != job.grace:
                self._aps.add_job(self.fire, trigger=OnClock(job.trigger, offset) if offset else job.trigger,
                                  args=[key], id=key, replace_existing=True,
                                  misfire_grace_time=int(self._grace(job).total_seconds()) or None)
        self._jobs, self._version = jobs, version
        log.info("scheduler jobs rebuilt (schedule version %s): %d jobs", version, len(jobs))

    def _offset(self) -> timedelta:
        """How far the scheduler's clock runs ahead of the wall clock: 0 unless a test drives it. (The
        clock is read first, so a non-zero offset errs small and jobs fire a hair late, never early.)
        The sandbox's clock control (clock.set_offset) moves it too; see resync."""
        offset = self.clock() - wall()
        return offset if abs(offset) >= timedelta(seconds=1) else timedelta(0)

    def _grace(self, job: Job) -> timedelta:
        return job.grace or self.grace

    def catch_up(self) -> int:
        """Run, once, each job whose latest due time passed while nothing was running."""
        now = self.clock()
        ran = 0
        for job in list(self._jobs.values()):
            due = last_due(job.trigger, now=now, since=now - self._grace(job))
            try:
                done = due is not None and self.run_due(job.key, due)
                ran += done
                if done:
                    metrics.SCHEDULER_CATCH_UP.labels(metrics.job_kind(job.key)).inc()
            except Exception:  # logged with its traceback; one broken job must not hold up the others
                log.exception("catching up %s (due %s) failed", job.key, due)
        self.caught_up_at = now
        log.info("scheduler caught up: %d missed runs done", ran)
        return ran

    def fire(self, key: str) -> None:
        """APScheduler calls this at a job's fire time."""
        job = self._jobs.get(key)
        if job is None:
            return
        now = self.clock()
        due = last_due(job.trigger, now=now, since=now - self._grace(job))
        if due is not None:
            self.run_due(key, due)

    def run_due(self, key: str, due_at: datetime, attempt: int = 0) -> bool:
        """Run `key` for `due_at` once. When the database is unreachable, or another runner holds the
        run, try again later (back-off, or the end of its lease) while inside the grace window."""
        job = self._jobs.get(key)
        if job is None:
            return False  # removed since, or this process stood down
        try:
            if self.run_once(job, due_at=due_at, now=self.clock()):
                return True
            with session_scope(self.engine) as session:
                retry_at = held_until(session, job_key=key, due_at=due_at, lease=job.lease)
        except sa.exc.SQLAlchemyError as exc:
            if not database_unavailable(exc):
                raise
            attempt += 1
            retry_at = self.clock() + timedelta(seconds=self._backoff(attempt))
            log.warning("%s (due %s) failed: the database is unreachable (%s); trying again at %s",
                        key, due_at, error_summary(exc), retry_at)
        if retry_at is not None:
            self._retry(job, due_at, retry_at, attempt)
        return False

    def _retry(self, job: Job, due_at: datetime, at: datetime, attempt: int) -> None:
        if at > due_at + self._grace(job):
            log.error("%s due %s is not run: it could not run before its grace window closed", job.key, due_at)
            self._interrupted.pop((job.key, due_at), None)
            return
        self._aps.add_job(self.run_due, trigger=DateTrigger(at - self._offset()), args=[job.key, due_at, attempt],
                          id=f"retry:{job.key}:{due_at.isoformat()}", replace_existing=True, misfire_grace_time=None)

    def run_once(self, job: Job, *, due_at: datetime, now: datetime) -> bool:
        """Claim (job, due_at) and run it. False if someone else has run or is running it."""
        with logs.bound(job_key=job.key):
            return self._run_once(job, due_at=due_at, now=now)

    def _run_once(self, job: Job, *, due_at: datetime, now: datetime) -> bool:
        with session_scope(self.engine) as session:
            if not claim_run(session, job_key=job.key, due_at=due_at, now=now, lease=job.lease,
                             retaking=self._interrupted.get((job.key, due_at))):
                return False
        self._interrupted.pop((job.key, due_at), None)
        kind = metrics.job_kind(job.key)
        metrics.SCHEDULER_RUNS.labels(kind, "started").inc()
        metrics.SCHEDULER_LATENESS.labels(kind).observe(max(0.0, (now - due_at).total_seconds()))
        try:
            job.run(due_at, now)  # another exception leaves the run unfinished, to be resumed after its lease
            with session_scope(self.engine) as session:
                finish_run(session, job_key=job.key, due_at=due_at, now=self.clock())
        except BaseException as exc:
            metrics.SCHEDULER_RUNS.labels(kind, "failed").inc()
            if isinstance(exc, sa.exc.SQLAlchemyError) and database_unavailable(exc):
                self._interrupted[(job.key, due_at)] = now  # this attempt is over; the retry may take it at once
            raise
        metrics.SCHEDULER_RUNS.labels(kind, "finished").inc()
        return True
