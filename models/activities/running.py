"""While an activity runs, and after: the daily look at each activity with goals.

`daily(session, team_id=…, zone=…, now=…)` decides, for the workspace's local day, what is new:
today's standing of each goal (once per request/goal/day: ActivityProgress), the half-time
verdict (at risk below `at_risk_share` of the pace: once), a goal's metric silent for two days
(once per goal), and, from the end + `settle_days`, the review request and its reminders (one a
business day, at most REMINDERS). Each "once" is a unique row inserted first; the caller queues
the messages in the same transaction, so a second run (another replica, a retry) finds the rows
and sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from models.activities.goals import Standing, Window, standing, window_of
from models.activities.tables import ActivityFlag, ActivityProgress, ActivityReview
from models.business_time import is_business_day
from models.db import insert_once
from models.requests.tables import Request

RUNNING = ("accepted", "in_progress", "done")  # approved and not declined; "reviewed" is past the loop
SILENT_DAYS = 2
REMINDERS = 5


@dataclass
class Today:
    """What one activity has new today, for the handler to tell Slack."""

    request: Request
    window: Window
    day: date
    standings: list[Standing] = field(default_factory=list)  # today's lines (empty: written before)
    at_risk: list[int] = field(default_factory=list)          # goals below the share of pace at half time
    silent: list[int] = field(default_factory=list)           # goals whose metric has had no data for 2 days
    review: str | None = None                                 # "ask" or "reminder"

    @property
    def anything(self) -> bool:
        return bool(self.standings or self.at_risk or self.silent or self.review)


def flag(session: Session, request: Request, what: str, *, now: datetime) -> bool:
    """Mark `what` done for the request; True if this call did (first time)."""
    return insert_once(session, ActivityFlag(request_id=request.id, what=what, team_id=request.team_id,
                                             created_at=now))


def has_flag(session: Session, request_id: int, what: str) -> bool:
    return session.get(ActivityFlag, (request_id, what)) is not None


def watched(session: Session, *, team_id: str) -> list[Request]:
    """Activity requests with goals that are approved and not yet reviewed."""
    rows = session.exec(select(Request).where(Request.team_id == team_id, Request.kind == "activity",
                                              Request.status.in_(RUNNING)).order_by(Request.number))
    return [r for r in rows if (r.fields or {}).get("goals")]


def daily(session: Session, *, team_id: str, zone: ZoneInfo, now: datetime, at_risk_share: float = 0.7,
          settle_days: int = 2) -> list[Today]:
    today = now.astimezone(zone).date()
    found = []
    for request in watched(session, team_id=team_id):
        window = window_of(request.fields, zone)
        if window is None or today < window.start:
            continue
        seen = Today(request=request, window=window, day=today)
        if today <= window.end:
            _progress(session, seen, now=now, at_risk_share=at_risk_share)
        elif today >= window.end + timedelta(days=settle_days):
            seen.review = _review_due(session, request, today, now=now)
        if seen.anything:
            found.append(seen)
    return found


def _progress(session: Session, seen: Today, *, now: datetime, at_risk_share: float) -> None:
    request, window, today = seen.request, seen.window, seen.day
    standings = [standing(session, team_id=request.team_id, goal=goal, window=window, through=today)
                 for goal in request.fields["goals"]]
    for index, s in enumerate(standings):
        row = ActivityProgress(request_id=request.id, team_id=request.team_id, goal=index, day=today,
                               value=s.value, target_value=s.target_value, change_pct=s.change_pct,
                               way_pct=s.way_pct, pace_pct=s.pace_pct, created_at=now)
        if insert_once(session, row):
            seen.standings.append(s)
    if seen.standings and len(seen.standings) != len(standings):
        seen.standings = standings  # a goal added by a restart: the day's line lists them all
    elapsed = ((today - window.start).days + 1) / window.days
    if elapsed >= 0.5 and flag(session, request, "half_time", now=now):
        behind = [i for i, s in enumerate(standings) if s.pace_pct is not None and s.pace_pct < at_risk_share * 100]
        if behind and flag(session, request, "at_risk", now=now):
            seen.at_risk = behind
    quiet_since = today - timedelta(days=SILENT_DAYS - 1)  # no value today nor yesterday
    if quiet_since >= window.start:
        for index, s in enumerate(standings):
            if (s.last_day is None or s.last_day < quiet_since) and flag(session, request, f"no_data.{index}", now=now):
                seen.silent.append(index)


def _review_due(session: Session, request: Request, today: date, *, now: datetime) -> str | None:
    if session.get(ActivityReview, request.id) is not None:
        return None
    if flag(session, request, "review_asked", now=now):
        return "ask"
    if not is_business_day(today):
        return None
    sent = session.execute(sa.select(sa.func.count()).select_from(ActivityFlag).where(
        ActivityFlag.request_id == request.id, ActivityFlag.what.like("review_reminder.%"))).scalar_one()
    if sent < REMINDERS and flag(session, request, f"review_reminder.{today.isoformat()}", now=now):
        return "reminder"
    return None


def latest_progress(session: Session, request: Request) -> dict | None:
    """The card's progress field: the latest day's standing of each goal, and whether it is at risk."""
    day = session.exec(select(sa.func.max(ActivityProgress.day)).where(
        ActivityProgress.request_id == request.id)).first()
    if day is None:
        return None
    rows = session.exec(select(ActivityProgress).where(ActivityProgress.request_id == request.id,
                                                       ActivityProgress.day == day)
                        .order_by(ActivityProgress.goal)).all()
    lines = {r.goal: {"value": r.value, "target_value": r.target_value, "change_pct": r.change_pct,
                      "way_pct": r.way_pct, "pace_pct": r.pace_pct} for r in rows}
    count = len(request.fields.get("goals") or [])
    return {"day": day.isoformat(), "at_risk": has_flag(session, request.id, "at_risk"),
            "lines": [lines.get(i, {"value": None}) for i in range(count)]}


def review_due(session: Session, *, team_id: str, zone: ZoneInfo, now: datetime, settle_days: int = 2
               ) -> list[Request]:
    """Ended (+ settle time) activities with goals and no review yet, oldest first."""
    today = now.astimezone(zone).date()
    due = []
    for request in watched(session, team_id=team_id):
        window = window_of(request.fields, zone)
        if window is not None and today >= window.end + timedelta(days=settle_days) and \
                session.get(ActivityReview, request.id) is None:
            due.append(request)
    return due
