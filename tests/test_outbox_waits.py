"""tests/outbox.py: waiting for the outbox says what happened when what a test waits for is not there."""

import pytest

from clock import utcnow
from models.db import session_scope
from tests.outbox import drained


def test_a_failed_wait_lists_what_was_sent_and_what_is_still_held(tandem, slack):
    with session_scope(tandem.engine) as session:
        for key, channel in (("helper:sent", "C0GENERAL"), ("helper:lost", "C0NOWHERE")):
            tandem.services.delivery.queue(session, key=key, team_id=slack.team_id, method="chat.postMessage",
                                           now=utcnow(), channel=channel, text=key)
    assert drained(lambda: [m for m in slack.messages("C0GENERAL") if m["text"] == "helper:sent"], "the post")
    with pytest.raises(AssertionError) as failed:
        drained(lambda: slack.messages("C0NOWHERE"), "the post nobody can see")
    report = str(failed.value)
    assert report.startswith("the post nobody can see: not there once the app was quiet")
    assert "sent  helper:sent chat.postMessage" in report
    assert "failed  helper:lost chat.postMessage attempts=1" in report and "channel_not_found" in report
