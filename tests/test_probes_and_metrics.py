"""Probes (/livez, /readyz) and /metrics, read through the real server after known traffic."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from sqlmodel import select

import probes
from clock import utcnow
from localslack.payloads import action
from models.db import session_scope
from models.outbox import MAX_ATTEMPTS, OutboxMessage
from tests.conftest import SETTINGS_ADMIN
from tests.outbox import drained
from tests.slack import GENERAL


def get(app, path: str) -> tuple[int, str, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(app.url + path, timeout=5) as response:
            return response.status, response.read().decode(), time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), time.monotonic() - started


def scrape(app) -> dict[str, float]:
    """Every sample of /metrics: 'name{labels}' → value."""
    status, text, _ = get(app, "/metrics")
    assert status == 200
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def sample(samples: dict, name: str, **labels) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when none)."""
    total = 0.0
    for key, value in samples.items():
        metric, _, rest = key.partition("{")
        found = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if metric == name and all(found.get(k) == v for k, v in labels.items()):
            total += value
    return total


def test_probes_answer_at_once_while_the_write_turn_and_every_worker_are_taken(tandem):
    """A large fan-out holds SQLite's write turn and keeps the worker threads busy: the probes
    still answer, at once, from connections and threads of their own."""
    release = threading.Event()
    holding = threading.Event()

    def hold_the_write_turn():
        with tandem.engine.begin() as connection:  # SQLite: BEGIN IMMEDIATE, the write turn
            connection.exec_driver_sql("SELECT 1")
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_write_turn)
    holder.start()
    busy = [tandem.services.executor.submit(release.wait, 10) for _ in range(tandem.settings.worker_threads)]
    try:
        assert holding.wait(5)
        for path in ("/livez", "/readyz", "/healthz"):
            status, body, seconds = get(tandem, path)
            assert status == 200, (path, body)
            assert seconds < 1.0, (path, seconds)
        ready = json.loads(get(tandem, "/readyz")[1])
        assert ready == {"database": "ok", "slack": "http", "token": "ok"}
        assert get(tandem, "/livez")[1] == '{"status": "ok"}'
    finally:
        release.set()
        holder.join()
        for future in busy:
            future.result()


def test_readiness_says_when_migrations_are_behind(tmp_path, database_url):
    import asyncio

    assert asyncio.run(probes.Readiness(database_url).database(1.0)) == "ok"
    empty = f"sqlite:///{tmp_path / 'empty.db'}"  # no migration applied
    assert asyncio.run(probes.Readiness(empty).database(1.0)) == "migrations_behind"
    down = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # nothing listens there
    readiness = probes.Readiness.__new__(probes.Readiness)
    readiness.heads, readiness._engine, readiness._checker = set(), probes._engine(down), probes.Checker("t")
    assert asyncio.run(readiness.database(1.0)) == "unreachable"


def test_readyz_in_socket_mode_needs_a_connection(socket_tandem):
    status, body, _ = get(socket_tandem, "/readyz")
    assert (status, json.loads(body)) == (200, {"database": "ok", "slack": "connected", "slack_connections": 2,
                                                "token": "ok"})


def test_readyz_is_not_ready_while_socket_mode_cannot_reconnect_and_ready_again_after(socket_tandem, slack):
    slack.fail_next("apps.connections.open", times=1000, status=503)  # Slack's side down for a while
    slack.socket_disconnect(reason="refresh_requested", grace=0)
    deadline = time.monotonic() + 10
    while get(socket_tandem, "/readyz")[0] != 503 and time.monotonic() < deadline:
        time.sleep(0.05)
    status, body, _ = get(socket_tandem, "/readyz")
    assert (status, json.loads(body)["slack"], json.loads(body)["slack_connections"]) == (503, "disconnected", 0)
    assert get(socket_tandem, "/livez")[0] == 200  # alive: an orchestrator must not restart it for this
    slack.clear_failures()
    deadline = time.monotonic() + 20
    while get(socket_tandem, "/readyz")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert get(socket_tandem, "/readyz")[0] == 200


