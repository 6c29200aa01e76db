"""The HTTP surface on HOST:PORT, in both modes: /livez, /readyz, /healthz and /metrics always,
/slack/events in HTTP mode, and /sandbox in the sandbox (sandbox/page.py).

A plain ASGI router in front of Bolt's ASGI handler, served by uvicorn. Tandem's Bolt app is
an AsyncApp: a sync App under an ASGI server blocks the loop (bench/ack.py measures it).

/slack/events is guarded before Bolt reads anything: a body over MAX_BODY_BYTES is refused with
413 from its Content-Length, or while it streams in, without reading the rest; then inbound.py
checks the signature (401) and the payload's shape (400). A refusal is one short log line: the
body is never logged (Bolt's own signature check would log it whole). What passes goes to the
AsyncApp's dispatch as the payload inbound.py parsed: each request is verified and parsed once.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import inbound
import metrics

HealthCheck = Callable[[], Awaitable[tuple[bool, dict]]]
# Slack's payloads are far smaller: the largest Tandem can get, a standup answer modal with ten full
# answers in Chinese, submitted (values and the view's own text, \uXXXX then %-encoded), is ~0.35 MB.
MAX_BODY_BYTES = 1024 * 1024


class WebApp:
    def __init__(self, *, health: HealthCheck, bolt=None, events_path: str = "/slack/events",
                 metrics_api=None, signing_secret: str = "", ready: HealthCheck | None = None,
                 metrics: Callable[[], Awaitable[tuple[bytes, str]]] | None = None, sandbox=None):
        self.health = health
        self.ready = ready  # /readyz: may this replica take traffic?
        self.metrics = metrics  # /metrics: Prometheus's text format
        self.signing_secret = signing_secret
        self.metrics_api = metrics_api  # handlers.digests.MetricsApi: POST /api/metrics
        self.bolt = bolt  # the AsyncApp, in HTTP mode
        self.events_path = events_path
        self.sandbox = sandbox  # sandbox.page.SandboxPage: /sandbox and below, in the sandbox only

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/livez" and method in ("GET", "HEAD"):
            await send_json(send, 200, {"status": "ok"})  # the process serves: nothing else is asked
        elif path == "/healthz" and method in ("GET", "HEAD"):
            healthy, details = await self.health()
            await send_json(send, 200 if healthy else 503, details)
        elif path == "/readyz" and self.ready is not None and method in ("GET", "HEAD"):
            ready, details = await self.ready()
            await send_json(send, 200 if ready else 503, details)
        elif path == "/metrics" and self.metrics is not None and method == "GET":
            body, content_type = await self.metrics()
            await send(_start(200, content_type.encode(), len(body)))
            await send({"type": "http.response.body", "body": body})
        elif path == self.events_path and self.bolt is not None and method == "POST":
            await self.guarded_events(scope, receive, send)
        elif self.sandbox is not None and (path == "/sandbox" or path.startswith("/sandbox/")):
            await self.sandbox(scope, receive, send)
        elif path == "/api/metrics" and self.metrics_api is not None:
            await self.metrics_api(scope, receive, send)
        else:
            await send_json(send, 404, {"error": "not_found"})

    async def guarded_events(self, scope, receive, send) -> None:
        headers = headers_of(scope)
        source = (scope.get("client") or ("?",))[0]
        body, size = await read_body(headers, receive, MAX_BODY_BYTES)
        if body is None:
            refusal = inbound.Refusal(413, f"the body is over the limit of {MAX_BODY_BYTES} bytes")
        else:
            payload, refusal = inbound.http_payload(headers, body, self.signing_secret)
        if refusal:
            inbound.log_refusal(refusal, size=size, source=source)
            metrics.child(metrics.ACKS, "unverified", "refused").inc()
            await send_json(send, refusal.status, {"error": refusal.reason})
            return
        request = inbound.VerifiedRequest(payload, raw_body=body.decode(), headers=headers,
                                          query=scope.get("query_string", b"").decode("latin-1"))
        response = await self.bolt.async_dispatch(request)
        await send_bolt_response(send, response)


def headers_of(scope) -> dict[str, str]:
    """An ASGI request's headers by lower-case name."""
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers") or []}


async def read_body(headers: dict[str, str], receive, limit: int) -> tuple[bytes | None, int | str]:
    """(body, its size) or (None, what was known of its size) once it is over `limit`: by the
    declared Content-Length before reading anything, else as soon as the chunks read pass it."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None, int(declared)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), size
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None, f"over {limit}"
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks), size


async def send_bolt_response(send, response) -> None:
    """A BoltResponse as ASGI messages (what slack_bolt.adapter.asgi does, without its re-parse)."""
    body = response.body.encode()
    headers = [(name.encode(), value.encode())
               for name, values in response.headers.items() if name.lower() != "content-length" for value in values]
    await send({"type": "http.response.start", "status": response.status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def send_json(send, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    await send(_start(status, b"application/json", len(data)))
    await send({"type": "http.response.body", "body": data})


def _start(status: int, content_type: bytes, length: int) -> dict:
    return {"type": "http.response.start", "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(length).encode())]}
