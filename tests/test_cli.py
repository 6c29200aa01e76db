"""bot.py from the outside: its help, and the answer to missing or placeholder credentials."""

import os
import subprocess
import sys

import pytest

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TANDEM_", "DATABASE_URL"))}


def run_bot(repo_root, tmp_path, *args, **env):
    # tmp_path as the working directory: no .env from the developer's checkout is read.
    return subprocess.run([sys.executable, str(repo_root / "bot.py"), *args], cwd=tmp_path, env={**CLEAN_ENV, **env},
                          capture_output=True, text=True, timeout=60)


def test_help_lists_the_modes(repo_root, tmp_path):
    result = run_bot(repo_root, tmp_path, "--help")
    assert result.returncode == 0
    assert "socket" in result.stdout and "http" in result.stdout and "migrate" in result.stdout


@pytest.mark.parametrize("how", [{"TANDEM_MODE": "socket"}, {"args": ["--mode", "socket"]}])
def test_socket_mode_without_credentials_names_each_and_exits_2(repo_root, tmp_path, how):
    # A mode asked for explicitly: a misconfigured production bot never starts the sandbox instead.
    env = {k: v for k, v in how.items() if k != "args"}
    result = run_bot(repo_root, tmp_path, "run", *how.get("args", []), **env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "SLACK_BOT_TOKEN" in result.stderr and "SLACK_APP_TOKEN" in result.stderr
    assert "SLACK_SIGNING_SECRET  (" not in result.stderr  # not needed for Socket Mode
    assert "OAuth & Permissions" in result.stderr and "App-Level Tokens" in result.stderr
    assert "needed for Socket Mode" in result.stderr


@pytest.mark.parametrize("token", ["xoxb-your-bot-token", "changeme", "xoxb-...", "<bot token>"])
def test_placeholders_count_as_missing_in_http_mode(repo_root, tmp_path, token):
    result = run_bot(repo_root, tmp_path, "run", "--mode", "http", SLACK_BOT_TOKEN=token,
                     SLACK_SIGNING_SECRET="your-signing-secret")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "SLACK_BOT_TOKEN  (needed for both modes)" in result.stderr
    assert "SLACK_SIGNING_SECRET  (needed for HTTP mode)" in result.stderr
    assert "Signing Secret" in result.stderr


def test_env_file_is_read(repo_root, tmp_path):
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-1111-2222-abcdef\nSLACK_SIGNING_SECRET=abc123def456\n")
    result = run_bot(repo_root, tmp_path, "check", "--mode", "http")
    assert result.returncode == 0, result.stderr
    assert "complete for http mode" in result.stdout


def test_wrong_token_is_a_clear_error_not_a_traceback(repo_root, tmp_path, slack):
    result = run_bot(repo_root, tmp_path, "run", "--mode", "http", SLACK_BOT_TOKEN="xoxb-0000-wrong-token",
                     SLACK_SIGNING_SECRET="abc123def456", SLACK_API_URL=slack.api_url,
                     DATABASE_URL=f"sqlite:///{tmp_path}/t.db")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in result.stderr


def test_migrate_alone(repo_root, tmp_path):
    result = run_bot(repo_root, tmp_path, "migrate", DATABASE_URL=f"sqlite:///{tmp_path}/m.db")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "m.db").exists()


def test_a_broken_approvals_file_is_a_clear_error_not_a_traceback(repo_root, tmp_path, slack):
    (tmp_path / "approvals.yaml").write_text("- name: Finance\n  approvers: []\n")
    result = run_bot(repo_root, tmp_path, "run", "--mode", "http", SLACK_BOT_TOKEN=slack.bot_token,
                     SLACK_SIGNING_SECRET="abc123def456", SLACK_API_URL=slack.api_url,
                     DATABASE_URL=f"sqlite:///{tmp_path}/t.db", APPROVALS_FILE=str(tmp_path / "approvals.yaml"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "approvals.yaml is not a valid chain: Stage “Finance” has no approvers." in result.stderr


def test_an_unknown_log_level_is_a_clear_line_and_exit_2(repo_root, tmp_path):
    result = run_bot(repo_root, tmp_path, "check", LOG_LEVEL="verbose")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (got 'verbose')" in result.stderr
    assert run_bot(repo_root, tmp_path, "migrate", LOG_LEVEL="debug",
                   DATABASE_URL=f"sqlite:///{tmp_path}/m.db").returncode == 0  # any case is fine
