"""Retention: sent messages, handled events and scheduled-run claims go after RETENTION_DAYS, in
small batches; what is still needed stays (failed and unsent messages, the references later edits
use), on both databases."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import select

from clock import utcnow
from models import outbox, retention
from models.db import session_scope
from models.events import HandledEvent
from models.outbox import OutboxMessage
from models.schedule import ScheduledRun

KEEP = timedelta(days=30)


def add_message(session, key: str, *, status: str, method: str = "chat.postMessage", age: timedelta) -> None:
    at = utcnow() - age
    session.add(OutboxMessage(key=key, team_id="T0TEST", method=method, args={"channel": "C1", "text": "words"},
                              status=status, next_attempt_at=at, created_at=at, lane=key, channel="C1",
                              ts=f"{at.timestamp():.6f}", sent_at=at if status == "sent" else None))


def test_old_rows_go_in_batches_and_what_is_still_needed_stays(engine):
    old, recent = timedelta(days=31), timedelta(days=29)
    with session_scope(engine) as session:
        for number in range(5):  # more than one batch of each kind
            add_message(session, f"update:{number}", status="sent", method="chat.update", age=old)
            add_message(session, f"card:{number}", status="sent", age=old)
            session.add(HandledEvent(event_id=f"Ev{number}", team_id="T0TEST", received_at=utcnow() - old))
            session.add(ScheduledRun(job_key=f"standup:{number}", due_at=utcnow() - old, started_at=utcnow() - old,
                                     finished_at=utcnow() - old))
        add_message(session, "dropped:old", status="dropped", age=old)
        add_message(session, "failed:old", status="failed", age=old)
        add_message(session, "pending:old", status="pending", age=old)
        add_message(session, "update:recent", status="sent", method="chat.update", age=recent)
        session.add(HandledEvent(event_id="EvRecent", team_id="T0TEST", received_at=utcnow() - recent))
        session.add(ScheduledRun(job_key="standup:recent", due_at=utcnow() - recent, started_at=utcnow() - recent))

    done = retention.prune(engine, now=utcnow(), keep=KEEP, batch=2)
    assert done == {"outbox_deleted": 6, "outbox_archived": 5, "handled_events": 5, "scheduled_runs": 5}
    with session_scope(engine) as session:
        rows = {row.key: row for row in session.exec(select(OutboxMessage))}
        assert set(rows) == {*(f"card:{n}" for n in range(5)), "failed:old", "pending:old", "update:recent"}
        assert {rows[f"card:{n}"].status for n in range(5)} == {"archived"}
        assert rows["card:0"].args == {} and rows["failed:old"].args["text"] == "words"
        # an old card can still be edited, is still "live", and its key still blocks a second post
        assert outbox.message_ref(session, key="card:0") == ("C1", rows["card:0"].ts)
        assert outbox.is_live(session, key="card:0") and outbox.was_queued(session, key="card:0")
        assert session.exec(select(HandledEvent.event_id)).all() == ["EvRecent"]
        assert session.exec(select(ScheduledRun.job_key)).all() == ["standup:recent"]
    assert retention.prune(engine, now=utcnow(), keep=KEEP, batch=2) == dict.fromkeys(done, 0)


def test_the_record_is_kept(engine):
    """Audit events, requests, answers, decisions and metric points are not retention's business:
    prune touches only the three tables it names."""
    touched = {"outbox", "handled_event", "scheduled_run"}
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda *args: statements.append(args[2]) if args[2].lstrip().upper().startswith(
                        ("DELETE", "UPDATE")) else None)
    with session_scope(engine) as session:
        add_message(session, "update:old", status="sent", method="chat.update", age=timedelta(days=400))
    retention.prune(engine, now=utcnow(), keep=KEEP)
    written = {statement.split()[2 if statement.split()[0].upper() == "DELETE" else 1].strip('"')
               for statement in statements}
    assert written and written <= touched
