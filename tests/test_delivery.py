"""The one path out: the outbox survives Slack failures, sends each key once, and remembers ts."""

import logging
import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from clock import utcnow
from delivery import REF, Delivery
from models import outbox
from models.db import session_scope
from models.outbox import OutboxMessage


@pytest.fixture
def delivery(engine, slack, apps_not_sending):
    sender = Delivery(token=slack.bot_token, api_url=slack.api_url, engine=engine, timeout=5)
    yield sender
    sender.stop()


def queue_post(delivery, engine, key, text="hello", channel="C0GENERAL"):
    with session_scope(engine) as session:
        return delivery.queue(session, key=key, team_id="T0TEST", method="chat.postMessage", now=utcnow(),
                              channel=channel, text=text)


def queue_post_in(delivery, engine, where: str, *, key: str, text: str) -> tuple[str, dict]:
    """Queue a post in a channel, a DM (addressed to the user) or a thread (of a card posted first).
    Returns where it goes: (channel, {"thread_ts": ...} or {})."""
    from tests.slack import ALICE

    thread = {}
    if where == "thread":
        queue_post(delivery, engine, f"{key}:card", text="the card")
        delivery.drain()
        thread = {"thread_ts": row(engine, f"{key}:card").ts}
    channel = ALICE if where == "dm" else "C0GENERAL"
    with session_scope(engine) as session:
        delivery.queue(session, key=key, team_id="T0TEST", method="chat.postMessage", now=utcnow(),
                       channel=channel, text=text, **thread)
    return channel, thread


def row(engine, key) -> OutboxMessage:
    with session_scope(engine) as session:
        return session.exec(select(OutboxMessage).where(OutboxMessage.key == key)).one()


def posted(slack, channel="C0GENERAL", text=None):
    return [m for m in slack.messages(channel) if text is None or m["text"] == text]


def test_a_post_answered_500_is_retried_by_the_outbox_after_looking_not_at_once(delivery, engine, slack):
    queue_post(delivery, engine, "notice:1", text="after the storm")
    slack.fail_next("chat.postMessage", times=1, status=500)
    assert delivery.drain() == 0  # Slack may have posted it: no blind repeat inside the call
    waiting = row(engine, "notice:1")
    assert waiting.status == "pending" and waiting.attempts == 1 and waiting.last_error
    assert delivery.drain() == 0  # not due yet: back-off
    assert delivery.drain(now=utcnow() + timedelta(minutes=1)) == 1
    messages = posted(slack, text="after the storm")
    assert len(messages) == 1
    sent = row(engine, "notice:1")
    assert (sent.status, sent.channel, sent.ts) == ("sent", "C0GENERAL", messages[0]["ts"])
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [500, 200]
    assert len(slack.calls_to("conversations.history")) == 1  # looked for the first attempt first


def test_an_edit_answered_500_is_repeated_at_once(delivery, engine, slack):
    queue_post(delivery, engine, "card:2", text="version 1")
    delivery.drain()
    with session_scope(engine) as session:
        delivery.queue(session, key="card:2:edit", team_id="T0TEST", method="chat.update", now=utcnow(),
                       text="version 2", **{REF: "card:2"})
    slack.fail_next("chat.update", times=2, status=503, when="after")  # an edit twice is the same edit
    assert delivery.drain() == 1
    assert [c.status for c in slack.calls_to("chat.update")] == [503, 503, 200]
    assert [m["text"] for m in posted(slack) if m["text"].startswith("version")] == ["version 2"]


def test_retry_after_is_honoured(delivery, engine, slack):
    queue_post(delivery, engine, "notice:3", text="slowly")
    slack.fail_next("chat.postMessage", times=1, status=429, retry_after=1)
    assert delivery.drain() == 1
    first, second = slack.calls_to("chat.postMessage")
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 1.0
    assert len(posted(slack, text="slowly")) == 1


def test_the_same_key_is_queued_once(delivery, engine, slack):
    assert queue_post(delivery, engine, "notice:4", text="once")
    assert not queue_post(delivery, engine, "notice:4", text="once")
    delivery.drain()
    assert len(posted(slack, text="once")) == 1


def test_a_rolled_back_transaction_sends_nothing(delivery, engine, slack):
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        delivery.queue(session, key="notice:5", team_id="T0TEST", method="chat.postMessage", now=utcnow(),
                       channel="C0GENERAL", text="never")
        raise RuntimeError("the rule failed after queueing")
    assert delivery.drain() == 0
    assert posted(slack, text="never") == []


