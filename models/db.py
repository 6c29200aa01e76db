"""Engine, sessions and the column types every table shares. No Slack here."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

ROOT = Path(__file__).resolve().parent.parent


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
                return
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(self.timeout):
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
            url, connect_args={"check_same_thread": False, "timeout": BUSY_SECONDS}
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
    return sa.create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=10)


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


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Apply every migration up to the heads (idempotent; capabilities may branch from one base)."""
    from alembic import command

    command.upgrade(alembic_config(url), "heads")
