"""Two replicas on PostgreSQL, a standup due every minute for 10 minutes, the active replica killed
(-9) at random moments and restarted, and the database refusing connections for 20 s once.

    .venv/bin/python bench/failover.py [--minutes 10] [--kills 3] [--outage 20] [--seed N]
                                       [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Each replica is a real `bot.py run --mode http` process with the default scheduler settings
(SCHEDULER_POLL_SECONDS 1, SCHEDULER_TAKEOVER_SECONDS 5), talking to a local Slack (localslack,
served from this process) and to a fresh PostgreSQL database through tests/dbfaults.FaultProxy.
Minute i has its own standup (one participant, team zone UTC) due at that minute. Each kill lands
1-8 s before a due minute (the worst moment: the standby must take over and send it) and the
killed replica is started again 5-15 s later; the outage starts 5-15 s before another due minute,
so that prompt falls due while the database is away (the proxy resets every connection and
refuses new ones for the whole outage).

Prints ONE JSON line: sends expected, sent, duplicates, missing, the worst lateness (seconds from
the due minute to the DM's ts in the local Slack), each takeover time (kill -9 -> the other
replica's /healthz says "active") and the recovery after the outage (database back -> a replica
active). Targets: duplicates 0, missing 0, worst lateness <= 30 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402

from bench.standup_fanout import database  # noqa: E402
from localslack import LocalSlack  # noqa: E402
from models.db import make_engine, migrate, session_scope  # noqa: E402
from models.standups.forms import CleanStandup  # noqa: E402
from models.standups.manage import create_standup  # noqa: E402
from tests.conftest import free_port, wait_until  # noqa: E402
from tests.dbfaults import FaultProxy  # noqa: E402

TEAM_ID = "T0BENCH03"
CHANNEL = "C0BENCHFAIL"
TARGET_LATENESS = 30.0


class Replica:
    """One `bot.py run --mode http` process; its log goes to `logs`."""

    def __init__(self, name: str, env: dict, logs: Path):
        self.name, self.port = name, free_port()
        self.log = (logs / f"{name}-{self.port}.log").open("w")
        self.process = subprocess.Popen([sys.executable, "bot.py", "run", "--mode", "http"], cwd=ROOT,
                                        env={**env, "PORT": str(self.port)}, stdout=self.log, stderr=subprocess.STDOUT)

    def health(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:  # 503 still says what it knows
            return json.loads(error.read())
        except (urllib.error.URLError, OSError):
            return None

    @property
    def active(self) -> bool:
        return self.process.poll() is None and (self.health() or {}).get("scheduler") == "active"

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no goodbye to the database
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def wait_for(predicate, timeout: float, interval: float = 0.1):
    """What `predicate` returns once truthy, or None after `timeout` seconds."""
    try:
        return wait_until(predicate, timeout, interval)
    except AssertionError:
        return None


def make_standups(url: str, people: list[str], dues: list[datetime]) -> None:
    engine = make_engine(url)
    with session_scope(engine) as session:
        for person, due in zip(people, dues, strict=True):
            form = CleanStandup(name=f"minute-{due:%H%M}", channel=CHANNEL, participants=[person], days=list(range(7)),
                                prompt_time=f"{due:%H:%M}", timezone="UTC",
                                questions=[{"text": "Yesterday?", "blocker": False}, {"text": "Blockers?", "blocker": True}],
                                nudges=[60], report_after=120)
            create_standup(session, team_id=TEAM_ID, owner=person, form=form, names={person: person},
                           now=datetime.now(UTC))
    engine.dispose()


def plan(rng: random.Random, dues: list[datetime], kills: int) -> tuple[int, list[int]]:
    """(the minute the outage covers, the minutes whose due time a kill precedes): apart from each other."""
    minutes = list(range(1, len(dues)))
    outage = rng.choice(minutes[1:-1] or minutes)
    free = [m for m in minutes if abs(m - outage) > 1]
    return outage, sorted(rng.sample(free, min(kills, len(free))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--outage", type=float, default=20.0, help="seconds the database refuses connections")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    rng = random.Random(seed)
    logs = Path(tempfile.mkdtemp(prefix="tandem-failover-"))

    slack = LocalSlack(team_id=TEAM_ID).start()
    people = [f"U0FAIL{i:03d}" for i in range(args.minutes)]
    for person in people:
        slack.add_user(person, tz="UTC")
    slack.add_channel(CHANNEL, "standup", members=people)
    url, drop = database(args.postgres)
    target = make_url(url)
    proxy = FaultProxy(target.host or "127.0.0.1", target.port or 5432).start()
    replicas: list[Replica] = []
    takeovers: list[float | None] = []
    recovery: list[float | None] = []
    try:
        migrate(url)
        first = (datetime.now(UTC) + timedelta(seconds=60)).replace(second=0, microsecond=0) + timedelta(minutes=1)
        dues = [first + timedelta(minutes=i) for i in range(args.minutes)]
        make_standups(url, people, dues)
        env = {**os.environ, "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_SIGNING_SECRET": "bench-signing-secret",
               "SLACK_API_URL": slack.api_url, "DATABASE_URL": proxy.url(url), "HOST": "127.0.0.1",
               "TANDEM_MODE": "http", "LOG_LEVEL": "INFO"}
        replicas += [Replica("a", env, logs), Replica("b", env, logs)]
        if not wait_for(lambda: all(r.health() for r in replicas) and any(r.active for r in replicas), 90):
            raise SystemExit(f"the replicas did not come up; logs in {logs}")

        def killing(minute: int) -> None:
            """Kill -9 the active replica 1-8 s before `minute` is due; start it again 5-15 s later."""
            sleep_until(dues[minute].timestamp() - rng.uniform(1, 8))
            victim = wait_for(lambda: next((r for r in replicas if r.active), None), 30)
            if victim is None:
                takeovers.append(None)
                return
            victim.kill()
            killed = time.monotonic()
            restart_at = time.time() + rng.uniform(5, 15)
            survivor = wait_for(lambda: next((r for r in replicas if r is not victim and r.active), None), 60,
                                interval=0.2)
            takeovers.append(round(time.monotonic() - killed, 2) if survivor else None)
            sleep_until(restart_at)
            replicas[replicas.index(victim)] = restarted = Replica(victim.name, env, logs)
            victim.stop()
            if not wait_for(restarted.health, 60):
                raise SystemExit(f"replica {victim.name} did not come back; logs in {logs}")

        def outage(minute: int) -> None:
            sleep_until(dues[minute].timestamp() - rng.uniform(5, 15))
            proxy.down()
            time.sleep(args.outage)
            proxy.up()
            back = time.monotonic()
            found = wait_for(lambda: any(r.active for r in replicas), 60, interval=0.2)
            recovery.append(round(time.monotonic() - back, 2) if found else None)

        outage_minute, kill_minutes = plan(rng, dues, args.kills)
        events = sorted([(m, killing) for m in kill_minutes] + [(outage_minute, outage)], key=lambda e: e[0])
        for minute, action in events:
            action(minute)
        sleep_until(dues[-1].timestamp() + 45)  # the last prompt, late at worst
        time.sleep(5)  # a duplicate, if any, would be in by now

        counts, lateness = [], []
        for person, due in zip(people, dues, strict=True):
            channel = slack.dm_channel_of(person)
            prompts = [m for m in (slack.messages(channel) if channel else []) if "standup_fill" in str(m.get("blocks"))]
            counts.append(len(prompts))
            lateness += [float(prompts[0]["ts"]) - due.timestamp()] if prompts else []
        result = {
            "bench": "failover", "replicas": 2, "minutes": args.minutes, "seed": seed,
            "sends_expected": len(dues), "sent": sum(counts), "duplicates": sum(n - 1 for n in counts if n > 1),
            "missing": sum(1 for n in counts if n == 0),
            "worst_lateness_seconds": round(max(lateness), 2) if lateness else None,
            "lateness_seconds": [round(x, 1) for x in lateness],
            "kills": len(kill_minutes), "takeover_seconds": takeovers,
            "outage_seconds": args.outage, "outage_minute": outage_minute, "recovery_after_outage_seconds": recovery,
            "target_lateness_seconds": TARGET_LATENESS, "logs": str(logs),
        }
        result["pass"] = bool(result["duplicates"] == 0 and result["missing"] == 0 and lateness
                              and max(lateness) <= TARGET_LATENESS and None not in takeovers + recovery)
        print(json.dumps(result))
    finally:
        for replica in replicas:
            replica.stop()
        proxy.stop()
        slack.stop()
        drop()


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


if __name__ == "__main__":
    main()
