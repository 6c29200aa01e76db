"""POST /api/metrics: a bearer token compared in constant time, a size limit, all points or none."""

import asyncio
import http.client
import json
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from sqlmodel import select

from clock import utcnow
from handlers.digests.api import MAX_BODY, MetricsApi
from models.db import session_scope
from models.digests import MetricPoint
from tests.digests.conftest import define

TOKEN = "metrics-token-0123456789"


@pytest.fixture
def api(tandem, slack, monkeypatch):
    monkeypatch.setattr(tandem.settings, "metrics_api_token", TOKEN)
    define(tandem.engine, slack.team_id, ["DAU"])
    define(tandem.engine, slack.team_id, ["NPS"])

    def post(body, token: str | None = TOKEN) -> tuple[int, dict]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(tandem.url + "/api/metrics", data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    return post


def stored(tandem) -> list[tuple]:
    with session_scope(tandem.engine) as session:
        return sorted((p.day.isoformat(), p.value, p.source) for p in session.exec(select(MetricPoint)))


GOOD = {"points": [{"metric": "DAU", "date": "2026-11-02", "value": 12450},
                   {"metric": "nps", "date": "2026-11-02", "value": "41.5"}]}


def test_points_with_the_right_token_are_stored(api, tandem):
    assert api(GOOD) == (200, {"ok": True, "stored": 2})
    assert stored(tandem) == [("2026-11-02", 41.5, "api"), ("2026-11-02", 12450.0, "api")]


@pytest.mark.parametrize("token", [None, "", "wrong-token", TOKEN + "x", TOKEN[:-1]])
def test_a_wrong_or_missing_token_is_401_and_nothing_is_stored(api, tandem, token):
    assert api(GOOD, token=token) == (401, {"error": "invalid_token"})
    assert stored(tandem) == []


def test_no_configured_token_refuses_everyone(api, tandem, monkeypatch):
    monkeypatch.setattr(tandem.settings, "metrics_api_token", "")
    assert api(GOOD, token="") == (401, {"error": "invalid_token"})
    assert stored(tandem) == []


def test_one_bad_point_stores_none(api, tandem):
    future = (utcnow().date() + timedelta(days=2)).isoformat()
    cases = [({"metric": "WAU", "date": "2026-11-02", "value": 1}, {"error": "unknown_metric", "name": "WAU"}),
             ({"metric": "DAU", "date": "2026-11-02", "value": "n/a"}, {"error": "not_a_number", "given": "n/a"}),
             ({"metric": "DAU", "date": future, "value": 1}, {"error": "future_date", "given": future}),
             ({"metric": "DAU", "value": 1}, {"error": "api_bad_point"})]
    for point, expected in cases:
        status, body = api({"points": [GOOD["points"][0], point]})
        assert status == 422 and body["index"] == 1
        assert {k: body[k] for k in expected} == expected
    assert api(b"{not json") [0] == 400
    assert stored(tandem) == []


def test_an_oversized_body_is_refused_before_it_is_read(api, tandem):
    connection = http.client.HTTPConnection("127.0.0.1", tandem.settings.port, timeout=10)
    connection.putrequest("POST", "/api/metrics")
    for name, value in (("Authorization", f"Bearer {TOKEN}"), ("Content-Type", "application/json"),
                        ("Content-Length", str(50 * 1024 * 1024))):
        connection.putheader(name, value)
    connection.endheaders()  # 50 MB announced, none sent: the answer comes anyway
    response = connection.getresponse()
    assert (response.status, json.loads(response.read())) == (413, {"error": "too_large", "limit_bytes": MAX_BODY})
    connection.close()
    assert stored(tandem) == []


def test_a_streamed_body_is_cut_off_at_the_limit(api, tandem):
    """Without a Content-Length the body is counted as it arrives; reading stops past the limit."""
    chunks = [{"type": "http.request", "body": b"x" * 65536, "more_body": True}] * 40
    received, sent = [], []

    async def receive():
        received.append(1)
        return chunks[len(received) - 1]

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/metrics",
             "headers": [(b"authorization", f"Bearer {TOKEN}".encode())]}
    asyncio.run(MetricsApi(tandem.services)(scope, receive, send))
    assert sent[0]["status"] == 413 and len(received) == MAX_BODY // 65536 + 1
    assert stored(tandem) == []
