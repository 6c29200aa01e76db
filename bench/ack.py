"""How fast Tandem acks a slash command over HTTP, next to bare Bolt apps that only ack.

    .venv/bin/python bench/ack.py [--rounds 5] [--requests 2000] [--concurrency 50] [--warmup 200]

Sends signed `/tandem help` slash commands (form-encoded and signed the way Slack does) to
each server in turn, one server at a time, each a subprocess on 127.0.0.1 with one worker
process, all started (and warmed up) first:

  sync_gunicorn_gthread  bench/bare/sync_app.py:  sync App, WSGI, gunicorn -k gthread -w 1
  async_uvicorn          bench/bare/async_app.py: AsyncApp, ASGI, uvicorn
  sync_uvicorn_asgi      bench/bare/sync_asgi.py: sync App, slack_bolt.adapter.asgi, uvicorn
  tandem                 bot.py run --mode http (uvicorn), Web API served by localslack's LocalSlack,
                         as run in production: metrics on, LOG_FORMAT=json (--tandem-logs), LOG_LEVEL=INFO;
                         its /metrics count of acks is reported (metrics_acks_counted = acks_sent)

Then come --rounds rounds, each loading every server in turn with --requests requests; the
order rotates from round to round. One round's p99 on this shared 2-core machine moves by
±20 % from run to run for the same server, so each server's figures are its median round's.
Prints ONE JSON line: rps, p50 and p99 for every server (with each round's p99), the best
bare app (lowest p99 without errors) and p99_ratio = Tandem p99 / best bare p99, and
p99_ratio_by_round, each round's ratio. Target: p99_ratio <= 1.2. Latencies are per request (errors included);
errors are responses other than 200 with a body, e.g. Bolt's 404 when a listener has not
acked within 3 s. Diagnostics go to stderr. Exit status: 0 when the target is met, else 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.2
TEAM_ID = "T0BENCH01"
USERS = [f"U0BENCH{i:03d}" for i in range(20)]  # the load rotates over these (Tandem caches each one)
BARE = ("sync_gunicorn_gthread", "async_uvicorn", "sync_uvicorn_asgi")
ALL = (*BARE, "tandem")


def log(message: str) -> None:
    print(f"[bench/ack] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the load ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    """Where the slash commands come from; `response_url(user_id)` mints each command's response_url."""

    team_id: str = TEAM_ID
    team_domain: str = "tandem-bench"
    channel_id: str = "C0BENCH01"
    response_url: Callable[[str], str] = lambda _user: "https://hooks.slack.com/commands/T0BENCH01/1/bench"


def signed_requests(secret: str, count: int, workspace: Workspace, *, prefix: str) -> list[tuple[bytes, dict]]:
    """`count` /tandem help bodies, form-encoded like Slack's, each with its signature headers."""
    verifier = SignatureVerifier(secret)
    timestamp = str(int(time.time()))
    prepared = []
    for i in range(count):
        user = USERS[i % len(USERS)]
        body = urlencode({
            "token": "bench-verification-token",
            "team_id": workspace.team_id,
            "team_domain": workspace.team_domain,
            "channel_id": workspace.channel_id,
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/tandem",
            "text": "help",
            "api_app_id": "A0BENCH01",
            "is_enterprise_install": "false",
            "response_url": workspace.response_url(user),
            "trigger_id": f"{prefix}{i}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}",
        })
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": verifier.generate_signature(timestamp=timestamp, body=body),
        }
        prepared.append((body.encode(), headers))
    return prepared


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    wall: float = 0.0


async def fire(session: aiohttp.ClientSession, url: str, requests: list[tuple[bytes, dict]],
               concurrency: int) -> Run:
    """Send every request, `concurrency` in flight at a time; time each one."""
    run = Run()
    pending = iter(requests)

    async def worker() -> None:
        for body, headers in pending:  # shared iterator: each request is taken once
            start = perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    content = await response.read()
                    outcome = response.status if content else f"{response.status} with empty body"
            except (aiohttp.ClientError, TimeoutError) as exc:
                outcome = type(exc).__name__
            run.latencies.append(perf_counter() - start)
            if outcome != 200:
                run.errors[str(outcome)] += 1

    start = perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.wall = perf_counter() - start
    return run


