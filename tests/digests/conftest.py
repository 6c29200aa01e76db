"""Fixtures for digest tests: a leadership channel, metrics with two weeks of hand-picked values,
and a way to run a slash command and read the answer Tandem sent to its response_url."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from clock import utcnow
from models.db import session_scope
from models.digests import Digest, digests, metrics
from models.digests.week import last_complete_week
from models.requests import Request, RequestEvent
from tests.outbox import drained
from tests.slack import ADMIN

LEAD = "C0LEAD"


def reply(sender, slack, command: str, text: str, user: str = ADMIN) -> dict:
    """Send a slash command; the ephemeral answer it got (in the ack, or later via response_url)."""
    before = len([e for e in slack.ephemerals if e["user"] == user])
    response = sender.command(command, text, user_id=user)
    assert response.status == 200
    body = response.json()
    if body and body.get("text"):
        return body
    return drained(lambda: (e := [x for x in slack.ephemerals if x["user"] == user])[before:] and e[-1],
                   f"the answer to {command} {text}")


def weeks(now: datetime | None = None) -> tuple[date, date]:
    """(previous, last) complete ISO weeks in UTC, as their Mondays."""
    last = last_complete_week(now or utcnow(), UTC)
    return last - timedelta(weeks=1), last


def define(engine, team_id: str, words: list[str]):
    with session_scope(engine) as session:
        return metrics.define_metric(session, team_id=team_id, actor=ADMIN, definition=metrics.parse_definition(words),
                                     now=utcnow())


def record(engine, team_id: str, name: str, points: dict[date, float]) -> None:
    with session_scope(engine) as session:
        metric = metrics.find_metric(session, team_id=team_id, name=name)
        for day, value in points.items():
            metrics.record_point(session, metric=metric, day=day, value=value, actor=ADMIN, source="command",
                                 now=utcnow())


def seeded_metrics(engine, team_id: str, previous: date, last: date) -> None:
    """DAU (average): 100,110,120 → 110, then 120,130,140 → 130: ▲ +20 (+18.2 %), target 150 missed.
    CAC (sum, lower is better): 20+30 = 50, then 45: ▼ −5 (−10 %), target 40 missed.
    NPS (last): 30 then 35 → 35, then 35: no change."""
    define(engine, team_id, ["DAU", "Daily active users", "users", "150", "average"])
    define(engine, team_id, ["CAC", "Customer acquisition cost", "40", "lower-is-better", "sum"])  # money: see test_currency
    define(engine, team_id, ["NPS"])
    record(engine, team_id, "DAU", {previous: 100, previous + timedelta(1): 110, previous + timedelta(2): 120,
                                    last: 120, last + timedelta(3): 130, last + timedelta(6): 140})
    record(engine, team_id, "CAC", {previous: 20, previous + timedelta(4): 30, last + timedelta(5): 45})
    record(engine, team_id, "NPS", {previous + timedelta(1): 30, previous + timedelta(4): 35, last + timedelta(1): 35})


def make_digest(engine, team_id: str, *, name: str = "weekly", template: str = "default",
                timezone: str = "UTC", owner: str = ADMIN, thresholds: dict | None = None,
                cadence: str = "weekly") -> Digest:
    with session_scope(engine) as session:
        digest = Digest(team_id=team_id, name=name, channel=LEAD, weekday=0, hour=9, minute=0, timezone=timezone,
                        metrics=["DAU", "CAC", "NPS"], thresholds=thresholds or {"DAU": 10, "CAC": 15},
                        template=template, owner="", cadence=cadence)
        return digests.save_digest(session, digest=digest, actor=owner, actor_is_admin=True, now=utcnow())


def add_request(engine, team_id: str, number: int, *, kind: str = "feature", created: datetime,
                triaged: datetime | None = None, done: datetime | None = None, status: str = "new",
                events: tuple = ()) -> None:
    with session_scope(engine) as session:
        request = Request(team_id=team_id, number=number, kind=kind, title=f"Request {number}", status=status,
                          requester="U0OPS", created_at=created, updated_at=created, triaged_at=triaged, done_at=done)
        session.add(request)
        session.flush()
        for action, at in events:
            session.add(RequestEvent(request_id=request.id, team_id=team_id, actor="U0PM", action=action,
                                     created_at=at))


@pytest.fixture
def lead(slack):
    slack.add_channel(LEAD, "leadership", members=[ADMIN])
    return LEAD
