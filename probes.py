"""What /readyz and /metrics ask the database, on connections and threads of their own.

A probe never waits behind other work: not for the pool (a large fan-out may hold every
connection), not for SQLite's write turn (these engines are not the app's, whose every
transaction takes the turn: a plain read in WAL mode goes on beside a writer), and not for the
worker threads (each check has its own thread). A check still running after its time counts as
a failure; the next probe does not start a second one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from clock import utcnow
from models.outbox import FAILED, PENDING, SENDING, OutboxMessage


class Checker:
    """Runs one check at a time in its own thread, awaited for at most `timeout` seconds."""

    def __init__(self, name: str):
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"tandem-{name}")
        self._running: Future | None = None

    async def run(self, check: Callable, timeout: float, default):
        if self._running is None or self._running.done():  # only the event loop's thread gets here
            self._running = self._thread.submit(check)
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._running)), timeout)
        except (TimeoutError, sa.exc.SQLAlchemyError):  # no answer in time, or the database refused
            return default


def _engine(url: str) -> sa.Engine:
    connect_args = {"connect_timeout": 2} if url.startswith("postgresql") else {}
    return sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)


class Readiness:
    """Is the database reachable, with every migration applied? (/readyz)"""

    def __init__(self, url: str):
        from alembic.script import ScriptDirectory

        from models.db import alembic_config

        self.heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
        self._engine = _engine(url)
        self._checker = Checker("ready")

    def _check(self) -> str:
        from alembic.runtime.migration import MigrationContext

        try:
            with self._engine.connect() as connection:
                current = set(MigrationContext.configure(connection).get_current_heads())
        except sa.exc.SQLAlchemyError:
            return "unreachable"
        return "ok" if current == self.heads else "migrations_behind"

    async def database(self, timeout: float) -> str:
        """"ok", "unreachable" (or no answer within `timeout`) or "migrations_behind"."""
        return await self._checker.run(self._check, timeout, "unreachable")


class OutboxState:
    """The outbox's gauges, read when /metrics is scraped."""

    def __init__(self, url: str):
        self._engine = _engine(url)
        self._checker = Checker("metrics")

    def read(self, now: datetime | None = None) -> dict[str, tuple[str, float]]:
        now = now or utcnow()
        table = OutboxMessage.__table__
        with self._engine.connect() as connection:
            counts = dict(connection.execute(
                sa.select(table.c.status, sa.func.count()).where(table.c.status.in_((PENDING, SENDING, FAILED)))
                .group_by(table.c.status)).all())
            oldest = connection.execute(sa.select(sa.func.min(table.c.created_at))
                                        .where(table.c.status.in_((PENDING, SENDING)))).scalar()
        if isinstance(oldest, str):  # SQLite hands the raw column back here (no ORM type on a MIN)
            oldest = datetime.fromisoformat(oldest)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return {
            "tandem_outbox_pending": ("Messages queued and not sent yet (due or waiting for a retry).",
                                      counts.get(PENDING, 0)),
            "tandem_outbox_in_flight": ("Messages a worker is sending now.", counts.get(SENDING, 0)),
            "tandem_outbox_failed": ("Messages that failed for good (see /tandem outbox).", counts.get(FAILED, 0)),
            "tandem_outbox_oldest_pending_seconds": ("Age of the oldest message not sent yet; 0 when none.",
                                                     max(0.0, (now - oldest).total_seconds()) if oldest else 0.0),
        }

    async def read_bounded(self, timeout: float) -> dict[str, tuple[str, float]]:
        return await self._checker.run(self.read, timeout, {})
