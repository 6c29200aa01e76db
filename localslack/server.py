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
3. an injected failure before the work (`fail_next`) -> HTTP 5xx, HTTP 429 + Retry-After, an
   API error, a connection reset, or a delay before the normal answer
   (before all of these: with `set_latency`, a delay drawn from Slack's latency model, latency.py)
4. rate limits (`set_rate_limit`, or Slack's own tiers with `apply_slack_tiers`) -> HTTP 429 + integer Retry-After when the bucket is empty
5. the method itself, which answers like Slack: HTTP 200 with {"ok": true, ...} or
   {"ok": false, "error": "..."}
6. an injected failure after the work (`fail_next(..., when="after")`) -> the work stands, but
   its reply becomes a 5xx, a reset connection, a truncated body or a late answer.

Every call is recorded (`calls`, `calls_to`), whatever its outcome (`Call.executed` says
whether the work was done, `Call.fault` whether the reply was reset or cut).

The world the tests set up (users, channels, user groups, messages) starts with a small,
fixed population when `seed=True` (the default):

    UBOT       "tandem"  the bot user (id configurable with bot_user_id)
    U0ADMIN    "ada"     workspace admin and owner, America/New_York, en-US
    U0ALICE    "alice"   America/New_York, en-US
    U0BOB      "bob"     Europe/London, en-GB
    U0CHEN     "chen"    Asia/Shanghai, zh-CN
    C0GENERAL  "general" public channel; members: the four people above and the bot

With `seed=False` only the bot user exists. `reset()` returns a shared server to that world.

The Web API methods live in web_api.py, response_url posts and Socket Mode envelopes in push.py,
Socket Mode connections and their faults in socket_mode.py, shared records in records.py. To add
a Web API method, write `def _api_<method with dots as underscores>(self, args)` (e.g.
`_api_reactions_add`). It runs under the state lock, returns the fields of the ok
answer as a dict, and raises `ApiError("some_error")` for an error answer.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import random
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from templates.blockkit import check_blocks

from .faults import FaultInjection, failed_reply, reset_connection
from .latency import SlackLatency
from .push import PushChannels
from .records import (
    _JSON_FIELDS,
    ADMIN,
    ALICE,
    APP_ID,
    BOB,
    BOT_ID,
    CHEN,
    GENERAL,
    MAX_SOCKET_CONNECTIONS,
    MAX_TEXT,
    TRIGGER_TTL,
    ApiError,
    Call,
    ResponsePost,
    ServerThread,
    UploadedFile,
    _decode_cursor,
    _encode_cursor,
    _Failure,
    _Limit,
    _Reply,
)
from .socket_mode import SocketModeSide
from .web_api import WebApiMethods


class LocalSlack(FaultInjection, SlackLatency, WebApiMethods, PushChannels, SocketModeSide):
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
        epoch: Callable[[], float] = time.time,
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
        # `epoch` is the unix time message ts are made from (the sandbox passes its moved clock).
        self.epoch = epoch

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

        self._init_socket_state(disconnect_grace=socket_disconnect_grace, max_connections=max_socket_connections)

        self._server: ServerThread | None = None

    def _init_world(self) -> None:
        # command → should_escape, for an install whose settings differ from manifest.yaml (an
        # app created from an older manifest keeps its settings); see escaping.py
        self.escape_overrides: dict[str, bool] = {}
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
        # Slack finishes an upload asynchronously: for a moment after files.completeUploadExternal
        # the file has no mimetype and an image block naming it is refused ("invalid slack file"),
        # https://github.com/slackapi/slack-github-action/issues/413 (polling files.info is the
        # documented way to wait). Worst plausible case: the file turns ready only after this many
        # files.info calls have seen it still processing, however much time passed.
        self.file_processing_checks = 1
        self._response_urls: dict[str, dict] = {}
        self._calls: list[Call] = []
        self._failures: dict[str, deque[_Failure]] = {}
        self._fault_dice = random.Random(0)  # fail_next(chance=...), the same calls hit every run
        self._limits: dict[tuple[str, bool], _Limit] = {}
        self._history_page_max: int | None = None
        self._add_bot_user()
        if self._seed_world:
            self._seed()

    def reset(self) -> None:
        """Back to the world of a fresh LocalSlack (users, channels, no messages, views, files,
        response_urls, calls, queued failures or rate limits), for a server shared between
        tests. Socket Mode connections stay up; ids and ts keep increasing."""
        with self._lock:
            self._init_world()
            self.latency = None
            self._envelopes.clear()
            self._forget_silent_sockets()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LocalSlack:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/v1/{file_id}", self._handle_upload)
        app.router.add_get("/files-pri/{file_id}/{name}", self._handle_download)
        app.router.add_get("/signin", self._handle_signin)
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

    def conversation_ids(self) -> list[str]:
        """Every conversation that has held a message (channels and DMs)."""
        with self._lock:
            return list(self._messages)

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

    def top_modal(self, user_id: str) -> dict | None:
        """The modal the user sees now (the top of their stack), or None."""
        with self._lock:
            stack = self._modal_stacks.get(user_id)
            return copy.deepcopy(self._views[stack[-1]]) if stack else None

    def view(self, view_id: str) -> dict | None:
        with self._lock:
            v = self._views.get(view_id)
            return copy.deepcopy(v) if v else None

    def add_file(self, name: str, data: bytes, filetype: str = "csv") -> dict:
        """A file a user uploaded (in a file_input, say): the file object Slack would send, whose
        url_private_download serves `data` to the bot token only."""
        with self._lock:
            file_id = self._next_id("F")
            self._files[file_id] = UploadedFile(id=file_id, filename=name, length=len(data), content=data,
                                                completed=True)
        url = f"{self.url}/files-pri/{file_id}/{name}"
        return {"id": file_id, "name": name, "title": name, "filetype": filetype, "size": len(data),
                "url_private": url, "url_private_download": url}

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

    def calls_since(self, index: int) -> list[Call]:
        """The calls recorded from `index` on (for a watcher that reads them as they come)."""
        with self._lock:
            return self._calls[index:]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    # -- ids -------------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08X}"

    def _next_ts(self) -> str:
        """Slack-style "seconds.micros", from the wall clock, strictly increasing."""
        with self._lock:
            self._last_ts_us = max(int(self.epoch() * 1_000_000), self._last_ts_us + 1)
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
        delay = self._draw_delay()  # set_latency: Slack's time to answer, spent before the work
        if delay:
            await asyncio.sleep(delay)
        call.delay = delay
        reply = await self._answer(method, args, request, parse_error, call)
        call.status, call.response, call.fault = reply.status, reply.body, reply.fault
        call.answered = self.clock()
        return await self._send(request, reply)

    async def _send(self, request: web.Request, reply: _Reply) -> web.StreamResponse:
        if reply.fault is None:
            if isinstance(reply.body, str):  # a gateway's error page
                return web.Response(status=reply.status, text=reply.body, content_type="text/html",
                                    headers=reply.headers)
            return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        if reply.fault == "truncate":  # the headers promise the whole body; half of it arrives, then FIN
            body = json.dumps(reply.body).encode()
            response = web.StreamResponse(status=reply.status, headers=reply.headers)
            response.content_type, response.content_length = "application/json", len(body)
            await response.prepare(request)
            await response.write(body[: len(body) // 2])
            request.transport.close()  # graceful: what was written still arrives
        else:
            reset_connection(request)
        raise asyncio.CancelledError  # what aiohttp sees of a peer gone mid-request: no answer, no log

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
        self, method: str, args: dict, request: web.Request, parse_error: str | None, call: Call
    ) -> _Reply:
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return _Reply(200, {"ok": False, "error": "unknown_method", "req_method": method})

        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else args.get("token")
        if not token:
            return _Reply(200, {"ok": False, "error": "not_authed"})
        if token not in (self.bot_token, self.app_token):
            return _Reply(200, {"ok": False, "error": "invalid_auth"})
        if (token == self.app_token) != (method == "apps.connections.open"):
            return _Reply(200, {"ok": False, "error": "not_allowed_token_type"})

        failure = self._take_failure(method, "before")
        if failure is not None:
            if failure.delay:
                await asyncio.sleep(failure.delay)
            refusal = failed_reply(failure)
            if refusal is not None:
                return refusal
            # a delay alone: carry on with the normal answer, late

        retry_after = self._rate_limited(method, args)
        if retry_after is not None:
            return _Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})

        if parse_error:
            return _Reply(200, {"ok": False, "error": parse_error})
        try:
            with self._lock:
                reply = _Reply(200, {"ok": True, **handler(args)})
        except ApiError as exc:
            return _Reply(200, {"ok": False, "error": exc.error, **exc.extra})
        call.executed = True

        failure = self._take_failure(method, "after")
        if failure is not None:  # the work is done; now its reply goes wrong
            if failure.delay:
                await asyncio.sleep(failure.delay)
            if failure.fault == "truncate":
                reply.fault = "truncate"
                return reply
            return failed_reply(failure) or reply
        return reply

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
