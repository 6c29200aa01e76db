"""What LocalSlack pushes to the app and takes back: response_url posts, and Socket Mode envelopes
(mixed into LocalSlack, see server.py; the connections and their faults are in socket_mode.py).

Envelopes follow "Using Socket Mode" (https://docs.slack.dev/apis/events-api/using-socket-mode/)
and the Events API's retries (https://docs.slack.dev/apis/events-api/#retries):
- "each payload may be sent to any of the connections": here, round robin over the routable ones;
- the app acknowledges each envelope by its envelope_id, within 3 seconds;
- an Events API envelope that is not acknowledged is sent again (at once, after 1 minute, after 5
  minutes) with retry_attempt and retry_reason; an interactive one (slash command, click,
  submission) is not: the user sees an error and the payload is gone.
Where the docs say nothing, the worst plausible case: a payload that finds no connection is not
held for one (an interactive one is lost, an event waits for its next retry), and an ack counts
only on the connection its envelope went out on.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web

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

ACK_DEADLINE = 3.0  # seconds Slack waits for an envelope's ack
EVENT_RETRY_DELAYS = (0.0, 60.0, 300.0)  # after a failed attempt: at once, 1 min, 5 min


class PushChannels:
    """Mixed into LocalSlack."""

    # =====================================================================================
    # HTTP: response_url
    # =====================================================================================

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        url_id = request.match_info["url_id"]
        raw = await request.read()
        delay = self._draw_delay()  # set_latency: hooks.slack.com answers as late as the Web API
        if delay:
            await asyncio.sleep(delay)
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
            entry["posts"].append(ResponsePost(url_id, body, status, answer, self.clock(), delay))
        return web.Response(status=status, text=answer, content_type="text/plain")

    def _apply_response(self, entry: dict, body: dict) -> None:
        """What Slack does with an accepted response_url post (flags must be explicit here)."""
        channel_id, message_ts = entry["channel_id"], entry["message_ts"]
        original = self._find_message(channel_id, message_ts) if channel_id and message_ts else None
        if original is None and message_ts and (_truthy(body.get("delete_original"))
                                                or _truthy(body.get("replace_original"))):
            # A click on an ephemeral message: its response_url replaces or deletes that ephemeral
            # message ("Ephemeral messages can be replaced or deleted with response_url",
            # https://docs.slack.dev/interactivity/handling-user-interaction#message_responses).
            mine = next((e for e in self._ephemerals if e["ts"] == message_ts and e["user"] == entry["user_id"]), None)
            if mine is not None:
                self._ephemerals.remove(mine)
                if _truthy(body.get("replace_original")) and not _truthy(body.get("delete_original")):
                    mine.update(text=body.get("text") or "", blocks=body.get("blocks") or [])
                    self._ephemerals.append(mine)
            return
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

    def apply_ack(self, *, user_id: str, channel_id: str, body: dict) -> None:
        """What Slack does with a slash command's ack that carries a message: shows it to the person
        (ephemeral, the default) or posts it in the channel (response_type in_channel)
        (https://docs.slack.dev/interactivity/implementing-slash-commands#responding_immediate_response)."""
        entry = {"channel_id": channel_id, "user_id": user_id, "message_ts": None}
        with self._lock:
            self._apply_response(entry, body)

    # =====================================================================================
    # Socket Mode: envelopes
    # =====================================================================================

    def _on_socket_text(self, conn: _SocketConn, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        pending = self._pending_acks.get(message.get("envelope_id"))  # type: ignore[arg-type]
        if pending is not None and pending[0] == conn.id and not pending[1].done():
            pending[1].set_result(message)

    async def _attempt(self, envelope_type: str, payload: dict, wait: float, retry_attempt: int,
                       retry_reason: str) -> dict:
        """One delivery of one envelope to one routable connection, waiting `wait` seconds for its
        ack. Returns its record: {"envelope", "connection", "sent_at", "ack", "elapsed", "lost"},
        lost being None, "no_connection" or "no_ack"."""
        envelope = {
            "envelope_id": str(uuid.uuid4()),
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": envelope_type != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        record: dict = {"envelope": envelope, "connection": None, "sent_at": time.monotonic(), "ack": None,
                        "elapsed": None, "lost": None}
        with self._lock:
            self._envelopes.append(record)
            routable = [c for c in self._sockets if self._routable(c)]
        if not routable:
            record["lost"] = "no_connection"
            return record
        conn = routable[self._socket_rr % len(routable)]  # each payload goes to one connection
        self._socket_rr += 1
        record["connection"] = conn.id
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending_acks[envelope["envelope_id"]] = (conn.id, future)
        try:
            if conn.silent_since is None:  # a silent connection swallows it
                await conn.ws.send_str(json.dumps(envelope))
            ack = await asyncio.wait_for(future, wait)
        except (TimeoutError, ConnectionError):
            record["lost"] = "no_ack"
            return record
        finally:
            self._pending_acks.pop(envelope["envelope_id"], None)
        record.update(ack=ack, elapsed=time.monotonic() - record["sent_at"])
        return record

    async def _deliver(self, envelope_type: str, payload: dict) -> list[dict]:
        """What Slack does with one payload: one attempt with the 3 s deadline; for an event, the
        retries too, until one is acknowledged. Returns the attempts' records."""
        attempts = [await self._attempt(envelope_type, payload, ACK_DEADLINE, 0, "")]
        if envelope_type == "events_api":
            for number, delay in enumerate(EVENT_RETRY_DELAYS, start=1):
                if attempts[-1]["lost"] is None:
                    break
                await asyncio.sleep(delay)
                reason = "timeout" if attempts[-1]["lost"] == "no_ack" else "connection_failed"
                attempts.append(await self._attempt(envelope_type, payload, ACK_DEADLINE, number, reason))
        return attempts

    async def _stream(self, make: Callable[[int], tuple[str, dict]], count: int, every: float) -> list[dict]:
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def one(index: int) -> dict:
            await asyncio.sleep(max(0.0, start + index * every - loop.time()))
            envelope_type, payload = make(index)
            attempts = await self._deliver(envelope_type, payload)
            last = attempts[-1]
            return {"type": envelope_type, "payload": payload, "sent_at": attempts[0]["sent_at"],
                    "attempts": attempts, "acked": last["lost"] is None, "elapsed": last["elapsed"],
                    "ack": last["ack"]}

        return list(await asyncio.gather(*(one(i) for i in range(count))))

    # -- what tests call (blocking; from async code use the *_async variants) --------------

    def socket_send(self, envelope_type: str, payload: dict, timeout: float = 5, retry_attempt: int = 0,
                    retry_reason: str = "") -> dict:
        """Sends one envelope ("slash_commands" | "interactive" | "events_api") to one live
        connection and waits up to `timeout` for its ack. Returns {"envelope_id", "payload" (the
        ack's response payload or None), "elapsed" (seconds from send to ack), "connection"};
        raises TimeoutError without an ack, at once when no connection is live."""
        if envelope_type not in ("slash_commands", "interactive", "events_api"):
            raise ValueError(f"unknown envelope type {envelope_type!r}")
        assert self._server is not None, "LocalSlack not started"
        record = self._server.run(self._attempt(envelope_type, payload, timeout, retry_attempt, retry_reason),
                                  timeout=timeout + 5)
        envelope_id = record["envelope"]["envelope_id"]
        if record["lost"] == "no_connection":
            raise TimeoutError(f"no live Socket Mode connection for {envelope_type} envelope {envelope_id}")
        if record["lost"]:
            raise TimeoutError(f"no ack for {envelope_type} envelope {envelope_id} within {timeout}s")
        return {"envelope_id": envelope_id, "payload": record["ack"].get("payload"), "elapsed": record["elapsed"],
                "connection": record["connection"]}

    def socket_stream(self, make: Callable[[int], tuple[str, dict]], count: int, every: float,
                      timeout: float = 30) -> list[dict]:
        """Slack's side of `count` payloads, the i-th sent i × `every` seconds after the first, none
        waiting for another: `make(i)` returns (envelope_type, payload) when it is sent (so trigger
        ids are fresh). Each is delivered as Slack does (`_deliver`: events retried). Returns one
        outcome per payload: {"type", "payload", "sent_at", "attempts" (records, see `_attempt`),
        "acked", "elapsed" and "ack" of the last attempt}."""
        assert self._server is not None, "LocalSlack not started"
        return self._server.run(self._stream(make, count, every), timeout=timeout)

    async def socket_send_async(self, envelope_type: str, payload: dict, **kwargs: Any) -> dict:
        return await asyncio.to_thread(self.socket_send, envelope_type, payload, **kwargs)

    @property
    def socket_envelopes(self) -> list[dict]:
        """Every delivery attempt, see `_attempt`."""
        with self._lock:
            return copy.deepcopy(self._envelopes)
