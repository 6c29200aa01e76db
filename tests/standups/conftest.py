"""Fixtures for standup tests: people in several zones, a report channel, and quick setup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from handlers.standups import running
from models.db import session_scope
from models.outbox import OutboxMessage
from models.standups import Standup, StandupSend
from models.standups.forms import clean_standup_form
from models.standups.manage import create_standup

REPORT = "C0STANDUP"
OWNER, NY, BERLIN, SHANGHAI, OUTSIDER = "U0OWNER", "U0NY", "U0BERLIN", "U0SHANGHAI", "U0OUTSIDER"
ZONES = {OWNER: "America/New_York", NY: "America/New_York", BERLIN: "Europe/Berlin",
         SHANGHAI: "Asia/Shanghai", OUTSIDER: "America/New_York"}
NAMES = {OWNER: "Olivia Owner", NY: "Nick York", BERLIN: "Berta Berlin", SHANGHAI: "Shan Hai", OUTSIDER: "Otto"}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def people(tandem, slack):
    for user, tz in ZONES.items():
        slack.add_user(user, name=NAMES[user].split()[0].lower(), real_name=NAMES[user], tz=tz,
                       locale="zh-CN" if user == SHANGHAI else "en-US")
    slack.add_channel(REPORT, "standup", members=list(ZONES))
    return ZONES


def midday_zone(now: datetime) -> str:
    """A zone where it is now between 03:00 and 20:59, so today's window stays inside one local day."""
    for name in ("UTC", "Asia/Shanghai", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "America/Los_Angeles"):
        if 3 <= now.astimezone(ZoneInfo(name)).hour <= 20:
            return name
    raise AssertionError("no zone at midday")


@pytest.fixture
def today(tandem, people):
    """A standup of the four whose prompt was 5 minutes ago (a team zone where it is day now)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    zone = midday_zone(now)
    prompt = (now - timedelta(minutes=5)).astimezone(ZoneInfo(zone))
    make_standup(tandem, zone_mode="team", timezone=zone, prompt_time=prompt.strftime("%H:%M"),
                 days=list("0123456"), nudges="30, 60")
    return now


@pytest.fixture
def no_hook():
    yield
    running.after_queue = None


def form(**overrides) -> dict:
    raw = {"name": "daily", "channel": REPORT, "participants": [OWNER, NY, BERLIN, SHANGHAI], "days": list("01234"),
           "prompt_time": "09:30", "zone_mode": "member", "timezone": "",
           "questions": "Yesterday?\nToday?\nBlockers?", "blocker": ["blocker"], "nudges": "60",
           "report_after": "120", "holidays": ""}
    raw.update(overrides)
    return raw


TEAM = "T0TEST"  # the local Slack's workspace


def make_standup(tandem, **overrides) -> Standup:
    """A standup as the modal saves it (names and zones asked of Slack first)."""
    from handlers.standups.common import display_names

    clean = clean_standup_form(form(**overrides))
    names = display_names(tandem.services, TEAM, clean.participants)
    with session_scope(tandem.engine) as session:
        return create_standup(session, team_id=TEAM, owner=OWNER, form=clean, names=names, now=utc(2026, 1, 1))


def tick(tandem, now: datetime) -> int:
    return running.run_tick(tandem.services, now=now)


def sends(tandem, kind: str = "prompt") -> list[tuple[str, datetime]]:
    """(user, time the DM was claimed) of every prompt or nudge, in order."""
    with session_scope(tandem.engine) as session:
        rows = session.exec(select(StandupSend).where(StandupSend.kind.startswith(kind)).order_by(StandupSend.id))
        return [(row.user_id, row.created_at) for row in rows]


def dms(tandem, user: str) -> list[OutboxMessage]:
    with session_scope(tandem.engine) as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.method == "chat.postMessage",
                                                             OutboxMessage.args["channel"].as_string() == user)))
