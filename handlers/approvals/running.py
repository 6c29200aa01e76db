"""Running an approval in Slack: the approvers' DM cards, what each step tells whom.

Every message is queued in the transaction of the change it reports (the outbox), under a
key that makes it happen once (models/keys.py). An approver's card is posted under
its `approval_card` key; every later change of that stage edits it in place
(chat.update by reference), so no live button remains on a decided stage.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

import templates
from delivery import REF
from handlers.common import Services, cached_language, zone_of
from handlers.requests import handover
from handlers.requests.handover import as_template
from models import keys
from models.approvals import ApprovalDecision, ApprovalRun
from models.approvals.chain import needed
from models.approvals.flow import (
    Outcome,
    decisions,
    deputy_of,
    latest_run,
    pending_seats,
    reset_run,
    resolve,
    running_runs,
    start_run,
)
from models.outbox import OutboxMessage
from models.requests import Request
from models.requests.forms import KEY_FIELDS


def zone(services: Services, session: Session, team_id: str) -> ZoneInfo:
    return zone_of(services.workspace(session, team_id).timezone)


def stage_view(session: Session, run: ApprovalRun, stage: int) -> dict:
    spec = run.stages[stage]
    rows = decisions(session, run.id, stage)
    return {"number": stage + 1, "count": len(run.stages), "name": spec["name"], "mode": spec["mode"],
            "needed": needed(spec), "approvers": spec["approvers"], "backup": spec.get("backup"),
            "due_at": int(run.stage_due_at.timestamp()) if run.current_stage == stage else None,
            "decisions": [{"actor": d.actor, "approver": d.approver, "on_behalf_of": d.on_behalf_of,
                           "decision": d.decision, "reason": d.reason} for d in rows],
            "open": run.status == "running" and run.current_stage == stage, "run_status": run.status}


def render_card(services: Services, session: Session, run: ApprovalRun, request: Request, stage: int, seat: str,
                recipient: str) -> dict:
    view = stage_view(session, run, stage)
    live = view["open"] and seat not in {d["approver"] for d in view["decisions"]}
    language = cached_language(services, session, team_id=run.team_id, user_id=recipient)
    return templates.render("approvals/card.yaml.j2", language=language, r=as_template(request), s=view, seat=seat,
                            recipient=recipient, live=live, button=f"{run.id}:{stage}")


def send_card(services: Services, session: Session, run: ApprovalRun, request: Request, stage: int, seat: str, *,
              now: datetime) -> None:
    """Post a seat's card to the approver, or to their deputy while a delegation is set."""
    today = now.astimezone(zone(services, session, run.team_id)).date()
    recipient = deputy_of(session, team_id=run.team_id, approver=seat, today=today) or seat
    card = render_card(services, session, run, request, stage, seat, recipient)
    services.delivery.queue(session, key=keys.approval_card(run.id, stage, seat), team_id=run.team_id,
                            method="chat.postMessage", now=now, channel=recipient, text=card["text"],
                            blocks=card["blocks"])


def send_stage(services: Services, session: Session, run: ApprovalRun, request: Request, *, now: datetime) -> None:
    for seat in run.stages[run.current_stage]["approvers"]:
        if seat != request.requester:  # only when the requester is all a stage has: they are refused anyway
            send_card(services, session, run, request, run.current_stage, seat, now=now)


def hand_over(services: Services, session: Session, *, team_id: str, approver: str, deputy: str,
              now: datetime) -> int:
    """A delegation set while cards wait on the approver: the deputy gets a card of each too (under
    `keys.handed_over`), and every decision edits both. Returns how many were handed over."""
    handed = 0
    for run in running_runs(session, team_id=team_id):
        if approver not in run.stages[run.current_stage]["approvers"] or approver not in pending_seats(session, run):
            continue
        request = session.get(Request, run.request_id)
        if deputy == request.requester:
            continue
        stage = run.current_stage
        card = render_card(services, session, run, request, stage, approver, deputy)
        copy = keys.handed_over(keys.approval_card(run.id, stage, approver), deputy)
        handed += services.delivery.queue(session, key=copy, team_id=team_id, method="chat.postMessage", now=now,
                                          channel=deputy, text=card["text"], blocks=card["blocks"])
    return handed