def test_acks_are_counted_and_timed_by_kind_and_outcome(tandem, sender, slack):
    slack.add_user("UEN", locale="en-US")
    before = scrape(tandem)
    for _ in range(5):
        assert sender.command("/tandem", "help", user_id="UEN").status == 200
    sender.action("UEN", [action("outbox_retry", value="0")])  # a click (not an admin: refused in words, acked ok)
    tandem.settle()
    after = scrape(tandem)
    assert sample(after, "tandem_acks_total", kind="command", outcome="ok") - \
        sample(before, "tandem_acks_total", kind="command", outcome="ok") == 5
    assert sample(after, "tandem_ack_seconds_count", kind="command") - \
        sample(before, "tandem_ack_seconds_count", kind="command") == 5
    assert sample(after, "tandem_acks_total", kind="action", outcome="ok") - \
        sample(before, "tandem_acks_total", kind="action", outcome="ok") == 1
    assert sample(after, "tandem_acks_late_total") == sample(before, "tandem_acks_late_total")
    assert sample(after, "tandem_slack_calls_total", method="users.info", result="ok") > \
        sample(before, "tandem_slack_calls_total", method="users.info", result="ok")


def test_every_slack_call_500_fails_a_message_for_good_and_a_retry_brings_the_count_to_zero(tandem, sender, slack):
    slack.add_user(SETTINGS_ADMIN, name="ops-lead")
    before = scrape(tandem)
    assert sample(before, "tandem_outbox_failed") == 0
    # Slack answers every post 500 (the lookups for an earlier attempt still answer: with them 500 too,
    # slack_sdk's own retries of those reads make the test slow and change nothing here).
    slack.fail_next("chat.postMessage", times=1000, status=500)
    with session_scope(tandem.engine) as session:
        tandem.services.delivery.queue(session, key="notice:storm", team_id="T0TEST", method="chat.postMessage",
                                       now=utcnow(), channel=GENERAL, text="after the storm")
    later = utcnow()
    for _ in range(MAX_ATTEMPTS):  # each attempt once its back-off has passed (the clock travels)
        later += timedelta(hours=2)
        tandem.services.delivery.drain(now=later)
    assert tandem.services.delivery.token_refused is None
    during = scrape(tandem)
    assert sample(during, "tandem_outbox_failed") == 1  # the alert: tandem_outbox_failed > 0
    assert sample(during, "tandem_outbox_pending") == 0
    assert sample(during, "tandem_slack_calls_total", method="chat.postMessage", result="5xx") - \
        sample(before, "tandem_slack_calls_total", method="chat.postMessage", result="5xx") >= 1

    slack.clear_failures()  # Slack is back; an admin retries from /tandem outbox
    listing = sender.command("/tandem", "outbox", user_id=SETTINGS_ADMIN).json()
    assert "notice:storm" in str(listing["blocks"])
    with session_scope(tandem.engine) as session:
        message_id = session.exec(select(OutboxMessage.id).where(OutboxMessage.key == "notice:storm")).one()
    sender.action(SETTINGS_ADMIN, [action("outbox_retry", value=str(message_id))])
    drained(lambda: [m for m in slack.messages(GENERAL) if m["text"] == "after the storm"], "the retried post")
    after = scrape(tandem)
    assert sample(after, "tandem_outbox_failed") == 0
    assert sample(after, "tandem_outbox_pending") == 0 and sample(after, "tandem_outbox_oldest_pending_seconds") == 0


def test_the_oldest_pending_message_ages(tandem, apps_not_sending):
    with session_scope(tandem.engine) as session:
        tandem.services.delivery.queue(session, key="notice:old", team_id="T0TEST", method="chat.postMessage",
                                       now=utcnow() - timedelta(minutes=7), channel=GENERAL, text="stuck")
    samples = scrape(tandem)
    assert sample(samples, "tandem_outbox_pending") == 1
    assert 7 * 60 <= sample(samples, "tandem_outbox_oldest_pending_seconds") < 8 * 60  # the alert: > 300
    with session_scope(tandem.engine) as session:  # leave nothing due for the next test
        session.exec(select(OutboxMessage)).one().status = "dropped"


