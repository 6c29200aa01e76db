"""LocalSlack: a fake Slack (Web API + Socket Mode + response_url + file uploads) for tests.

It is a real HTTP server on 127.0.0.1 (random free port): an aiohttp web app running in its
own event loop in a daemon thread, so the app under test talks to it exactly as it talks to
Slack, through slack_sdk clients created with `base_url=slack.api_url`.

    with LocalSlack() as slack:
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        client.chat_postMessage(channel="C0GENERAL", text="hi")
        assert slack.messages("C0GENERAL")[-1]["text"] == "hi"

What it does, in the order a Web API call meets it (see `_answer`):

1. unknown method               -> {"ok": false, "error": "unknown_method"}
2. token (Bearer header or `token` param): missing -> not_authed, wrong -> invalid_auth,
   bot token on apps.connections.open or app token elsewhere -> not_allowed_token_type
3. an injected failure (`fail_next`) -> HTTP 500/503, HTTP 429 + Retry-After, an API error
   or a delay before the normal answer
4. rate limits (`set_rate_limit`) -> HTTP 429 + integer Retry-After when the bucket is empty
5. the method itself, which answers like Slack: HTTP 200 with {"ok": true, ...} or
   {"ok": false, "error": "..."}.

Every call is recorded (`calls`, `calls_to`), whatever its outcome.

The world the tests set up (users, channels, user groups, messages) starts with a small,
fixed population when `seed=True` (the default):

    UBOT       "tandem"  the bot user (id configurable with bot_user_id)
    U0ADMIN    "ada"     workspace admin and owner, America/New_York, en-US
    U0ALICE    "alice"   America/New_York, en-US
    U0BOB      "bob"     Europe/London, en-GB
    U0CHEN     "chen"    Asia/Shanghai, zh-CN
    C0GENERAL  "general" public channel; members: the four people above and the bot

With `seed=False` only the bot user exists. `reset()` returns a shared server to that world.

To add a Web API method, write `def _api_<method with dots as underscores>(self, args)`
(e.g. `_api_reactions_add`). It runs under the state lock, returns the fields of the ok
answer as a dict, and raises `ApiError("some_error")` for an error answer.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import json
import math
import secrets
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import WSMsgType, web

from .blockkit import check_blocks, check_view

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
    status: int | None = None  # HTTP status of the answer (None while still being answered)
    response: Any = None  # the answer body (a dict, or text for non-JSON answers)

    @property
    def ok(self) -> bool:
        return self.status == 200 and isinstance(self.response, dict) and self.response.get("ok") is True

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
    connected_at: float
    draining: bool = False  # told to disconnect; receives nothing more


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1")) or value == 1


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        kind, _, number = base64.b64decode(cursor, validate=True).decode().partition(":")
        offset = int(number)
    except ValueError as exc:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise ApiError("invalid_cursor") from exc
    if kind != "offset" or offset < 0:
        raise ApiError("invalid_cursor")
    return offset


# ---------------------------------------------------------------------------------------
# LocalSlack
# ---------------------------------------------------------------------------------------


class LocalSlack:
    """A fake Slack workspace with one installed app. See the module docstring."""

    def __init__(
        self,
        bot_token: str = "xoxb-test-token",
        app_token: str = "xapp-test-token",
        team_id: str = "T0TEST",
        bot_user_id: str = "UBOT",
        *,
        seed: bool = True,
        team_domain: str = "tandem-test",
        app_id: str = APP_ID,
        bot_id: str = BOT_ID,
        clock: Callable[[], float] = time.monotonic,
        trigger_ttl: float = TRIGGER_TTL,
        socket_disconnect_grace: float = 1.0,
        max_socket_connections: int = MAX_SOCKET_CONNECTIONS,
    ):
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.team_domain = team_domain
        self.app_id = app_id
        self.bot_id = bot_id
        # `clock` drives trigger expiry, rate-limit buckets, response_url expiry and Call.at.
        # Replace it with a fake clock to drive those without waiting.
        self.clock = clock
        self.trigger_ttl = trigger_ttl
        self.socket_disconnect_grace = socket_disconnect_grace
        self.max_socket_connections = max_socket_connections

        # All state below is guarded by _lock: handlers run on the server thread, test code
        # on the test thread.
        self._lock = threading.RLock()
        self._seed_world = seed
        # Never reset, so ids and ts stay unique for the server's whole life.
        self._ids = itertools.count(1)
        self._last_ts_us = 0
        self._created = int(time.time())
        self._tickets: set[str] = set()
        self._init_world()

        # Socket Mode (touched on the server loop; counters read under _lock)
        self._sockets: list[_SocketConn] = []
        self._socket_connect_count = 0
        self._socket_refused = 0
        self._socket_rr = 0
        self._pending_acks: dict[str, asyncio.Future] = {}
        self._socket_cond: asyncio.Condition | None = None
        self._background: set[asyncio.Task] = set()
        self._envelopes: list[dict] = []

        self._server: ServerThread | None = None

    def _init_world(self) -> None:
        self._users: dict[str, dict] = {}
        self._convs: dict[str, dict] = {}
        self._messages: dict[str, list[dict]] = {}
        self._usergroups: dict[str, dict] = {}
        self._ephemerals: list[dict] = []
        self._triggers: dict[str, dict] = {}
        self._views: dict[str, dict] = {}  # view_id -> view
        self._view_owner: dict[str, str] = {}  # view_id -> user_id
        self._modal_stacks: dict[str, list[str]] = {}  # user_id -> [view_id, ...]
        self._homes: dict[str, str] = {}  # user_id -> view_id
        self._files: dict[str, UploadedFile] = {}
        self._response_urls: dict[str, dict] = {}
        self._calls: list[Call] = []
        self._failures: dict[str, deque[_Failure]] = {}
        self._limits: dict[tuple[str, bool], _Limit] = {}
        self._add_bot_user()
        if self._seed_world:
            self._seed()

    def reset(self) -> None:
        """Back to the world of a fresh LocalSlack (users, channels, no messages, views, files,
        response_urls, calls, queued failures or rate limits), for a server shared between
        tests. Socket Mode connections stay up; ids and ts keep increasing."""
        with self._lock:
            self._init_world()
            self._envelopes.clear()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LocalSlack:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/v1/{file_id}", self._handle_upload)
        app.router.add_post("/response/{url_id}", self._handle_response_url)
        app.router.add_get("/socket", self._handle_socket)
        self._server = ServerThread(app, name="local-slack").start()
        self._server.run(self._init_loop_state())
        return self

    async def _init_loop_state(self) -> None:
        self._socket_cond = asyncio.Condition()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.run(self._close_sockets())
        self._server.stop()
        self._server = None

    def __enter__(self) -> LocalSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "LocalSlack not started"
        return self._server.port  # type: ignore[return-value]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What the app passes as WebClient(base_url=...)."""
        return f"{self.url}/api/"

    # -- world set-up ----------------------------------------------------------------------

    def _add_bot_user(self) -> None:
        self.add_user(self.bot_user_id, name="tandem", real_name="Tandem", is_bot=True)

    def _seed(self) -> None:
        self.add_user(ADMIN, name="ada", real_name="Ada Admin", is_admin=True, is_owner=True)
        self.add_user(ALICE, name="alice", real_name="Alice Ops")
        self.add_user(BOB, name="bob", real_name="Bob Product", tz="Europe/London", locale="en-GB")
        self.add_user(CHEN, name="chen", real_name="Chen Wei", tz="Asia/Shanghai", locale="zh-CN")
        self.add_channel(GENERAL, "general", members=[ADMIN, ALICE, BOB, CHEN])

    def add_user(
        self,
        user_id: str,
        name: str | None = None,
        tz: str = "America/New_York",
        locale: str = "en-US",
        is_admin: bool = False,
        is_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        *,
        real_name: str | None = None,
        email: str | None = None,
    ) -> dict:
        """Adds (or replaces) a user. Returns the users.info object of the user."""
        ZoneInfo(tz)  # fail early on a bad zone name
        name = name or user_id.lower()
        with self._lock:
            self._users[user_id] = {
                "id": user_id,
                "name": name,
                "real_name": real_name or name.title(),
                "email": email or (None if is_bot else f"{name}@{self.team_domain}.example"),
                "tz": tz,
                "locale": locale,
                "is_admin": is_admin,
                "is_owner": is_owner,
                "is_bot": is_bot,
                "deleted": deleted,
            }
            return self._user_object(self._users[user_id], include_locale=True)

    def add_channel(
        self,
        channel_id: str,
        name: str,
        members: list[str] | tuple[str, ...] = (),
        is_private: bool = False,
        bot_is_member: bool = True,
        *,
        is_archived: bool = False,
    ) -> dict:
        """Adds (or replaces, keeping its messages) a public or private channel."""
        member_list = list(dict.fromkeys(members))
        if bot_is_member and self.bot_user_id not in member_list:
            member_list.append(self.bot_user_id)
        with self._lock:
            self._convs[channel_id] = {
                "id": channel_id,
                "name": name,
                "is_private": is_private,
                "is_im": False,
                "is_archived": is_archived,
                "members": member_list,
                "created": self._created,
            }
            self._messages.setdefault(channel_id, [])
            return self._channel_object(self._convs[channel_id])

    def add_member(self, channel_id: str, user_id: str) -> None:
        with self._lock:
            members = self._convs[channel_id]["members"]
            if user_id not in members:
                members.append(user_id)

    def remove_member(self, channel_id: str, user_id: str) -> None:
        with self._lock:
            members = self._convs[channel_id]["members"]
            if user_id in members:
                members.remove(user_id)

    def add_usergroup(self, usergroup_id: str, handle: str, users: list[str] | tuple[str, ...] = ()) -> None:
        with self._lock:
            self._usergroups[usergroup_id] = {"id": usergroup_id, "handle": handle, "users": list(users)}

    def add_message(
        self,
        channel: str,
        text: str,
        user: str = ALICE,
        *,
        thread_ts: str | None = None,
        blocks: list | None = None,
    ) -> dict:
        """Stores a message written by a person (e.g. the target of a message shortcut)."""
        with self._lock:
            conv = self._resolve_channel(channel)
            msg = self._store_message(conv["id"], user=user, text=text, blocks=blocks, thread_ts=thread_ts)
            return copy.deepcopy(msg)

    # -- world inspection ------------------------------------------------------------------

    def messages(self, channel: str) -> list[dict]:
        """The messages in a channel now (after updates and deletes), oldest first, thread
        replies included. Each has ts, text, blocks ([] when none), thread_ts (None for a
        top-level message without replies; a parent's own ts once it has replies), user."""
        with self._lock:
            channel_id = self._dm_id(channel) if channel in self._users else channel
            return copy.deepcopy(self._messages.get(channel_id, []))

    def replies(self, channel: str, thread_ts: str) -> list[dict]:
        """The replies of a thread (without its parent)."""
        return [m for m in self.messages(channel) if m["thread_ts"] == thread_ts and m["ts"] != thread_ts]

    def channel_of_message(self, ts: str) -> str | None:
        with self._lock:
            for channel_id, msgs in self._messages.items():
                if any(m["ts"] == ts for m in msgs):
                    return channel_id
        return None

    def dm_channel_of(self, user_id: str) -> str | None:
        """The id of the bot's DM with a user, or None when none was opened yet."""
        with self._lock:
            dm_id = self._dm_id(user_id)
            return dm_id if dm_id in self._convs else None

    @property
    def ephemerals(self) -> list[dict]:
        """Ephemeral messages: {channel, user, text, blocks, thread_ts, ts, via}, where via is
        "chat.postEphemeral" or "response_url"."""
        with self._lock:
            return copy.deepcopy(self._ephemerals)

    @property
    def views(self) -> dict[str, dict]:
        """Per user (every user of the workspace): {"modals": [open modal views, root first],
        "home": the published Home tab view or None}."""
        with self._lock:
            users = set(self._users) | set(self._modal_stacks) | set(self._homes)
            return {
                user: {
                    "modals": [copy.deepcopy(self._views[v]) for v in self._modal_stacks.get(user, [])],
                    "home": copy.deepcopy(self._views[self._homes[user]]) if user in self._homes else None,
                }
                for user in users
            }

    def view(self, view_id: str) -> dict | None:
        with self._lock:
            v = self._views.get(view_id)
            return copy.deepcopy(v) if v else None

    @property
    def files(self) -> list[UploadedFile]:
        with self._lock:
            return [copy.deepcopy(f) for f in self._files.values()]

    # -- calls -----------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        """All recorded calls of a method, failed ones included (see Call.ok)."""
        with self._lock:
            return [c for c in self._calls if c.method == method]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    # -- failure injection and rate limits -------------------------------------------------

    def fail_next(
        self,
        method: str,
        times: int = 1,
        status: int | None = None,
        error: str | None = None,
        retry_after: float | None = None,
        delay: float | None = None,
    ) -> None:
        """Makes the next `times` calls of `method` fail, then it recovers.

        - status 500/503 (the default when nothing else is given): that HTTP status with
          {"ok": false, "error": error or "fatal_error"/"service_unavailable"}
        - status 429: HTTP 429, `Retry-After: <retry_after or 1>`, {"ok": false, "error": "ratelimited"}
        - error="channel_not_found" (status defaults to 200): that API error
        - delay=seconds: sleep first (to make a client time out); alone, the call is then
          answered normally; with status/error, the failure is answered after the delay.
        Several fail_next calls for one method queue up in order.
        """
        if status is None and error is None and delay is None:
            status = 500
        if status is None and error is not None:
            status = 200
        with self._lock:
            self._failures.setdefault(method, deque()).append(
                _Failure(status=status, error=error, retry_after=retry_after, delay=delay, remaining=times)
            )

    def clear_failures(self) -> None:
        """Forgets failures queued by fail_next that have not happened yet."""
        with self._lock:
            self._failures.clear()

    def set_rate_limit(
        self,
        method: str,
        per_minute: float | None = None,
        per_second: float | None = None,
        burst: int = 1,
        per_channel: bool = False,
    ) -> None:
        """A token bucket for a method: `burst` tokens, refilled at the given rate. When it is
        empty the call answers HTTP 429 with Retry-After = seconds until the next token
        (rounded up, at least 1). per_channel=True keeps one bucket per `channel` argument;
        a method may have both a workspace-wide and a per-channel limit (set each once)."""
        if (per_minute is None) == (per_second is None):
            raise ValueError("give exactly one of per_minute and per_second")
        rate = per_second if per_second is not None else per_minute / 60.0  # type: ignore[operator]
        with self._lock:
            self._limits[(method, per_channel)] = _Limit(rate=rate, burst=burst)

    def clear_rate_limits(self) -> None:
        with self._lock:
            self._limits.clear()

    def _take_failure(self, method: str) -> _Failure | None:
        with self._lock:
            queue = self._failures.get(method)
            if not queue:
                return None
            failure = queue[0]
            failure.remaining -= 1
            if failure.remaining <= 0:
                queue.popleft()
            return failure

    def _rate_limited(self, method: str, args: dict) -> int | None:
        """Consumes a token from each bucket that applies; returns Retry-After when one is empty."""
        with self._lock:
            now = self.clock()
            buckets = []
            for (limit_method, per_channel), limit in self._limits.items():
                if limit_method != method:
                    continue
                key = str(args.get("channel") or args.get("channel_id") or "") if per_channel else ""
                bucket = limit.buckets.get(key)
                if bucket is None:
                    bucket = limit.buckets[key] = _Bucket(limit.burst, limit.rate, float(limit.burst), now)
                bucket.refill(now)
                buckets.append(bucket)
            empty = [b for b in buckets if b.tokens < 1]
            if empty:
                return max(1, math.ceil(max(b.wait() for b in empty)))
            for bucket in buckets:
                bucket.tokens -= 1
            return None

    # -- ids -------------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08X}"

    def _next_ts(self) -> str:
        """Slack-style "seconds.micros", from the wall clock, strictly increasing."""
        with self._lock:
            self._last_ts_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
            seconds, micros = divmod(self._last_ts_us, 1_000_000)
            return f"{seconds}.{micros:06d}"

    def new_trigger_id(self, user_id: str | None = None, age: float = 0.0) -> str:
        """A trigger_id as Slack puts in an interaction payload: single use, expires
        `trigger_ttl` (3 s) after issue. age=4 mints one that has already expired."""
        trigger_id = f"{next(self._ids)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"
        with self._lock:
            self._triggers[trigger_id] = {"user_id": user_id, "issued": self.clock() - age, "used": False}
        return trigger_id

    def new_response_url(
        self,
        channel_id: str | None = None,
        user_id: str | None = None,
        message_ts: str | None = None,
    ) -> str:
        """A response_url. Its context says where posts land: in_channel posts go to
        channel_id, ephemeral ones to user_id there, replace/delete_original act on message_ts."""
        url_id = secrets.token_hex(12)
        with self._lock:
            self._response_urls[url_id] = {
                "channel_id": channel_id,
                "user_id": user_id,
                "message_ts": message_ts,
                "created": self.clock(),
                "uses": 0,
                "posts": [],
            }
        return f"{self.url}/response/{url_id}"

    def responses(self, id_or_url: str) -> list[Any]:
        """The JSON bodies POSTed to a response_url, in order (refused ones included; see
        response_posts for how each was answered)."""
        return [post.body for post in self.response_posts(id_or_url)]

    def response_posts(self, id_or_url: str) -> list[ResponsePost]:
        """Every POST to a response_url with our answer (status, "ok"/"used_url"/...)."""
        url_id = id_or_url.rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            entry = self._response_urls.get(url_id)
            return copy.deepcopy(entry["posts"]) if entry else []

    # =====================================================================================
    # HTTP: Web API
    # =====================================================================================

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args, parse_error = await self._read_args(request)
        call = Call(method=method, args=args, headers=dict(request.headers), at=self.clock())
        with self._lock:
            self._calls.append(call)
        status, body, headers = await self._answer(method, args, request, parse_error)
        call.status, call.response = status, body
        return web.json_response(body, status=status, headers=headers)

    async def _read_args(self, request: web.Request) -> tuple[dict, str | None]:
        args: dict = dict(request.query)
        parse_error = None
        if request.content_type == "application/json":
            raw = await request.text()
            if raw.strip():  # slack_sdk sends an empty body with a JSON content type for no-arg calls
                try:
                    body = json.loads(raw)
                except ValueError:
                    return args, "invalid_json"
                if not isinstance(body, dict):
                    return args, "json_not_object"
                args.update(body)
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                args[key] = value.file.read() if isinstance(value, web.FileField) else value
        for key in _JSON_FIELDS:
            if isinstance(args.get(key), str):
                try:
                    args[key] = json.loads(args[key])
                except ValueError:
                    parse_error = parse_error or {"blocks": "invalid_blocks_format"}.get(
                        key, "invalid_arguments"
                    )
        return args, parse_error

    async def _answer(
        self, method: str, args: dict, request: web.Request, parse_error: str | None
    ) -> tuple[int, dict, dict]:
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}

        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else args.get("token")
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if token not in (self.bot_token, self.app_token):
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if (token == self.app_token) != (method == "apps.connections.open"):
            return 200, {"ok": False, "error": "not_allowed_token_type"}, {}

        failure = self._take_failure(method)
        if failure is not None:
            if failure.delay:
                await asyncio.sleep(failure.delay)
            if failure.status == 429:
                retry_after = failure.retry_after if failure.retry_after is not None else 1
                return (
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(math.ceil(retry_after))},
                )
            if failure.status is not None and failure.status >= 500:
                default = "service_unavailable" if failure.status == 503 else "fatal_error"
                return failure.status, {"ok": False, "error": failure.error or default}, {}
            if failure.error:
                return failure.status or 200, {"ok": False, "error": failure.error}, {}
            # a delay alone: carry on with the normal answer

        retry_after = self._rate_limited(method, args)
        if retry_after is not None:
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}

        if parse_error:
            return 200, {"ok": False, "error": parse_error}, {}
        try:
            with self._lock:
                result = handler(args)
        except ApiError as exc:
            return 200, {"ok": False, "error": exc.error, **exc.extra}, {}
        return 200, {"ok": True, **result}, {}

    # -- shared helpers for handlers (call with _lock held) ---------------------------------

    def _dm_id(self, user_id: str) -> str:
        return f"D{user_id}"

    def _open_dm(self, user_id: str) -> dict:
        dm_id = self._dm_id(user_id)
        if dm_id not in self._convs:
            self._convs[dm_id] = {
                "id": dm_id,
                "name": None,
                "is_private": True,
                "is_im": True,
                "user": user_id,
                "is_archived": False,
                "members": [user_id, self.bot_user_id],
                "created": int(time.time()),
            }
            self._messages.setdefault(dm_id, [])
        return self._convs[dm_id]

    def _resolve_channel(self, channel: Any, *, allow_user: bool = True) -> dict:
        """A conversation by id, by user id (the DM with that user) or by "#name"."""
        if not channel or not isinstance(channel, str):
            raise ApiError("channel_not_found")
        if allow_user and channel in self._users:
            return self._open_dm(channel)
        conv = self._convs.get(channel)
        if conv is None:
            name = channel.lstrip("#")
            conv = next((c for c in self._convs.values() if c.get("name") == name), None)
        if conv is None or not self._visible(conv):
            raise ApiError("channel_not_found")
        return conv

    def _visible(self, conv: dict) -> bool:
        """The bot sees public channels and the private ones it is a member of."""
        return not conv["is_private"] or self.bot_user_id in conv["members"]

    def _find_message(self, channel_id: str, ts: Any) -> dict | None:
        return next((m for m in self._messages.get(channel_id, []) if m["ts"] == ts), None)

    def _check_content(self, args: dict, *, required: bool = True) -> None:
        """no_text / msg_too_long / invalid_blocks / too_many_attachments, as chat.* answer."""
        text, blocks, attachments = args.get("text"), args.get("blocks"), args.get("attachments")
        if required and not text and not blocks and not attachments:
            raise ApiError("no_text")
        if isinstance(text, str) and len(text) > MAX_TEXT:
            raise ApiError("msg_too_long")
        if blocks is not None:
            errors = check_blocks(blocks, "message")
            if errors:
                raise ApiError("invalid_blocks", errors=errors, response_metadata={"messages": errors})
        if attachments is not None and (not isinstance(attachments, list) or len(attachments) > 100):
            raise ApiError("too_many_attachments")

    def _store_message(
        self,
        channel_id: str,
        *,
        user: str,
        text: str | None,
        blocks: list | None,
        thread_ts: str | None = None,
        attachments: list | None = None,
        extra: dict | None = None,
    ) -> dict:
        ts = self._next_ts()
        msg = {
            "type": "message",
            "ts": ts,
            "user": user,
            "text": text or "",
            "blocks": blocks or [],
            "thread_ts": thread_ts or None,
            "team": self.team_id,
        }
        if attachments:
            msg["attachments"] = attachments
        if user == self.bot_user_id:
            msg.update({"bot_id": self.bot_id, "app_id": self.app_id})
        msg.update(extra or {})
        if thread_ts:
            parent = self._find_message(channel_id, thread_ts)
            if parent is not None:
                parent["thread_ts"] = parent["ts"]
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                parent["latest_reply"] = ts
                parent.setdefault("reply_users", [])
                if user not in parent["reply_users"]:
                    parent["reply_users"].append(user)
        self._messages.setdefault(channel_id, []).append(msg)
        return msg

    def _paginate(self, items: list, args: dict, default_limit: int) -> tuple[list, str]:
        try:
            limit = int(args.get("limit") or 0)
        except (TypeError, ValueError) as exc:
            raise ApiError("invalid_limit") from exc
        if limit <= 0:
            limit = default_limit
        start = _decode_cursor(args["cursor"]) if args.get("cursor") else 0
        end = start + limit
        return items[start:end], (_encode_cursor(end) if end < len(items) else "")

    def _user_object(self, user: dict, include_locale: bool = False) -> dict:
        now = datetime.now(ZoneInfo(user["tz"]))
        profile = {
            "real_name": user["real_name"],
            "real_name_normalized": user["real_name"],
            "display_name": user["name"],
            "display_name_normalized": user["name"],
            "image_48": f"https://avatars.example/{user['id']}_48.png",
            "team": self.team_id,
        }
        if user["email"]:
            profile["email"] = user["email"]
        if user["is_bot"]:
            profile.update({"bot_id": self.bot_id, "api_app_id": self.app_id})
        obj = {
            "id": user["id"],
            "team_id": self.team_id,
            "name": user["name"],
            "deleted": user["deleted"],
            "real_name": user["real_name"],
            "tz": user["tz"],
            "tz_label": now.tzname(),
            "tz_offset": int(now.utcoffset().total_seconds()),  # type: ignore[union-attr]
            "profile": profile,
            "is_admin": user["is_admin"],
            "is_owner": user["is_owner"],
            "is_primary_owner": user["is_owner"],
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": user["is_bot"],
            "is_app_user": False,
            "updated": self._created,
        }
        if include_locale:
            obj["locale"] = user["locale"]
        return obj

    def _channel_object(self, conv: dict, include_num_members: bool = False) -> dict:
        if conv["is_im"]:
            user = self._users.get(conv["user"], {})
            return {
                "id": conv["id"],
                "created": conv["created"],
                "is_im": True,
                "is_org_shared": False,
                "user": conv["user"],
                "is_user_deleted": bool(user.get("deleted")),
                "is_open": True,
                "priority": 0,
            }
        obj = {
            "id": conv["id"],
            "name": conv["name"],
            "name_normalized": conv["name"],
            "is_channel": not conv["is_private"],
            "is_group": conv["is_private"],
            "is_im": False,
            "is_mpim": False,
            "is_private": conv["is_private"],
            "is_archived": conv["is_archived"],
            "is_general": conv["id"] == GENERAL,
            "is_member": self.bot_user_id in conv["members"],
            "created": conv["created"],
            "creator": ADMIN,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        if include_num_members:
            obj["num_members"] = len(conv["members"])
        return obj

    # -- auth, chat ------------------------------------------------------------------------

    def _api_auth_test(self, args: dict) -> dict:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Tandem Test",
            "user": "tandem",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _api_chat_postMessage(self, args: dict) -> dict:
        conv = self._resolve_channel(args.get("channel"))
        if conv["is_archived"]:
            raise ApiError("is_archived")
        if self.bot_user_id not in conv["members"]:
            raise ApiError("not_in_channel")
        self._check_content(args)
        extra = {"metadata": args["metadata"]} if args.get("metadata") else {}
        msg = self._store_message(
            conv["id"],
            user=self.bot_user_id,
            text=args.get("text"),
            blocks=args.get("blocks"),
            thread_ts=args.get("thread_ts"),
            attachments=args.get("attachments"),
            extra=extra,
        )
        return {"channel": conv["id"], "ts": msg["ts"], "message": copy.deepcopy(msg)}

    def _message_for_change(self, args: dict, ts_key: str, cant: str) -> tuple[dict, dict]:
        conv = self._resolve_channel(args.get("channel"), allow_user=False)
        msg = self._find_message(conv["id"], args.get(ts_key))
        if msg is None:
            raise ApiError("message_not_found")
        if msg["user"] != self.bot_user_id:
            raise ApiError(cant)
        return conv, msg

    def _api_chat_update(self, args: dict) -> dict:
        conv, msg = self._message_for_change(args, "ts", "cant_update_message")
        if all(args.get(k) is None for k in ("text", "blocks", "attachments")):
            raise ApiError("no_text")
        self._check_content(args, required=False)
        # Like Slack: a field left out keeps its previous value; blocks=[] removes the blocks.
        if args.get("text") is not None:
            msg["text"] = args["text"]
        if args.get("blocks") is not None:
            msg["blocks"] = args["blocks"]
        if args.get("attachments") is not None:
            msg["attachments"] = args["attachments"]
        msg["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {"channel": conv["id"], "ts": msg["ts"], "text": msg["text"], "message": copy.deepcopy(msg)}

    def _api_chat_delete(self, args: dict) -> dict:
        conv, msg = self._message_for_change(args, "ts", "cant_delete_message")
        self._messages[conv["id"]].remove(msg)
        return {"channel": conv["id"], "ts": msg["ts"]}

    def _api_chat_postEphemeral(self, args: dict) -> dict:
        conv = self._resolve_channel(args.get("channel"))
        if self.bot_user_id not in conv["members"]:
            raise ApiError("not_in_channel")
        user = args.get("user")
        if user not in self._users:
            raise ApiError("user_not_found")
        if user not in conv["members"]:
            raise ApiError("user_not_in_channel")
        self._check_content(args)
        ts = self._next_ts()
        self._ephemerals.append(
            {
                "channel": conv["id"],
                "user": user,
                "text": args.get("text") or "",
                "blocks": args.get("blocks") or [],
                "thread_ts": args.get("thread_ts"),
                "ts": ts,
                "via": "chat.postEphemeral",
            }
        )
        return {"message_ts": ts}

    def _api_chat_getPermalink(self, args: dict) -> dict:
        conv = self._resolve_channel(args.get("channel"), allow_user=False)
        msg = self._find_message(conv["id"], args.get("message_ts"))
        if msg is None:
            raise ApiError("message_not_found")
        link = f"https://{self.team_domain}.slack.com/archives/{conv['id']}/p{msg['ts'].replace('.', '')}"
        if msg["thread_ts"] and msg["thread_ts"] != msg["ts"]:
            link += f"?thread_ts={msg['thread_ts']}&cid={conv['id']}"
        return {"channel": conv["id"], "permalink": link}

    # -- conversations ---------------------------------------------------------------------

    def _api_conversations_open(self, args: dict) -> dict:
        if args.get("channel"):
            conv = self._resolve_channel(args["channel"], allow_user=False)
            return {"channel": {"id": conv["id"]}}
        users = [u for u in str(args.get("users") or "").split(",") if u and u != self.bot_user_id]
        if not users:
            raise ApiError("users_list_not_supplied")
        if len(users) > 1:
            # Group DMs (mpim) are not modelled.
            raise ApiError("not_supported_by_local_slack")
        user = self._users.get(users[0])
        if user is None:
            raise ApiError("user_not_found")
        if user["deleted"]:
            raise ApiError("user_disabled")
        already = self._dm_id(users[0]) in self._convs
        conv = self._open_dm(users[0])
        channel = self._channel_object(conv) if _truthy(args.get("return_im")) else {"id": conv["id"]}
        return {"no_op": already, "already_open": already, "channel": channel}

    def _api_conversations_info(self, args: dict) -> dict:
        conv = self._resolve_channel(args.get("channel"), allow_user=False)
        return {"channel": self._channel_object(conv, _truthy(args.get("include_num_members")))}

    def _api_conversations_members(self, args: dict) -> dict:
        conv = self._resolve_channel(args.get("channel"), allow_user=False)
        page, cursor = self._paginate(list(conv["members"]), args, default_limit=100)
        return {"members": page, "response_metadata": {"next_cursor": cursor}}

    def _api_conversations_history(self, args: dict) -> dict:
        """Top-level messages, newest first, between `oldest` and `latest` (exclusive unless
        `inclusive`); message metadata only with include_all_metadata, as Slack does."""
        conv = self._resolve_channel(args.get("channel"), allow_user=False)
        top = [m for m in self._messages.get(conv["id"], []) if m["thread_ts"] in (None, m["ts"])]
        page, cursor = self._paginate(self._between(list(reversed(top)), args), args, default_limit=100)
        return {
            "messages": self._shown(page, args),
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def _api_conversations_replies(self, args: dict) -> dict:
        conv = self._resolve_channel(args.get("channel"), allow_user=False)
        parent = self._find_message(conv["id"], args.get("ts"))
        if parent is None:
            raise ApiError("thread_not_found")
        replies = [m for m in self._messages[conv["id"]] if m["thread_ts"] == parent["ts"] and m is not parent]
        page, cursor = self._paginate([parent] + self._between(replies, args), args, default_limit=1000)
        return {
            "messages": self._shown(page, args),
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    @staticmethod
    def _between(messages: list[dict], args: dict) -> list[dict]:
        inclusive = _truthy(args.get("inclusive"))
        oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or "inf")
        return [m for m in messages
                if (oldest <= float(m["ts"]) if inclusive else oldest < float(m["ts"]))
                and (float(m["ts"]) <= latest if inclusive else float(m["ts"]) < latest)]

    @staticmethod
    def _shown(messages: list[dict], args: dict) -> list[dict]:
        shown = copy.deepcopy(messages)
        if not _truthy(args.get("include_all_metadata")):
            for message in shown:
                message.pop("metadata", None)
        return shown

    # -- users, user groups ----------------------------------------------------------------

    def _api_users_info(self, args: dict) -> dict:
        user = self._users.get(args.get("user"))  # type: ignore[arg-type]
        if user is None:
            raise ApiError("user_not_found")
        return {"user": self._user_object(user, _truthy(args.get("include_locale")))}

    def _api_users_list(self, args: dict) -> dict:
        include_locale = _truthy(args.get("include_locale"))
        members = [self._user_object(u, include_locale) for u in self._users.values()]
        # limit=0 (the default) returns everyone, as Slack does for small workspaces
        page, cursor = self._paginate(members, args, default_limit=len(members) or 1)
        return {"members": page, "cache_ts": int(time.time()), "response_metadata": {"next_cursor": cursor}}

    def _api_usergroups_users_list(self, args: dict) -> dict:
        group = self._usergroups.get(args.get("usergroup"))  # type: ignore[arg-type]
        if group is None:
            raise ApiError("no_such_subteam")
        return {"users": list(group["users"])}

    # -- views -----------------------------------------------------------------------------

    def _check_view_arg(self, args: dict, vtype: str | None) -> dict:
        """Slack answers a bad view with invalid_arguments and "[ERROR] ..." messages."""
        view = args.get("view")
        errors = check_view(view)
        if not errors and vtype is not None and view["type"] != vtype:  # type: ignore[index]
            errors = ["must be a valid enum value [json-pointer:/view/type]"]
        if errors:
            raise ApiError(
                "invalid_arguments", response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
            )
        return view  # type: ignore[return-value]

    def _exchange_trigger(self, trigger_id: Any) -> dict:
        trigger = self._triggers.get(trigger_id)  # type: ignore[arg-type]
        if trigger is None:
            raise ApiError("invalid_trigger_id")
        if trigger["used"]:
            raise ApiError("exchanged_trigger_id")
        if self.clock() - trigger["issued"] > self.trigger_ttl:
            raise ApiError("expired_trigger_id")
        trigger["used"] = True
        return trigger

    def _make_view(self, spec: dict, user_id: str | None, view_id: str | None = None) -> dict:
        """A view object as Slack returns it (id, hash, state, ...)."""
        external_id = spec.get("external_id", "")
        if external_id:
            clash = next(
                (v for v in self._views.values() if v["external_id"] == external_id and v["id"] != view_id),
                None,
            )
            if clash is not None:
                raise ApiError("duplicate_external_id")
        view_id = view_id or self._next_id("V")
        view = {
            "id": view_id,
            "team_id": self.team_id,
            "type": spec["type"],
            "blocks": copy.deepcopy(spec.get("blocks", [])),
            "private_metadata": spec.get("private_metadata", ""),
            "callback_id": spec.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "external_id": external_id,
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        for key in ("title", "submit", "close"):
            if spec.get(key) is not None:
                view[key] = copy.deepcopy(spec[key])
        self._views[view_id] = view
        if user_id is not None:
            self._view_owner[view_id] = user_id
        return view

    def _find_view(self, args: dict) -> dict:
        view = None
        if args.get("view_id"):
            view = self._views.get(args["view_id"])
        elif args.get("external_id"):
            view = next((v for v in self._views.values() if v["external_id"] == args["external_id"]), None)
        if view is None:
            raise ApiError("not_found")
        return view

    def _api_views_open(self, args: dict) -> dict:
        spec = self._check_view_arg(args, "modal")
        trigger = self._exchange_trigger(args.get("trigger_id"))
        user = trigger["user_id"]
        view = self._make_view(spec, user)
        self._modal_stacks[user] = [view["id"]]  # a new modal replaces whatever was open
        return {"view": copy.deepcopy(view)}

    def _api_views_push(self, args: dict) -> dict:
        spec = self._check_view_arg(args, "modal")
        trigger = self._exchange_trigger(args.get("trigger_id"))
        user = trigger["user_id"]
        stack = self._modal_stacks.get(user) or []
        if not stack:
            raise ApiError("not_found")  # nothing to push onto
        if len(stack) >= MAX_MODAL_STACK:
            raise ApiError("push_limit_reached")
        view = self._make_view(spec, user)
        view["previous_view_id"] = stack[-1]
        view["root_view_id"] = stack[0]
        stack.append(view["id"])
        return {"view": copy.deepcopy(view)}

    def _api_views_update(self, args: dict) -> dict:
        old = self._find_view(args)
        if args.get("hash") and args["hash"] != old["hash"]:
            raise ApiError("hash_conflict")
        spec = self._check_view_arg(args, old["type"])
        view = self._make_view(spec, self._view_owner.get(old["id"]), view_id=old["id"])
        view["previous_view_id"], view["root_view_id"] = old["previous_view_id"], old["root_view_id"]
        view["state"] = old["state"]
        return {"view": copy.deepcopy(view)}

    def _api_views_publish(self, args: dict) -> dict:
        user = args.get("user_id")
        if user not in self._users:
            raise ApiError("user_not_found")
        spec = self._check_view_arg(args, "home")
        old_id = self._homes.get(user)  # type: ignore[arg-type]
        if old_id and args.get("hash") and args["hash"] != self._views[old_id]["hash"]:
            raise ApiError("hash_conflict")
        view = self._make_view(spec, user, view_id=old_id)
        self._homes[user] = view["id"]  # type: ignore[index]
        return {"view": copy.deepcopy(view)}

    def close_modals(self, user_id: str) -> None:
        """The user closed their modal(s)."""
        with self._lock:
            self._modal_stacks.pop(user_id, None)

    def apply_view_response(self, view_id: str, response: dict | None) -> dict | None:
        """Applies an app's ack of a view_submission, as Slack does: None/{} closes the
        submitted view, "clear" closes all, "update" replaces it, "push" pushes a new one,
        "errors" keeps it open. Returns the errors dict for "errors", else None. Raises
        AssertionError when the response is something Slack would refuse."""
        response = response or {}
        action = response.get("response_action")
        with self._lock:
            user = self._view_owner.get(view_id)
            stack = self._modal_stacks.get(user, [])  # type: ignore[arg-type]
            assert view_id in stack, f"view {view_id} is not open"
            if action in ("update", "push"):
                errors = check_view(response.get("view"))
                assert not errors, f"invalid view in response_action {action}: {errors}"
            if action is None:
                stack.remove(view_id)
            elif action == "clear":
                stack.clear()
            elif action == "update":
                old = self._views[view_id]
                view = self._make_view(response["view"], user, view_id=view_id)
                view["previous_view_id"], view["root_view_id"] = old["previous_view_id"], old["root_view_id"]
            elif action == "push":
                assert len(stack) < MAX_MODAL_STACK, "push_limit_reached"
                view = self._make_view(response["view"], user)
                view["previous_view_id"], view["root_view_id"] = stack[-1], stack[0]
                stack.append(view["id"])
            elif action == "errors":
                assert isinstance(response.get("errors"), dict), (
                    "errors must be a dict of block_id -> message"
                )
                return response["errors"]
            else:
                raise AssertionError(f"unknown response_action {action!r}")
            if not stack:
                self._modal_stacks.pop(user, None)  # type: ignore[arg-type]
        return None

    # -- files -----------------------------------------------------------------------------

    def _api_files_getUploadURLExternal(self, args: dict) -> dict:
        filename, length = args.get("filename"), args.get("length")
        try:
            length = int(length)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            length = None
        if not filename or length is None or length < 0:
            raise ApiError("invalid_arguments")
        file_id = self._next_id("F")
        self._files[file_id] = UploadedFile(
            id=file_id,
            filename=filename,
            length=length,
            alt_txt=args.get("alt_txt"),
            snippet_type=args.get("snippet_type"),
        )
        return {"upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, args: dict) -> dict:
        specs = args.get("files")
        if not isinstance(specs, list) or not specs:
            raise ApiError("invalid_arguments")
        uploads = []
        for spec in specs:
            upload = self._files.get(spec.get("id")) if isinstance(spec, dict) else None
            if upload is None or upload.content is None or upload.completed:
                raise ApiError("file_not_found")
            uploads.append((upload, spec))
        channel_id = args.get("channel_id") or (str(args.get("channels") or "").split(",")[0] or None)
        conv = None
        if channel_id:
            conv = self._resolve_channel(channel_id, allow_user=False)
            if self.bot_user_id not in conv["members"]:
                raise ApiError("not_in_channel")
        file_objects = []
        for upload, spec in uploads:
            upload.title = spec.get("title") or upload.filename
            upload.channel_id = conv["id"] if conv else None
            upload.thread_ts = args.get("thread_ts")
            upload.initial_comment = args.get("initial_comment")
            upload.completed = True
            file_objects.append(
                {
                    "id": upload.id,
                    "name": upload.filename,
                    "title": upload.title,
                    "size": len(upload.content or b""),
                    "user": self.bot_user_id,
                    "permalink": f"https://{self.team_domain}.slack.com/files/{self.bot_user_id}/{upload.id}",
                }
            )
        if conv is not None:
            # Slack shares the files as a message in the channel (or thread).
            self._store_message(
                conv["id"],
                user=self.bot_user_id,
                text=args.get("initial_comment"),
                blocks=None,
                thread_ts=args.get("thread_ts"),
                extra={"files": copy.deepcopy(file_objects), "upload": True},
            )
        return {"files": file_objects}

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            field_value = next((v for v in form.values() if isinstance(v, web.FileField)), None)
            data = field_value.file.read() if field_value is not None else b""
        else:
            data = await request.read()
        with self._lock:
            upload = self._files.get(file_id)
            if upload is None:
                return web.Response(status=404, text="file_not_found")
            upload.content = data
        return web.Response(status=200, text=f"OK - {len(data)}", content_type="text/plain")

    # -- Socket Mode: the HTTP side --------------------------------------------------------

    def _api_apps_connections_open(self, args: dict) -> dict:
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        return {"url": f"ws://127.0.0.1:{self.port}/socket?ticket={ticket}&app_id={self.app_id}"}

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
