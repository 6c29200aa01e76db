"""Retention: what only served exactly-once for a while is pruned after RETENTION_DAYS, in small
batches, each its own short transaction (on SQLite a transaction holds the one write lock, and a
click waiting behind a delete of a million rows would miss Slack's 3 seconds).

- outbox: sent messages other than posts, and dropped ones, are deleted. A sent post is kept as a
  small reference (status "archived", its arguments emptied): later edits of it ($ref: a request
  card changed months later), thread replies mapped back to it, and its key (a replay must not post
  it again) still need its channel and ts. Failed and unsent messages are never pruned.
- handled events (Slack's retries of an event come within minutes) and scheduled-run claims (a run
  older than the grace window is never run again) are deleted.
Audit events, requests, answers, decisions and metric points are kept: they are the record.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.db import session_scope
from models.events import HandledEvent
from models.outbox import ARCHIVED, DROPPED, SENT, OutboxMessage
from models.schedule import ScheduledRun

BATCH = 500


def prune(engine: Engine, *, now: datetime, keep: timedelta, batch: int = BATCH) -> dict[str, int]:
    """Prune everything older than `keep`; returns how many rows of each kind went."""
    cutoff = now - keep
    outbox = OutboxMessage.__table__
    sent_long_ago = sa.and_(outbox.c.status == SENT, outbox.c.sent_at < cutoff)
    done = {
        "outbox_deleted": _in_batches(engine, outbox, outbox.c.id, batch, sa.or_(
            sa.and_(sent_long_ago, outbox.c.method != "chat.postMessage"),
            sa.and_(outbox.c.status == DROPPED, outbox.c.created_at < cutoff))),
        "outbox_archived": _in_batches(engine, outbox, outbox.c.id, batch,
                                       sa.and_(sent_long_ago, outbox.c.method == "chat.postMessage"),
                                       values={"status": ARCHIVED, "args": {}}),
        "handled_events": _in_batches(engine, HandledEvent.__table__, HandledEvent.__table__.c.event_id, batch,
                                      HandledEvent.__table__.c.received_at < cutoff),
        "scheduled_runs": _in_batches(engine, ScheduledRun.__table__, ScheduledRun.__table__.c.id, batch,
                                      ScheduledRun.__table__.c.due_at < cutoff),
    }
    return done


def _in_batches(engine: Engine, table: sa.Table, key: sa.Column, batch: int, where, values: dict | None = None) -> int:
    """Delete (or, with `values`, update) the rows matching `where`, `batch` at a time."""
    total = 0
    while True:
        with session_scope(engine) as session:
            ids = list(session.execute(sa.select(key).where(where).limit(batch)).scalars())
            if ids:
                statement = sa.update(table).values(**values) if values is not None else sa.delete(table)
                session.execute(statement.where(key.in_(ids)))
        total += len(ids)
        if len(ids) < batch:
            return total
