"""The sandbox: the real Tandem (handlers, database, scheduler, outbox) against the built-in local
Slack (localslack/), with a page at /sandbox that looks and behaves enough like Slack to try every
flow. `./tandem run` starts it when no Slack credentials are set and no mode was asked for;
`./tandem sandbox [--empty]` starts it on purpose.

What keeps it apart from a production Tandem:
- its own SQLite file (SANDBOX_DATABASE, default sandbox.db), made afresh at every start (the
  local Slack's messages live in memory, and a database that outlived them would point at
  messages that no longer exist); DATABASE_URL is never used;
- the local Slack's tokens and a signing secret made up at start; real credentials are ignored;
- HTTP mode against the local Slack only, served on 127.0.0.1 unless HOST says otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import clock
from localslack import LocalSlack, SlackSender
from models.db import migrate
from sandbox import travel, world
from sandbox.page import SandboxPage
from settings import Settings

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("tandem.sandbox")
SETTLE_SECONDS = 5.0  # longest an action waits for Tandem's own messages before the page looks again


@dataclass
class Sandbox:
    slack: LocalSlack
    settings: Settings
    database: Path
    tandem: object = None  # bot.Tandem, once built
    page: SandboxPage | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.settings.host in ("0.0.0.0", "") else self.settings.host
        return f"http://{host}:{self.settings.port}/sandbox"


def sandbox_settings(settings: Settings, slack: LocalSlack, database: Path) -> Settings:
    """The sandbox's settings: the user's, with everything that could reach a real Slack or a real
    database replaced. HOST stays 127.0.0.1 unless the environment set it on purpose."""
    host = settings.host if "host" in settings.model_fields_set else "127.0.0.1"
    return settings.model_copy(update=dict(
        slack_bot_token=slack.bot_token, slack_app_token=slack.app_token,
        slack_signing_secret=secrets.token_hex(16), slack_api_url=slack.api_url, tandem_mode="http",
        database_url=f"sqlite:///{database}", host=host, tandem_admins=world.ADA.user_id,
        metrics_api_token="", outbox_sweep_seconds=1.0,
    ))


def prepare(settings: Settings, *, empty: bool) -> Sandbox:
    """Start the local Slack, make the sandbox's database and seed both (unless `empty`)."""
    database = Path(settings.sandbox_database).resolve()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    slack = LocalSlack(team_id=world.TEAM_ID, team_domain="tandem-sandbox", seed=False, epoch=travel.epoch)
    slack.start()
    world.people_and_channels(slack)
    box = Sandbox(slack=slack, settings=sandbox_settings(settings, slack, database), database=database)
    fresh_database(database)
    if not empty:
        world.seed_database(box.settings.database_url, now=clock.utcnow())
    return box


def fresh_database(database: Path) -> None:
    """A migrated, empty SQLite file at `database`. Migrating takes a second or two; so the first start
    keeps a migrated copy (per set of migrations) next to it, and later starts copy that instead."""
    versions = sorted((ROOT / "migrations" / "versions").glob("*.py"))
    key = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in versions)).hexdigest()[:16]
    template = database.with_name(f".{database.name}.migrated-{key}")
    if not template.exists():
        migrate(f"sqlite:///{database}")
        _copy_sqlite(database, template)
        return
    _copy_sqlite(template, database)


def _copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy whatever the source's journal mode."""
    partial = target.with_name(target.name + ".partial")
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(partial)) as dst:
        src.backup(dst)
    os.replace(partial, target)


def attach(box: Sandbox, tandem) -> None:
    """Give the built Tandem its page (served by its WebApp at /sandbox)."""
    box.tandem = tandem
    sender = SlackSender(f"http://127.0.0.1:{box.settings.port}/slack/events", box.settings.slack_signing_secret,
                         box.slack)
    box.page = SandboxPage(slack=box.slack, sender=sender, services=tandem.services, scheduler=tandem.scheduler,
                           team_id=world.TEAM_ID, people=[p.user_id for p in world.PEOPLE],
                           settle=lambda: settle(tandem))
    tandem.sandbox = box.page


def settle(tandem, timeout: float = SETTLE_SECONDS) -> None:
    """Wait until Tandem is quiet (listeners done, the outbox's due messages sent), at most `timeout`,
    so the page shows an action's results at once. Called from a worker thread, never the loop."""
    loop, deadline = tandem.loop, time.monotonic() + timeout
    while time.monotonic() < deadline:
        if loop is not None:
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(timeout)
        if not tandem.services.busy:
            tandem.services.delivery.drain()
            if not tandem.services.busy:
                return
        time.sleep(0.01)


def banner(box: Sandbox, *, empty: bool, why: str) -> str:
    lines = [
        "",
        "  Tandem sandbox" + (" (empty workspace)" if empty else " (demo workspace)"),
        f"  {why}",
        "",
        f"  Open {box.url}",
        "",
        "  A local Slack runs the real Tandem here; nothing leaves this machine. Its data is in",
        f"  {box.database} (made afresh at every start; never your DATABASE_URL).",
        "",
        "  To connect a real workspace: create the app from manifest.yaml at api.slack.com/apps,",
        "  put SLACK_BOT_TOKEN and SLACK_APP_TOKEN in .env (see README), then ./tandem run.",
        "",
    ]
    return "\n".join(lines)


def run(settings: Settings, *, empty: bool, why: str) -> int:
    """The sandbox: the real Tandem (bot.build, bot.serve) in HTTP mode against the built-in local Slack."""
    from bot import build, serve  # bot imports this module only when the sandbox is asked for

    box = prepare(settings, empty=empty)
    try:
        tandem = build(box.settings, "http")
        attach(box, tandem)
        asyncio.run(serve(tandem, on_started=lambda: print(banner(box, empty=empty, why=why), flush=True)))
    finally:
        box.slack.stop()
    return 0
