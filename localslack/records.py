"""LocalSlack's constants, the records it keeps (calls, posts, files) and small helpers."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# Ids of the default world (seed=True).
ADMIN = "U0ADMIN"
ALICE = "U0ALICE"
BOB = "U0BOB"
CHEN = "U0CHEN"
GENERAL = "C0GENERAL"

APP_ID = "A0TEST"
BOT_ID = "B0TEST"

MAX_TEXT = 40_000  # chat.* refuse longer text with msg_too_long
TRIGGER_TTL = 3.0  # seconds a trigger_id can be exchanged
RESPONSE_URL_USES = 5  # posts per response_url ...
RESPONSE_URL_TTL = 30 * 60  # ... within 30 minutes
MAX_MODAL_STACK = 3
MAX_SOCKET_CONNECTIONS = 10

# Fields that slack_sdk sends as JSON strings in form-encoded bodies; parsed for `args`.
_JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata")


# ---------------------------------------------------------------------------------------
# A small reusable piece: an aiohttp application served from a daemon thread.
# ---------------------------------------------------------------------------------------


class ServerThread:
    """Serves an aiohttp `web.Application` on 127.0.0.1:<free port> from its own event loop
    in a daemon thread. LocalSlack uses it; tests can use it to serve the app under test
    (e.g. `bolt_app.web_app()`) over real HTTP.
    """

    def __init__(self, app: web.Application, host: str = "127.0.0.1", name: str = "aiohttp-server"):
        self.app = app
        self.host = host
        self.name = name
        self.port: int | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=self.name, daemon=True)
        self._thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        # Bind the socket ourselves so the port is known before the first request.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    def run(self, coro: Coroutine, timeout: float | None = 30) -> Any:
        """Runs a coroutine on the server loop from another thread and returns its result."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("ServerThread.run() called from the server's own thread; await instead")
        assert self.loop is not None, "server not started"
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self.loop is None or self._thread is None:
            return
        if self._runner is not None:
            self.run(self._runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()
        self.loop = None
        self._thread = None


# ---------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------


@dataclass
class Call:
    """One Web API call as LocalSlack saw and answered it."""

    method: str
    args: dict  # form or JSON arguments; blocks/attachments/view/files parsed from JSON strings
    headers: dict
    at: float  # LocalSlack.clock() when the request arrived
    status: int | None = None  # HTTP status of the answer (None while still being answered, or never sent)
    response: Any = None  # the answer body (a dict, or text for non-JSON answers)
    executed: bool = False  # Slack did the method's work (whatever reached the client afterwards)
    fault: str | None = None  # "reset" (no answer at all) or "truncate" (the answer was cut short)
    delay: float = 0.0  # seconds the latency model (set_latency) held the answer back
    answered: float | None = None  # LocalSlack.clock() when the answer left (None: not yet, or never)

    @property
    def ok(self) -> bool:
        """The client received a complete ok answer."""
        return (self.status == 200 and self.fault is None and isinstance(self.response, dict)
                and self.response.get("ok") is True)

    @property
    def error(self) -> str | None:
        return self.response.get("error") if isinstance(self.response, dict) else None


@dataclass
class ResponsePost:
    """One POST to a response_url."""

    url_id: str
    body: Any  # the JSON body the app posted
    status: int  # our HTTP answer: 200, 400 (invalid_blocks...), 404 (used_url, expired_url)
    answer: str  # our answer body: "ok", "invalid_blocks", "used_url", ...
    at: float
    delay: float = 0.0  # seconds the latency model (set_latency) held the answer back

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class UploadedFile:
    """A file uploaded through files.getUploadURLExternal + upload URL + completeUploadExternal."""

    id: str
    filename: str
    length: int
    alt_txt: str | None = None
    snippet_type: str | None = None
    content: bytes | None = None  # None until the upload URL received the bytes
    title: str | None = None
    channel_id: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    completed: bool = False
    # files.info calls still to answer "processing" (no mimetype) after completion: until then an
    # image block cannot show the file (see LocalSlack.file_processing_checks)
    processing_checks: int = 0


class ApiError(Exception):
    """Raised by an `_api_*` handler to answer {"ok": false, "error": error, **extra}."""

    def __init__(self, error: str, **extra: Any):
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class _Failure:
    status: int | None
    error: str | None
    retry_after: float | None
    delay: float | None
    remaining: int
    when: str = "before"  # "before": Slack refused, nothing was done; "after": done, then the reply failed
    fault: str | None = None  # "reset" or "truncate" (see LocalSlack.fail_next)
    chance: float = 1.0  # each call is hit with this chance


@dataclass
class _Reply:
    """What LocalSlack answers a Web API call: an HTTP status and body, or a fault instead."""

    status: int | None
    body: Any
    headers: dict = field(default_factory=dict)
    fault: str | None = None


@dataclass
class _Bucket:
    """Token bucket: `capacity` tokens, refilled at `rate` tokens per second."""

    capacity: int
    rate: float
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait(self) -> float:
        """Seconds until one token is available."""
        return max(0.0, (1 - self.tokens) / self.rate)


@dataclass
class _Limit:
    rate: float
    burst: int
    buckets: dict = field(default_factory=dict)  # key (channel or "") -> _Bucket


@dataclass
class _SocketConn:
    id: int
    ws: web.WebSocketResponse
    transport: asyncio.Transport
    connected_at: float  # time.monotonic()
    draining: bool = False  # told to disconnect; receives nothing more
    fault: str | None = None  # socket_fault's kind
    gone: bool = False  # reset or closed by Slack
    silent_since: float | None = None  # nothing gets through since then
    closed_at: float | None = None  # its TCP connection ended (either side)


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1")) or value == 1


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    number = _cursor_value(cursor, "offset")
    if not number.isdigit():
        raise ApiError("invalid_cursor")
    return int(number)


def _encode_ts_cursor(ts: str) -> str:
    """A history cursor as Slack makes them: base64 of "next_ts:<ts of the next message>", so a
    message posted between two pages neither shifts nor hides the rest."""
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _decode_ts_cursor(cursor: str) -> str:
    ts = _cursor_value(cursor, "next_ts")
    seconds, dot, micros = ts.partition(".")
    if not (seconds.isdigit() and dot and micros.isdigit()):
        raise ApiError("invalid_cursor")
    return ts


def _cursor_value(cursor: str, expected: str) -> str:
    try:
        kind, _, value = base64.b64decode(cursor, validate=True).decode().partition(":")
    except ValueError as exc:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise ApiError("invalid_cursor") from exc
    if kind != expected:
        raise ApiError("invalid_cursor")
    return value
