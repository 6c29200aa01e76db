"""Shared fixtures: a local Slack, databases (SQLite and PostgreSQL), and Tandem itself running.

Every database test runs on both backends. PostgreSQL is the server on 127.0.0.1:5432 (trust
auth); each test run creates a fresh database and drops it at the end. When it cannot be
reached the PostgreSQL half is skipped with a reason, except under CI=true, where that is a
failure: nothing skips silently in CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

import models  # noqa: F401  (registers the tables)
from bot import Tandem, build, serve
from models.db import make_engine, migrate
from settings import Settings
from tests import outbox
from tests.slack import LocalSlack, SlackSender

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get("TANDEM_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
SETTINGS_ADMIN = "UTANDEMADMIN"  # listed in TANDEM_ADMINS for the app under test
BACKENDS = ["sqlite", "postgresql"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.01, message: str = "condition"):
    """Poll for something another thread does (the outbox worker, a socket reconnect)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def at_once(*calls) -> list:
    """Run the calls on threads released together (a double click, two replicas racing) and
    return their results, in order, once all are done."""
    barrier, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(index: int, call) -> None:
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# -- databases ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres_url():
    """A fresh PostgreSQL database for this test run, dropped afterwards."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"tandem_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        reason = f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc.orig}"
        if IN_CI:
            pytest.fail(reason + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(reason)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    print(f"\n[tandem tests] PostgreSQL database {name} created")
    yield url
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory):
    """Lazily made URLs per backend, migrated once per run."""
    made: dict[str, str] = {}
    return made


def _migrated_url(request, backend: str) -> str:
    made = request.getfixturevalue("database_urls")
    if backend not in made:
        if backend == "sqlite":
            path = request.getfixturevalue("tmp_path_factory").mktemp("sqlite") / "tandem.db"
            url = f"sqlite:///{path}"
        else:
            url = request.getfixturevalue("postgres_url")
        migrate(url)
        made[backend] = url
    return made[backend]


def clear_tables(engine) -> None:
    with engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(params=BACKENDS)
def database_url(request) -> str:
    """A migrated, emptied database on each backend."""
    url = _migrated_url(request, request.param)
    engine = make_engine(url)
    clear_tables(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


# -- Slack ----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def local_slack_server():
    slack = LocalSlack()
    slack.start()
    yield slack
    slack.stop()


@pytest.fixture
def slack(local_slack_server):
    local_slack_server.reset()
    yield local_slack_server
    local_slack_server.reset()


def make_settings(slack: LocalSlack, database_url: str, **overrides) -> Settings:
    values = dict(
        slack_bot_token=slack.bot_token, slack_app_token=slack.app_token, slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url, database_url=database_url, host="127.0.0.1", port=free_port(),
        scheduler_enabled=False, outbox_sweep_seconds=0.2, log_level="WARNING", worker_threads=16,
        tandem_admins=SETTINGS_ADMIN,
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)


class RunningTandem:
    """Tandem's real server (uvicorn + Bolt AsyncApp) in a background thread."""

    current: RunningTandem | None = None  # the app of the running test (the `tandem` fixture's)

    def __init__(self, settings: Settings, mode: str = "http"):
        self.settings = settings
        self.tandem: Tandem = build(settings, mode)
        self.url = f"http://127.0.0.1:{settings.port}"
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True,
                                        name="tandem-under-test")

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        await serve(self.tandem, install_signals=False)

    @property
    def services(self):
        return self.tandem.services

    @property
    def engine(self):
        return self.tandem.services.engine

    def start(self) -> RunningTandem:
        self._thread.start()
        wait_until(lambda: self.tandem.server is not None and self.tandem.server.started, 10, message="server start")
        return self

    def stop(self) -> None:
        if self.tandem.server is not None:
            self.tandem.server.should_exit = True
        self._thread.join(10)

    def settle(self, timeout: float = 10.0) -> None:
        """Make the app quiet: listeners done, the outbox's due messages sent (tests/outbox.py)."""
        outbox.settle(self, timeout)

    def sender(self, slack: LocalSlack) -> SlackSender:
        return SlackSender(self.url + "/slack/events", SIGNING_SECRET, slack)


@pytest.fixture(scope="session")
def running_tandems(request, local_slack_server):
    # Make the PostgreSQL database first, so it is dropped only after the apps using it stop.
    with contextlib.suppress(pytest.skip.Exception):  # no PostgreSQL here (outside CI): its tests skip
        request.getfixturevalue("postgres_url")
    running: dict[str, RunningTandem] = {}
    yield running
    for app in running.values():
        app.stop()


@pytest.fixture
def tandem(request, running_tandems, database_url, slack) -> RunningTandem:
    """Tandem in HTTP mode on this test's backend, with an empty database and a quiet local Slack."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    if backend not in running_tandems:
        running_tandems[backend] = RunningTandem(make_settings(slack, database_url)).start()
    running = running_tandems[backend]
    running.services.languages.clear()  # the tables were emptied; so is what the app remembered
    running.services.people.clear()  # and Slack's users were reset
    running.services.usergroups.clear()
    RunningTandem.current = running
    yield running
    running.settle()  # let this test's work finish before the next test resets Slack and the tables
    RunningTandem.current = None


@pytest.fixture
def sender(tandem, slack) -> SlackSender:
    return tandem.sender(slack)


@pytest.fixture
def socket_tandem(slack, database_url):
    """Tandem in Socket Mode (a fresh app), once all its connections are open."""
    running = RunningTandem(make_settings(slack, database_url), mode="socket").start()
    slack.wait_for_socket(count=running.settings.socket_connections, timeout=10)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def everything(tandem: RunningTandem, slack: LocalSlack) -> tuple:
    """Every row of every table, and every Web API call and message in the local Slack."""
    with tandem.engine.connect() as connection:
        rows = {table.name: sorted(map(repr, connection.execute(sa.select(table))))
                for table in SQLModel.metadata.sorted_tables}
    conversations = {channel: slack.messages(channel) for channel in slack.conversation_ids()}
    return rows, len(slack.calls), conversations, slack.ephemerals


def assert_replay_changes_nothing(tandem: RunningTandem, slack: LocalSlack, sender: SlackSender, first) -> None:
    """Deliver the signed view_submission `first` again, byte for byte, as Slack or anyone who
    captured it may within five minutes: it gets the first answer, and nothing changes, in the
    database or in Slack (no call at all)."""
    tandem.settle()
    before = everything(tandem, slack)
    again = sender.replay(first)
    tandem.settle()
    assert (again.status, again.text) == (first.status, first.text)
    assert everything(tandem, slack) == before


# -- report -----------------------------------------------------------------------------------
def pytest_terminal_summary(terminalreporter):
    """Say how many tests ran on each database, so CI output shows PostgreSQL really ran."""
    counts = {backend: {} for backend in BACKENDS}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            for backend in BACKENDS:
                if f"[{backend}" in getattr(report, "nodeid", "") or f"-{backend}]" in getattr(report, "nodeid", ""):
                    counts[backend][outcome] = counts[backend].get(outcome, 0) + 1
    line = "; ".join(
        f"{backend}: " + (", ".join(f"{n} {o}" for o, n in sorted(c.items())) or "none")
        for backend, c in counts.items()
    )
    terminalreporter.write_line(f"database backends: {line}")


@pytest.fixture
def apps_not_sending(running_tandems):
    """Stop the running apps' outbox workers, for tests that drive a Delivery of their own."""
    for app in running_tandems.values():
        app.services.delivery.stop()
    yield
    for app in running_tandems.values():
        app.services.delivery.start()
