"""Slack events seen, by event_id: Slack retries an event it thinks we missed; we act once."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, select

from models import keys
from models.db import UTCDateTime, insert_once
from models.outbox import OutboxMessage

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


HELP_EVERY = timedelta(hours=1)


def dm_help_key(session: Session, *, team_id: str, user_id: str, now: datetime) -> str | None:
    """The outbox key for answering a person's DM to Tandem, or None if they had an answer within
    the hour (a chat with the bot must not get a help message per line).

    The key holds the UTC hour, so Slack's retries and two replicas queue one answer; the lookup
    of the previous hour's answer makes it "once an hour" rather than "once per clock hour".
    """
    prefix = keys.dm_help(team_id, user_id, "")
    recent = session.exec(select(OutboxMessage.id).where(
        OutboxMessage.key.startswith(prefix, autoescape=True), OutboxMessage.created_at > now - HELP_EVERY)).first()
    return None if recent else keys.dm_help(team_id, user_id, now.strftime("%Y%m%d%H"))
