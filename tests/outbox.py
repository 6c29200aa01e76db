"""Waiting for the outbox in tests: deterministically, and with a failure that says what happened.

`drained(check, what)` makes the app under test quiet, then returns `check()`:
  - every listener Bolt has started has run to its end (one turn of the app's event loop lets
    the ones it just started begin; then no blocking work may be under way), and
  - everything in the outbox that is due has been sent, here in the test's thread (the app's
    own workers may send some of it meanwhile: a row is claimed once).
When `check()` is still falsy, the AssertionError lists what the outbox sent and what it still
holds (status, attempts, next attempt, last error) instead of a bare "timed out". A message
waiting out a retry's back-off is not waited for: it shows in that list.
"""

from __future__ import annotations

import asyncio
import time

from sqlmodel import select

from clock import utcnow
from models.db import session_scope
from models.outbox import PENDING, SENDING, SENT, OutboxMessage

SHOWN = 20  # rows of each kind in a failure's report


def settle(app, timeout: float = 10.0) -> None:
    """Make `app` (a tests.conftest.RunningTandem) quiet; AssertionError with the outbox's state
    if it is not within `timeout` (a listener or a send that hangs)."""
    deadline = time.monotonic() + timeout
    while True:
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), app.loop).result(timeout)  # listeners begin
        if not app.services.busy:
            app.services.delivery.drain()
            if not app.services.busy and not _moving(app.engine):
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"the app did not get quiet within {timeout}s\n{report(app.engine)}")
        time.sleep(0.005)  # a worker is sending a row right now, or a listener is at work


def drained(check, what: str, *, app=None):
    """`check()` once the app is quiet (see the module's doc): its value, or an AssertionError
    saying what the outbox sent and still holds."""
    from tests.conftest import RunningTandem

    app = app or RunningTandem.current
    settle(app)
    value = check()
    if not value:
        raise AssertionError(f"{what}: not there once the app was quiet\n{report(app.engine)}")
    return value


def _moving(engine) -> bool:
    """Is a row being sent, or due and not sent (waiting behind one that is)?"""
    with session_scope(engine) as session:
        return session.exec(select(OutboxMessage.id).where(
            (OutboxMessage.status == SENDING)
            | ((OutboxMessage.status == PENDING) & (OutboxMessage.next_attempt_at <= utcnow())))).first() is not None


def report(engine) -> str:
    """What the outbox sent and what it still holds, newest last."""
    with session_scope(engine) as session:
        rows = list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))
    sent = [row for row in rows if row.status == SENT]
    held = [row for row in rows if row.status != SENT]
    lines = [f"outbox: {len(sent)} sent, {len(held)} not sent"]
    lines += [f"  sent  {row.key} {row.method} → {row.channel} {row.ts}" for row in sent[-SHOWN:]]
    lines += [f"  {row.status:7} {row.key} {row.method} attempts={row.attempts} next={row.next_attempt_at:%H:%M:%S}"
              f" error={row.last_error!r} args={_short(row.args)}" for row in held[-SHOWN:]]
    return "\n".join(lines)


def _short(args: dict) -> str:
    text = str({k: v for k, v in args.items() if k != "blocks"})
    return text if len(text) <= 200 else text[:199] + "…"
