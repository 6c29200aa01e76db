"""Real database outages for tests and benchmarks.

PostgreSQL: `FaultProxy` is a TCP proxy in front of the server; point DATABASE_URL at
`proxy.url(database_url)`. `down()` cuts every connection through it (a reset on both sides, as
a crashed server or a broken link gives: the server ends those sessions and frees their advisory
locks) and refuses new ones (the listening socket is closed: connect() gets ECONNREFUSED) until
`up()`.

SQLite has no server to lose. `SqliteOutage` models the file becoming unreachable (the disk or
mount holding it gone): while down, every connection to that file in this process fails, new ones
with SQLite's own "unable to open database file" and pooled ones at checkout as disconnected, for
every engine (the app's, the scheduler's, the health probe's). The scheduler's file lock beside it
stays held, as an open file's lock does.

`outage(fault, seconds)` takes the database down now and brings it back after `seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import sqlite3
import threading

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import Pool


def port_below_ephemeral_range() -> int:
    """A free port the kernel never picks as a connection's source port. The proxy's port is free
    while the database is "down", and one from the ephemeral range can meanwhile become an outgoing
    connection's source port: up() then fails with EADDRINUSE."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            low = int(ports.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768  # Linux's default; macOS and Windows start theirs at 49152
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port below {low}")


class FaultProxy:
    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5432):
        self.target = (target_host, target_port)
        self.port = port_below_ephemeral_range()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="db-fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    def start(self) -> FaultProxy:
        self._thread.start()
        self.up()
        return self

    def stop(self) -> None:
        self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def url(self, database_url: str) -> str:
        """The same database, reached through this proxy."""
        return make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def up(self) -> None:
        self._run(self._listen())

    def down(self) -> None:
        self._run(self._cut())

    def _run(self, coroutine) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()  # the port refuses connections from now on
            self._server = None
        for writer in list(self._links):
            writer.transport.abort()  # a reset, not a polite close
        self._links.clear()

    async def _link(self, client_reader, client_writer) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        pair = {client_writer, server_writer}
        self._links |= pair
        await asyncio.gather(_pump(client_reader, server_writer), _pump(server_reader, client_writer))
        self._links -= pair


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass  # the other side was cut: so is this one
    finally:
        writer.transport.abort()


class SqliteOutage:
    def __init__(self, database_url: str):
        self.path = make_url(database_url).database
        self.is_up = True
        event.listen(Engine, "do_connect", self._connect)
        event.listen(Pool, "checkout", self._checkout)

    def close(self) -> None:
        self.up()
        event.remove(Engine, "do_connect", self._connect)
        event.remove(Pool, "checkout", self._checkout)

    def down(self) -> None:
        self.is_up = False

    def up(self) -> None:
        self.is_up = True

    def _connect(self, dialect, _record, cargs, cparams):
        if not self.is_up and dialect.name == "sqlite" and (cargs[:1] or [cparams.get("database")])[0] == self.path:
            raise sqlite3.OperationalError("unable to open database file")

    def _checkout(self, dbapi_connection, _record, _proxy):
        if self.is_up or not isinstance(dbapi_connection, sqlite3.Connection):
            return
        files = [row[2] for row in dbapi_connection.execute("PRAGMA database_list")]
        if self.path in files:
            raise sa.exc.DisconnectionError("the database file is unreachable")


def fault_for(database_url: str) -> tuple[str, FaultProxy | SqliteOutage]:
    """(the URL the app should use, the fault that takes that database away)."""
    if database_url.startswith("sqlite"):
        return database_url, SqliteOutage(database_url)
    proxy = FaultProxy(make_url(database_url).host or "127.0.0.1", make_url(database_url).port or 5432).start()
    return proxy.url(database_url), proxy


def close_fault(fault: FaultProxy | SqliteOutage) -> None:
    if isinstance(fault, FaultProxy):
        fault.stop()
    else:
        fault.close()


@contextlib.contextmanager
def outage(fault: FaultProxy | SqliteOutage, seconds: float | None = None):
    """Down for the `with` block, or (with `seconds`) down now and up again `seconds` later while the
    block goes on (the timer is stopped and the database brought back when the block ends)."""
    fault.down()
    timer = threading.Timer(seconds, fault.up) if seconds is not None else None
    if timer is not None:
        timer.start()
    try:
        yield fault
    finally:
        if timer is not None:
            timer.cancel()
        fault.up()
