"""What reaches /slack/events before Bolt does: the malformed payloads of issue 12 get 400 (a bad
timestamp 401) with one short log line and no change; bodies over the limit are refused before
they are read; Socket Mode acknowledges what it cannot use and keeps serving."""

import json
import logging
import select
import socket
import time
import urllib.parse

import pytest

import web
from tests.hostile import base, encode, snapshot
from tests.slack import payloads


def form(payload: dict) -> bytes:
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def the_issues_payloads(slack) -> dict[str, tuple[bytes, str]]:
    actions = base("block_actions", slack)
    actions["actions"] = "request_accept"
    user = base("shortcut", slack)
    user["user"] = 12345
    metadata = base("view_submission", slack)
    metadata["view"]["private_metadata"] = "{not json"
    command = base("command", slack)
    del command["user_id"]
    return {"actions as a string": (form(actions), "application/x-www-form-urlencoded"),
            "user as a number": (form(user), "application/x-www-form-urlencoded"),
            "private_metadata not JSON": (form(metadata), "application/x-www-form-urlencoded"),
            "a body that is not JSON": (b'{"type": "event_callback", ', "application/json"),
            "a JSON array": (b'[{"type": "event_callback"}]', "application/json"),
            "a slash command with no user_id": encode("command", command)}


def test_the_malformed_payloads_get_400_one_log_line_and_change_nothing(sender, slack, tandem, caplog):
    for name, (body, content_type) in the_issues_payloads(slack).items():
        before, calls = snapshot(tandem.engine), len(slack.calls)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            response = sender.post(body, content_type)
        assert response.status == 400, name
        assert "Traceback" not in response.text and len(response.text) < 200, name
        [line] = caplog.records
        assert line.name == "tandem.inbound" and "\n" not in line.getMessage() and len(line.getMessage()) < 300
        tandem.settle()
        assert snapshot(tandem.engine) == before and len(slack.calls) == calls, name


def test_a_timestamp_that_is_no_number_gets_401(sender, slack, tandem, caplog):
    body, content_type = encode("command", base("command", slack))
    with caplog.at_level(logging.INFO):
        response = sender.post(body, content_type, timestamp="soon")
    assert response.status == 401
    assert [r.getMessage().endswith("401 X-Slack-Request-Timestamp is not a number") for r in caplog.records] == [True]


def test_a_well_formed_payload_still_gets_through(sender, slack, tandem):
    body, content_type = encode("command", base("command", slack))
    response = sender.post(body, content_type)
    assert response.status == 200 and response.json()["response_type"] == "ephemeral"


def post_raw(port: int, headers: dict, chunks, *, chunked: bool = False) -> tuple[int, int]:
    """POST chunk by chunk, stopping as soon as an answer arrives: (status, body bytes sent)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        head = "POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        conn.sendall((head + ("Transfer-Encoding: chunked\r\n" if chunked else "") + "\r\n").encode())
        sent = 0
        for chunk in chunks:
            if select.select([conn], [], [], 0.02)[0]:
                break  # answered already: the rest is never read
            try:
                conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        answer = conn.recv(200)
    return int(answer.split(b" ")[1]), sent


FIVE_MB = [b"x" * 65536] * 80  # 5,242,880 bytes


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_ten_bodies_of_5_mb_are_refused_before_they_are_read_and_barely_grow_the_log(tandem, slack, caplog,
                                                                                      chunked):
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(int(time.time())),
               "X-Slack-Signature": "v0=" + "0" * 64}
    if not chunked:
        headers["Content-Length"] = str(sum(map(len, FIVE_MB)))
    before = snapshot(tandem.engine)
    with caplog.at_level(logging.INFO):
        answers = [post_raw(tandem.settings.port, headers, FIVE_MB, chunked=chunked) for _ in range(10)]
    assert all(status == 413 for status, _sent in answers)
    assert all(sent < sum(map(len, FIVE_MB)) for _status, sent in answers)  # never sent, let alone read, in full
    if not chunked:
        assert all(sent <= 65536 for _status, sent in answers)  # refused on its Content-Length
    logged = [record.getMessage() for record in caplog.records]
    assert len(logged) == 10 and all(f"413 the body is over the limit of {web.MAX_BODY_BYTES} bytes" in m
                                     for m in logged)
    assert sum(len(m) + 60 for m in logged) < 10 * 1024  # under 1 KB per refusal, with the log's own prefix
    assert snapshot(tandem.engine) == before


def test_a_large_but_real_submission_is_read(sender, slack, tandem):
    text = "需求描述，" * 400  # 2,000 Chinese characters, percent-encoded three bytes each
    payload = base("view_submission", slack)
    payload["view"]["state"]["values"].update(
        {name: {"value": payloads.state_value("plain_text_input", text)}
         for name in ("problem", "user_story", "expected_value", "labels")})
    payload["view"]["blocks"] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}] * 20
    body, content_type = encode("view_submission", payload)
    assert 350_000 < len(body) < web.MAX_BODY_BYTES
    response = sender.post(body, content_type)
    assert response.status == 200 and response.json()["response_action"] == "errors"  # labels too long


def test_socket_mode_acknowledges_and_drops_what_it_cannot_use(socket_tandem, slack, caplog):
    issues = {name: body for name, (body, _type) in the_issues_payloads(slack).items()}
    envelopes = [("interactive", json.loads(urllib.parse.parse_qs(issues[name].decode())["payload"][0]))
                 for name in ("actions as a string", "user as a number", "private_metadata not JSON")]
    envelopes.append(("slash_commands", dict(urllib.parse.parse_qsl(issues["a slash command with no user_id"]
                                                                    .decode()))))
    envelopes.append(("events_api", {"type": "event_callback", "team_id": slack.team_id, "event": []}))
    before = snapshot(socket_tandem.engine)
    with caplog.at_level(logging.INFO):
        for envelope_type, payload in envelopes:
            ack = slack.socket_send(envelope_type, payload, timeout=5)
            assert ack["payload"] is None
    refusals = [r.getMessage() for r in caplog.records if r.name == "tandem.inbound"]
    assert len(refusals) == len(envelopes) and all("Socket Mode" in m and " 400 " in m for m in refusals)
    assert not [r for r in caplog.records if r.exc_info]
    assert snapshot(socket_tandem.engine) == before
    slack.add_user("UEN", locale="en-US")
    help_ = slack.socket_send("slash_commands", payloads.slash_command("/tandem", "help", "UEN", slack=slack))
    assert help_["payload"]["text"].endswith(": commands")  # still serving everyone else


def test_a_payload_no_listener_takes_is_one_log_line(sender, slack, tandem, caplog):
    shortcut = base("shortcut", slack)
    shortcut["callback_id"] = "no_such_shortcut"
    with caplog.at_level(logging.INFO):
        response = sender.post(*encode("shortcut", shortcut))
    assert response.status == 404
    assert [r.getMessage() for r in caplog.records] == [
        "nothing answered a shortcut payload (no listener for it, or none acknowledged within 3 s)"]


def test_command_text_that_says_payload_reaches_its_listener(sender, slack, tandem):
    # Bolt's own body parser reads any form body containing "payload" as an interaction and finds
    # none; the body inbound.py parsed once is the one Bolt dispatches.
    command = payloads.slash_command("/tandem", "payload", payloads.DEFAULT_USER, payloads.DEFAULT_CHANNEL,
                                     slack=slack)
    response = sender.post(*encode("command", command))
    assert response.status == 200, response.text
    assert "payload" in json.dumps(response.json())
