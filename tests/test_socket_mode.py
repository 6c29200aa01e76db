"""Socket Mode, the default deployment: /tandem help end to end, and reconnecting after Slack's
routine `disconnect`."""

import json
import urllib.request

import pytest

from tests.conftest import RunningTandem, make_settings, wait_until
from tests.slack import payloads


@pytest.fixture
def socket_tandem(slack, database_url):
    running = RunningTandem(make_settings(slack, database_url), mode="socket").start()
    slack.wait_for_socket(count=1, timeout=10)
    yield running
    running.stop()


def help_command(slack, user_id="UEN"):
    return payloads.slash_command("/tandem", "help", user_id=user_id, channel_id="C0GENERAL",
                                  team_id=slack.team_id, slack=slack)


def health(running) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(running.url + "/healthz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_help_over_socket_mode(socket_tandem, slack):
    slack.add_user("UEN", locale="en-US")
    ack = slack.socket_send("slash_commands", help_command(slack), timeout=5)
    assert ack["payload"]["response_type"] == "ephemeral"
    assert ack["payload"]["text"].endswith(": commands")
    assert health(socket_tandem) == (200, {"database": "ok", "slack": "connected", "scheduler": "standby",
                                           "version": socket_tandem.services.version})


def test_reconnects_after_disconnect_and_acks_in_time(socket_tandem, slack):
    slack.add_user("UZH", locale="zh-CN")
    connects = slack.socket_connect_count
    slack.socket_disconnect(reason="refresh_requested")
    wait_until(lambda: slack.socket_connect_count > connects and slack.socket_connections >= 1, timeout=10,
               message="a new socket connection")
    ack = slack.socket_send("slash_commands", help_command(slack, "UZH"), timeout=5)
    assert ack["payload"]["text"].endswith("：命令")
    assert ack["elapsed"] < 3.0  # Slack's ack limit


def test_health_in_http_mode(tandem):
    status, body = health(tandem)
    assert status == 200
    assert body["database"] == "ok" and body["slack"] == "http"
