"""Approve / Reject / Request changes from an approver's card, checked on the server every time.

Approve decides at once. Reject and Request changes first ask for a reason in a modal (who
may decide is checked before it opens, and again when it is submitted). The loser of a race,
a double click, a stale card: told privately what happened; nothing changes.
"""

from __future__ import annotations

import json
import logging
import re

from slack_bolt.async_app import AsyncApp

import templates
from clock import utcnow
from handlers.approvals import running
from handlers.common import Services, clicked_in, form_values, metadata_of, open_modal_for_click, refuse, who
from handlers.listeners import Outcome, ack_then, ack_with
from handlers.requests.handover import as_template
from models.approvals import ApprovalRun
from models.approvals.flow import already_decided, decide, seat_for
from models.db import session_scope
from models.errors import RuleError
from models.requests import Request
from models.requests.lifecycle import REASON_LIMIT

log = logging.getLogger("tandem.approvals")
REASONED = {"approval_reject": "reject", "approval_changes": "changes"}


def parse(value: str | None) -> tuple[int, int]:
    run_id, _, stage = (value or "").partition(":")
    if not (run_id.isdigit() and stage.isdigit()):
        raise RuleError("approvals.unknown_action")
    return int(run_id), int(stage)


def apply(services: Services, *, team_id: str, user_id: str, run_id: int, stage: int, decision: str,
          reason: str | None = None) -> None:
    now = utcnow()
    with session_scope(services.engine) as session:
        zone = running.zone(services, session, team_id)
        outcome = decide(session, team_id=team_id, run_id=run_id, stage=stage, actor=user_id, decision=decision,
                         reason=reason, now=now, today=now.astimezone(zone).date(), zone=zone,
                         allow_same_approver=services.settings.approvals_allow_same_approver)
        running.after_decision(services, session, outcome, now=now)
    services.delivery.kick()


def approve(services: Services, body: dict) -> None:
    team_id, user_id = who(body)
    try:
        run_id, stage = parse(body["actions"][0].get("value"))
        apply(services, team_id=team_id, user_id=user_id, run_id=run_id, stage=stage, decision="approve")
    except RuleError as error:
        refuse(services, body, error)


def check_may_decide(services: Services, *, team_id: str, user_id: str, run_id: int, stage: int) -> dict:
    """The same checks `decide` makes, before a reason modal opens. Returns the request for the modal."""
    now = utcnow()
    with session_scope(services.engine) as session:
        run = session.get(ApprovalRun, run_id)
        if run is None or run.team_id != team_id:
            raise RuleError("approvals.unknown_action")
        request = session.get(Request, run.request_id)
        if run.status != "running" or run.current_stage != stage:
            raise already_decided(session, run, request, stage)
        if user_id == request.requester:
            raise RuleError("approvals.own_request", ref=request.ref)
        zone = running.zone(services, session, team_id)
        seat_for(session, run, actor=user_id, now=now, today=now.astimezone(zone).date())
        return {"r": as_template(request), "stage": run.stages[stage]["name"]}


def open_reason(services: Services, body: dict) -> None:
    """Reject / Request changes: refuse anyone who may not decide at once, else ask for the reason."""
    team_id, user_id = who(body)
    action = body["actions"][0]
    try:
        run_id, stage = parse(action.get("value"))
        context = check_may_decide(services, team_id=team_id, user_id=user_id, run_id=run_id, stage=stage)
    except RuleError as error:
        refuse(services, body, error)
        return
    decision = REASONED[action["action_id"]]
    metadata = json.dumps({"run": run_id, "stage": stage, "decision": decision, "channel": clicked_in(body)})
    language = services.language_of(team_id, user_id)
    view = templates.render("approvals/reason_modal.yaml.j2", language=language, decision=decision,
                            metadata=metadata, limit=REASON_LIMIT, **context)
    open_modal_for_click(services, body, view, language=language)


def submit_reason(services: Services, body: dict) -> Outcome:
    """The reason modal's submission: inline errors for the reason, a notice for any other refusal."""
    team_id, user_id = who(body)
    view = body["view"]
    meta, reason = metadata_of(view), form_values(view).get("reason") or ""
    try:
        apply(services, team_id=team_id, user_id=user_id, run_id=int(meta["run"]), stage=int(meta["stage"]),
              decision=meta["decision"], reason=reason)
    except RuleError as error:
        block = "reason" if error.key in ("approvals.reason_required", "form.too_long") else None
        return Outcome.refused(error, language=services.language_of(team_id, user_id), block=block,
                               channel=meta.get("channel"))
    return Outcome()


def register(app: AsyncApp, services: Services) -> None:
    app.action("approval_approve")(ack_then(services, approve))
    app.action(re.compile(r"^approval_(reject|changes)$"))(ack_then(services, open_reason))

    app.view("approval_reason")(ack_with(services, submit_reason))
