"""Reading approvals: what waits for someone, a request's timeline, the export, digest metrics."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlmodel import Session, select

from models.approvals.flow import decisions, deputy_of, running_runs
from models.approvals.tables import ApprovalDecision, ApprovalEvent, ApprovalRun
from models.requests import Request


def pending_for(session: Session, *, team_id: str, user_id: str, now: datetime, today: date) -> list[dict]:
    """Runs whose current stage waits for this user: as approver, deputy, or backup after the due time."""
    found = []
    for run in running_runs(session, team_id=team_id):
        stage = run.stages[run.current_stage]
        decided = {d.approver for d in decisions(session, run.id, run.current_stage)}
        seats = [a for a in stage["approvers"] if a not in decided and (
            a == user_id or deputy_of(session, team_id=team_id, approver=a, today=today) == user_id)]
        if not seats and stage.get("backup") == user_id and now >= run.stage_due_at:
            seats = [user_id]
        if seats:
            request = session.get(Request, run.request_id)
            found.append({"run": run, "request": request, "stage": stage, "seats": seats})
    return found


def timeline(session: Session, *, request_id: int) -> list[ApprovalEvent]:
    return list(session.exec(select(ApprovalEvent).where(ApprovalEvent.request_id == request_id)
                             .order_by(ApprovalEvent.id)))


def export_rows(session: Session, *, team_id: str, after: int, size: int) -> list[tuple[ApprovalDecision, int, int]]:
    """Decisions after id `after`: (decision, request number, round)."""
    query = (select(ApprovalDecision, Request.number, ApprovalRun.round)
             .join(Request, Request.id == ApprovalDecision.request_id)
             .join(ApprovalRun, ApprovalRun.id == ApprovalDecision.run_id)
             .where(ApprovalDecision.team_id == team_id, ApprovalDecision.id > after)
             .order_by(ApprovalDecision.id).limit(size))
    return list(session.exec(query))


def lead_time_per_stage(session: Session, *, team_id: str, start: datetime, end: datetime) -> dict[str, float]:
    """Mean seconds from a stage's start to its completion, per stage name, for stages completed in [start, end)."""
    totals: dict[str, list[float]] = defaultdict(list)
    events = session.exec(select(ApprovalEvent).where(
        ApprovalEvent.team_id == team_id, ApprovalEvent.action == "stage_completed",
        ApprovalEvent.created_at >= start, ApprovalEvent.created_at < end))
    for event in events:
        started = datetime.fromisoformat(event.detail["started_at"])
        totals[event.stage_name].append((event.created_at - started).total_seconds())
    return {name: sum(values) / len(values) for name, values in totals.items()}


def approval_rate(session: Session, *, team_id: str, start: datetime, end: datetime) -> float | None:
    """Approved runs / runs that ended approved or rejected in [start, end); None when none ended."""
    statuses = list(session.exec(select(ApprovalRun.status).where(
        ApprovalRun.team_id == team_id, ApprovalRun.status.in_(("approved", "rejected")),
        ApprovalRun.finished_at >= start, ApprovalRun.finished_at < end)))
    return statuses.count("approved") / len(statuses) if statuses else None
