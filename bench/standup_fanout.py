"""A standup of 2,000 people prompted at once, against a rate-limited local Slack that may lose
replies, with the process sending the prompts perhaps killed halfway.

    .venv/bin/python bench/standup_fanout.py [--people 2000] [--rate 100] [--burst 100] [--workers 4]
                                             [--faults executed:0.02] [--kill-at 0.5]
                                             [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

The local Slack (localslack) runs in its own process, as Slack runs elsewhere. It enforces a
workspace-wide token bucket on chat.postMessage (`--rate` per second, `--burst` tokens) and answers
429 + Retry-After when it is empty, as Slack does. Tandem runs in another process: the minute tick
(handlers.standups.running.run_tick) claims every prompt and queues its DMs in the outbox while the
outbox workers (delivery.Delivery, OUTBOX_WORKERS threads) send them.

--faults executed:P  each chat.postMessage is, with chance P, carried out by Slack and its reply
                     lost: a reset connection, a 503, a gateway's 502 page or a body cut short, in turn.
--kill-at F          once F of the people have their prompt, Tandem's process is killed (SIGKILL) and a
                     new one started: it runs the same tick again, and its outbox takes over the messages
                     the dead one held once their lease ends. The lease is LEASE_SECONDS here instead of
                     the outbox's 2 minutes, so the bench does not sit out two minutes.

Prints ONE JSON line: the minimum time the rate limit allows ((people - burst) / rate), the actual
time from the tick until every person has a prompt, their ratio (target >= 0.9 without faults or a
kill), duplicates and missing (target 0 always: every participant gets exactly one DM, counted in the
local Slack once the outbox has settled), the replies lost, how many conversations.history pages
retried posts read to look for their first attempt, and the peak RSS of Tandem's (last) process
(target <= 250 MB).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import signal
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

TEAM_ID = "T0BENCH02"
CHANNEL = "C0BENCHSTANDUP"
DUE = datetime(2026, 3, 9, 1, 30, tzinfo=UTC)  # a Monday, 09:30 in Shanghai
LEASE_SECONDS = 10
LOST_REPLIES = ({"fault": "reset"}, {"status": 503}, {"status": 502}, {"fault": "truncate"})


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


def slack_process(connection, people: list[str], rate: float, burst: int, lost: float) -> None:
    """The local Slack in its own process: setup, then answers the bench's questions."""
    from localslack import LocalSlack

    slack = LocalSlack(team_id=TEAM_ID)
    slack.start()
    for user in people:
        slack.add_user(user, tz="Asia/Shanghai")
    slack.add_channel(CHANNEL, "standup", members=people[:10])
    slack.set_rate_limit("chat.postMessage", per_second=rate, burst=burst)
    for number in range(round(len(people) * lost * 2) if lost else 0):  # more than enough; P decides
        slack.fail_next("chat.postMessage", when="after", chance=lost, **LOST_REPLIES[number % len(LOST_REPLIES)])
    connection.send((slack.bot_token, slack.api_url))
    while True:
        command = connection.recv()
        if command == "sent":  # posts Slack carried out, whatever became of their replies
            connection.send(sum(1 for c in slack.calls_to("chat.postMessage") if c.executed))
        elif command == "report":
            prompts = {user: sum(1 for m in slack.messages(user) if "standup_fill" in str(m.get("blocks")))
                       for user in people}
            calls = slack.calls_to("chat.postMessage")
            connection.send((prompts, sum(1 for c in calls if c.status == 429),
                             sum(1 for c in calls if c.executed and not c.ok),
                             len(slack.calls_to("conversations.history"))))
        else:
            slack.stop()
            connection.send(True)
            return


def tandem_process(connection, url: str, token: str, api_url: str, workers: int, lease_seconds: float) -> None:
    """Tandem's side: the outbox workers and, on "go", the tick. Runs until told to stop, or killed."""
    from delivery import Delivery
    from handlers.common import Services
    from handlers.standups.running import run_tick
    from models import outbox
    from models.db import make_engine
    from settings import Settings

    outbox.LEASE = timedelta(seconds=lease_seconds)  # see the module docstring
    settings = Settings(_env_file=None, slack_bot_token=token, slack_api_url=api_url, database_url=url,
                        scheduler_enabled=False, log_level="WARNING")
    engine = make_engine(url)
    delivery = Delivery(token=token, api_url=api_url, engine=engine, workers=workers)
    services = Services(settings=settings, engine=engine, delivery=delivery,
                        executor=ThreadPoolExecutor(max_workers=2), version="bench")
    delivery.start()
    connection.send("ready")
    connection.recv()
    connection.send(run_tick(services, now=DUE))
    while not connection.poll(0.05):
        delivery.kick()  # rows that waited out a back-off or a lease
    connection.recv()
    delivery.stop()
    connection.send(round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))


