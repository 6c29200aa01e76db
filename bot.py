"""Tandem's composition root: settings → engine → App → handlers → scheduler → run.

    python bot.py run [--mode socket|http]   migrate, then serve (Socket Mode is the default)
    python bot.py migrate                    apply database migrations only
    python bot.py check                      show which settings are missing, then exit
    python bot.py sandbox [--empty]          the sandbox: Tandem against a local Slack, a page at /sandbox

`run` without Slack credentials and without an explicit mode (--mode, TANDEM_MODE) starts the
sandbox instead of failing; with an explicit mode, missing credentials still exit 2.

Use ./tandem instead of python bot.py on a fresh machine: it makes the virtualenv first.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pydantic
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

import handlers
import logs
import metrics
import outbox_cli
import probes
from delivery import Delivery
from models.db import DatabaseProbe, make_engine, migrate
from scheduler import Scheduler
from settings import ConfigurationError, Mode, Settings, missing_credentials
from socket_mode import SocketModePool
from web import WebApp

ROOT = Path(__file__).resolve().parent
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
READY_WAIT = 1.0  # seconds /readyz gives the database (and /metrics its outbox query)
HEALTH_WAIT = 0.5  # seconds /healthz waits for the database and the scheduler's lock, so it answers within 1 s
log = logging.getLogger("tandem")


@dataclass
class Tandem:
    settings: Settings
    mode: Mode
    app: AsyncApp
    services: handlers.Services
    scheduler: Scheduler
    probe: DatabaseProbe
    readiness: probes.Readiness
    outbox_state: probes.OutboxState
    socket: SocketModePool | None = None
    server: object = None  # the uvicorn.Server, once serving
    loop: asyncio.AbstractEventLoop | None = None  # the event loop serving, once serving
    sandbox: object = None  # sandbox.page.SandboxPage when this Tandem is the sandbox's

    @property
    def web(self) -> WebApp:
        return WebApp(health=self.health, bolt=self.app if self.mode == "http" else None,
                      metrics_api=handlers.digests.MetricsApi(self.services),
                      signing_secret=self.settings.slack_signing_secret or "", ready=self.ready,
                      metrics=self.metrics, sandbox=self.sandbox)

    async def ready(self) -> tuple[bool, dict]:
        """May this replica take traffic? The database answered within a second with every migration
        applied, Socket Mode has a working connection (in Socket Mode), and Slack takes the bot token."""
        database = await self.readiness.database(READY_WAIT)
        details = {"database": database, "slack": "http"}
        if self.socket is not None:
            live = await self.socket.live()
            details.update(slack="connected" if live else "disconnected", slack_connections=live)
        refused = self.services.delivery.token_refused
        details["token"] = f"refused: {refused}" if refused else "ok"
        return database == "ok" and details["slack"] != "disconnected" and not refused, details

    async def metrics(self) -> tuple[bytes, str]:
        state = await self.outbox_state.read_bounded(READY_WAIT)
        state.update(metrics.pool_state(self.services.engine.pool))
        metrics.SCHEDULER_ACTIVE.set(1 if self.scheduler.role() == "active" else 0)
        return await asyncio.to_thread(metrics.render, metrics.StateCollector(lambda: state))

    async def health(self) -> tuple[bool, dict]:
        """The truth now, within a second whatever the database does: the database answered a fresh
        check, and the scheduler's role was confirmed with the database (see Scheduler.role)."""
        db_ok, role = await asyncio.gather(self.probe.reachable(HEALTH_WAIT),
                                           asyncio.to_thread(self.scheduler.role, wait=HEALTH_WAIT))
        details = {"database": "ok" if db_ok else "unreachable", "slack": "http"}
        if self.socket is not None:
            live = await self.socket.live()
            details.update(slack="connected" if live else "disconnected", slack_connections=live)
        details.update(scheduler=role, version=VERSION)
        return db_ok and details["slack"] != "disconnected", details

    def start_background(self) -> None:
        self.services.delivery.start()
        if self.settings.scheduler_enabled:
            self.scheduler.start()

    def stop_background(self) -> None:
        self.scheduler.stop()
        self.services.delivery.stop()
        self.services.executor.shutdown(wait=False, cancel_futures=True)


