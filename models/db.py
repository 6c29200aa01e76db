"""Engine, sessions and the column types every table shares. No Slack here."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool, QueuePool
from sqlmodel import Session

from metrics import SQLITE_WRITE_WAIT

ROOT = Path(__file__).resolve().parent.parent
MIGRATION_LOCK = 0x7A4D3F  # advisory lock id: one migrator at a time per PostgreSQL database


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC in, timezone-aware UTC out, on SQLite (which keeps no zone) too."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        value = value.astimezone(UTC)
        # SQLite stores text; drop the offset so string comparison orders correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


BUSY_SECONDS = 30


class WriteTurns:
    """SQLite's one write lock, handed to this process's threads in the order they asked.

    SQLite's own busy handler polls with growing sleeps, so a thread committing batch after batch
    (a 2,000-person fan-out queueing its DMs) takes the lock straight back and starves the others
    (the outbox workers sending those DMs, a handler answering a click) for seconds. Other processes
    on the same file still queue through the busy timeout.
    """

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._lock = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Event] = deque()

    def acquire(self) -> None:
        with self._lock:
            if not self._held:
                self._held = True
                SQLITE_WRITE_WAIT.observe(0.0)
                return
            turn = threading.Event()
            self._waiting.append(turn)
        started = time.perf_counter()
        if turn.wait(self.timeout):
            SQLITE_WRITE_WAIT.observe(time.perf_counter() - started)
            return
        with self._lock:
            if turn.is_set():  # handed over just as the wait ran out
                return
            self._waiting.remove(turn)
        raise sa.exc.OperationalError("BEGIN IMMEDIATE", None, TimeoutError("database is locked"))

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # still held: now by the next in line
            else:
                self._held = False


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            # No pre-ping: a SQLite file does not drop connections, and the ping is a query per checkout.
            url, connect_args={"check_same_thread": False, "timeout": BUSY_SECONDS}, poolclass=CountingPool
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # Let SQLAlchemy, not pysqlite, decide when transactions begin, so SAVEPOINTs work.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            # WAL lets readers go on while one writer writes; the busy timeout queues writers.
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL stays consistent after a crash and spares an fsync per commit.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        turns = WriteTurns(BUSY_SECONDS)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            # IMMEDIATE takes the write lock up front: a deferred transaction that reads, then
            # writes after another writer committed, fails at once instead of waiting its turn.
            turns.acquire()
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                turns.release()
                raise
            connection.info["tandem_write_turn"] = True

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _sqlite_end(connection):
            if connection.info.pop("tandem_write_turn", False):
                turns.release()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=10, poolclass=CountingPool)


class CountingPool(QueuePool):
    """SQLAlchemy's QueuePool that knows how many threads wait for a connection now (for /metrics):
    once every connection is out, a checkout waits up to pool_timeout."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.waiting = 0
        self._waiting_lock = threading.Lock()

    def capacity(self) -> int:
        return self.size() + self._max_overflow

    def _do_get(self):
        with self._waiting_lock:
            self.waiting += 1
        try:
            return super()._do_get()
        finally:
            with self._waiting_lock:
                self.waiting -= 1



@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_once(session: Session, row) -> bool:
    """Insert `row` unless its unique key exists already. True if this call inserted it.

    The exactly-once primitive: insert first; a conflict means someone else did it.
    """
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return True
    except IntegrityError:
        return False


def insert_missing(session: Session, model, rows: list[dict], *, unique: list[str]) -> set[tuple]:
    """The batch form of insert_once: one INSERT .. ON CONFLICT DO NOTHING for many rows.

    Returns the unique keys (tuples of the `unique` columns) of the rows this call inserted.
    """
    if not rows:
        return set()
    connection = session.connection()
    table = model.__table__
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[connection.dialect.name]
    statement = insert(table).on_conflict_do_nothing(index_elements=unique).returning(*(table.c[c] for c in unique))
    # executemany form: SQLAlchemy batches it into multi-row VALUES and caches the compiled statement.
    return {tuple(row) for row in connection.execute(statement, rows)}


def database_reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.SQLAlchemyError:
        return False


def database_unavailable(error: BaseException | None) -> bool:
    """Did this fail because the database could not be reached or used just now (refused, cut, timed
    out, busy) rather than because of a bug? Then trying again shortly is the answer."""
    while error is not None:
        if isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.TimeoutError):
            return True
        if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
            return True
        error = error.__cause__
    return False


def error_summary(error: BaseException) -> str:
    """A database error in one line, without the statement and its parameters (users' data)."""
    return (str(getattr(error, "orig", None) or error).strip().splitlines() or [type(error).__name__])[0]


class DatabaseProbe:
    """Is the database there? A bounded answer for /healthz: one check at a time, in its own thread
    and on its own connection (never the pool, which an outage may have left waiting), awaited for
    at most `timeout` seconds; a check still running then counts as unreachable."""

    def __init__(self, url: str):
        connect_args = {"connect_timeout": 2} if url.startswith("postgresql") else {}
        self._engine = sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="tandem-probe")
        self._running: Future | None = None

    async def reachable(self, timeout: float) -> bool:
        if self._running is None or self._running.done():  # only the event loop's thread gets here
            self._running = self._thread.submit(database_reachable, self._engine)
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._running)), timeout)
        except TimeoutError:
            return False


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Apply every migration up to the heads (idempotent; capabilities may branch from one base).

    On PostgreSQL replicas starting together take turns under an advisory lock: the first
    migrates, the others wait for it and then find nothing left to do. (SQLite means one process.)
    """
    from alembic import command

    if not url.startswith("postgresql"):
        command.upgrade(alembic_config(url), "heads")
        return
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:  # closing it releases the lock, whatever happens
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            connection.commit()
            command.upgrade(alembic_config(url), "heads")
    finally:
        engine.dispose()
