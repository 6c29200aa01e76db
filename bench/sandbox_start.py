"""How long the sandbox takes to start: from `./tandem run` (no Slack credentials, no mode, .venv
already installed) to its banner printed AND the /sandbox page answering 200.

    .venv/bin/python bench/sandbox_start.py [--runs 3]

Each run starts ./tandem run (which works in the repository's directory) with SANDBOX_DATABASE in
one temporary directory and PORT a free port. The first run is "cold": it migrates a new database
and keeps a migrated copy next to it (sandbox.fresh_database); the later runs are "warm": they copy
it, as every start after a user's first does. The clock starts just before the process is spawned; the banner
is read from its stdout; then GET /sandbox is polled until it answers 200. Prints ONE JSON line:
each run's seconds to the banner and to the page, the cold time, the warm runs' median, the target
(<= 5 s) and pass (both cold and warm median within the target).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 5.0
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(directory: Path) -> dict:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TANDEM_", "DATABASE_URL"))}
    env.update(PORT=str(port), SANDBOX_DATABASE=str(directory / "sandbox.db"), LOG_LEVEL="WARNING")
    banner = threading.Event()
    started = time.perf_counter()
    process = subprocess.Popen([str(ROOT / "tandem"), "run"], cwd=directory, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, start_new_session=True)

    def read() -> None:
        for line in process.stdout:
            if "/sandbox" in line:
                banner.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not banner.wait(60):
            raise SystemExit("no banner within 60 s")
        to_banner = time.perf_counter() - started
        while True:
            try:
                with OPENER.open(f"http://127.0.0.1:{port}/sandbox", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - started > 60:
                raise SystemExit("the page did not answer within 60 s")
            time.sleep(0.01)
        to_page = time.perf_counter() - started
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # ./tandem and the bot it started
        process.wait(20)
    return {"banner_s": round(to_banner, 3), "page_s": round(max(to_page, to_banner), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4, help="runs in all: one cold, the rest warm")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        runs = [one_run(Path(directory)) for _ in range(max(args.runs, 2))]
    cold = runs[0]["page_s"]
    warm = statistics.median(r["page_s"] for r in runs[1:])
    print(json.dumps({"bench": "sandbox_start", "runs": runs, "cold_s": cold, "warm_median_s": round(warm, 3),
                      "target_s": TARGET, "ratio": round(warm / TARGET, 3), "pass": max(cold, warm) <= TARGET,
                      "load_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}))


if __name__ == "__main__":
    sys.exit(main())
