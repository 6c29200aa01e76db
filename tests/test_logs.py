"""LOG_FORMAT=json: one JSON object a line, with the context that follows one interaction, and
never a body, a token or a user's words."""

from __future__ import annotations

import io
import json
import logging

import pytest
from sqlmodel import select

import logs
from clock import utcnow
from localslack.payloads import action
from models.db import session_scope
from models.outbox import OutboxMessage
from settings import Settings
from tests.conftest import SETTINGS_ADMIN
from tests.outbox import drained
from tests.slack import GENERAL

SECRET_WORDS = "my salary is 12345"


@pytest.fixture
def json_lines():
    """Tandem's log lines at INFO and above, formatted as LOG_FORMAT=json formats them."""
    stream = io.StringIO()
    handler = logs.json_handler(stream)
    logger = logging.getLogger("tandem")
    logger.addHandler(handler)
    # Bolt sets the level of the logger named after the app ("tandem"); its children decide here
    children = [logging.getLogger(name) for name in ("tandem.handlers", "tandem.delivery")]
    levels = [child.level for child in children]
    for child in children:
        child.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    for child, level in zip(children, levels, strict=True):
        child.setLevel(level)


def test_one_interaction_can_be_followed_and_no_words_are_logged(tandem, sender, slack, json_lines):
    slack.add_user(SETTINGS_ADMIN, name="ops-lead")
    slack.fail_next("chat.postMessage", error="not_in_channel")
    with session_scope(tandem.engine) as session:
        tandem.services.delivery.queue(session, key="notice:private", team_id="T0TEST", method="chat.postMessage",
                                       now=utcnow(), channel=GENERAL, text=SECRET_WORDS)
    tandem.services.delivery.kick()
    drained(lambda: [line for line in json_lines() if line.get("outbox_key") == "notice:private"], "the failure")
    with session_scope(tandem.engine) as session:
        message_id = session.exec(select(OutboxMessage.id)).one()
    clicked = sender.action(SETTINGS_ADMIN, [action("outbox_retry", value=str(message_id))])
    drained(lambda: [m for m in slack.messages(GENERAL) if m["text"] == SECRET_WORDS], "the retried post")

    lines = json_lines()
    failed = next(line for line in lines if "failed for good" in line["message"])
    assert failed["level"] == "ERROR" and failed["logger"] == "tandem.delivery"
    assert (failed["outbox_key"], failed["team"]) == ("notice:private", "T0TEST") and "time" in failed
    retried = next(line for line in lines if "retry" in line["message"] and line["logger"].endswith("outbox"))
    assert (retried["team"], retried["user"], retried["listener"]) == ("T0TEST", SETTINGS_ADMIN, "action:outbox_retry")
    assert retried["request_id"] == clicked.sent["trigger_id"]
    assert "outbox_key" not in retried  # the worker thread's key does not leak into the handler's lines
    everything = "\n".join(map(json.dumps, lines))
    assert SECRET_WORDS not in everything and slack.bot_token not in everything


def test_the_format_is_a_setting_and_text_stays_the_default(monkeypatch):
    assert Settings(_env_file=None).log_format == "text"
    monkeypatch.setenv("LOG_FORMAT", "json")
    assert Settings(_env_file=None).log_format == "json"
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ValueError):
        Settings(_env_file=None)