def setup(url: str, people: list[str]) -> None:
    from models.db import make_engine, migrate, session_scope
    from models.standups.forms import CleanStandup
    from models.standups.manage import create_standup

    migrate(url)
    engine = make_engine(url)
    form = CleanStandup(name="everyone", channel=CHANNEL, participants=people, days=list(range(7)),
                        prompt_time="09:30", timezone="Asia/Shanghai",
                        questions=[{"text": "Yesterday?", "blocker": False}, {"text": "Today?", "blocker": False},
                                   {"text": "Blockers?", "blocker": True}], nudges=[60], report_after=120)
    with session_scope(engine) as session:
        create_standup(session, team_id=TEAM_ID, owner=people[0], form=form,
                       names={u: f"Person {u}" for u in people}, now=datetime.now(UTC))
    engine.dispose()


def unsettled(url: str) -> int:
    """Outbox rows not yet sent or given up."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')")
                                      ).scalar_one()
    finally:
        engine.dispose()


def run(*, url: str, people: int, rate: float, burst: int, workers: int, lost: float = 0.0,
        kill_at: float | None = None, lease_seconds: float = LEASE_SECONDS) -> dict:
    """The fan-out against an empty database at `url`; returns the figures (see the module docstring)."""
    names = [f"U{i:07d}" for i in range(people)]
    setup(url, names)
    processes = multiprocessing.get_context("spawn")  # clean children, even from a threaded parent
    ours, theirs = processes.Pipe()
    slack = processes.Process(target=slack_process, args=(theirs, names, rate, burst, lost), daemon=True)
    slack.start()
    theirs.close()  # only the child holds its end: if it dies, recv() raises instead of waiting for ever
    token, api_url = ours.recv()

    def ask(command: str):
        ours.send(command)
        return ours.recv()

    def start_tandem():
        pipe, child_end = processes.Pipe()
        process = processes.Process(target=tandem_process, args=(child_end, url, token, api_url, workers,
                                                                 lease_seconds), daemon=True)
        process.start()
        child_end.close()
        assert pipe.recv() == "ready"
        return process, pipe

    try:
        tandem, pipe = start_tandem()
        started = time.perf_counter()
        pipe.send("go")
        queued = pipe.recv()
        killed_at, deadline = None, time.monotonic() + 60 + 3 * people / rate
        while time.monotonic() < deadline:
            sent = ask("sent")
            if sent >= people:
                break
            if kill_at is not None and killed_at is None and sent >= kill_at * people:
                os.kill(tandem.pid, signal.SIGKILL)
                tandem.join()
                killed_at = sent
                tandem, pipe = start_tandem()
                pipe.send("go")
                queued += pipe.recv()
            time.sleep(0.05)
        actual = time.perf_counter() - started
        while unsettled(url) and time.monotonic() < deadline:  # lost replies: retried, found, recorded
            time.sleep(0.2)
        settled = time.perf_counter() - started
        pipe.send("stop")
        rss = pipe.recv()
        tandem.join(10)
        prompts, limited, lost_replies, lookups = ask("report")
    finally:
        ask("stop")
        slack.join(10)
    minimum = max(people - burst, 0) / rate
    result = {
        "bench": "standup_fanout", "people": people, "database": url.split(":", 1)[0], "rate_per_second": rate,
        "burst": burst, "outbox_workers": workers, "faults": {"executed": lost} if lost else {},
        "kill_at": kill_at, "queued": queued, "min_seconds": round(minimum, 2), "actual_seconds": round(actual, 2),
        "ratio": round(minimum / actual, 3) if actual else None, "target_ratio": 0.9,
        "settled_seconds": round(settled, 2), "replies_lost": lost_replies, "killed_after_posts": killed_at,
        "retries_looked_up": lookups,
        "duplicates": sum(n - 1 for n in prompts.values() if n > 1),
        "missing": sum(1 for n in prompts.values() if n == 0), "rate_limited_answers": limited,
        "peak_rss_mb": rss, "target_rss_mb": 250,
    }
    clean = not result["duplicates"] and not result["missing"] and rss <= 250
    result["pass"] = bool(clean and (lost or kill_at or (result["ratio"] and result["ratio"] >= 0.9)))
    return result


def main() -> None:
    from settings import Settings

    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0, help="chat.postMessage per second (workspace)")
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--postgres")
    parser.add_argument("--workers", type=int, default=Settings.model_fields["outbox_workers"].default,
                        help="outbox worker threads (OUTBOX_WORKERS)")
    parser.add_argument("--faults", help="executed:P — P of the posts are done by Slack but their reply is lost")
    parser.add_argument("--kill-at", type=float, help="kill -9 Tandem once this share of people has a prompt")
    args = parser.parse_args()
    lost = 0.0
    if args.faults:
        kind, _, share = args.faults.partition(":")
        if kind != "executed" or not share:
            parser.error("--faults takes executed:P, e.g. executed:0.02")
        lost = float(share)
    url, drop = database(args.postgres)
    try:
        print(json.dumps(run(url=url, people=args.people, rate=args.rate, burst=args.burst, workers=args.workers,
                             lost=lost, kill_at=args.kill_at)))
    finally:
        drop()


if __name__ == "__main__":
    main()
