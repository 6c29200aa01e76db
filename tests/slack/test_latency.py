"""The local Slack's latency model and Slack's rate-limit tiers (localslack/latency.py)."""

from __future__ import annotations

import statistics
import time
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.slack import ALICE, BOB, GENERAL, METHOD_TIERS, Latency, LocalSlack


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_latency_model_has_the_stated_shape():
    latency = Latency(seed=7)
    draws = sorted(latency.draw() for _ in range(100_000))
    median, p98 = draws[len(draws) // 2], draws[int(len(draws) * 0.98)]
    assert 0.11 < median < 0.13  # median 120 ms
    assert 1.2 < p98 < 1.6  # 99 % of the body (0.99 × 0.99 ≈ 98 % of calls) within 1.5 s
    at_tail = sum(d == 4.0 for d in draws) / len(draws)
    assert 0.009 < at_tail < 0.012 and max(draws) == 4.0  # 1 % at 4 s (plus the rare capped body draw)
    assert 0.23 < statistics.mean(draws) < 0.28
    assert Latency(seed=1).draw() == Latency(seed=1).draw()  # seeded: the same run twice


def test_calls_answer_late_when_latency_is_set_and_at_once_after_reset():
    with LocalSlack() as slack:
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        slack.set_latency(Latency(median=0.3, p99=0.31, tail_share=0))
        started = time.monotonic()
        client.users_info(user=ALICE)
        took = time.monotonic() - started
        call = slack.calls_to("users.info")[-1]
        assert took >= 0.28 and 0.28 <= call.delay <= 0.32 and call.answered - call.at >= call.delay
        url = slack.new_response_url(GENERAL, ALICE)
        started = time.monotonic()
        urllib.request.urlopen(urllib.request.Request(url, data=b'{"text": "hi"}', method="POST",
                                                      headers={"Content-Type": "application/json"}))
        assert time.monotonic() - started >= 0.28  # response_url posts are as slow
        slack.reset()
        started = time.monotonic()
        client.users_info(user=ALICE)
        assert time.monotonic() - started < 0.2 and slack.calls_to("users.info")[-1].delay == 0


def test_a_slow_views_open_meets_an_expired_trigger():
    """The delay comes before the work: a views.open held 4 s finds its 3-second trigger gone."""
    with LocalSlack() as slack:
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        slack.set_latency(Latency(tail_share=1.0, tail=3.2))
        view = {"type": "modal", "title": {"type": "plain_text", "text": "x"},
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}]}
        with pytest.raises(SlackApiError) as info:
            client.views_open(trigger_id=slack.new_trigger_id(ALICE), view=view)
        assert info.value.response["error"] == "expired_trigger_id"


def test_slack_tiers_answer_429_with_retry_after():
    with LocalSlack() as slack:
        clock = FakeClock()
        slack.clock = clock
        slack.apply_slack_tiers()
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        assert METHOD_TIERS["usergroups.users.list"] == 2 and METHOD_TIERS["views.open"] == 4
        slack.add_usergroup("S0PRODUCT", "product", [BOB])
        for _ in range(20):  # tier 2: 20 a minute
            client.usergroups_users_list(usergroup="S0PRODUCT")
        with pytest.raises(SlackApiError) as info:
            client.usergroups_users_list(usergroup="S0PRODUCT")
        assert info.value.response.status_code == 429 and info.value.response.headers["Retry-After"] == "3"
        for _ in range(100):  # tier 4 is separate, and larger
            client.users_info(user=ALICE)
        # chat.postMessage: 1 a second per channel after a burst of 3; another channel is not held up
        for n in range(3):
            client.chat_postMessage(channel=GENERAL, text=str(n))
        with pytest.raises(SlackApiError) as info:
            client.chat_postMessage(channel=GENERAL, text="too soon")
        assert info.value.response.headers["Retry-After"] == "1"
        client.chat_postMessage(channel=BOB, text="a DM has its own bucket")
        clock.now += 1.0
        client.chat_postMessage(channel=GENERAL, text="a second later")
        slack.reset()  # off again
        slack.add_usergroup("S0PRODUCT", "product", [BOB])
        for _ in range(25):
            client.usergroups_users_list(usergroup="S0PRODUCT")