def build(settings: Settings, mode: Mode) -> Tandem:
    """Wire everything; talks to Slack once (auth.test) to learn who the bot is."""
    engine = make_engine(settings.database_url, pool_size=settings.worker_threads)  # a connection per worker
    delivery = Delivery(token=settings.slack_bot_token, api_url=settings.slack_api_url, engine=engine,
                        timeout=settings.slack_timeout_seconds, sweep_seconds=settings.outbox_sweep_seconds,
                        workers=settings.outbox_workers)
    try:
        auth = delivery.call("auth.test")
    except SlackApiError as exc:
        raise ConfigurationError(
            f"Slack refused SLACK_BOT_TOKEN ({exc.response.get('error')}). Copy the Bot User OAuth Token "
            "again from api.slack.com/apps → your app → OAuth & Permissions."
        ) from exc
    except (SlackClientError, OSError) as exc:
        raise ConfigurationError(f"Cannot reach Slack at {settings.slack_api_url} ({exc!r}). "
                                 "Check SLACK_API_URL and the network.") from exc
    bot = AuthorizeResult(enterprise_id=auth.get("enterprise_id"), team_id=auth.get("team_id"),
                          bot_token=settings.slack_bot_token, bot_id=auth.get("bot_id"),
                          bot_user_id=auth.get("user_id"))

    async def authorize(**_kwargs) -> AuthorizeResult:
        return bot  # one workspace, one bot token: no per-request auth.test

    app = AsyncApp(
        client=AsyncWebClient(base_url=settings.slack_api_url),
        signing_secret=settings.slack_signing_secret or "socket-mode-needs-none",
        authorize=authorize,
        request_verification_enabled=False,  # web.py verifies every HTTP request, once; Socket Mode needs none
        raise_error_for_unhandled_request=True,  # handlers/errors.py logs one line instead of a code sample
        name="tandem",
    )
    # Blocking work runs here, not on the event loop; sized so slow calls don't starve acks.
    executor = ThreadPoolExecutor(max_workers=settings.worker_threads, thread_name_prefix="tandem-work")
    services = handlers.Services(settings=settings, engine=engine, delivery=delivery, executor=executor,
                                 version=VERSION)
    handlers.register(app, services)
    scheduler = Scheduler(engine, settings.database_url, grace=timedelta(minutes=settings.scheduler_grace_minutes),
                          poll_seconds=settings.scheduler_poll_seconds,
                          takeover_seconds=settings.scheduler_takeover_seconds)
    for source in handlers.job_sources(services):
        scheduler.add_source(source)
    metrics.instrument(app)
    return Tandem(settings=settings, mode=mode, app=app, services=services, scheduler=scheduler,
                  probe=DatabaseProbe(settings.database_url), readiness=probes.Readiness(settings.database_url),
                  outbox_state=probes.OutboxState(settings.database_url))


async def serve(tandem: Tandem, *, install_signals: bool = True, on_started=None) -> None:
    """Connect (Socket Mode) and serve HTTP until asked to stop (SIGTERM, or tandem.server.should_exit).
    `on_started()` is called once the server answers."""
    import uvicorn

    settings = tandem.settings
    tandem.loop = asyncio.get_running_loop()
    tandem.server = uvicorn.Server(uvicorn.Config(
        tandem.web, host=settings.host, port=settings.port, lifespan="on",
        log_level=settings.log_level.lower(), access_log=False,
        **({"log_config": None} if settings.log_format == "json" else {}),  # uvicorn's lines go through ours
    ))
    if install_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: setattr(tandem.server, "should_exit", True))
    if tandem.mode == "socket":
        tandem.socket = SocketModePool(tandem.app, settings.slack_app_token,
                                       AsyncWebClient(base_url=settings.slack_api_url),
                                       count=settings.socket_connections)
        await tandem.socket.start()
    tandem.start_background()
    # Everything built so far lives as long as the process: keep it out of the garbage
    # collector's full passes, which otherwise walk it all and show up as latency spikes.
    gc.collect()
    gc.freeze()
    log.info("Tandem %s running in %s mode; health at http://%s:%s/healthz", VERSION,
             "Socket Mode" if tandem.mode == "socket" else "HTTP", settings.host, settings.port)
    if on_started is not None:
        asyncio.get_running_loop().create_task(_when_started(tandem.server, on_started))
    try:
        await tandem.server.serve()
    finally:
        if tandem.socket is not None:
            await tandem.socket.close()
        tandem.stop_background()


