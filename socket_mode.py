"""Socket Mode over several connections at once, so that losing one loses nothing.

Slack lets an app hold up to 10 Socket Mode connections and sends each payload to one of them
("Using Socket Mode", https://docs.slack.dev/apis/events-api/using-socket-mode/). A slash command
or click that Slack sends while the app has no working connection is gone: Slack retries only
Events API envelopes. So Tandem keeps `count` connections (two by default), each one slack_sdk's
aiohttp SocketModeClient, all dispatching into the one AsyncApp, and replaces a connection that
fails while the others serve:

- a reset or a close: the socket is closed; the watch below sees it within WATCH_SECONDS (a
  close frame asks for the replacement at once);
- a connection gone silent (no FIN, no pong): aiohttp's heartbeat pings after PING_SECONDS
  without traffic and gives the socket up PING_SECONDS / 2 later, then the watch sees it;
- Slack's `disconnect` message (refresh_requested, warning): the replacement opens first and the
  old connection is closed DRAIN_SECONDS later, so that what Slack still sends on it is served.

A connection never replaces itself (slack_sdk's client would close its socket before opening the
next one, and without the pool knowing); it asks the pool, and replacing one never touches another.
"""

from __future__ import annotations

import asyncio
import logging
import time

from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

import inbound
import logs
import metrics

log = logging.getLogger("tandem.socket_mode")

# The heartbeat: a silent connection is given up at most 1.5 × PING_SECONDS after its last frame.
# Shorter would give up on a healthy connection whenever the event loop stalls for a second.
PING_SECONDS = 2.0
WATCH_SECONDS = 0.2
DRAIN_SECONDS = 10.0  # Slack warns "about 10 seconds" before it closes a connection
CONNECT_SECONDS = 10.0  # a connection not open by then is dropped and tried again with a new URL


class Connection(SocketModeClient):
    """One Socket Mode connection: slack_sdk's aiohttp client, except that where it would replace
    its own socket (a `disconnect` message, a close frame, failed pings) it asks the pool."""

    def __init__(self, pool: SocketModePool, **kwargs):
        super().__init__(**kwargs)
        self.pool = pool
        self.greeted = False  # Slack said hello: it accepted this connection
        self.message_listeners.append(self._on_message)

    async def connect_to_new_endpoint(self, force: bool = False) -> None:
        self.pool.replace(self)

    async def _on_message(self, _client, message: dict, _raw: str | None) -> None:
        self.greeted = self.greeted or message.get("type") == "hello"


class SocketModePool:
    def __init__(self, app: AsyncApp, app_token: str, web_client: AsyncWebClient, *, count: int = 2,
                 ping_seconds: float = PING_SECONDS):
        self.app = app
        self.app_token = app_token
        self.web_client = web_client
        self.count = count
        self.ping_seconds = ping_seconds
        self.active: list[Connection] = []  # the connections Tandem counts on
        self._retiring: set[Connection] = set()  # replaced, closed after their drain
        self._tasks: set[asyncio.Task] = set()
        self._closing = False

    async def start(self) -> None:
        self.active = list(await asyncio.gather(*(self._open() for _ in range(self.count))))
        self._spawn(self._watch())

    async def live(self) -> int:
        """How many connections work now (for /healthz)."""
        return sum([await connection.is_connected() for connection in list(self.active)])

    def replace(self, connection: Connection) -> None:
        if self._closing or connection not in self.active:
            return  # already being replaced
        self.active.remove(connection)
        self._retiring.add(connection)
        self._spawn(self._replace(connection))

    async def close(self) -> None:
        self._closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)  # a connection being opened closes itself
        await asyncio.gather(*(connection.close() for connection in [*self.active, *self._retiring]))

    async def _replace(self, old: Connection) -> None:
        still_serving = await old.is_connected()  # Slack asked for a refresh; the socket still works
        log.log(logging.INFO if still_serving else logging.WARNING, "replacing Socket Mode connection %s (%s)",
                await old.session_id(), "refresh asked" if still_serving else "it failed")
        if not old.greeted:  # refused (too_many_websockets): don't hammer Slack with new ones
            await asyncio.sleep(self.ping_seconds)
        self.active.append(await self._open())
        if still_serving:
            await asyncio.sleep(DRAIN_SECONDS)
        self._retiring.discard(old)
        await old.close()

    async def _open(self) -> Connection:
        while True:
            connection = Connection(self, app_token=self.app_token, web_client=self.web_client,
                                    ping_interval=self.ping_seconds, logger=log)
            connection.socket_mode_request_listeners.append(self._dispatch)
            try:
                # connect() retries by itself, but always with the same URL; a fresh one after a while.
                await asyncio.wait_for(connection.connect(), CONNECT_SECONDS)
                return connection
            except TimeoutError:
                log.warning("no Socket Mode connection after %ss; trying a new URL", CONNECT_SECONDS)
                await connection.close()
            except asyncio.CancelledError:
                await connection.close()
                raise

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            for connection in list(self.active):
                if not await connection.is_connected():
                    self.replace(connection)

    async def _dispatch(self, connection: SocketModeClient, request: SocketModeRequest) -> None:
        """Every connection's payloads go to the one app; the ack goes back on the connection
        the payload came on (the only one Slack is sure to read it from). A payload that is not one
        Slack sends is acknowledged and dropped (inbound.py)."""
        if inbound.socket_refusal(request):
            metrics.ACKS.labels("unverified", "refused").inc()
            await connection.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
            return
        started = time.time()
        logs.bind(request_id=request.envelope_id)  # this task's log lines name the envelope
        response = await run_async_bolt_app(self.app, request)
        await send_async_response(connection, request, response, started)

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
