"""The sandbox from the outside: `run` without credentials and without a mode starts it, on
127.0.0.1, on its own SQLite file; `sandbox --empty` starts it with nothing in it."""

import json
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

from tests.conftest import free_port
from tests.test_cli import CLEAN_ENV

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def start(repo_root, tmp_path, *args, **env):
    port = free_port()
    process = subprocess.Popen([sys.executable, str(repo_root / "bot.py"), *args], cwd=tmp_path,
                               env={**CLEAN_ENV, "PORT": str(port), "LOG_LEVEL": "WARNING", **env},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read():
        for line in process.stdout:
            lines.append(line)
            if "/sandbox" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(60):
        process.kill()
        raise AssertionError("no banner:\n" + "".join(lines) + process.stderr.read())
    return process, port, "".join(lines)


def stop(process) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(20)


def get(url: str) -> tuple[int, bytes]:
    with OPENER.open(url, timeout=10) as response:
        return response.status, response.read()


def post(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with OPENER.open(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_run_without_credentials_or_mode_starts_the_sandbox(repo_root, tmp_path):
    production = tmp_path / "production.db"
    process, port, banner = start(repo_root, tmp_path, "run", DATABASE_URL=f"sqlite:///{production}")
    try:
        assert f"http://127.0.0.1:{port}/sandbox" in banner
        assert "SLACK_BOT_TOKEN" in banner and "manifest.yaml" in banner  # how to connect a real workspace
        status, page = get(f"http://127.0.0.1:{port}/sandbox")
        assert status == 200 and b"/sandbox/static/app.js" in page
        state = json.loads(get(f"http://127.0.0.1:{port}/sandbox/api/state?user=U0CHEN")[1])
        assert state["language"] == "zh_CN" and state["words"]["channels"] == "频道"
        assert {c["name"] for c in state["channels"]} == {"ops", "triage"}
        for bad in (b"not json", b'{"kind": "send", "user": "U0NOBODY"}', b'{"kind": "submit", "user": "U0OLGA"}'):
            assert post(f"http://127.0.0.1:{port}/sandbox/api/act", bad)[0] == 400  # an answer, never a 500
        status, health = get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and json.loads(health)["database"] == "ok"
    finally:
        stop(process)
    assert (tmp_path / "sandbox.db").exists()
    assert not production.exists()  # DATABASE_URL is never the sandbox's


def test_sandbox_empty_has_no_demo_data(repo_root, tmp_path):
    process, port, banner = start(repo_root, tmp_path, "sandbox", "--empty")
    try:
        assert "empty workspace" in banner
        import sqlalchemy as sa

        engine = sa.create_engine(f"sqlite:///{tmp_path / 'sandbox.db'}")
        with engine.connect() as connection:
            assert connection.execute(sa.text("select count(*) from standup")).scalar() == 0
            assert connection.execute(sa.text("select count(*) from metric_point")).scalar() == 0
        engine.dispose()
    finally:
        stop(process)
