"""What LocalSlack pushes to the app and takes back: response_url posts and the Socket Mode
WebSocket (mixed into LocalSlack, see server.py)."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from templates.blockkit import check_blocks

# Ids of the default world (seed=True).
from .records import (
    MAX_TEXT,
    RESPONSE_URL_TTL,
    RESPONSE_URL_USES,
    ResponsePost,
    _SocketConn,
    _truthy,
)


class PushChannels:
    """Mixed into LocalSlack."""

    # =====================================================================================
    # HTTP: response_url
    # =====================================================================================

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        url_id = request.match_info["url_id"]
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with self._lock:
            entry = self._response_urls.get(url_id)
            if entry is None:
                return web.Response(status=404, text="no_service")
            if self.clock() - entry["created"] > RESPONSE_URL_TTL:
                status, answer = 404, "expired_url"
            elif entry["uses"] >= RESPONSE_URL_USES:
                status, answer = 404, "used_url"
            elif not isinstance(body, dict):
                status, answer = 400, "invalid_payload"
            elif body.get("blocks") is not None and check_blocks(body["blocks"], "message"):
                status, answer = 400, "invalid_blocks"
            elif isinstance(body.get("text"), str) and len(body["text"]) > MAX_TEXT:
                status, answer = 400, "msg_too_long"
            else:
                status, answer = 200, "ok"
                entry["uses"] += 1
                self._apply_response(entry, body)
            entry["posts"].append(ResponsePost(url_id, body, status, answer, self.clock()))
        return web.Response(status=status, text=answer, content_type="text/plain")

    def _apply_response(self, entry: dict, body: dict) -> None:
        """What Slack does with an accepted response_url post (flags must be explicit here)."""
        channel_id, message_ts = entry["channel_id"], entry["message_ts"]
        original = self._find_message(channel_id, message_ts) if channel_id and message_ts else None
        if _truthy(body.get("delete_original")):
            if original is not None:
                self._messages[channel_id].remove(original)
        elif _truthy(body.get("replace_original")):
            if original is not None:
                original["text"] = body.get("text") or ""
                original["blocks"] = body.get("blocks") or []
                original["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        elif body.get("response_type") == "in_channel" and channel_id:
            self._store_message(
                self._resolve_channel(channel_id)["id"],
                user=self.bot_user_id,
                text=body.get("text"),
                blocks=body.get("blocks"),
                thread_ts=body.get("thread_ts"),
            )
        else:
            self._ephemerals.append(
                {
                    "channel": channel_id,
                    "user": entry["user_id"],
                    "text": body.get("text") or "",
                    "blocks": body.get("blocks") or [],
                    "thread_ts": body.get("thread_ts"),
                    "ts": self._next_ts(),
                    "via": "response_url",
                }
            )

    # =====================================================================================
    # Socket Mode: the WebSocket side
    # =====================================================================================

    def _live_sockets(self) -> list[_SocketConn]:
        """Connections that receive envelopes: open and not told to disconnect."""
        return [c for c in self._sockets if not c.draining and not c.ws.closed]

    async def _notify_sockets_changed(self) -> None:
        assert self._socket_cond is not None
        async with self._socket_cond:
            self._socket_cond.notify_all()

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            if request.query.get("ticket") not in self._tickets:
                return web.Response(status=401, text="invalid_ticket")
        # Pings are answered by hand below, so that a draining connection stays silent.
        ws = web.WebSocketResponse(autoping=False, timeout=2.0)
        await ws.prepare(request)
        with self._lock:
            open_count = len([c for c in self._sockets if not c.ws.closed])
        if open_count >= self.max_socket_connections:
            # Slack refuses an app's 11th connection.
            with self._lock:
                self._socket_refused += 1
            await ws.send_json(
                {"type": "disconnect", "reason": "too_many_websockets", "debug_info": {"host": "local"}}
            )
            await ws.close()
            return ws
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._live_sockets()) + 1,
                "debug_info": {"host": "local", "build_number": 1, "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }
        )
        with self._lock:
            self._socket_connect_count += 1
            conn = _SocketConn(id=self._socket_connect_count, ws=ws, connected_at=self.clock())
            self._sockets.append(conn)
        await self._notify_sockets_changed()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_socket_text(msg.data)
                elif msg.type == WSMsgType.PING and not conn.draining:
                    await ws.pong(msg.data)
        finally:
            with self._lock:
                self._sockets.remove(conn)
            await self._notify_sockets_changed()
        return ws

    def _on_socket_text(self, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        future = self._pending_acks.get(message.get("envelope_id"))  # type: ignore[arg-type]
        if future is not None and not future.done():
            future.set_result(message)

    async def _wait_for_live(self, count: int, timeout: float) -> int:
        assert self._socket_cond is not None
        try:
            async with self._socket_cond:
                await asyncio.wait_for(
                    self._socket_cond.wait_for(lambda: len(self._live_sockets()) >= count), timeout
                )
        except TimeoutError:
            raise TimeoutError(
                f"{len(self._live_sockets())} live Socket Mode connection(s) after {timeout}s; wanted {count}"
            ) from None
        return len(self._live_sockets())

    async def _socket_send(
        self, envelope_type: str, payload: dict, timeout: float, retry_attempt: int, retry_reason: str
    ) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await self._wait_for_live(1, timeout)
        live = self._live_sockets()
        conn = live[self._socket_rr % len(live)]  # round robin: each payload goes to one connection
        self._socket_rr += 1
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": envelope_type != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        future: asyncio.Future = loop.create_future()
        self._pending_acks[envelope_id] = future
        record: dict = {"envelope": envelope, "connection": conn.id, "ack": None, "elapsed": None}
        with self._lock:
            self._envelopes.append(record)
        started = time.monotonic()
        try:
            await conn.ws.send_str(json.dumps(envelope))
            ack = await asyncio.wait_for(future, max(0.0, deadline - loop.time()))
        except TimeoutError:
            raise TimeoutError(
                f"no ack for {envelope_type} envelope {envelope_id} within {timeout}s"
            ) from None
        finally:
            self._pending_acks.pop(envelope_id, None)
        elapsed = time.monotonic() - started
        record.update(ack=ack, elapsed=elapsed)
        return {"envelope_id": envelope_id, "payload": ack.get("payload"), "elapsed": elapsed}

    async def _socket_disconnect(self, reason: str, grace: float) -> int:
        live = self._live_sockets()
        for conn in live:
            conn.draining = True  # nothing else is sent on it
        for conn in live:
            try:
                await conn.ws.send_json(
                    {"type": "disconnect", "reason": reason, "debug_info": {"host": "local"}}
                )
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

    async def _close_sockets(self) -> None:
        for task in list(self._background):
            task.cancel()
        for future in self._pending_acks.values():
            future.cancel()
        for conn in list(self._sockets):
            if not conn.ws.closed:
                await conn.ws.close(code=1001, message=b"server shutdown")

    # -- Socket Mode: what tests call (blocking; from async code use the *_async variants) --

    def wait_for_socket(self, count: int = 1, timeout: float = 5) -> int:
        """Waits until `count` live connections exist; returns the live count."""
        assert self._server is not None, "LocalSlack not started"
        return self._server.run(self._wait_for_live(count, timeout), timeout=timeout + 5)

    def socket_send(
        self,
        envelope_type: str,
        payload: dict,
        timeout: float = 5,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> dict:
        """Sends an envelope ("slash_commands" | "interactive" | "events_api") to one live
        connection (waiting up to `timeout` for one) and waits for its ack. Returns
        {"envelope_id", "payload" (the ack's response payload or None), "elapsed" (seconds
        from send to ack)}; raises TimeoutError without an ack."""
        if envelope_type not in ("slash_commands", "interactive", "events_api"):
            raise ValueError(f"unknown envelope type {envelope_type!r}")
        assert self._server is not None, "LocalSlack not started"
        return self._server.run(
            self._socket_send(envelope_type, payload, timeout, retry_attempt, retry_reason),
            timeout=timeout + 5,
        )

    def socket_disconnect(self, reason: str = "refresh_requested", grace: float | None = None) -> int:
        """Sends {"type": "disconnect", ...} to every live connection, then closes each after
        `grace` seconds (default socket_disconnect_grace), as Slack does. Returns how many."""
        assert self._server is not None, "LocalSlack not started"
        grace = self.socket_disconnect_grace if grace is None else grace
        return self._server.run(self._socket_disconnect(reason, grace))

    async def wait_for_socket_async(self, count: int = 1, timeout: float = 5) -> int:
        return await asyncio.to_thread(self.wait_for_socket, count, timeout)

    async def socket_send_async(self, envelope_type: str, payload: dict, **kwargs: Any) -> dict:
        return await asyncio.to_thread(self.socket_send, envelope_type, payload, **kwargs)

    async def socket_disconnect_async(
        self, reason: str = "refresh_requested", grace: float | None = None
    ) -> int:
        return await asyncio.to_thread(self.socket_disconnect, reason, grace)

    @property
    def socket_connections(self) -> int:
        """Live connections (open and not told to disconnect)."""
        with self._lock:
            return len(self._live_sockets())

    @property
    def socket_connect_count(self) -> int:
        """Connections accepted since start (a reconnect makes it grow)."""
        with self._lock:
            return self._socket_connect_count

    @property
    def socket_refused(self) -> int:
        with self._lock:
            return self._socket_refused

    @property
    def socket_envelopes(self) -> list[dict]:
        """Every envelope sent: {"envelope", "connection", "ack", "elapsed"}."""
        with self._lock:
            return copy.deepcopy(self._envelopes)
