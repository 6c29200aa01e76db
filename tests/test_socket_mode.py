"""Socket Mode, the default deployment: /tandem help end to end, Slack's routine `disconnect`, and
the faults a connection meets (a TCP reset, a close, a silent drop), each while Slack keeps
sending slash commands, clicks and events.

What the fault tests prove and assume (the local Slack's model: localslack/socket_mode.py, push.py):
after a reset or a close Slack knows the connection is gone and routes everything to the other
one, so nothing may be lost and every ack must come within Slack's 3 s. After a silent drop
Slack does not know: whatever it writes into the dead socket before it notices (`silent_notice`,
undocumented; 1.5 s here) never reaches Tandem — the interactive payloads among it are lost by
Slack itself, the events come again with retry_attempt 1. The test proves that those are the
only losses, that Tandem gives the dead connection up by its missing pongs and opens a new one.
"""

import json
import time
import urllib.request

import pytest
from sqlmodel import select

import socket_mode
from models.db import session_scope
from models.events import HandledEvent
from tests.conftest import wait_until
from tests.slack import ALICE, BOB, CHEN, payloads

EVERY = 0.1  # seconds between two payloads from Slack
SILENT_NOTICE = 1.5


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
    assert health(socket_tandem) == (200, {"database": "ok", "slack": "connected", "slack_connections": 2,
                                           "scheduler": "standby", "version": socket_tandem.services.version})


def test_reconnects_after_disconnect_and_acks_in_time(socket_tandem, slack):
    slack.add_user("UZH", locale="zh-CN")
    connects = slack.socket_connect_count
    assert slack.socket_disconnect(reason="refresh_requested") == 2  # Slack refreshes both at once
    wait_until(lambda: slack.socket_connect_count == connects + 2 and slack.socket_connections == 2, timeout=10,
               message="two new socket connections")
    ack = slack.socket_send("slash_commands", help_command(slack, "UZH"), timeout=5)
    assert ack["payload"]["text"].endswith("：命令")
    assert ack["elapsed"] < 3.0  # Slack's ack limit


def traffic(slack):
    """Slack's side of busy users: a slash command, a click, an event, again and again."""

    def make(index: int) -> tuple[str, dict]:
        user = (ALICE, BOB, CHEN)[index // 3 % 3]
        if index % 3 == 0:
            return "slash_commands", help_command(slack, user)
        if index % 3 == 1:
            return "interactive", payloads.block_actions(user, [payloads.action("request_new_from_home")], slack=slack)
        return "events_api", payloads.event_callback(payloads.app_home_opened(user), slack=slack)

    return make


def through_a_fault(slack, kind: str, seconds: float) -> dict:
    """Breaks the oldest connection and sends traffic for `seconds` from that moment on."""
    faulted, other = slack.socket_live_ids
    first_new = slack.socket_connect_count + 1  # the replacement's id
    faulted_at = time.monotonic()
    assert slack.socket_fault(kind) == faulted
    outcomes = slack.socket_stream(traffic(slack), count=int(seconds / EVERY), every=EVERY)
    wait_until(lambda: slack.socket_connections == 2, timeout=5, message="two live connections again")
    assert slack.socket_live_ids == [other, first_new]  # replacing one never touched the other
    return {"faulted": faulted, "at": faulted_at, "outcomes": outcomes,
            "replaced_after": slack.socket_connection(first_new)["connected_at"] - faulted_at}


def check_served(running, slack, outcomes: list[dict]) -> None:
    """Every acked payload did what its user expects, exactly once."""
    acked = {kind: [o for o in outcomes if o["acked"] and o["type"] == kind]
             for kind in ("slash_commands", "interactive", "events_api")}
    for outcome in acked["slash_commands"]:
        title = "：命令" if outcome["payload"]["user_id"] == CHEN else ": commands"  # chen's Slack is in Chinese
        assert outcome["ack"]["payload"]["text"].endswith(title)

    def done(method: str) -> list:
        return [c for c in slack.calls_to(method) if c.ok]

    # A click's modal and an event's Home come after the ack: wait for them, then for quiet.
    wait_until(lambda: len(done("views.open")) >= len(acked["interactive"])
               and len(done("views.publish")) >= len(acked["events_api"]), message="the modals and Homes")
    running.settle()
    opened = sorted(c.args["trigger_id"] for c in done("views.open"))
    assert opened == sorted(o["payload"]["trigger_id"] for o in acked["interactive"])  # each modal once
    event_ids = sorted(o["payload"]["event_id"] for o in acked["events_api"])
    with session_scope(running.engine) as session:
        assert sorted(session.exec(select(HandledEvent.event_id)).all()) == event_ids
    assert len(done("views.publish")) == len(event_ids)  # each Home once


@pytest.mark.parametrize("kind", ["reset", "close"])
def test_a_broken_connection_loses_nothing(socket_tandem, slack, kind):
    run = through_a_fault(slack, kind, seconds=1.5)
    outcomes = run["outcomes"]
    assert all(o["acked"] and len(o["attempts"]) == 1 and o["elapsed"] < 3.0 for o in outcomes), [
        o["attempts"] for o in outcomes if not o["acked"] or len(o["attempts"]) > 1]
    assert all(o["attempts"][0]["connection"] != run["faulted"] for o in outcomes)  # Slack knew it was gone
    check_served(socket_tandem, slack, outcomes)
    assert run["replaced_after"] < 2.0  # ~0.15 s unloaded (bench/socket_faults.py); slack for a busy machine
    assert health(socket_tandem)[1]["slack_connections"] == 2


def test_a_silent_connection_is_given_up_and_loses_only_what_slack_wrote_into_it(socket_tandem, slack):
    slack.silent_notice = SILENT_NOTICE
    run = through_a_fault(slack, "silent", seconds=3.5)
    outcomes, faulted = run["outcomes"], run["faulted"]
    swallowed = [o for o in outcomes if o["attempts"][0]["connection"] == faulted]
    assert swallowed and all(o["sent_at"] - run["at"] < SILENT_NOTICE for o in swallowed)
    for outcome in outcomes:
        first = outcome["attempts"][0]
        if first["connection"] != faulted:
            assert first["lost"] is None and first["elapsed"] < 3.0  # the other connection served it
        elif outcome["type"] == "events_api":  # Slack sent it again, to a connection that works
            assert outcome["acked"] and outcome["attempts"][1]["envelope"]["retry_attempt"] == 1
        else:
            assert not outcome["acked"]  # lost by Slack: it wrote the payload into a dead socket
    check_served(socket_tandem, slack, outcomes)
    # Tandem noticed by its missing pongs (a ping after PING_SECONDS of silence, PING_SECONDS / 2
    # to answer), closed that socket and opened another.
    given_up = slack.socket_connection(faulted)["closed_at"] - run["at"]
    assert given_up < 1.5 * socket_mode.PING_SECONDS + 1.0
    assert run["replaced_after"] < given_up + 1.0
    assert health(socket_tandem)[1]["slack_connections"] == 2


def test_health_in_http_mode(tandem):
    status, body = health(tandem)
    assert status == 200
    assert body["database"] == "ok" and body["slack"] == "http"
