"""Socket Mode through its faults: how fast Tandem acks right after one, and how soon it holds all
its connections again.

    .venv/bin/python bench/socket_faults.py [--rounds 5] [--connections 2] [--every 0.02] [--window 4.5]
                                            [--silent-notice 5] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Tandem runs as `bot.py run --mode socket` in a child process against the local Slack (localslack)
in this one. Each round breaks the oldest connection — a TCP reset, a close frame + FIN, or a
silent drop (nothing gets through, no FIN, no pong) — and from that instant sends a signed-free
Socket Mode `/tandem help` every `--every` seconds for `--window` seconds, the way Slack spreads
payloads over the live connections (round robin). A silent connection keeps getting its share
until Slack notices it, `--silent-notice` seconds later: Slack does not say how long that takes.

Prints ONE JSON line; per fault: the ack time of the first command after the fault and of all of
them (p50 / max, ms; an ack after 3 s counts as lost, as Slack counts it), how many were lost
because no connection was live (Tandem's part: must be 0) or because Slack wrote them into the dead
socket (Slack's part, silent drop only), the seconds until Tandem held `--connections` live
connections again, and for the silent drop, the seconds until Tandem gave the dead one up.
`--connections 1` shows what one connection did. Exit status 0 when nothing was lost for want of
a connection and every ack came within 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.standup_fanout import database  # noqa: E402
from localslack import ALICE, LocalSlack, payloads  # noqa: E402
from localslack.socket_mode import FAULTS  # noqa: E402
from models.db import migrate  # noqa: E402
from tests.conftest import free_port, wait_until  # noqa: E402


def log(message: str) -> None:
    print(f"[bench/socket_faults] {message}", file=sys.stderr, flush=True)


def spread(values: list[float]) -> dict:
    return {"p50": round(statistics.median(values), 3), "max": round(max(values), 3)} if values else None


def start_tandem(slack: LocalSlack, url: str, connections: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_APP_TOKEN": slack.app_token,
           "SLACK_API_URL": slack.api_url, "DATABASE_URL": url, "HOST": "127.0.0.1", "PORT": str(port),
           "SCHEDULER_ENABLED": "false", "LOG_LEVEL": "WARNING", "SOCKET_CONNECTIONS": str(connections)}
    process = subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "run", "--mode", "socket"], env=env, cwd=ROOT)
    return process, f"http://127.0.0.1:{port}/healthz"


def tandem_connections(health_url: str) -> int:
    try:
        with urllib.request.urlopen(health_url, timeout=2) as response:
            return json.loads(response.read()).get("slack_connections", 0)
    except OSError:
        return 0


def commands(slack: LocalSlack):
    def command(_index: int) -> tuple[str, dict]:
        return "slash_commands", payloads.slash_command("/tandem", "help", user_id=ALICE, channel_id="C0GENERAL",
                                                        slack=slack)

    return command


def one_round(slack: LocalSlack, kind: str, every: float, window: float) -> dict:
    first_new = slack.socket_connect_count + 1
    faulted_at = time.monotonic()
    faulted = slack.socket_fault(kind)
    outcomes = slack.socket_stream(commands(slack), count=int(window / every), every=every, timeout=window + 10)
    wait_until(lambda: slack.socket_connect_count >= first_new, timeout=10, message="a new connection")
    attempts = [o["attempts"][0] for o in outcomes]
    closed_at = slack.socket_connection(faulted)["closed_at"]
    return {
        "first_ms": attempts[0]["elapsed"] * 1000 if attempts[0]["lost"] is None else None,
        "acks_ms": [a["elapsed"] * 1000 for a in attempts if a["lost"] is None],
        "no_connection": sum(a["lost"] == "no_connection" for a in attempts),
        "in_dead_socket": sum(a["lost"] == "no_ack" and a["connection"] == faulted for a in attempts),
        "other_lost": sum(a["lost"] == "no_ack" and a["connection"] != faulted for a in attempts),
        "sent": len(attempts),
        "recovered_s": slack.socket_connection(first_new)["connected_at"] - faulted_at,
        "given_up_s": closed_at - faulted_at if closed_at else None,
        "faulted_at": faulted_at,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--every", type=float, default=0.02, help="seconds between two slash commands")
    parser.add_argument("--window", type=float, default=4.5, help="seconds of traffic after each fault")
    parser.add_argument("--silent-notice", type=float, default=5.0)
    parser.add_argument("--postgres")
    args = parser.parse_args()

    slack = LocalSlack().start()
    slack.silent_notice = args.silent_notice
    url, drop = database(args.postgres)
    migrate(url)
    process, health_url = start_tandem(slack, url, args.connections)
    result: dict = {"connections": args.connections, "rounds": args.rounds, "every_s": args.every,
                    "window_s": args.window, "silent_notice_s": args.silent_notice,
                    "database": "postgresql" if args.postgres else "sqlite"}
    try:
        wait_until(lambda: tandem_connections(health_url) >= args.connections, timeout=30, message="Tandem up")
        slack.socket_stream(commands(slack), count=20, every=0.05)  # warm up: the first command is slower
        for kind in FAULTS:
            rounds = []
            for number in range(args.rounds):
                wait_until(lambda: slack.socket_connections >= args.connections
                           and tandem_connections(health_url) >= args.connections, timeout=30,
                           message="all connections live", interval=0.1)
                time.sleep(0.5)
                rounds.append(one_round(slack, kind, args.every, args.window))
                log(f"{kind} round {number + 1}: {json.dumps({k: v for k, v in rounds[-1].items() if k != 'acks_ms'})}")
                # A silent connection is still Slack's until it notices; the next round starts after.
                time.sleep(max(0.0, rounds[-1]["faulted_at"] + args.silent_notice + 0.2 - time.monotonic())
                           if kind == "silent" else 0)
            acks = [ms for r in rounds for ms in r["acks_ms"]]
            result[kind] = {
                "first_ack_ms": spread([r["first_ms"] for r in rounds if r["first_ms"] is not None]),
                "ack_ms": spread(acks),
                "sent": sum(r["sent"] for r in rounds),
                "lost_no_connection": sum(r["no_connection"] for r in rounds),
                "lost_in_dead_socket": sum(r["in_dead_socket"] for r in rounds),
                "lost_other": sum(r["other_lost"] for r in rounds),
                "recovered_s": spread([r["recovered_s"] for r in rounds]),
            }
            if kind == "silent":
                result[kind]["given_up_s"] = spread([r["given_up_s"] for r in rounds if r["given_up_s"]])
    finally:
        process.terminate()
        process.wait(15)
        slack.stop()
        drop()
    print(json.dumps(result))
    ok = all(result[k]["lost_no_connection"] == 0 and result[k]["lost_other"] == 0 for k in FAULTS)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
