"""Scheduled runs: one row per (job, due time), so a run happens once across restarts and replicas.

A run that started but never finished (the process died mid fan-out) may be taken again
once its lease has passed; the work inside keeps its own unique keys, so resuming it
sends only what is still missing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
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


def claim_run(session: Session, *, job_key: str, due_at: datetime, now: datetime) -> bool:
    """True if this caller is the one to run `job_key` for `due_at` (now, or resuming a dead run)."""
    if insert_once(session, ScheduledRun(job_key=job_key, due_at=due_at, started_at=now)):
        return True
    stale = session.execute(
        sa.update(ScheduledRun)
        .where(
            ScheduledRun.job_key == job_key,
            ScheduledRun.due_at == due_at,
            ScheduledRun.finished_at.is_(None),
            ScheduledRun.started_at < now - RUN_LEASE,
        )
        .values(started_at=now)
    )
    return stale.rowcount == 1


def finish_run(session: Session, *, job_key: str, due_at: datetime, now: datetime) -> None:
    session.execute(
        sa.update(ScheduledRun)
        .where(ScheduledRun.job_key == job_key, ScheduledRun.due_at == due_at)
        .values(finished_at=now)
    )