@pytest.mark.parametrize("path", ["/metrics", "/livez", "/readyz"])
def test_probes_and_metrics_refuse_other_methods_plainly(tandem, path):
    request = urllib.request.Request(tandem.url + path, method="POST", data=b"")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 404


def test_every_metric_the_readme_documents_is_served(tandem, repo_root):
    readme = (repo_root / "README.md").read_text()
    table = readme.split("### Metrics", 1)[1].split("Alert rules", 1)[0]
    documented = set(re.findall(r"^\| `(tandem_\w+)`", table, re.MULTILINE))
    status, text, _ = get(tandem, "/metrics")
    served = {re.sub(r"_total$", "", name) for name in re.findall(r"^# HELP (\w+)", text, re.MULTILINE)}
    expected = {re.sub(r"_total$", "", name) for name in documented}
    assert len(documented) >= 15 and expected <= served, expected - served


def test_several_worker_processes_add_up_with_prometheus_multiproc_dir(tmp_path, repo_root):
    """gunicorn-style: each process counts in the shared directory; /metrics in any of them shows the sum."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = "import metrics; metrics.ACKS.labels('command', 'ok').inc({n}); metrics.TOKEN_REFUSED.set({refused})"
    for n, refused in ((2, 0), (3, 1)):  # two workers
        subprocess.run([sys.executable, "-c", count.format(n=n, refused=refused)], cwd=repo_root, env=env,
                       check=True, timeout=60)
    shown = subprocess.run([sys.executable, "-c", "import metrics; print(metrics.render(None)[0].decode())"],
                           cwd=repo_root, env=env, check=True, timeout=60, capture_output=True, text=True).stdout
    assert 'tandem_acks_total{kind="command",outcome="ok"} 5.0' in shown
    assert "tandem_slack_token_refused 1.0" in shown


def test_a_429_and_the_time_it_closed_the_method_are_counted(tandem, slack):
    before = scrape(tandem)
    slack.fail_next("auth.test", status=429, retry_after=1)  # Slack gives whole seconds
    tandem.services.delivery.call("auth.test")  # slack_sdk waits Retry-After, then asks again: ok
    after = scrape(tandem)

    def grew(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("tandem_slack_calls_total", method="auth.test", result="429") == 1
    assert grew("tandem_slack_calls_total", method="auth.test", result="ok") == 1
    assert 0.9 <= grew("tandem_slack_rate_limited_seconds_total", method="auth.test") <= 1.1


def test_payloads_refused_before_bolt_are_counted(tandem):
    before = scrape(tandem)
    request = urllib.request.Request(tandem.url + "/slack/events", data=b"command=%2Ftandem", method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 401
    after = scrape(tandem)
    assert sample(after, "tandem_acks_total", kind="unverified", outcome="refused") - \
        sample(before, "tandem_acks_total", kind="unverified", outcome="refused") == 1


def test_threads_waiting_for_a_pool_connection_are_counted(database_url):
    """The pool /metrics reports (tandem_db_pool_waiting) counts a thread while it waits for a connection.
    A pool of one here: holding all of the app's would take PostgreSQL connections other runs need."""
    import sqlalchemy as sa

    from models.db import CountingPool

    engine = sa.create_engine(database_url, poolclass=CountingPool, pool_size=1, max_overflow=0, pool_timeout=10)
    held = engine.connect()
    waiter = threading.Thread(target=lambda: engine.connect().close())
    try:
        waiter.start()
        deadline = time.monotonic() + 5
        while engine.pool.waiting != 1:
            assert time.monotonic() < deadline, "the waiting thread never showed"
            time.sleep(0.01)
        assert engine.pool.checkedout() == 1
    finally:
        held.close()
        waiter.join(10)
        engine.dispose()
    assert engine.pool.waiting == 0


def test_the_app_reports_its_pool(tandem):
    samples = scrape(tandem)
    pool = tandem.engine.pool
    assert sample(samples, "tandem_db_pool_capacity") == pool.size() + pool._max_overflow
    assert sample(samples, "tandem_db_pool_waiting") == 0
