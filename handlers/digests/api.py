"""POST /api/metrics: points from other systems, with a bearer token (both modes).

    Authorization: Bearer $METRICS_API_TOKEN
    {"points": [{"metric": "DAU", "date": "2026-11-20", "value": 12450}, ...]}

The token is compared in constant time; a wrong or missing one is 401 with nothing read
further. Bodies over MAX_BODY are refused (413) while reading, before they are buffered.
All points are stored or none (422 names the first bad one).
"""

from __future__ import annotations

import hmac
import json

from clock import utcnow
from handlers.common import Services, zone_of
from models.db import session_scope
from models.digests import metrics
from models.errors import RuleError
from web import headers_of, read_body, send_json

MAX_BODY = 1024 * 1024
MAX_POINTS = 10_000


class MetricsApi:
    def __init__(self, services: Services):
        self.services = services
        self._team_id: str | None = None

    def team_id(self) -> str:
        if self._team_id is None:  # one workspace, one bot token: the bot's own team
            self._team_id = self.services.delivery.call("auth.test")["team_id"]
        return self._team_id

    def authorised(self, headers: dict[str, str]) -> bool:
        expected = self.services.settings.metrics_api_token
        given = headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), expected.encode())

    async def __call__(self, scope, receive, send) -> None:
        if scope["method"] != "POST":
            return await send_json(send, 405, {"error": "method_not_allowed"})
        headers = headers_of(scope)
        if not self.authorised(headers):
            return await send_json(send, 401, {"error": "invalid_token"})
        body, _size = await read_body(headers, receive, MAX_BODY)
        if body is None:
            return await send_json(send, 413, {"error": "too_large", "limit_bytes": MAX_BODY})
        try:
            points = json.loads(body)["points"]
            if not isinstance(points, list) or len(points) > MAX_POINTS:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            expected = '{"points": [{"metric", "date", "value"}, …]}'
            return await send_json(send, 400, {"error": "bad_json", "expected": expected, "max_points": MAX_POINTS})
        try:
            stored = await self.services.in_thread(self.store, points)
        except RuleError as error:
            return await send_json(send, 422, {"error": error.key.partition(".")[2], **_jsonable(error.params)})
        await send_json(send, 200, {"ok": True, "stored": stored})

    def store(self, points: list) -> int:
        team_id, now = self.team_id(), utcnow()
        with session_scope(self.services.engine) as session:
            today = now.astimezone(zone_of(self.services.workspace(session, team_id).timezone)).date()
            return metrics.store_api_points(session, team_id=team_id, points=points, today=today, now=now)


def _jsonable(params: dict) -> dict:
    return {k: v if isinstance(v, int | float | str) or v is None else str(v) for k, v in params.items()}
