"""The outbox: every message Tandem means to send, queued in the caller's transaction.

A row is keyed by an idempotency key, so queueing the same notification twice (a Slack
retry, a double click, two replicas) leaves one row. delivery.py sends rows and records
the channel and `ts` Slack gave each posted message, so later changes edit it in place.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, select

from models.db import UTCDateTime, insert_missing, insert_once

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
DROPPED = "dropped"  # failed for good, and an admin chose not to send it (/tandem outbox → Drop)
ARCHIVED = "archived"  # a post sent long ago, kept as a reference (channel, ts) without its arguments
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        sa.UniqueConstraint("key", name="uq_outbox_key"),
        sa.Index("ix_outbox_due", "status", "next_attempt_at"),
        sa.Index("ix_outbox_message", "channel", "ts"),
        sa.Index("ix_outbox_lane", "lane", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255)
    team_id: str = Field(max_length=32)
    method: str = Field(max_length=64)
    # Messages in one lane go out in the order they were queued (a card, then its edits and thread
    # lines); different lanes go out in parallel. The lane is the key of the message they refer to.
    lane: str | None = Field(default=None, max_length=255)
    args: dict = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    status: str = Field(default=PENDING, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    lease_until: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))
    last_error: str | None = Field(default=None, max_length=500)
    channel: str | None = Field(default=None, max_length=32)
    ts: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    # When the first attempt went out: a retried post is looked for in Slack back to this time.
    first_attempt_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))
    sent_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))


def queue_message(session: Session, *, key: str, team_id: str, method: str, args: dict, now: datetime,
                  lane: str | None = None) -> bool:
    """Queue one Web API call. False if a message with this key was queued before."""
    row = OutboxMessage(
        key=key, team_id=team_id, method=method, args=args, lane=lane or key, next_attempt_at=now, created_at=now
    )
    return insert_once(session, row)


def queue_messages(session: Session, messages: list[dict], *, now: datetime) -> set[str]:
    """Queue many calls in one statement (a fan-out); each dict has key, team_id, method, args and
    lane. Returns the keys queued now; a key queued before is left as it was."""
    rows = [{**message, "status": PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now}
            for message in messages]
    return {key for (key,) in insert_missing(session, OutboxMessage, rows, unique=["key"])}


def due_ids(session: Session, *, now: datetime, limit: int, worker: int = 0, workers: int = 1) -> list[int]:
    """Rows ready to send whose lane has nothing earlier still unsent; worker i of n takes id % n == i."""
    ready = sa.or_(
        sa.and_(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now),
        sa.and_(OutboxMessage.status == SENDING, OutboxMessage.lease_until < now),
    )
    earlier = sa.orm.aliased(OutboxMessage)
    blocked = sa.exists().where(earlier.lane == OutboxMessage.lane, earlier.id < OutboxMessage.id,
                                earlier.status.in_((PENDING, SENDING)))
    query = select(OutboxMessage.id).where(ready, ~blocked)
    if workers > 1:
        query = query.where(OutboxMessage.id % workers == worker)
    return list(session.exec(query.order_by(OutboxMessage.id).limit(limit)))


def has_followers(session: Session, *, lane: str | None, after_id: int) -> bool:
    """Does anything wait in this lane behind the message just sent?"""
    return session.exec(
        select(OutboxMessage.id).where(OutboxMessage.lane == lane, OutboxMessage.id > after_id,
                                       OutboxMessage.status.in_((PENDING, SENDING))).limit(1)
    ).first() is not None


def claim(session: Session, *, message_id: int, now: datetime) -> OutboxMessage | None:
    """Take the row for sending, unless another worker holds it. The UPDATE is the lock."""
    ready = sa.or_(
        sa.and_(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now),
        sa.and_(OutboxMessage.status == SENDING, OutboxMessage.lease_until < now),
    )
    result = session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, ready)
        .values(status=SENDING, lease_until=now + LEASE, attempts=OutboxMessage.attempts + 1,
                first_attempt_at=sa.func.coalesce(OutboxMessage.first_attempt_at, sa.literal(now, UTCDateTime())))
    )
    if result.rowcount != 1:
        return None
    return session.get(OutboxMessage, message_id, populate_existing=True)


def mark_sent(session: Session, *, message_id: int, channel: str | None, ts: str | None, now: datetime) -> None:
    session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status=SENT, channel=channel, ts=ts, sent_at=now, lease_until=None, last_error=None)
    )


def mark_retry(session: Session, *, message_id: int, attempts: int, error: str, now: datetime) -> None:
    """Back off exponentially; give up after MAX_ATTEMPTS (the row stays, marked failed)."""
    status = FAILED if attempts >= MAX_ATTEMPTS else PENDING
    delay = timedelta(seconds=min(3600, 5 * 2 ** max(0, attempts - 1)))
    session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status=status, next_attempt_at=now + delay, lease_until=None, last_error=error[:500])
    )


def mark_failed(session: Session, *, message_id: int, error: str) -> None:
    session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status=FAILED, lease_until=None, last_error=error[:500])
    )


def key_of_message(session: Session, *, channel: str, ts: str) -> str | None:
    """The key Tandem posted a message under, found by where Slack put it (edits share its ts)."""
    return session.exec(
        select(OutboxMessage.key).where(OutboxMessage.channel == channel, OutboxMessage.ts == ts,
                                        OutboxMessage.method == "chat.postMessage")
    ).first()


def was_queued(session: Session, *, key: str) -> bool:
    """Was a message queued under `key` (whatever became of it)?"""
    return session.exec(select(OutboxMessage.id).where(OutboxMessage.key == key)).first() is not None


def is_live(session: Session, *, key: str) -> bool:
    """Was a message queued under `key` that is sent or still going (not failed)? Edits may refer to it."""
    return session.exec(select(OutboxMessage.id).where(OutboxMessage.key == key,
                                                       OutboxMessage.status.not_in((FAILED, DROPPED)))
                       ).first() is not None


def message_ref(session: Session, *, key: str) -> tuple[str, str] | None:
    """Channel and ts of the message sent under `key`, to edit it with chat.update."""
    row = session.exec(select(OutboxMessage).where(OutboxMessage.key == key)).first()
    if row is None or row.ts is None:
        return None
    return row.channel, row.ts


def release(session: Session, *, message_id: int, error: str) -> None:
    """Give a claimed row back untouched, as if it had not been tried (Slack refused the token:
    the message is not at fault, and goes once the token works again)."""
    session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == SENDING)
        .values(status=PENDING, attempts=OutboxMessage.attempts - 1,
                lease_until=None, last_error=error[:500])
    )


# -- failed for good: seen and recovered by an admin (/tandem outbox, ./tandem outbox) -------------
def failed_messages(session: Session, *, team_id: str | None = None, limit: int = 20) -> list[OutboxMessage]:
    """The messages that failed for good, oldest first (one team's, or all)."""
    query = select(OutboxMessage).where(OutboxMessage.status == FAILED)
    if team_id is not None:
        query = query.where(OutboxMessage.team_id == team_id)
    return list(session.exec(query.order_by(OutboxMessage.id).limit(limit)))


def count_failed(session: Session, *, team_id: str | None = None) -> int:
    query = select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.status == FAILED)
    if team_id is not None:
        query = query.where(OutboxMessage.team_id == team_id)
    return session.exec(query).one()


def retry_failed(session: Session, *, message_id: int, now: datetime, team_id: str | None = None) -> bool:
    """Send a failed message again, now. False when it is not failed (any more): a second click,
    or another admin was first. The conditional UPDATE is what makes one click count once.

    Its first attempt time is kept and its attempts count as one, so the next try of a post first
    looks in Slack for an earlier attempt that arrived after all (delivery._find_post)."""
    return _leave_failed(session, message_id=message_id, team_id=team_id,
                         values={"status": PENDING, "attempts": 1, "next_attempt_at": now, "lease_until": None})


def drop_failed(session: Session, *, message_id: int, team_id: str | None = None) -> bool:
    """Give up a failed message for good (it stays, as dropped, until retention prunes it).
    False when it is not failed (any more)."""
    return _leave_failed(session, message_id=message_id, team_id=team_id, values={"status": DROPPED})


def _leave_failed(session: Session, *, message_id: int, team_id: str | None, values: dict) -> bool:
    where = [OutboxMessage.id == message_id, OutboxMessage.status == FAILED]
    if team_id is not None:
        where.append(OutboxMessage.team_id == team_id)
    return session.execute(sa.update(OutboxMessage).where(*where).values(**values)).rowcount == 1