def test_an_edit_finds_the_message_it_refers_to(delivery, engine, slack):
    queue_post(delivery, engine, "card:1", text="version 1")
    with session_scope(engine) as session:
        delivery.queue(session, key="card:1:edit:1", team_id="T0TEST", method="chat.update", now=utcnow(),
                       text="version 2", **{REF: "card:1"})
    delivery.drain()
    texts = [m["text"] for m in slack.messages("C0GENERAL") if m["text"].startswith("version")]
    assert texts == ["version 2"]
    card = row(engine, "card:1")
    with session_scope(engine) as session:
        assert outbox.message_ref(session, key="card:1") == (card.channel, card.ts)


def test_a_permanent_error_is_recorded_and_not_retried(delivery, engine, slack, caplog):
    queue_post(delivery, engine, "notice:6", channel="CNOSUCH", text="lost channel")
    with caplog.at_level(logging.ERROR, logger="tandem.delivery"):
        assert delivery.drain() == 0
    failed = row(engine, "notice:6")
    assert (failed.status, failed.last_error) == ("failed", "channel_not_found")
    assert "notice:6" in caplog.text and "channel_not_found" in caplog.text
    delivery.drain(now=utcnow() + timedelta(hours=2))
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_two_workers_draining_at_once_send_each_message_once(delivery, engine, slack):
    for number in range(40):
        queue_post(delivery, engine, f"fanout:{number}", text=f"fan {number}")
    other = Delivery(token=slack.bot_token, api_url=slack.api_url, engine=engine)
    threads = [threading.Thread(target=d.drain) for d in (delivery, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    texts = [m["text"] for m in slack.messages("C0GENERAL") if m["text"].startswith("fan ")]
    assert sorted(texts) == sorted(f"fan {n}" for n in range(40))


def test_the_worker_sends_what_is_queued_after_a_kick(delivery, engine, slack):
    from tests.conftest import wait_until

    delivery.start()
    queue_post(delivery, engine, "notice:7", text="kicked")
    delivery.kick()
    wait_until(lambda: posted(slack, text="kicked"), message="the worker to send")



def test_a_429_closes_the_method_to_every_worker_until_retry_after_ends(delivery, engine, slack):
    queue_post(delivery, engine, "notice:8", text="first in line")
    slack.fail_next("chat.postMessage", times=1, status=429, retry_after=1)
    worker = threading.Thread(target=delivery.drain)
    worker.start()
    from tests.conftest import wait_until

    wait_until(lambda: slack.calls_to("chat.postMessage"), message="the first call")
    delivery.call("users.info", user=slack.bot_user_id)  # another method is not held
    delivery.call("chat.postMessage", channel="C0GENERAL", text="second worker")  # waits for the reopening
    worker.join()
    limited, *after = slack.calls_to("chat.postMessage")
    assert limited.status == 429 and [c.status for c in after] == [200, 200]
    assert all(call.at - limited.at >= 1.0 for call in after)  # nobody called it while it was closed
    assert slack.calls_to("users.info")[0].at - limited.at < 1.0


def test_a_fan_out_is_queued_in_one_statement_and_each_key_once(delivery, engine, slack):
    queue_post(delivery, engine, "fan:1", text="fan 1")
    messages = [{"key": f"fan:{n}", "team_id": "T0TEST", "method": "chat.postMessage", "channel": "C0GENERAL",
                 "text": f"fan {n}"} for n in range(1, 6)]
    with session_scope(engine) as session:
        assert delivery.queue_many(session, messages, now=utcnow()) == {f"fan:{n}" for n in range(2, 6)}
    with session_scope(engine) as session:
        assert delivery.queue_many(session, messages, now=utcnow()) == set()
    assert delivery.drain() == 5
    texts = sorted(m["text"] for m in slack.messages("C0GENERAL") if m["text"].startswith("fan "))
    assert texts == [f"fan {n}" for n in range(1, 6)]
    assert row(engine, "fan:3").lane == "fan:3"


class Crash(Exception):
    """The process dies after Slack accepted a post and before the outbox recorded it."""


def crash_before_recording(monkeypatch, after: int = 0) -> tuple:
    """From the `after`+1-th post on, "die" between Slack taking it and the outbox recording it.
    Returns (restore, calls): put the real mark_sent back; the message ids it was called for."""
    recorded = outbox.mark_sent
    calls = []

    def mark_sent(session, **kwargs):
        calls.append(kwargs["message_id"])
        if len(calls) > after:
            raise Crash()
        recorded(session, **kwargs)

    monkeypatch.setattr(outbox, "mark_sent", mark_sent)
    return (lambda: monkeypatch.setattr(outbox, "mark_sent", recorded)), calls


@pytest.mark.parametrize("where", ["channel", "dm", "thread"])
def test_a_post_that_reached_slack_before_a_crash_is_recorded_not_posted_again(delivery, engine, slack,
                                                                               monkeypatch, where):
    channel, _thread = queue_post_in(delivery, engine, where, key="notice:9", text="exactly once")
    restore, _calls = crash_before_recording(monkeypatch)
    with pytest.raises(Crash):
        delivery.drain()
    restore()
    assert row(engine, "notice:9").status == "sending"
    restarted = Delivery(token=slack.bot_token, api_url=slack.api_url, engine=engine)
    assert restarted.drain(now=utcnow() + outbox.LEASE + timedelta(seconds=1)) == 1  # the lease ran out
    [message] = [m for m in slack.messages(channel) if m["text"] == "exactly once"]
    sent = row(engine, "notice:9")
    assert (sent.status, sent.ts) == ("sent", message["ts"])
    assert len([c for c in slack.calls_to("chat.postMessage") if c.args.get("text") == "exactly once"]) == 1


def test_a_post_that_timed_out_but_arrived_is_not_posted_twice(engine, slack, apps_not_sending):
    from tests.conftest import wait_until

    sender = Delivery(token=slack.bot_token, api_url=slack.api_url, engine=engine, timeout=1)
    queue_post(sender, engine, "notice:10", text="slow but there")
    slack.fail_next("chat.postMessage", delay=1.5)  # answered after the client gave up
    assert sender.drain() == 0
    assert row(engine, "notice:10").last_error
    wait_until(lambda: posted(slack, text="slow but there"), message="Slack to finish the slow post")
    assert sender.drain(now=utcnow() + timedelta(minutes=1)) == 1
    [message] = posted(slack, text="slow but there")
    assert row(engine, "notice:10").ts == message["ts"]


def test_a_retry_that_finds_nothing_posts(delivery, engine, slack):
    queue_post(delivery, engine, "notice:11", text="second time lucky")
    slack.fail_next("chat.postMessage", status=503)
    assert delivery.drain() == 0
    assert delivery.drain(now=utcnow() + timedelta(minutes=1)) == 1
    assert [c.method for c in slack.calls_to("conversations.history")] == ["conversations.history"]
    assert len(posted(slack, text="second time lucky")) == 1


@pytest.mark.parametrize("where", ["channel", "dm", "thread"])
def test_the_retry_finds_its_first_attempt_behind_a_thousand_newer_messages(delivery, engine, slack, where):
    from delivery import CLOCK_SKEW

    channel, thread = queue_post_in(delivery, engine, where, key="notice:12", text="needle")
    slack.fail_next("chat.postMessage", when="after", fault="reset")  # posted; the reply lost
    assert delivery.drain() == 0
    for number in range(1000):
        slack.add_message(channel, f"chatter {number}", **thread)
    slack.limit_history_pages(15)  # fewer per page than asked, as Slack may answer
    assert delivery.drain(now=utcnow() + timedelta(seconds=10)) == 1
    [needle] = [m for m in slack.messages(channel) if m["text"] == "needle"]
    assert row(engine, "notice:12").ts == needle["ts"]
    assert sum(1 for c in slack.calls_to("chat.postMessage") if c.args.get("text") == "needle") == 1
    lookups = slack.calls_to("conversations.replies" if thread else "conversations.history")
    # History comes newest first: 1,000 newer messages and the needle, 15 a page, by cursor. A thread's
    # replies come oldest first, so the needle is on the first page.
    assert len(lookups) == (1 if thread else 67)
    first_attempt = row(engine, "notice:12").first_attempt_at.timestamp()
    assert all(float(c.args["oldest"]) == pytest.approx(first_attempt - CLOCK_SKEW) for c in lookups)


def test_a_retry_whose_lookup_fails_waits_instead_of_posting_blind(delivery, engine, slack):
    queue_post(delivery, engine, "notice:13", text="look first")
    slack.fail_next("chat.postMessage", when="after", status=503)
    assert delivery.drain() == 0
    slack.fail_next("conversations.history", status=503, times=3)  # Slack cannot say whether it is there
    assert delivery.drain(now=utcnow() + timedelta(seconds=10)) == 0
    assert row(engine, "notice:13").status == "pending"
    assert delivery.drain(now=utcnow() + timedelta(minutes=1)) == 1
    assert len(posted(slack, text="look first")) == 1 and len(slack.calls_to("chat.postMessage")) == 1
