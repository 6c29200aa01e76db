"""The alarm clock. Schedules live in our tables; APScheduler only wakes the rule.

- Jobs are rebuilt from the tables at start (and whenever a capability calls `rebuild()`):
  each capability registers a *job source*, a function that reads its tables and yields Jobs.
- Only one scheduler is active per database: on PostgreSQL the holder of an advisory lock,
  on SQLite the holder of a file lock beside the database (so one process). The others wait
  as standbys and take over when the lock frees.
- Every run is claimed in `scheduled_run` under (job key, due time) first, so a run
  happens once even if two processes think they are active for a moment.
- On start, a job that fell due while nothing ran is run once if it is still inside its
  grace window; older misses are not replayed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy.engine import Engine
from sqlmodel import Session

from clock import utcnow
from models.db import session_scope
from models.schedule import claim_run, finish_run

log = logging.getLogger("tandem.scheduler")
LOCK_KEY = 0x7A4D3E  # advisory lock id shared by every Tandem process on one database


@dataclass(frozen=True)
class Job:
    key: str                                   # unique and stable, e.g. "standup:42"
    trigger: BaseTrigger                       # an APScheduler trigger with its time zone
    run: Callable[[datetime, datetime], None]  # run(due_at, now)
    grace: timedelta | None = None             # how late it may still run; None: the default


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


class ActiveLock:
    """Decides which process runs the scheduler for a database."""

    def __init__(self, engine: Engine, database_url: str):
        self.engine = engine
        self.url = database_url
        self._connection = None
        self._file = None

    @property
    def held(self) -> bool:
        return self._connection is not None or self._file is not None

    def try_acquire(self) -> bool:
        if self.held:
            return True
        if self.engine.dialect.name == "postgresql":
            connection = self.engine.connect()
            got = connection.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
            connection.commit()  # the lock is session-level; keep the connection, end the transaction
            if got:
                self._connection = connection
            else:
                connection.close()
            return bool(got)
        return self._try_file_lock()

    def _try_file_lock(self) -> bool:
        import fcntl

        database = self.engine.url.database
        path = Path(database if database and database != ":memory:" else "tandem-memory").with_suffix(".scheduler.lock")
        handle = path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def still_held(self) -> bool:
        """False if the PostgreSQL session holding the lock died (then another process may take over)."""
        if self._connection is None:
            return self._file is not None
        try:
            self._connection.execute(sa.text("SELECT 1")).scalar()
            self._connection.commit()
            return True
        except sa.exc.SQLAlchemyError:
            self._connection = None
            return False

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                self._connection.commit()
            except sa.exc.SQLAlchemyError:
                pass  # a dead connection has released the lock already
            self._connection.close()
            self._connection = None
        if self._file is not None:
            self._file.close()  # closing the file releases the flock
            self._file = None


class Scheduler:
    def __init__(self, engine: Engine, database_url: str, *, grace: timedelta = timedelta(hours=1),
                 standby_poll_seconds: float = 10.0, clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.grace = grace
        self.clock = clock
        self.sources: list[JobSource] = []
        self.lock = ActiveLock(engine, database_url)
        self.standby_poll_seconds = standby_poll_seconds
        self._aps = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None
        self._jobs: dict[str, Job] = {}

    @property
    def active(self) -> bool:
        return self.lock.held

    def add_source(self, source: JobSource) -> None:
        self.sources.append(source)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Become active if the lock is free, else stand by and keep trying."""
        self._stop.clear()
        if not self._aps.running:
            self._aps.start(paused=True)
        self._try_activate()
        self._watch = threading.Thread(target=self._watch_lock, name="tandem-scheduler-lock", daemon=True)
        self._watch.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.join(5)
        if self._aps.running:
            self._aps.shutdown(wait=True)
        self.lock.release()

    def _try_activate(self) -> bool:
        if self.lock.held or not self.lock.try_acquire():
            return False
        log.info("scheduler active for this database")
        self.rebuild(catch_up=True)
        self._aps.resume()
        return True

    def _watch_lock(self) -> None:
        while not self._stop.wait(self.standby_poll_seconds):
            if self.lock.held and not self.lock.still_held():
                log.warning("scheduler lost its lock; standing by")
                self._aps.pause()
                self._aps.remove_all_jobs()
            if not self.lock.held:
                self._try_activate()

    # -- jobs -------------------------------------------------------------------------------
    def load_jobs(self, now: datetime) -> list[Job]:
        with session_scope(self.engine) as session:
            return [job for source in self.sources for job in source(session, now)]

    def rebuild(self, *, catch_up: bool = False) -> None:
        """Replace the APScheduler jobs with what the tables say now. No-op on a standby."""
        if not self.lock.held:
            return
        now = self.clock()
        jobs = self.load_jobs(now)
        self._jobs = {job.key: job for job in jobs}
        self._aps.remove_all_jobs()
        for job in jobs:
            self._aps.add_job(self.fire, trigger=job.trigger, args=[job.key], id=job.key, replace_existing=True,
                              misfire_grace_time=int((job.grace or self.grace).total_seconds()) or None)
        if catch_up:
            self.catch_up(now=now)

    def catch_up(self, *, now: datetime) -> int:
        """Run, once, each job whose latest due time passed while nothing was running."""
        ran = 0
        for job in list(self._jobs.values()):
            due = last_due(job.trigger, now=now, since=now - (job.grace or self.grace))
            if due is not None and self.run_once(job, due_at=due, now=now):
                ran += 1
        return ran

    def fire(self, key: str) -> None:
        """APScheduler calls this at a job's fire time."""
        job = self._jobs.get(key)
        if job is None:
            return
        now = self.clock()
        due = last_due(job.trigger, now=now, since=now - (job.grace or self.grace))
        if due is not None:
            self.run_once(job, due_at=due, now=now)

    def run_once(self, job: Job, *, due_at: datetime, now: datetime) -> bool:
        """Claim (job, due_at) and run it. False if someone else has run or is running it."""
        with session_scope(self.engine) as session:
            if not claim_run(session, job_key=job.key, due_at=due_at, now=now):
                return False
        job.run(due_at, now)  # an exception leaves the run unfinished, to be resumed after its lease
        with session_scope(self.engine) as session:
            finish_run(session, job_key=job.key, due_at=due_at, now=self.clock())
        return True
