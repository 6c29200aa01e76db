"""The sandbox page's actions, without a browser: each becomes the payload Slack would send, and
Tandem's answer is applied as Slack applies it (the real app against the local Slack)."""

from __future__ import annotations

from datetime import timedelta

import pytest

import clock
from sandbox import world
from sandbox.page import SandboxPage


@pytest.fixture
def page(tandem, slack, monkeypatch):
    monkeypatch.setattr(clock, "_offset", timedelta(0))
    world.people_and_channels(slack)
    return SandboxPage(slack=slack, sender=tandem.sender(slack), services=tandem.services,
                       scheduler=tandem.tandem.scheduler, team_id=slack.team_id,
                       people=[p.user_id for p in world.PEOPLE], settle=tandem.settle)


def test_what_a_person_sees_is_in_their_language(page):
    chen, olga = page.state(user=world.CHEN.user_id), page.state(user=world.OLGA.user_id)
    assert (chen["language"], chen["words"]["channels"]) == ("zh_CN", "频道")
    assert (olga["language"], olga["words"]["channels"]) == ("en", "Channels")
    assert {c["name"] for c in olga["channels"]} == {"ops", "triage"}  # only the channels she is in
    assert olga["messages"][0]["text"].startswith("Morning all!")


def test_a_command_tandem_does_not_offer_gets_an_answer(page, slack):
    page.act({"kind": "send", "user": world.CHEN.user_id, "conv": world.OPS, "text": "/jira create"})
    (answer,) = [e for e in slack.ephemerals if e["user"] == world.CHEN.user_id]
    assert answer["text"].startswith("/jira 不是 Tandem 提供的命令")


def test_a_modal_from_a_command_with_inline_errors_then_closed(page, slack):
    olga = world.OLGA.user_id
    page.act({"kind": "send", "user": olga, "conv": world.OPS, "text": "/request new"})
    (modal,) = slack.views[olga]["modals"]
    result = page.act({"kind": "submit", "user": olga, "view_id": modal["id"], "state": {}})
    assert "title" in result["errors"]
    assert [v["id"] for v in slack.views[olga]["modals"]] == [modal["id"]]  # errors keep it open
    page.act({"kind": "close", "user": olga, "view_id": modal["id"], "all": True})
    assert slack.views[olga]["modals"] == []


def test_turn_into_request_prefills_the_form_from_the_message(page, slack):
    message = slack.messages(world.OPS)[0]
    page.act({"kind": "message_action", "user": world.PRIYA.user_id, "conv": world.OPS, "ts": message["ts"],
              "callback_id": "request_from_message"})
    (modal,) = slack.views[world.PRIYA.user_id]["modals"]
    assert "spring campaign brief" in str(modal["blocks"])


def test_a_message_in_a_channel_reaches_tandem_as_a_signed_event(page, slack):
    result = page.act({"kind": "send", "user": world.OLGA.user_id, "conv": world.OPS, "text": "hello"})
    assert result == {"status": 200}  # Tandem's /slack/events checked its signature and took it
    assert slack.messages(world.OPS)[-1]["text"] == "hello"


def test_the_clock_refuses_a_jump_it_cannot_read_in_the_persons_language(page):
    result = page.act({"kind": "clock", "user": world.CHEN.user_id, "text": "yesterday"})
    assert "31" in result["error"] and "跳转" in result["error"]
    before = clock.utcnow()
    result = page.act({"kind": "clock", "user": world.OLGA.user_id, "text": "+2h"})
    assert result["notice"] == "Clock moved; scheduled work that fell due has run."
    assert clock.utcnow() - before >= timedelta(hours=2)
