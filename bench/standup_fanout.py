"""A standup of 2,000 people prompted at once, against a rate-limited local Slack.

    .venv/bin/python bench/standup_fanout.py [--people 2000] [--rate 100] [--burst 100]
                                             [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

The local Slack (tests/slack) enforces a workspace-wide token bucket on chat.postMessage
(`--rate` per second, `--burst` tokens) and answers 429 + Retry-After when it is empty, as Slack
does. Tandem's real path runs: the minute tick (handlers.standups.running.run_tick) claims every
prompt and queues its DMs in the outbox, 100 per statement, while the outbox workers (delivery.Delivery,
OUTBOX_WORKERS threads) send them. A 429 closes chat.postMessage to every worker for Retry-After seconds
(delivery.RateLimitGate), so they all resume together as the bucket refills.

Prints ONE JSON line: the minimum time the rate limit allows ((people - burst) / rate), the
actual time from the tick to the last DM, their ratio (target >= 0.9), duplicates and missing
(target 0: every participant gets exactly one DM, checked in the local Slack), and the peak RSS of
Tandem's process (the local Slack runs in a child process, as Slack runs elsewhere; target <= 250 MB).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from delivery import Delivery  # noqa: E402
from handlers.common import Services  # noqa: E402
from handlers.standups.running import run_tick  # noqa: E402
from models.db import make_engine, migrate, session_scope  # noqa: E402
from models.standups.forms import CleanStandup  # noqa: E402
from models.standups.manage import create_standup  # noqa: E402
from settings import Settings  # noqa: E402
from tests.slack import LocalSlack  # noqa: E402

TEAM_ID = "T0BENCH02"
CHANNEL = "C0BENCHSTANDUP"


def database(postgres: str | None) -> tuple[str, callable]:
    if not postgres:
        path = Path(tempfile.mkdtemp(prefix="tandem-bench-")) / "tandem.db"
        return f"sqlite:///{path}", lambda: None
    admin = sa.create_engine(postgres, isolation_level="AUTOCOMMIT")
    name = f"tandem_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return postgres.rsplit("/", 1)[0] + "/" + name, drop


def slack_process(connection, people: list[str], rate: float, burst: int) -> None:
    """The local Slack in its own process (as Slack is on other machines): setup, then answers queries."""
    slack = LocalSlack(team_id=TEAM_ID)
    slack.start()
    for user in people:
        slack.add_user(user, tz="Asia/Shanghai")
    slack.add_channel(CHANNEL, "standup", members=people[:10])
    connection.send((slack.bot_token, slack.api_url))
    while True:
        command = connection.recv()
        if command == "limit":
            slack.clear_calls()
            slack.set_rate_limit("chat.postMessage", per_second=rate, burst=burst)
            connection.send(True)
        elif command == "sent":
            connection.send(len([c for c in slack.calls_to("chat.postMessage") if c.ok]))
        elif command == "report":
            prompts = {user: sum(1 for m in slack.messages(user) if "standup_fill" in str(m.get("blocks")))
                       for user in people}
            limited = sum(1 for c in slack.calls_to("chat.postMessage") if not c.ok)
            connection.send((prompts, limited))
        else:
            slack.stop()
            connection.send(True)
            return


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0, help="chat.postMessage per second (workspace)")
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--postgres")
    parser.add_argument("--workers", type=int, default=Settings.model_fields["outbox_workers"].default,
                        help="outbox worker threads (OUTBOX_WORKERS)")
    args = parser.parse_args()

    people = [f"U{i:07d}" for i in range(args.people)]
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(target=slack_process, args=(theirs, people, args.rate, args.burst), daemon=True)
    child.start()
    token, api_url = ours.recv()

    def ask(command: str):
        ours.send(command)
        return ours.recv()

    url, drop = database(args.postgres)
    try:
        migrate(url)
        settings = Settings(_env_file=None, slack_bot_token=token, slack_api_url=api_url,
                            database_url=url, scheduler_enabled=False, log_level="WARNING")
        engine = make_engine(url)
        delivery = Delivery(token=settings.slack_bot_token, api_url=settings.slack_api_url, engine=engine,
                            workers=args.workers)
        services = Services(settings=settings, engine=engine, delivery=delivery,
                            executor=ThreadPoolExecutor(max_workers=2), version="bench")
        form = CleanStandup(name="everyone", channel=CHANNEL, participants=people, days=list(range(7)),
                            prompt_time="09:30", timezone="Asia/Shanghai",
                            questions=[{"text": "Yesterday?", "blocker": False}, {"text": "Today?", "blocker": False},
                                       {"text": "Blockers?", "blocker": True}], nudges=[60], report_after=120)
        with session_scope(engine) as session:
            create_standup(session, team_id=TEAM_ID, owner=people[0], form=form,
                           names={u: f"Person {u}" for u in people}, now=datetime.now(UTC))
        ask("limit")
        delivery.start()  # the workers send while the tick is still queueing (it kicks per batch)
        due = datetime(2026, 3, 9, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
        started = time.perf_counter()
        queued = run_tick(services, now=due)
        tick_seconds = time.perf_counter() - started
        deadline = time.monotonic() + 30 + 3 * args.people / args.rate
        while time.monotonic() < deadline:
            if ask("sent") >= args.people:
                break
            delivery.kick()  # rows that waited out a back-off
            time.sleep(0.05)
        actual = time.perf_counter() - started
        delivery.stop()
        sent, limited = ask("report")
        minimum = max(args.people - args.burst, 0) / args.rate
        result = {
            "bench": "standup_fanout", "people": args.people, "database": url.split(":", 1)[0],
            "rate_per_second": args.rate, "burst": args.burst, "outbox_workers": args.workers, "queued": queued,
            "min_seconds": round(minimum, 2), "actual_seconds": round(actual, 2),
            "ratio": round(minimum / actual, 3) if actual else None, "target_ratio": 0.9,
            "tick_seconds": round(tick_seconds, 2),
            "duplicates": sum(n - 1 for n in sent.values() if n > 1), "missing": sum(1 for n in sent.values() if n == 0),
            "rate_limited_answers": limited,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "target_rss_mb": 250,
        }
        result["pass"] = bool(result["ratio"] and result["ratio"] >= 0.9 and not result["duplicates"]
                              and not result["missing"] and result["peak_rss_mb"] <= 250)
        engine.dispose()
        print(json.dumps(result))
    finally:
        ask("stop")
        child.join(10)
        drop()


if __name__ == "__main__":
    main()
