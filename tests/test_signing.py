"""Requests Slack did not sign, or signed too long ago, are refused and change nothing."""

import time
import urllib.parse

from slack_sdk.signature import SignatureVerifier
from sqlmodel import select

from models.db import session_scope
from models.workspaces import Workspace
from tests.conftest import SIGNING_SECRET


def command_body(slack) -> bytes:
    return urllib.parse.urlencode({
        "team_id": slack.team_id, "user_id": "UEN", "command": "/tandem", "text": "language zh-CN",
        "channel_id": "C0GENERAL", "response_url": slack.new_response_url(), "trigger_id": slack.new_trigger_id(),
    }).encode()


def assert_nothing_happened(tandem, slack):
    with session_scope(tandem.engine) as session:
        assert session.exec(select(Workspace)).all() == []
    assert slack.calls_to("users.info") == []


def test_forged_signature_gets_401(sender, slack, tandem):
    body = command_body(slack)
    response = sender.post(body, "application/x-www-form-urlencoded", signature="v0=" + "0" * 64)
    assert response.status == 401
    assert_nothing_happened(tandem, slack)


def test_signature_with_the_wrong_secret_gets_401(sender, slack, tandem):
    body = command_body(slack)
    timestamp = str(int(time.time()))
    signature = SignatureVerifier("not-our-secret").generate_signature(timestamp=timestamp, body=body)
    response = sender.post(body, "application/x-www-form-urlencoded", timestamp=timestamp, signature=signature)
    assert response.status == 401
    assert_nothing_happened(tandem, slack)


def test_timestamp_older_than_five_minutes_gets_401(sender, slack, tandem):
    body = command_body(slack)
    stale = str(int(time.time()) - 6 * 60)
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stale, body=body)
    response = sender.post(body, "application/x-www-form-urlencoded", timestamp=stale, signature=signature)
    assert response.status == 401
    assert_nothing_happened(tandem, slack)
