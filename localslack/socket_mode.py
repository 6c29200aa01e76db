"""LocalSlack's Socket Mode connections (mixed into LocalSlack, see server.py): the WebSocket, which
connections Slack sends to, Slack's `disconnect`, and the faults a connection meets. What goes
over them (envelopes, acks, Slack's retries) is in push.py.

From "Using Socket Mode" (https://docs.slack.dev/apis/events-api/using-socket-mode/): an app holds
up to 10 connections (the 11th is told `too_many_websockets` and closed), and a `disconnect`
(refresh_requested, warning) comes before Slack closes one. Where the docs say nothing, the worst
plausible case: a connection told to disconnect gets nothing more; a connection gone silent
(`socket_fault("silent")`: no FIN, no pong, nothing through either way) still gets payloads until
Slack notices, `silent_notice` seconds later (how long Slack takes is not documented), and what
is written to it is lost.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time

from aiohttp import WSMsgType, web

from .records import _SocketConn

SILENT_NOTICE = 30.0  # how long Slack goes on routing to a silent connection (undocumented)
FAULTS = ("reset", "close", "silent")


class SocketModeSide:
    """Mixed into LocalSlack, which calls _init_socket_state() from __init__."""

    def _init_socket_state(self, *, disconnect_grace: float, max_connections: int) -> None:
        self.socket_disconnect_grace = disconnect_grace
        self.max_socket_connections = max_connections
        self.silent_notice = SILENT_NOTICE
        # Touched on the server loop; what tests read is guarded by _lock.
        self._sockets: list[_SocketConn] = []  # every connection Slack still counts
        self._socket_history: dict[int, _SocketConn] = {}
        self._socket_connect_count = 0
        self._socket_refused = 0
        self._socket_rr = 0
        self._pending_acks: dict[str, tuple[int, asyncio.Future]] = {}
        self._socket_cond: asyncio.Condition | None = None
        self._background: set[asyncio.Task] = set()
        self._envelopes: list[dict] = []

    def _forget_silent_sockets(self) -> None:
        """For reset(), under _lock: Slack has noticed every silent connection by now."""
        self._sockets = [c for c in self._sockets if c.silent_since is None]

    def _drop_socket(self, conn: _SocketConn) -> None:
        with self._lock:
            if conn in self._sockets:
                self._sockets.remove(conn)

    # -- who gets what ------------------------------------------------------------------

    def _working(self, conn: _SocketConn) -> bool:
        return not (conn.draining or conn.gone or conn.ws.closed) and conn.silent_since is None

    def _routable(self, conn: _SocketConn) -> bool:
        """Slack sends to working connections, and to silent ones until it notices them."""
        if conn.silent_since is not None:
            return not (conn.draining or conn.gone) and time.monotonic() - conn.silent_since < self.silent_notice
        return self._working(conn)

    def _live_sockets(self) -> list[_SocketConn]:
        return [c for c in self._sockets if self._working(c)]

    async def _notify_sockets_changed(self) -> None:
        assert self._socket_cond is not None
        async with self._socket_cond:
            self._socket_cond.notify_all()

    # -- the WebSocket ------------------------------------------------------------------

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            if request.query.get("ticket") not in self._tickets:
                return web.Response(status=401, text="invalid_ticket")
        # Pings are answered by hand below, so that a draining or silent connection stays quiet.
        ws = web.WebSocketResponse(autoping=False, timeout=2.0)
        await ws.prepare(request)
        if len(self._sockets) >= self.max_socket_connections:
            with self._lock:
                self._socket_refused += 1
            await ws.send_json({"type": "disconnect", "reason": "too_many_websockets", "debug_info": {"host": "local"}})
            await ws.close()
            return ws
        await ws.send_json({
            "type": "hello",
            "num_connections": len(self._live_sockets()) + 1,
            "debug_info": {"host": "local", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        })
        with self._lock:
            self._socket_connect_count += 1
            conn = _SocketConn(id=self._socket_connect_count, ws=ws, transport=request.transport,
                               connected_at=time.monotonic())
            self._sockets.append(conn)
            self._socket_history[conn.id] = conn
        await self._notify_sockets_changed()
        try:
            async for msg in ws:
                if conn.silent_since is not None:
                    continue  # nothing the app sends gets through
                if msg.type == WSMsgType.TEXT:
                    self._on_socket_text(conn, msg.data)
                elif msg.type == WSMsgType.PING and not conn.draining:
                    await ws.pong(msg.data)
        finally:
            conn.closed_at = time.monotonic()
            if conn.silent_since is None:
                self._drop_socket(conn)
            else:  # Slack never saw it end; it counts it until it notices
                asyncio.get_running_loop().call_later(
                    max(0.0, conn.silent_since + self.silent_notice - conn.closed_at), self._drop_socket, conn)
            await self._notify_sockets_changed()
        return ws

    async def _wait_for_live(self, count: int, timeout: float) -> int:
        assert self._socket_cond is not None
        try:
            async with self._socket_cond:
                await asyncio.wait_for(self._socket_cond.wait_for(lambda: len(self._live_sockets()) >= count), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"{len(self._live_sockets())} live Socket Mode connection(s) after {timeout}s; wanted {count}"
            ) from None
        return len(self._live_sockets())

    async def _socket_disconnect(self, reason: str, grace: float) -> int:
        live = self._live_sockets()
        for conn in live:
            conn.draining = True  # nothing else is sent on it
        for conn in live:
            try:
                await conn.ws.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": "local"}})
            except ConnectionError:
                continue
            task = asyncio.ensure_future(self._close_later(conn, grace))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        await self._notify_sockets_changed()
        return len(live)

    async def _close_later(self, conn: _SocketConn, grace: float) -> None:
        await asyncio.sleep(grace)
        if not conn.ws.closed:
            await conn.ws.close()

    async def _socket_fault(self, kind: str, connection: int | None) -> int:
        live = self._live_sockets()
        conn = next(c for c in live if c.id == connection) if connection is not None else live[0]
        conn.fault = kind
        if kind == "reset":  # RST: the socket is dropped with SO_LINGER 0, no close frame
            conn.gone = True
            sock = conn.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.transport.abort()
        elif kind == "close":  # a close frame, then FIN
            conn.gone = True
            await conn.ws.close()
        else:
            conn.silent_since = time.monotonic()
        await self._notify_sockets_changed()
        return conn.id

    async def _close_sockets(self) -> None:
        for task in list(self._background):
            task.cancel()
        for _, future in self._pending_acks.values():
            future.cancel()
        for conn in list(self._sockets):
            if not conn.ws.closed:
                await conn.ws.close(code=1001, message=b"server shutdown")

    # -- Socket Mode: what tests call (blocking; from async code use the *_async variants) --

    def wait_for_socket(self, count: int = 1, timeout: float = 5) -> int:
        """Waits until `count` live connections exist; returns the live count."""
        assert self._server is not None, "LocalSlack not started"
        return self._server.run(self._wait_for_live(count, timeout), timeout=timeout + 5)

    def socket_disconnect(self, reason: str = "refresh_requested", grace: float | None = None) -> int:
        """Sends {"type": "disconnect", ...} to every live connection, then closes each after
        `grace` seconds (default socket_disconnect_grace), as Slack does. Returns how many."""
        assert self._server is not None, "LocalSlack not started"
        grace = self.socket_disconnect_grace if grace is None else grace
        return self._server.run(self._socket_disconnect(reason, grace))

    def socket_fault(self, kind: str, connection: int | None = None) -> int:
        """Breaks one live connection (the oldest unless `connection` names one); returns its id.
        "reset": a TCP RST, no close frame; "close": a close frame, then FIN; "silent": nothing
        gets through either way (no FIN, no pong) — the app can only tell by missing pongs, and
        Slack goes on routing to it for `silent_notice` seconds."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULTS}")
        assert self._server is not None, "LocalSlack not started"
        return self._server.run(self._socket_fault(kind, connection))

    async def wait_for_socket_async(self, count: int = 1, timeout: float = 5) -> int:
        return await asyncio.to_thread(self.wait_for_socket, count, timeout)

    async def socket_disconnect_async(self, reason: str = "refresh_requested", grace: float | None = None) -> int:
        return await asyncio.to_thread(self.socket_disconnect, reason, grace)

    @property
    def socket_connections(self) -> int:
        """Live connections: open, not told to disconnect, not silent."""
        with self._lock:
            return len(self._live_sockets())

    @property
    def socket_live_ids(self) -> list[int]:
        """The live connections' ids, oldest first."""
        with self._lock:
            return [c.id for c in self._live_sockets()]

    @property
    def socket_connect_count(self) -> int:
        """Connections accepted since start (a reconnect makes it grow)."""
        with self._lock:
            return self._socket_connect_count

    @property
    def socket_refused(self) -> int:
        with self._lock:
            return self._socket_refused

    def socket_connection(self, connection: int) -> dict:
        """One connection's story (monotonic times): {"id", "connected_at", "closed_at" (when its
        TCP connection ended, from either side), "fault", "silent_since"}."""
        with self._lock:
            conn = self._socket_history[connection]
            return {"id": conn.id, "connected_at": conn.connected_at, "closed_at": conn.closed_at,
                    "fault": conn.fault, "silent_since": conn.silent_since}