def edit_cards(services: Services, session: Session, run: ApprovalRun, request: Request, stage: int, *,
               now: datetime) -> None:
    """Edit every card of the stage in place (approvers', deputies', the backup's)."""
    spec = run.stages[stage]
    for seat in [*spec["approvers"], *([spec["backup"]] if spec.get("backup") else [])]:
        key = keys.approval_card(run.id, stage, seat)
        posted = session.exec(select(OutboxMessage.key, OutboxMessage.args).where(
            OutboxMessage.method == "chat.postMessage",
            sa.or_(OutboxMessage.key == key, OutboxMessage.key.startswith(keys.handed_over(key), autoescape=True))))
        for sent_key, args in posted:
            card = render_card(services, session, run, request, stage, seat, args.get("channel") or seat)
            services.delivery.queue(session, key=keys.edit(sent_key, run.version), team_id=run.team_id,
                                    method="chat.update", now=now, text=card["text"], blocks=card["blocks"],
                                    **{REF: sent_key})


def tell(services: Services, session: Session, run: ApprovalRun, request: Request, *, user: str, kind: str,
         now: datetime, about: str, **context) -> None:
    """One DM about the approval (kind picks the words in approvals/dm.yaml.j2; `about` names it, once)."""
    language = cached_language(services, session, team_id=run.team_id, user_id=user)
    message = templates.render("approvals/dm.yaml.j2", language=language, kind=kind, r=as_template(request),
                               s=stage_view(session, run, context.pop("stage", run.current_stage)), **context)
    services.delivery.queue(session, key=keys.approval_dm(run.id, about, user), team_id=run.team_id,
                            method="chat.postMessage", now=now, channel=user, text=message["text"],
                            blocks=message["blocks"])


def begin(services: Services, session: Session, request: Request, chain: list[dict], *, actor: str, now: datetime,
          reason: str | None = None) -> ApprovalRun | None:
    """Start a run for the request if any stage applies; cards to the first stage, a DM to the requester."""
    stages = resolve(chain, request.fields or {}, requester=request.requester)
    if not stages:
        return None
    run = start_run(session, request=request, stages=stages, actor=actor, now=now,
                    zone=zone(services, session, request.team_id), reason=reason)
    send_stage(services, session, run, request, now=now)
    tell(services, session, run, request, user=request.requester, kind="started", now=now, about="started")
    return run


def route_filed(services: Services, session: Session, request: Request, chain: list[dict] | None, *,
                now: datetime) -> bool:
    """An activity request was filed: True if it went into approval (else it goes to triage as usual)."""
    if request.kind != "activity" or not chain:
        return False
    return begin(services, session, request, chain, actor=request.requester, now=now) is not None


def after_decision(services: Services, session: Session, outcome: Outcome, *, now: datetime) -> None:
    run, request, decided = outcome.run, outcome.request, outcome.decision
    edit_cards(services, session, run, request, outcome.stage, now=now)
    if outcome.started_stage is not None:
        send_stage(services, session, run, request, now=now)
    about = str(decided.id)
    if outcome.finished == "approved":
        handover.approved(services, session, request, now=now)
        tell(services, session, run, request, user=request.requester, kind="approved", now=now, about=about,
             stage=outcome.stage)
    elif outcome.finished in ("rejected", "changes"):
        tell(services, session, run, request, user=request.requester, kind=outcome.finished, now=now, about=about,
             stage=outcome.stage, decision=_decision(decided))


def _decision(row: ApprovalDecision) -> dict:
    return {"actor": row.actor, "on_behalf_of": row.on_behalf_of, "decision": row.decision, "reason": row.reason}


def after_edit(services: Services, session: Session, request: Request, changed: list[str],
               chain: list[dict] | None, *, actor: str, now: datetime) -> None:
    """The requester edited: after Request changes the chain restarts; a key field changed after
    any approval resets the approvals and restarts the chain, and everyone involved is told why."""
    run = latest_run(session, request_id=request.id)
    if run is None or request.kind != "activity":
        return
    key_changed = sorted(set(changed) & set(KEY_FIELDS))
    involved: list[str] = []
    if run.status == "running":
        rows = decisions(session, run.id)
        if not key_changed or not any(d.decision == "approve" for d in rows):
            return  # nothing approved yet, or nothing that matters changed: the chain goes on
        involved = list(dict.fromkeys([*(d.actor for d in rows), *run.stages[run.current_stage]["approvers"]]))
        reset_run(session, run, actor=actor, now=now, reason=",".join(key_changed))
        edit_cards(services, session, run, request, run.current_stage, now=now)
        reason = "key_fields"
    elif run.status == "changes":
        reason = "changes"
    else:
        return
    for user in involved:
        if user != request.requester:
            tell(services, session, run, request, user=user, kind="reset", now=now, about=f"reset:{run.round}",
                 fields=key_changed)
    if begin(services, session, request, chain or [], actor=actor, now=now, reason=reason) is None:
        handover.no_approval_needed(services, session, request, actor=actor, now=now)
