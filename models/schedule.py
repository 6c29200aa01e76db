"""Scheduled runs, and the version number that tells the active scheduler its jobs changed.

One row per (job, due time), so a run happens once across restarts and replicas. A run that
started but never finished (the process died mid fan-out) may be taken again once its lease has
passed; the work inside keeps its own unique keys, so resuming it sends only what is still missing.

Any replica may save a change to what is scheduled, but only one runs the scheduler: the change
bumps `schedule_version` in its own transaction, and the active scheduler polls that number.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel

from models.db import UTCDateTime, insert_once

RUN_LEASE = timedelta(minutes=5)


class ScheduledRun(SQLModel, table=True):
    __tablename__ = "scheduled_run"
    __table_args__ = (sa.UniqueConstraint("job_key", "due_at", name="uq_scheduled_run_job_due"),)

    id: int | None = Field(default=None, primary_key=True)
    job_key: str = Field(max_length=255)
    due_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    started_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))


class ScheduleVersion(SQLModel, table=True):
    """A single row (id 1): its number goes up with every change to what is scheduled."""

    __tablename__ = "schedule_version"

    id: int = Field(default=1, primary_key=True)
    version: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False))


def claim_run(session: Session, *, job_key: str, due_at: datetime, now: datetime, lease: timedelta = RUN_LEASE,
              retaking: datetime | None = None) -> bool:
    """True if this caller is the one to run `job_key` for `due_at`: the first to claim it, or taking over
    a run that never finished once its lease has passed. `retaking` is the start of the caller's own
    earlier attempt, which the caller knows is over (it failed): that run may be taken again at once."""
    if insert_once(session, ScheduledRun(job_key=job_key, due_at=due_at, started_at=now)):
        return True
    free = ScheduledRun.started_at < now - lease
    if retaking is not None:
        free = sa.or_(free, ScheduledRun.started_at == retaking)
    stale = session.execute(
        sa.update(ScheduledRun)
        .where(ScheduledRun.job_key == job_key, ScheduledRun.due_at == due_at, ScheduledRun.finished_at.is_(None), free)
        .values(started_at=now)
    )
    return stale.rowcount == 1


def held_until(session: Session, *, job_key: str, due_at: datetime, lease: timedelta = RUN_LEASE) -> datetime | None:
    """When an unfinished run of `job_key` for `due_at` may be taken over; None if it finished (or never began)."""
    started = session.execute(sa.select(ScheduledRun.started_at).where(
        ScheduledRun.job_key == job_key, ScheduledRun.due_at == due_at, ScheduledRun.finished_at.is_(None))).scalar()
    return None if started is None else started + lease


def finish_run(session: Session, *, job_key: str, due_at: datetime, now: datetime) -> None:
    session.execute(
        sa.update(ScheduledRun)
        .where(ScheduledRun.job_key == job_key, ScheduledRun.due_at == due_at)
        .values(finished_at=now)
    )


def schedule_changed(session: Session) -> None:
    """Tell the active scheduler, on whichever replica it runs, to rebuild its jobs once this
    transaction commits (call it in the transaction that changes what is scheduled)."""
    connection = session.connection()
    table = ScheduleVersion.__table__
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[connection.dialect.name]
    connection.execute(insert(table).values(id=1, version=1)
                       .on_conflict_do_update(index_elements=[table.c.id], set_={"version": table.c.version + 1}))


def schedule_version(connection: sa.Connection) -> int:
    """The current version (0 before the first change)."""
    return connection.execute(sa.select(ScheduleVersion.version).where(ScheduleVersion.id == 1)).scalar() or 0
