"""Built-in numbers from other capabilities' tables, each behind a small function of its own so a
digest still computes when a capability is absent (None then, and the template leaves it out)."""

from __future__ import annotations

import statistics
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session

BLOCKER_ROWS = 10


def standup_stats(session: Session, *, team_id: str, first: date, end: date) -> dict | None:
    """Standups of the period [first, end) (by each run's local date): participation, on-time rate,
    blockers raised."""
    try:
        from models.standups.tables import Standup, StandupAnswer, StandupRun
    except ImportError:
        return None
    run = session.connection().execute
    runs = run(sa.select(StandupRun.id, StandupRun.participants, StandupRun.away).where(
        StandupRun.team_id == team_id, StandupRun.local_date >= first,
        StandupRun.local_date < end)).all()
    if not runs:
        return None
    expected = sum(len(set(people or []) - set(away or [])) for _id, people, away in runs)
    answers = run(sa.select(StandupAnswer.status, StandupAnswer.on_time, StandupAnswer.has_blocker,
                            StandupAnswer.user_id, Standup.name, Standup.names, StandupRun.local_date)
                  .join(StandupRun, StandupRun.id == StandupAnswer.run_id)
                  .join(Standup, Standup.id == StandupRun.standup_id)
                  .where(StandupAnswer.run_id.in_([r.id for r in runs]))
                  .order_by(StandupRun.local_date, StandupAnswer.id)).all()
    answered = [a for a in answers if a.status == "answered"]
    # "name" is the display name the standup learnt from Slack: the digest names people in text,
    # because a mention (<@U…>) in a channel post notifies them.
    blockers = [{"user": a.user_id, "name": (a.names or {}).get(a.user_id) or a.user_id, "standup": a.name,
                 "day": a.local_date.isoformat()} for a in answered if a.has_blocker]
    return {
        "runs": len(runs), "expected": expected, "answered": len(answered),
        "participation_pct": round(len(answered) / expected * 100, 1) if expected else None,
        "on_time_pct": round(sum(a.on_time for a in answered) / len(answered) * 100, 1) if answered else None,
        "blockers": len(blockers), "blocker_rows": blockers[:BLOCKER_ROWS],
    }


WAITING_ROWS = 5
STARTING_ROWS = 10


def _local_day(text: str | None, zone) -> date | None:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment.astimezone(zone).date() if moment.tzinfo else moment.date()


def approval_stats(session: Session, *, team_id: str, start: datetime, end: datetime, following,
                   zone) -> dict | None:
    """Approvals of the period: approved, rejected, median hours per stage, the activities approved
    that start in the `following` period (next week, month or quarter), and the approvals waiting
    longest (now)."""
    try:
        from models.approvals.tables import ApprovalEvent, ApprovalRun
        from models.requests import Request
    except ImportError:
        return None
    run = session.connection().execute
    finished = dict(run(sa.select(ApprovalRun.status, sa.func.count()).where(
        ApprovalRun.team_id == team_id, ApprovalRun.finished_at >= start, ApprovalRun.finished_at < end,
        ApprovalRun.status.in_(("approved", "rejected"))).group_by(ApprovalRun.status)).all())
    completed = run(sa.select(ApprovalEvent.run_id, ApprovalEvent.stage, ApprovalEvent.stage_name,
                              ApprovalEvent.created_at).where(
        ApprovalEvent.team_id == team_id, ApprovalEvent.action == "stage_completed",
        ApprovalEvent.created_at >= start, ApprovalEvent.created_at < end)).all()
    began = {(r, s): at for r, s, at in run(sa.select(ApprovalEvent.run_id, ApprovalEvent.stage,
                                                      ApprovalEvent.created_at).where(
        ApprovalEvent.run_id.in_({c.run_id for c in completed} or {-1}),
        ApprovalEvent.action.in_(("started", "stage_started"))))}
    per_stage: dict[tuple, list] = {}
    for c in completed:
        if (c.run_id, c.stage) in began:
            hours = (c.created_at - began[(c.run_id, c.stage)]).total_seconds() / 3600
            per_stage.setdefault((c.stage, c.stage_name), []).append(hours)
    next_period = (following.start, following.last_day)
    starting = []
    for number, title, fields in run(sa.select(Request.number, Request.title, Request.fields).where(
            Request.team_id == team_id, Request.kind == "activity",
            Request.status.in_(("accepted", "in_progress")),
            sa.exists().where(ApprovalRun.request_id == Request.id, ApprovalRun.status == "approved"))
            .order_by(Request.number)):
        day = _local_day((fields or {}).get("starts_at"), zone)
        if day and next_period[0] <= day <= next_period[1]:
            starting.append({"ref": f"REQ-{number}", "title": title, "starts": day.isoformat()})
    waiting = [{"ref": f"REQ-{number}", "title": title, "stage": (stages[current] or {}).get("name", "")
                if current < len(stages or []) else "", "since": since.isoformat(timespec="minutes")}
               for number, title, stages, current, since in run(
        sa.select(Request.number, Request.title, ApprovalRun.stages, ApprovalRun.current_stage,
                  ApprovalRun.stage_started_at).join(Request, Request.id == ApprovalRun.request_id)
        .where(ApprovalRun.team_id == team_id, ApprovalRun.status == "running")
        .order_by(ApprovalRun.stage_started_at).limit(WAITING_ROWS))]
    if not (finished or completed or starting or waiting):
        return None
    return {
        "approved": finished.get("approved", 0), "rejected": finished.get("rejected", 0),
        "stages": [{"stage": name, "median_hours": round(statistics.median(hours), 1), "count": len(hours)}
                   for (_n, name), hours in sorted(per_stage.items())],
        # "next week" for a weekly digest; the next month or quarter for the others (the key stays).
        "starting_next_week": sorted(starting, key=lambda s: s["starts"])[:STARTING_ROWS], "waiting": waiting,
    }