async def load(url: str, warmup: list, measured: list, concurrency: int) -> tuple[Run, Run]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        warm = await fire(session, url, warmup, concurrency)
        return warm, await fire(session, url, measured, concurrency)


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def summarize(run: Run, warm: Run) -> dict:
    ordered = sorted(run.latencies)
    result = {
        "rps": round(len(ordered) / run.wall, 1),
        "p50_ms": round(percentile(ordered, 50) * 1000, 2),
        "p99_ms": round(percentile(ordered, 99) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "errors": sum(run.errors.values()),
        "over_3s": sum(1 for latency in ordered if latency > 3.0),  # Slack's ack deadline
    }
    if run.errors:
        result["error_kinds"] = dict(run.errors)
    if warm.errors:
        result["warmup_errors"] = dict(warm.errors)
    return result


# --- the servers ------------------------------------------------------------------------


class Server:
    """One server subprocess on 127.0.0.1; stderr and stdout go to a file shown on failure."""

    def __init__(self, name: str, argv: list[str], env: dict, ready_path: str, ready_any_status: bool):
        self.name, self.argv, self.env = name, argv, env
        self.ready_path, self.ready_any_status = ready_path, ready_any_status
        self.output = None
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def start(self, port: int, output, timeout: float = 60.0) -> None:
        self.output = output
        self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=self.output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{port}{self.ready_path}"
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as exc:  # an HTTP answer: the server is up
                if self.ready_any_status:
                    return
                last = exc
            except OSError as exc:
                last = exc
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready at {url} after {timeout:.0f}s ({last!r}):\n{self.tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log(f"{self.name} ignored SIGTERM for 10 s; killing it")
            self.process.kill()
            self.process.wait()

    def tail(self, chars: int = 3000) -> str:
        """The server's log lines that name a level, counted (timestamps dropped), then its last lines."""
        self.output.seek(0)
        text = self.output.read().decode(errors="replace")
        levels = Counter(re.sub(r"^\S+ \S+ ", "", line) for line in text.splitlines()
                         if re.match(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) ", line))
        counted = "".join(f"  {n:5d} x {line[:200]}\n" for line, n in levels.most_common(10))
        return f"{counted}--- last {chars} characters ---\n{text[-chars:]}"


def bare_server(name: str, port: int, secret: str, threads: int) -> Server:
    env = {**os.environ, "BENCH_SIGNING_SECRET": secret, "PYTHONPATH": str(ROOT)}
    uvicorn = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
               "--log-level", "warning", "--no-access-log", "--app-dir", str(ROOT)]
    argv = {
        "sync_gunicorn_gthread": [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "1",
                                  "--threads", str(threads), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                                  "--chdir", str(ROOT), "bench.bare.sync_app:application"],
        "async_uvicorn": [*uvicorn, "bench.bare.async_app:api"],
        "sync_uvicorn_asgi": [*uvicorn, "bench.bare.sync_asgi:api"],
    }[name]
    return Server(name, argv, env, "/slack/events", ready_any_status=True)


def tandem_server(port: int, secret: str, slack, workdir: str, log_format: str = "json") -> Server:
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": secret,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": f"sqlite:///{workdir}/bench.db",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "SCHEDULER_ENABLED": "false",
        # Measured as run in production: metrics always on, JSON log lines with their context, INFO.
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": log_format,
    }
    return Server("tandem", [sys.executable, "bot.py", "run", "--mode", "http"], env, "/healthz",
                  ready_any_status=False)


def counted_acks(port: int) -> float | None:
    """Tandem's own count of slash-command acks, from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    found = re.search(r'^tandem_acks_total\{kind="command",outcome="ok"\} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else None


@dataclass
class Contender:
    """A server started once and loaded in every round it is still in the race."""

    name: str
    server: Server
    port: int
    workspace: Workspace
    rounds: list[dict] = field(default_factory=list)


def start(contender: Contender, output, secret: str, args) -> None:
    started = perf_counter()
    contender.server.start(contender.port, output)
    log(f"{contender.name} ready in {perf_counter() - started:.1f}s on port {contender.port}")
    warmup = signed_requests(secret, args.warmup, contender.workspace, prefix="warm")
    warm, _ = asyncio.run(load(url_of(contender), warmup, [], args.concurrency))
    if warm.errors:
        log(f"{contender.name} warm-up errors {dict(warm.errors)}; output (tail):\n{contender.server.tail()}")


def url_of(contender: Contender) -> str:
    return f"http://127.0.0.1:{contender.port}/slack/events"


def measure_round(contender: Contender, secret: str, args, number: int) -> dict:
    # Signed now: a round later than 5 minutes after the first must not be refused as a replay.
    measured = signed_requests(secret, args.requests, contender.workspace, prefix=f"r{number}-")
    _, run = asyncio.run(load(url_of(contender), [], measured, args.concurrency))
    result = summarize(run, Run())
    log(f"round {number} {contender.name}: {json.dumps(result)}")
    if run.errors:
        log(f"{contender.name} output (tail):\n{contender.server.tail()}")
    contender.rounds.append(result)
    return result


def combined(rounds: list[dict]) -> dict:
    """A server's figures over its rounds: the median round's rps, p50 and p99 (a single round's p99
    on a shared 2-core machine moves ±20 % from run to run), the worst max, every error."""
    result = {key: round(statistics.median(r[key] for r in rounds), 2) for key in ("rps", "p50_ms", "p99_ms")}
    result.update(max_ms=max(r["max_ms"] for r in rounds), errors=sum(r["errors"] for r in rounds),
                  over_3s=sum(r["over_3s"] for r in rounds), rounds=len(rounds),
                  p99_ms_by_round=[r["p99_ms"] for r in rounds])
    kinds: Counter = Counter()
    for r in rounds:
        kinds.update(r.get("error_kinds", {}))
    if kinds:
        result["error_kinds"] = dict(kinds)
    return result


def tandem_contender(stack: contextlib.ExitStack, secret: str, args) -> Contender:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from localslack import GENERAL, LocalSlack  # the local Slack the tests use

    slack = LocalSlack()
    slack.start()
    stack.callback(slack.stop)
    for user in USERS:
        slack.add_user(user, locale="en-US")
        slack.add_member(GENERAL, user)
    workspace = Workspace(team_id=slack.team_id, team_domain=slack.team_domain, channel_id=GENERAL,
                          response_url=lambda user: slack.new_response_url(channel_id=GENERAL, user_id=user))
    workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="tandem-bench-"))
    port = free_port()
    return Contender("tandem", stack.enter_context(tandem_server(port, secret, slack, workdir, args.tandem_logs)),
                     port, workspace)


def run_rounds(contenders: list[Contender], secret: str, args) -> None:
    """Round after round, each server in turn (the order rotates, so none always runs first). After
    the first round a bare app slower than twice the best bare p99 leaves the race: it cannot be the
    best, and sync_uvicorn_asgi's ~85 req/s would otherwise take minutes."""
    racing = list(contenders)
    for number in range(1, args.rounds + 1):
        shift = (number - 1) % len(racing)
        for contender in racing[shift:] + racing[:shift]:
            measure_round(contender, secret, args, number)
        if number == 1:
            bare = [c.rounds[0]["p99_ms"] for c in racing if c.name != "tandem" and not c.rounds[0]["errors"]]
            racing = [c for c in racing if c.name == "tandem" or not bare or c.rounds[0]["p99_ms"] <= 2 * min(bare)]


# --- the report -------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000,
                        help="timed requests per server and round (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; figures are the median round's (default 5)")
    parser.add_argument("--concurrency", type=int, default=50, help="requests in flight (default 50)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed requests first (default 200)")
    # Bolt's sync App waits for ack() by polling every 10 ms, so one gthread thread serves at most
    # ~90 req/s: 8 threads reach ~700 req/s, which with the load generator fills this 2-core box;
    # 16 or 32 threads added 5-10 % rps and raised p99.
    parser.add_argument("--threads", type=int, default=8, help="gunicorn gthread threads (default 8)")
    parser.add_argument("--tandem-logs", choices=["json", "text"], default="json",
                        help="Tandem's LOG_FORMAT (default json; LOG_LEVEL is INFO, /metrics is always on)")
    parser.add_argument("--servers", default=",".join(ALL),
                        help=f"comma-separated subset of {','.join(ALL)} (default: all; tandem runs last)")
    args = parser.parse_args(argv)
    chosen = {name.strip() for name in args.servers.split(",") if name.strip()}
    if not chosen or chosen - set(ALL):
        parser.error(f"--servers takes names from {','.join(ALL)}")
    args.servers = [name for name in ALL if name in chosen]
    if args.requests < 1 or args.concurrency < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--requests, --rounds and --concurrency must be positive, --warmup not negative")
    return args


