"""Messages that failed for good: seen and recovered by an admin (/tandem outbox, ./tandem outbox),
and a token Slack refuses stops sending instead of failing every message."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

import pytest
from sqlmodel import select

import bot
import metrics
from clock import utcnow
from localslack.payloads import action
from models.db import session_scope
from models.outbox import OutboxMessage
from tests.conftest import SETTINGS_ADMIN, at_once, wait_until
from tests.outbox import drained
from tests.slack import ALICE, GENERAL


@pytest.fixture(autouse=True)
def admin(slack):
    slack.add_user(SETTINGS_ADMIN, name="ops-lead")


def queue_post(tandem, key: str, *, text: str, channel: str = GENERAL) -> None:
    with session_scope(tandem.engine) as session:
        tandem.services.delivery.queue(session, key=key, team_id="T0TEST", method="chat.postMessage",
                                       now=utcnow(), channel=channel, text=text)
    tandem.services.delivery.kick()


def row(tandem, key: str) -> OutboxMessage:
    with session_scope(tandem.engine) as session:
        return session.exec(select(OutboxMessage).where(OutboxMessage.key == key)).one()


def posted(slack, text: str) -> list[dict]:
    return [m for m in slack.messages(GENERAL) if m["text"] == text]


def fail_two(tandem, slack) -> None:
    """Two posts refused for good: one whose channel Tandem has left, one sent nowhere."""
    slack.fail_next("chat.postMessage", error="not_in_channel")
    queue_post(tandem, "notice:retry-me", text="the weekly report")
    drained(lambda: row(tandem, "notice:retry-me").status == "failed", "the first post failed")
    queue_post(tandem, "notice:drop-me", text="to nowhere", channel="CNOSUCH")
    drained(lambda: row(tandem, "notice:drop-me").status == "failed", "the second post failed")


def test_an_admin_sees_failed_messages_and_retries_one_exactly_once(tandem, sender, slack):
    fail_two(tandem, slack)
    listing = sender.command("/tandem", "outbox", user_id=SETTINGS_ADMIN).json()
    assert listing["text"] == "Failed messages: 2."
    text = str(listing["blocks"])
    assert "notice:retry-me" in text and "not_in_channel" in text and "the weekly report" in text
    assert "notice:drop-me" in text and "channel_not_found" in text and "<#CNOSUCH>" in text
    retry_id = row(tandem, "notice:retry-me").id

    # A double click (two payloads at once): one retry, one post, and the second click is told so.
    first, second = at_once(lambda: sender.action(SETTINGS_ADMIN, [action("outbox_retry", value=str(retry_id))]),
                            lambda: sender.action(SETTINGS_ADMIN, [action("outbox_retry", value=str(retry_id))]))
    assert first.status == second.status == 200
    drained(lambda: posted(slack, "the weekly report"), "the retried post")
    assert len(posted(slack, "the weekly report")) == 1
    assert row(tandem, "notice:retry-me").status == "sent"
    answers = [slack.responses(reply.sent["response_url"])[-1] for reply in (first, second)]
    notices = sorted(str(answer["blocks"][0]) for answer in answers)
    assert "Sent again" in notices[0] + notices[1] and "no longer failed" in notices[0] + notices[1]
    assert all(answer["replace_original"] is True for answer in answers)
    assert all(answer["text"] == "Failed messages: 1." for answer in answers)

    drop_id = row(tandem, "notice:drop-me").id
    dropped = sender.action(SETTINGS_ADMIN, [action("outbox_drop", value=str(drop_id))])
    tandem.settle()
    assert "Dropped" in str(slack.responses(dropped.sent["response_url"])[-1]["blocks"])
    assert row(tandem, "notice:drop-me").status == "dropped"
    assert sender.command("/tandem", "outbox", user_id=SETTINGS_ADMIN).json()["text"].startswith("No message failed")
    assert len(slack.calls_to("chat.postMessage")) == 3  # the two failures and the one retry


def test_someone_not_admin_is_refused_in_both_languages_and_clicks_change_nothing(tandem, sender, slack):
    fail_two(tandem, slack)
    assert "Only workspace admins" in sender.command("/tandem", "outbox", user_id=ALICE).json()["text"]
    slack.add_user("UZHONG", name="zhong", locale="zh-CN")
    assert "只有工作区管理员" in sender.command("/tandem", "outbox", user_id="UZHONG").json()["text"]
    forged = sender.action(ALICE, [action("outbox_retry", value=str(row(tandem, "notice:retry-me").id))])
    tandem.settle()
    assert "Only workspace admins" in str(slack.responses(forged.sent["response_url"]))
    assert row(tandem, "notice:retry-me").status == "failed"


def test_the_listing_in_chinese(tandem, sender, slack):
    fail_two(tandem, slack)
    slack.add_user("UZHADMIN", name="zhadmin", locale="zh-CN", is_admin=True)
    listing = sender.command("/tandem", "outbox", user_id="UZHADMIN").json()
    assert listing["text"] == "发送失败的消息：2 条。"
    assert "重试" in str(listing["blocks"]) and "放弃" in str(listing["blocks"])


def test_the_shell_lists_retries_and_drops(tandem, slack, monkeypatch, capsys):
    fail_two(tandem, slack)
    monkeypatch.setenv("DATABASE_URL", tandem.settings.database_url)
    assert bot.main(["outbox", "list"]) == 0
    out = capsys.readouterr().out
    assert "notice:retry-me" in out and "not_in_channel" in out and "2 failed" in out
    retry_id = row(tandem, "notice:retry-me").id
    assert bot.main(["outbox", "retry", str(retry_id)]) == 0
    assert bot.main(["outbox", "retry", str(retry_id)]) == 1  # no longer failed: said, nothing done
    assert "Not failed (any more)" in capsys.readouterr().out
    assert bot.main(["outbox", "drop", "all"]) == 0
    assert bot.main(["outbox", "drop", "twelve"]) == 2
    tandem.services.delivery.kick()
    drained(lambda: posted(slack, "the weekly report"), "the post retried from the shell")
    assert row(tandem, "notice:drop-me").status == "dropped"
    assert bot.main(["outbox", "list"]) == 0 and "No message failed." in capsys.readouterr().out


@pytest.mark.parametrize("error", ["token_revoked", "invalid_auth", "account_inactive"])
def test_a_refused_token_stops_sending_and_fails_no_message(tandem, slack, caplog, error):
    delivery = tandem.services.delivery
    slack.fail_next("chat.postMessage", error=error, times=100)  # Slack refuses every call with this token
    try:
        with caplog.at_level(logging.CRITICAL, logger="tandem.delivery"):
            queue_post(tandem, "notice:a", text="first")
            queue_post(tandem, "notice:b", text="second")
            wait_until(lambda: delivery.token_refused == error, message="the refusal noticed")
            for _ in range(3):
                delivery.drain()
                delivery.kick()
            wait_until(lambda: {row(tandem, key).status for key in ("notice:a", "notice:b")} == {"pending"},
                       message="both messages back in the queue")
        assert [r.levelname for r in caplog.records if "refuses the bot token" in r.message] == ["CRITICAL"]
        assert len(slack.calls_to("chat.postMessage")) <= 2  # one per worker that was already sending
        assert {row(tandem, key).attempts for key in ("notice:a", "notice:b")} == {0}  # nothing counted
        assert bot_metric(tandem, "tandem_slack_token_refused") == 1.0
        ready = urllib.request.Request(tandem.url + "/readyz")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(ready, timeout=5)
        assert refused.value.code == 503 and error in json.loads(refused.value.read())["token"]

        slack.clear_failures()
        delivery._token_checked = 0.0  # as if a minute had passed: the token works again
        assert delivery.recheck_token()
        drained(lambda: posted(slack, "first") and posted(slack, "second"), "both posts once the token works")
        assert bot_metric(tandem, "tandem_slack_token_refused") == 0.0
    finally:
        delivery.token_refused = None
        metrics.TOKEN_REFUSED.set(0)


def bot_metric(tandem, name: str) -> float | None:
    with urllib.request.urlopen(tandem.url + "/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None
