"""The HTTP surface on HOST:PORT, in both modes: /healthz always, /slack/events in HTTP mode.

A plain ASGI router in front of Bolt's ASGI handler, served by uvicorn. Tandem's Bolt app is
an AsyncApp: a sync App under an ASGI server blocks the loop (bench/ack.py measures it).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

HealthCheck = Callable[[], Awaitable[tuple[bool, dict]]]


class WebApp:
    def __init__(self, *, health: HealthCheck, slack_events=None, events_path: str = "/slack/events",
                 metrics_api=None):
        self.health = health
        self.metrics_api = metrics_api  # handlers.digests.MetricsApi: POST /api/metrics
        self.slack_events = slack_events  # slack_bolt.adapter.asgi.async_handler.AsyncSlackRequestHandler
        self.events_path = events_path

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
        if path == "/healthz" and method in ("GET", "HEAD"):
            healthy, details = await self.health()
            await send_json(send, 200 if healthy else 503, details)
        elif path == self.events_path and self.slack_events is not None:
            await self.slack_events(scope, receive, send)
        elif path == "/api/metrics" and self.metrics_api is not None:
            await self.metrics_api(scope, receive, send)
        else:
            await send_json(send, 404, {"error": "not_found"})


async def send_json(send, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