async def _when_started(server, callback) -> None:
    while not server.started and not server.should_exit:
        await asyncio.sleep(0.01)
    if server.started:
        callback()


def sandbox_run(settings: Settings, *, empty: bool, why: str) -> int:
    import sandbox  # imported only when asked for: it brings the local Slack

    return sandbox.run(settings, empty=empty, why=why)


def credentials_message(settings: Settings, mode: Mode) -> str | None:
    missing = missing_credentials(settings, mode)
    if not missing:
        return None
    mode_name = "Socket Mode" if mode == "socket" else "HTTP mode"
    lines = [f"Tandem cannot start in {mode_name}: Slack credentials are missing or still placeholders.", ""]
    for item in missing:
        lines += [f"  {item.variable}  (needed for {item.needed_for})", f"      get it at: {item.where}"]
    lines += ["", "Set them in the environment or in .env (copy .env.example to .env).",
              "Socket Mode (the default) needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN;",
              "HTTP mode (TANDEM_MODE=http or --mode http) needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET."]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bot.py", description=f"Tandem {VERSION}: a Slack bot that keeps product and operations in step.",
        epilog="Modes: socket (default; needs SLACK_BOT_TOKEN + SLACK_APP_TOKEN, no public URL) and http "
               "(needs SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET; serves POST /slack/events). Both serve GET /healthz "
               "on HOST:PORT.",
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="migrate the database, then start the bot")
    run.add_argument("--mode", choices=["socket", "http"], help="override TANDEM_MODE (default: socket)")
    sub.add_parser("migrate", help="apply database migrations and exit")
    outbox_cli.add_parser(sub)
    box = sub.add_parser("sandbox", help="try Tandem in a browser: a local Slack with a demo workspace at /sandbox")
    box.add_argument("--empty", action="store_true", help="start with an empty workspace (no demo data)")
    check = sub.add_parser("check", help="check the settings for a mode and exit (2 if incomplete)")
    check.add_argument("--mode", choices=["socket", "http"])
    args = parser.parse_args(argv)
    args.command = args.command or "run"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = Settings()
    except pydantic.ValidationError as exc:
        # one line per setting, named as in the environment: no pydantic dump, no traceback
        lines = [f"  {'_'.join(map(str, e['loc'])).upper()}: {e['msg'].removeprefix('Value error, ')}"
                 for e in exc.errors()]
        print("Tandem's settings are invalid:\n" + "\n".join(lines), file=sys.stderr)
        return 2
    logs.configure(level=settings.log_level, log_format=settings.log_format)
    if args.command == "migrate":
        migrate(settings.database_url)
        print(f"Database at {settings.database_url} is up to date.")
        return 0
    if args.command == "outbox":
        migrate(settings.database_url)
        return outbox_cli.run(args, settings.database_url)
    if args.command == "sandbox":
        return sandbox_run(settings, empty=args.empty, why="Started with ./tandem sandbox.")
    mode: Mode = getattr(args, "mode", None) or settings.tandem_mode
    problem = credentials_message(settings, mode)
    explicit = bool(getattr(args, "mode", None)) or "tandem_mode" in settings.model_fields_set
    if problem and args.command == "run" and not explicit:
        # A first run without credentials: show Tandem working instead of only what is missing.
        return sandbox_run(settings, empty=False,
                           why="No Slack credentials are set, so Tandem started its sandbox instead.")
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if args.command == "check":
        print(f"Settings are complete for {mode} mode.")
        return 0
    migrate(settings.database_url)
    try:
        tandem = build(settings, mode)
    except ConfigurationError as exc:
        print(f"Tandem cannot start: {exc}", file=sys.stderr)
        return 2
    asyncio.run(serve(tandem))
    return 0


if __name__ == "__main__":
    sys.exit(main())
