"""Prometheus metrics: what an operator watches (README → Metrics lists each, with alert rules).

Counters and histograms are process-wide (prometheus-client's default registry). When several
worker processes serve one port (gunicorn), set PROMETHEUS_MULTIPROC_DIR to an empty directory
shared by them: prometheus-client then keeps the values in files there and `render()` adds up
every process's (https://prometheus.github.io/client_python/multiprocess/).

What the database knows (the outbox's state, the pool) is read when /metrics is scraped, by a
collector of the app that serves it (`StateCollector`), so every replica reports the same truth
and nothing has to be kept in step by hand.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

import logs

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
ACK_LIMIT = 3.0  # seconds Slack waits for an ack

ACK_SECONDS = Histogram("tandem_ack_seconds", "Time from a Slack payload's arrival to its ack, by kind.",
                        ["kind"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5))
ACKS = Counter("tandem_acks", "Slack payloads acked, by kind and outcome (ok, refused, error).", ["kind", "outcome"])
ACKS_LATE = Counter("tandem_acks_late", "Acks later than Slack's 3 s (Slack showed the user an error).", ["kind"])
SLACK_CALLS = Counter("tandem_slack_calls", "Web API calls by method and result (ok, a Slack error code, 429, "
                      "5xx, timeout, connection).", ["method", "result"])
RATE_LIMITED_SECONDS = Counter("tandem_slack_rate_limited_seconds", "Seconds a method was closed by Slack's 429 "
                               "(Retry-After).", ["method"])
TOKEN_REFUSED = Gauge("tandem_slack_token_refused", "1 while Slack refuses the bot token (token_revoked, "
                      "invalid_auth, account_inactive): nothing is sent.", multiprocess_mode="max")
SCHEDULER_ACTIVE = Gauge("tandem_scheduler_active", "1 when this process runs the scheduled jobs, 0 on standby.",
                         multiprocess_mode="livesum")
SCHEDULER_RUNS = Counter("tandem_scheduler_runs", "Scheduled runs by job kind and state (started, finished, "
                         "failed).", ["job", "state"])
SCHEDULER_LATENESS = Histogram("tandem_scheduler_lateness_seconds", "How long after its due time a scheduled run "
                               "started.", ["job"], buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600))
SCHEDULER_CATCH_UP = Counter("tandem_scheduler_catch_up_runs", "Runs that fell due while no scheduler ran, done "
                             "after a takeover.", ["job"])
SQLITE_WRITE_WAIT = Histogram("tandem_sqlite_write_wait_seconds", "Wait for SQLite's write turn.",
                              buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10))


KINDS = {"block_actions": "action", "interactive_message": "action", "view_submission": "view",
         "view_closed": "view", "shortcut": "shortcut", "message_action": "shortcut", "event_callback": "event",
         "block_suggestion": "options"}


def payload_kind(body: dict) -> str:
    """command, action, view, shortcut, event (or options, other) from a Slack payload."""
    if "command" in body:
        return "command"
    return KINDS.get(body.get("type"), "other")


@functools.cache
def child(metric, *labels: str):
    """`metric.labels(*labels)`, looked up once: labels() takes a lock and builds a key on every call,
    and the ack path asks for the same few children every time."""
    return metric.labels(*labels)


def instrument(app) -> None:
    """Count and time every ack: wraps the AsyncApp's dispatch, which both the HTTP handler and the
    Socket Mode pool call, and which returns as soon as the listener acked."""
    dispatch = app.async_dispatch

    async def timed_dispatch(req):
        started = time.perf_counter()
        body = req.body if isinstance(req.body, dict) else {}
        kind = payload_kind(body)
        logs.bind_payload(body, kind)
        response = await dispatch(req)
        seconds = time.perf_counter() - started
        child(ACK_SECONDS, kind).observe(seconds)
        outcome = "ok" if response.status < 400 else "refused" if response.status < 500 else "error"
        child(ACKS, kind, outcome).inc()
        if seconds > ACK_LIMIT:
            child(ACKS_LATE, kind).inc()
        return response

    app.async_dispatch = timed_dispatch


def job_kind(key: str) -> str:
    """A job's kind from its key ("standup:12:prompt" → "standup"): labels stay few."""
    return key.split(":", 1)[0]


def slack_result(error: BaseException | None) -> str:
    """The `result` label of a Web API call's outcome."""
    from slack_sdk.errors import SlackApiError

    if error is None:
        return "ok"
    if isinstance(error, SlackApiError):
        status = error.response.status_code
        if status == 429:
            return "429"
        if status >= 500:
            return "5xx"
        return str(error.response.get("error") or status)[:64]
    if isinstance(error, TimeoutError) or "timed out" in str(error).lower():
        return "timeout"
    return "connection"


def pool_state(pool) -> dict[str, tuple[str, float]]:
    """The database pool's gauges (models.db.CountingPool): once in_use reaches capacity, threads wait."""
    return {"tandem_db_pool_in_use": ("Database connections in use from the pool.", pool.checkedout()),
            "tandem_db_pool_capacity": ("Connections the pool may hold (size + overflow).", pool.capacity()),
            "tandem_db_pool_waiting": ("Threads waiting for a connection from the pool now.", pool.waiting)}


class StateCollector:
    """Gauges read from the database and the pool when scraped (`read` returns name → (help, value))."""

    def __init__(self, read: Callable[[], dict[str, tuple[str, float]]]):
        self.read = read

    def collect(self):
        for name, (help_text, value) in self.read().items():
            family = GaugeMetricFamily(name, help_text)
            family.add_metric([], value)
            yield family


def render(state: StateCollector | None) -> tuple[bytes, str]:
    """The /metrics body and its content type."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        body = generate_latest(REGISTRY)
    if state is not None:
        own = CollectorRegistry(auto_describe=False)
        own.register(state)
        body += generate_latest(own)
    return body, CONTENT_TYPE_LATEST


class Timer:
    """`with Timer() as t: …` then t.seconds."""

    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started