def failure(exc: Exception) -> str:
    """First and last lines of why a server failed (the full output went to stderr)."""
    lines = [line for line in str(exc).splitlines() if line.strip()] or [repr(exc)]
    return lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1].strip()}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    secret = secrets.token_hex(16)
    report: dict = {
        "bench": "ack", "rounds": args.rounds, "requests": args.requests, "concurrency": args.concurrency, "warmup": args.warmup,
        "workers": 1, "gunicorn_threads": args.threads, "cpus": os.cpu_count(), "loadavg_1m_at_start": round(os.getloadavg()[0], 2),
        "servers": {
            "tandem": f"bot.py run --mode http: AsyncApp, uvicorn, 1 process, /metrics on, LOG_FORMAT={args.tandem_logs}, "
                      "LOG_LEVEL=INFO",
            "sync_gunicorn_gthread": f"sync App, gunicorn -k gthread -w 1 --threads {args.threads}",
            "async_uvicorn": "AsyncApp, AsyncSlackRequestHandler, uvicorn, 1 process",
            "sync_uvicorn_asgi": "sync App, slack_bolt.adapter.asgi.SlackRequestHandler, uvicorn, 1 process",
        },
        "tandem": None, "bare": {},
    }
    contenders = []
    with contextlib.ExitStack() as stack:
        for name in args.servers:
            try:
                if name == "tandem":
                    contender = tandem_contender(stack, secret, args)
                else:
                    port = free_port()
                    server = stack.enter_context(bare_server(name, port, secret, args.threads))
                    contender = Contender(name, server, port, Workspace())
                start(contender, stack.enter_context(tempfile.TemporaryFile(mode="w+b")), secret, args)
                contenders.append(contender)
            except (RuntimeError, ImportError) as exc:
                log(f"{name}: {exc}")
                (report["bare"] if name != "tandem" else report)[name] = {"failed": failure(exc)}
        run_rounds(contenders, secret, args)
        for contender in contenders:
            if contender.name == "tandem":
                report["tandem"] = combined(contender.rounds)
                # /metrics counted every ack it served: the metrics were on, and right
                report["tandem"]["metrics_acks_counted"] = counted_acks(contender.port)
                report["tandem"]["acks_sent"] = args.warmup + args.requests * len(contender.rounds)
            else:
                report["bare"][contender.name] = combined(contender.rounds)

    usable = {name: r for name, r in report["bare"].items() if "p99_ms" in r and not r["errors"]}
    best = min(usable, key=lambda name: usable[name]["p99_ms"]) if usable else None
    tandem = report["tandem"] or {}
    ratio = round(tandem["p99_ms"] / usable[best]["p99_ms"], 3) if best and "p99_ms" in tandem else None
    by_round = None
    if ratio is not None:
        bare_rounds = usable[best]["p99_ms_by_round"]
        by_round = [round(t / b, 3) for t, b in zip(tandem["p99_ms_by_round"], bare_rounds, strict=False)]
    report.update(best_bare=best, best_by="p99_ms", p99_ratio=ratio, p99_ratio_by_round=by_round, target=TARGET,
                  rps_ratio=round(tandem["rps"] / usable[best]["rps"], 3) if ratio is not None else None,
                  **{"pass": ratio is not None and ratio <= TARGET and tandem["errors"] == 0})
    print(json.dumps(report), flush=True)
    return 0 if report["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
