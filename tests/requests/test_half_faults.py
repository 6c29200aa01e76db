"""Exactly once while Slack half-fails: a request filed and triaged through the real app while every
chat.postMessage and chat.update meets one of the ways a Web API call can fail (refused before the
work, or done and its reply lost) gives one card, edited in place, one thread line and one DM each.
"""

from datetime import timedelta

import pytest
from sqlmodel import select

from clock import utcnow
from delivery import Delivery
from localslack.payloads import action
from models.db import session_scope
from models.outbox import PENDING, SENDING, OutboxMessage
from tests.conftest import wait_until
from tests.requests.conftest import OPS, PM1, TRIAGE
from tests.requests.test_filing import feature_values, open_and_pick, requests_in_db

TIMEOUT = 0.5  # the sending client's timeout; the "timeout" faults answer later than this
FAULTS = {
    "429": {"status": 429, "retry_after": 1},  # refused, says Slack's doc: repeated at once after Retry-After
    "ratelimited error": {"error": "ratelimited"},
    "5xx before": {"status": 503},
    "5xx after": {"status": 500, "when": "after"},
    "gateway page after": {"status": 502, "when": "after"},
    "reset before": {"fault": "reset"},
    "reset after": {"fault": "reset", "when": "after"},
    "timeout before": {"fault": "reset", "delay": TIMEOUT + 0.2},
    "timeout after": {"delay": TIMEOUT + 0.2, "when": "after"},
    "truncated reply": {"fault": "truncate", "when": "after"},
}


def send_everything(delivery: Delivery, engine) -> None:
    """Drain the outbox as its workers would over the next minutes, each retry when its back-off
    (5 s, 10 s, 20 s, ...) ends: the time a retry looks back to is this driven clock's, and Slack's
    clock (the ts of a post) is the real one; they differ by less than delivery.CLOCK_SKEW."""
    for seconds in (0, 5, 15, 35, 75, 155, 315, 635):
        delivery.drain(now=utcnow() + timedelta(seconds=seconds))
        with session_scope(engine) as session:
            if not session.exec(select(OutboxMessage.id).where(OutboxMessage.status.in_((PENDING, SENDING)))).all():
                return
    raise AssertionError("the outbox did not empty")


def top_level(slack) -> list[dict]:
    return [m for m in slack.messages(TRIAGE) if m["thread_ts"] in (None, m["ts"])]


@pytest.mark.parametrize("fault", list(FAULTS))
def test_filed_and_triaged_while_slack_half_fails_posts_once_and_edits_the_one_card(
        fault, sender, slack, tandem, workspace, apps_not_sending):
    delivery = Delivery(token=slack.bot_token, api_url=slack.api_url, engine=tandem.engine, timeout=TIMEOUT)
    delivery.late = tandem.services.delivery.late  # the Home tab, rendered when sent
    view = open_and_pick(sender, slack, OPS)
    slack.fail_next("chat.postMessage", times=2, **FAULTS[fault])  # the card, then the requester's DM
    assert sender.view_submission(OPS, view, feature_values()).status == 200
    send_everything(delivery, tandem.engine)
    [card] = top_level(slack)
    assert card["text"].startswith("REQ-1 · Bulk export") and len(slack.messages(OPS)) == 1

    slack.fail_next("chat.update", **FAULTS[fault])  # the card's edit
    slack.fail_next("chat.postMessage", times=2, **FAULTS[fault])  # the thread line, the DM about it
    assert sender.action(PM1, [action("request_accept")], message=card).status == 200
    wait_until(lambda: requests_in_db(tandem)[0].status == "accepted" and not tandem.services.busy,
               message="the change to be queued")
    send_everything(delivery, tandem.engine)

    [edited] = top_level(slack)
    assert edited["ts"] == card["ts"] and edited["text"].endswith("· Accepted")
    assert {c.args["ts"] for c in slack.calls_to("chat.update")} == {card["ts"]}
    assert [m["text"] for m in slack.replies(TRIAGE, card["ts"])] == [f"<@{PM1}> accepted · New → Accepted"]
    assert [m["text"] for m in slack.messages(OPS)][1] == "REQ-1: Accepted" and len(slack.messages(OPS)) == 2
    assert len(requests_in_db(tandem)) == 1
    assert sum(1 for c in slack.calls_to("chat.postMessage") if c.executed) == 4  # card, DM, thread line, DM
