"""The running rules: start a run, decide, restart, escalate. No Slack here.

Concurrency: `decide` locks the run row (SELECT … FOR UPDATE on PostgreSQL; SQLite's
BEGIN IMMEDIATE serialises writers already), so of two approvers of an any-of stage clicking
at the same moment exactly one completes the stage; the other finds the stage decided and is
told. The unique (run, stage, approver) key makes a double click or a Slack retry harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from models.approvals.chain import applies, needed
from models.approvals.tables import ApprovalDecision, ApprovalDelegation, ApprovalEvent, ApprovalRun
from models.business_time import add_business_hours
from models.db import insert_once
from models.errors import RuleError
from models.requests import Request
from models.requests.lifecycle import REASON_LIMIT, set_status

NEEDS_REASON = ("reject", "changes")


@dataclass
class Outcome:
    """What a decision did, for the handler to tell Slack about."""

    run: ApprovalRun
    request: Request
    decision: ApprovalDecision
    stage: int                      # the stage decided on
    stage_closed: bool = False      # no more decisions on that stage
    started_stage: int | None = None
    finished: str | None = None     # approved | rejected | changes
    request_change: object = None   # models.requests.lifecycle.Change when the request's status moved


def resolve(chain: list[dict], fields: dict, *, requester: str) -> list[dict]:
    """The stages that apply to a request (conditions), approvers already expanded by the caller.

    The requester never approves their own request, so they are taken out of every stage; an
    N-of-M stage then needs at most what is left, and a stage left empty goes to its backup.
    """
    stages = []
    for stage in chain:
        if not applies(stage, fields):
            continue
        approvers = [a for a in stage["approvers"] if a != requester]
        if not approvers and stage.get("backup") and stage["backup"] != requester:
            approvers = [stage["backup"]]
        mode = min(stage["mode"], len(approvers)) if isinstance(stage["mode"], int) and approvers else stage["mode"]
        stages.append({**stage, "approvers": approvers or stage["approvers"], "mode": mode})
    return stages


def _start_stage(run: ApprovalRun, index: int, *, now: datetime, zone: ZoneInfo) -> None:
    hours = run.stages[index]["due_hours"]
    run.current_stage, run.stage_started_at = index, now
    run.stage_remind_at = add_business_hours(now, hours / 2, zone)
    run.stage_due_at = add_business_hours(now, hours, zone)


def latest_run(session: Session, *, request_id: int) -> ApprovalRun | None:
    return session.exec(select(ApprovalRun).where(ApprovalRun.request_id == request_id)
                        .order_by(ApprovalRun.round.desc())).first()


def start_run(session: Session, *, request: Request, stages: list[dict], actor: str, now: datetime,
              zone: ZoneInfo, reason: str | None = None) -> ApprovalRun:
    """Put the request into approval with these (resolved) stages: a new round."""
    previous = latest_run(session, request_id=request.id)
    run = ApprovalRun(team_id=request.team_id, request_id=request.id, round=(previous.round + 1) if previous else 1,
                      stages=stages, created_at=now, stage_started_at=now, stage_remind_at=now, stage_due_at=now)
    _start_stage(run, 0, now=now, zone=zone)
    session.add(run)
    session.flush()
    if request.status != "in_approval":
        set_status(session, request, actor=actor, action="in_approval", to_status="in_approval", now=now)
    record(session, run, now=now, actor=actor, action="started", stage=0, reason=reason)
    return run


def reset_run(session: Session, run: ApprovalRun, *, actor: str, now: datetime, reason: str) -> None:
    run.status, run.finished_at, run.version = "reset", now, run.version + 1
    session.add(run)
    record(session, run, now=now, actor=actor, action="reset", stage=run.current_stage, reason=reason)


def record(session: Session, run: ApprovalRun, *, action: str, now: datetime, actor: str | None = None,
           stage: int | None = None, on_behalf_of: str | None = None, reason: str | None = None,
           detail: dict | None = None, once: str | None = None) -> ApprovalEvent | None:
    """Append one event to the timeline. With `once`, None if that event exists already."""
    event = ApprovalEvent(run_id=run.id, request_id=run.request_id, team_id=run.team_id, actor=actor,
                          on_behalf_of=on_behalf_of, stage=stage,
                          stage_name=run.stages[stage]["name"] if stage is not None else None, action=action,
                          reason=reason, detail=detail or {}, once=once,
                          created_at=now)
    if once is not None:
        return event if insert_once(session, event) else None
    session.add(event)
    session.flush()
    return event


def deputy_of(session: Session, *, team_id: str, approver: str, today: date) -> str | None:
    row = session.get(ApprovalDelegation, (team_id, approver))
    return row.deputy if row is not None and row.until >= today else None


def seat_for(session: Session, run: ApprovalRun, *, actor: str, now: datetime, today: date) -> tuple[str, str | None]:
    """(whose seat the actor decides in, on whose behalf) or RuleError if they may not decide."""
    stage = run.stages[run.current_stage]
    if actor in stage["approvers"]:
        return actor, None
    for approver in stage["approvers"]:
        if deputy_of(session, team_id=run.team_id, approver=approver, today=today) == actor:
            return approver, approver
    if stage.get("backup") == actor and now >= run.stage_due_at:
        return actor, None
    raise RuleError("approvals.not_approver", stage=stage["name"])


def decisions(session: Session, run_id: int, stage: int | None = None) -> list[ApprovalDecision]:
    query = select(ApprovalDecision).where(ApprovalDecision.run_id == run_id)
    if stage is not None:
        query = query.where(ApprovalDecision.stage == stage)
    return list(session.exec(query.order_by(ApprovalDecision.id)))


def decide(session: Session, *, team_id: str, run_id: int, stage: int, actor: str, decision: str,
           reason: str | None, now: datetime, today: date, zone: ZoneInfo,
           allow_same_approver: bool = False) -> Outcome:
    if decision not in ("approve", "reject", "changes"):
        raise RuleError("approvals.unknown_action")
    # Lock the request, then the run: the order an edit takes too (request, then its run), so the
    # two never deadlock on PostgreSQL. The second of two simultaneous deciders waits here.
    request_id = session.exec(select(ApprovalRun.request_id).where(ApprovalRun.id == run_id,
                                                                   ApprovalRun.team_id == team_id)).first()
    if request_id is None:
        raise RuleError("approvals.unknown_action")
    request = session.exec(select(Request).where(Request.id == request_id).with_for_update()
                           .execution_options(populate_existing=True)).one()
    run = session.exec(select(ApprovalRun).where(ApprovalRun.id == run_id).with_for_update()
                       .execution_options(populate_existing=True)).one()
    if run.status != "running" or run.current_stage != stage:
        raise already_decided(session, run, request, stage)
    if actor == request.requester:
        raise RuleError("approvals.own_request", ref=request.ref)
    seat, on_behalf_of = seat_for(session, run, actor=actor, now=now, today=today)
    reason = (reason or "").strip() or None
    if decision in NEEDS_REASON and not reason:
        raise RuleError("approvals.reason_required")
    if reason and len(reason) > REASON_LIMIT:
        raise RuleError("form.too_long", limit=REASON_LIMIT, length=len(reason))
    earlier = decisions(session, run.id)
    if decision == "approve" and not allow_same_approver and any(
            d.actor == actor and d.decision == "approve" and d.stage != stage for d in earlier):
        raise RuleError("approvals.two_stages", ref=request.ref)
    row = ApprovalDecision(run_id=run.id, request_id=run.request_id, team_id=team_id, stage=stage,
                           stage_name=run.stages[stage]["name"], approver=seat, actor=actor,
                           on_behalf_of=on_behalf_of, decision=decision, reason=reason, created_at=now)
    if not insert_once(session, row):
        raise already_decided(session, run, request, stage)
    record(session, run, action=decision, now=now, actor=actor, stage=stage, on_behalf_of=on_behalf_of,
           reason=reason)
    outcome = Outcome(run=run, request=request, decision=row, stage=stage)
    stage_def = run.stages[stage]
    approvals = [d for d in earlier if d.stage == stage and d.decision == "approve"] + [row] * (decision == "approve")
    run.version += 1
    if decision == "reject":
        outcome.finished = "rejected"
        outcome.request_change = set_status(session, request, actor=actor, action="decline", to_status="declined",
                                            now=now, reason=reason)
    elif decision == "changes":
        outcome.finished = "changes"
        outcome.request_change = set_status(session, request, actor=actor, action="changes_requested",
                                            to_status="need_info", now=now, reason=reason)
    elif seat not in stage_def["approvers"] or len(approvals) >= needed(stage_def):  # the backup decides alone
        outcome.stage_closed = True
        record(session, run, action="stage_completed", now=now, stage=stage,
               detail={"started_at": run.stage_started_at.isoformat()})
        if stage + 1 < len(run.stages):
            _start_stage(run, stage + 1, now=now, zone=zone)
            outcome.started_stage = stage + 1
            record(session, run, action="stage_started", now=now, stage=stage + 1)
        else:
            outcome.finished = "approved"
            outcome.request_change = set_status(session, request, actor=actor, action="approved",
                                                to_status="accepted", now=now, values={"triaged_at": now})
    if outcome.finished:
        outcome.stage_closed = True
        run.status = outcome.finished
        run.finished_at = now
        record(session, run, action=f"run_{outcome.finished}", now=now, actor=actor, stage=stage)
    session.add(run)
    session.flush()
    return outcome


def already_decided(session: Session, run: ApprovalRun, request: Request, stage: int) -> RuleError:
    last = session.exec(select(ApprovalDecision).where(ApprovalDecision.run_id == run.id,
                                                       ApprovalDecision.stage == stage)
                        .order_by(ApprovalDecision.id.desc())).first()
    decided = last is not None and run.status != "reset"  # a reset round: nobody decided it, an edit ended it
    return RuleError("approvals.already_decided", ref=request.ref,
                     stage=run.stages[stage]["name"] if stage < len(run.stages) else "?",
                     by=last.actor if decided else "", decision=last.decision if decided else "")


def running_runs(session: Session, *, team_id: str | None = None, remind_by: datetime | None = None
                 ) -> list[ApprovalRun]:
    """Running runs (of a team; or whose current stage's reminder time is at or before `remind_by`)."""
    query = select(ApprovalRun).where(ApprovalRun.status == "running")
    if team_id is not None:
        query = query.where(ApprovalRun.team_id == team_id)
    if remind_by is not None:
        query = query.where(ApprovalRun.stage_remind_at <= remind_by)
    return list(session.exec(query.order_by(ApprovalRun.id)))


def pending_seats(session: Session, run: ApprovalRun) -> list[str]:
    """The current stage's approvers who have not decided yet."""
    decided = {d.approver for d in decisions(session, run.id, run.current_stage)}
    return [a for a in run.stages[run.current_stage]["approvers"] if a not in decided]


def set_delegation(session: Session, *, team_id: str, approver: str, deputy: str | None, until: date | None,
                   today: date, now: datetime) -> None:
    row = session.get(ApprovalDelegation, (team_id, approver))
    if deputy is None:
        if row is not None:
            session.delete(row)
        return
    if deputy == approver:
        raise RuleError("approvals.self_deputy")
    if until is None or until < today:
        raise RuleError("approvals.bad_until", today=today.isoformat())
    if row is None:
        row = ApprovalDelegation(team_id=team_id, approver=approver, deputy=deputy, until=until, created_at=now)
    row.deputy, row.until, row.created_at = deputy, until, now
    session.add(row)

