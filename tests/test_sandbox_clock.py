"""The sandbox's clock control: what "+1 day 09:30" means, and that moving the clock runs what fell
due on the way, once, in order (the real app against the local Slack, on both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import clock
from sandbox import travel, world

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 10, 25, tzinfo=UTC)  # a Tuesday; 18:25 in Shanghai


@pytest.mark.parametrize(("text", "expected"), [
    ("+1 day 09:30", datetime(2026, 12, 2, 9, 30, tzinfo=SHANGHAI)),
    ("+2h", NOW + timedelta(hours=2)),
    ("+30m", NOW + timedelta(minutes=30)),
    ("+1 week", NOW + timedelta(days=7)),
    ("09:30", datetime(2026, 12, 2, 9, 30, tzinfo=SHANGHAI)),  # today's 09:30 has passed: tomorrow's
    ("20:00", datetime(2026, 12, 1, 20, 0, tzinfo=SHANGHAI)),
])
def test_a_jump_is_read_in_the_persons_zone(text, expected):
    assert travel.parse_jump(text, now=NOW, zone=SHANGHAI) == expected


@pytest.mark.parametrize("text", ["", "tomorrow", "-1 day", "+40 days", "+1 fortnight", "25:00", "+0h"])
def test_a_jump_that_is_not_ahead_or_not_understood_is_refused(text):
    with pytest.raises(travel.BadJump):
        travel.parse_jump(text, now=NOW, zone=SHANGHAI)


@pytest.fixture
def demo(tandem, slack, monkeypatch):
    """The demo workspace on the app under test; the clock offset is put back afterwards."""
    monkeypatch.setattr(clock, "_offset", timedelta(0))
    world.people_and_channels(slack)
    world.seed(tandem.engine, now=clock.utcnow())
    return tandem


def prompts(slack, person, nudges: bool = False) -> list[dict]:
    """The standup prompts a person got (or the nudges: a prompt again, reminding them)."""
    return [m for m in slack.messages(person.user_id) if "standup_fill" in str(m["blocks"])
            and (("等你" in m["text"] or "waiting for" in m["text"]) == nudges)]


def test_moving_the_clock_runs_the_standup_at_each_persons_0930_once(demo, slack):
    target = travel.parse_jump("+1 day 09:30", now=clock.utcnow(), zone=SHANGHAI)
    before = {p.user_id: len(prompts(slack, p)) for p in (world.CHEN, world.OLGA)}
    travel.travel(demo.tandem.scheduler, target=target, settle=demo.settle)
    demo.settle()
    assert clock.utcnow() >= target
    day = target.astimezone(SHANGHAI).date().isoformat()
    chen = prompts(slack, world.CHEN)
    assert len(chen) == before[world.CHEN.user_id] + 1 and day in str(chen[-1]["blocks"])
    assert "站会" in chen[-1]["text"]  # Chen's Slack speaks Chinese
    assert len(prompts(slack, world.OLGA)) == before[world.OLGA.user_id]  # 01:30 in London: not yet

    # A week later: each day's prompts once per person, one report per day, and one weekly digest.
    travel.travel(demo.tandem.scheduler, target=clock.utcnow() + timedelta(days=7), settle=demo.settle)
    demo.settle()
    assert len(prompts(slack, world.CHEN)) == before[world.CHEN.user_id] + 8
    assert len(prompts(slack, world.CHEN, nudges=True)) == 7  # 30 minutes after each prompt but the last
    assert len(prompts(slack, world.OLGA)) in (before[world.OLGA.user_id] + 7, before[world.OLGA.user_id] + 8)
    digests = [m for m in slack.messages(world.LEADERSHIP) if "DAU" in str(m["blocks"])]
    assert len(digests) == 1
    reports = [m for m in slack.messages(world.OPS) if "Standup daily" in m["text"] or "daily" in str(m["blocks"][:1])]
    days = {str(m["blocks"][:1]) for m in reports}
    assert len(days) == len(reports)  # one report message per standup day, updated in place
