"""Which process runs the scheduler for a database, and whether it still does.

PostgreSQL: the holder of a session-level advisory lock, on a connection of its own (outside the
pool) with TCP keepalives on both ends, so that a dead holder's lock is freed, and a holder on a
dead link notices, within seconds. The server releases the lock when that session ends, so a
holder whose connection died has lost it: another replica may hold it a moment later.
SQLite: the holder of a file lock beside the database file (so one process): filelock's, which is
flock on Unix and msvcrt locking on Windows, so SQLite mode runs on Windows too.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import sqlalchemy as sa
from filelock import FileLock, Timeout
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from models.schedule import schedule_version

LOCK_KEY = 0x7A4D3E  # advisory lock id shared by every Tandem process on one database
# Keepalives: the client notices a dead link, and the server a dead client (freeing the lock),
# in about 5 + 3 × 2 s; a statement never waits more than 5 s; unacknowledged data, 10 s.
LOCK_CONNECTION = {
    "connect_timeout": 5, "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
    "tcp_user_timeout": 10000,
    "options": "-c statement_timeout=5000 -c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 "
               "-c tcp_keepalives_count=3",
}
# pg_locks shows a bigint advisory key as classid (high 32 bits), objid (low 32 bits), objsubid 1.
HOLDING = sa.text("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                  "AND pid = pg_backend_pid() AND classid = 0 AND objid::bigint = :key AND objsubid = 1)")


class LockLost(Exception):
    """This process no longer holds the scheduler's lock (another may hold it now)."""


class ActiveLock:
    def __init__(self, engine: Engine, database_url: str):
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._lock_engine = sa.create_engine(database_url, poolclass=NullPool, connect_args=LOCK_CONNECTION) \
            if self.postgres else None
        self._connection: sa.Connection | None = None
        self._file = None

    @property
    def held(self) -> bool:
        return self._connection is not None or self._file is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free. Raises the database's error when it cannot be asked."""
        if self.held:
            return True
        if not self.postgres:
            return self._try_file_lock()
        connection = self._lock_engine.connect()
        try:
            got = connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}).scalar()
            connection.commit()  # the lock is session-level; keep the connection, end the transaction
        except BaseException:
            connection.close()
            raise
        if got:
            self._connection = connection
        else:
            connection.close()
        return bool(got)

    def _try_file_lock(self) -> bool:
        database = self.engine.url.database
        path = Path(database if database and database != ":memory:" else "tandem-memory").with_suffix(".scheduler.lock")
        # Not a singleton: a second ActiveLock on the same file in this process (a test's second replica)
        # must be refused. Not thread-local: the watcher thread takes it, stop() releases it.
        lock = FileLock(path, is_singleton=False, thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False
        self._file = lock
        return True

    def verify(self) -> int:
        """The schedule version, read where the lock lives (on PostgreSQL, on the lock's own session,
        which is checked in pg_locks), so a success confirms the lock with the database.

        Raises LockLost when the lock is gone, or the database's error when it cannot say just now.
        """
        if self._file is not None:
            with self.engine.connect() as connection:
                return schedule_version(connection)
        if self._connection is None:
            raise LockLost("not held")
        try:
            holding = self._connection.execute(HOLDING, {"key": LOCK_KEY}).scalar()
            version = schedule_version(self._connection)
            self._connection.commit()
        except sa.exc.DBAPIError as exc:
            if exc.connection_invalidated or not self._rolled_back():
                self._forget()
                raise LockLost("the session holding the lock is gone") from exc
            raise
        if not holding:
            self._forget()
            raise LockLost("the session no longer holds the lock")
        return version

    def _rolled_back(self) -> bool:
        """After an error on a live session (a statement timeout): end the transaction, keep the session."""
        try:
            self._connection.rollback()
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def _forget(self) -> None:
        connection, self._connection = self._connection, None
        with contextlib.suppress(sa.exc.SQLAlchemyError):  # a dead session has released the lock already
            connection.close()

    def release(self) -> None:
        if self._connection is not None:
            self._forget()  # the session ends, and the server frees its advisory locks with it
        if self._file is not None:
            self._file.release()
            self._file = None
