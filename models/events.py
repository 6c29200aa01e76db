"""Slack events seen, by event_id: Slack retries an event it thinks we missed; we act once."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel

from models.db import UTCDateTime, insert_once

KEEP_FOR = timedelta(days=3)  # Slack retries within minutes; a few days is plenty


class HandledEvent(SQLModel, table=True):
    __tablename__ = "handled_event"

    event_id: str = Field(primary_key=True, max_length=64)
    team_id: str = Field(max_length=32)
    received_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False, index=True))


def first_delivery(session: Session, *, event_id: str, team_id: str, now: datetime) -> bool:
    """True the first time an event_id arrives; False for Slack's retries of it."""
    return insert_once(session, HandledEvent(event_id=event_id, team_id=team_id, received_at=now))


def forget_old(session: Session, *, now: datetime) -> int:
    result = session.execute(sa.delete(HandledEvent).where(HandledEvent.received_at < now - KEEP_FOR))
    return result.rowcount
