"""Requests' rules: filing, the state machine, who may do what, comments, configuration.

Every change writes one RequestEvent (the audit trail) in the same transaction. Concurrent
changes are settled by an optimistic lock on Request.version: the second writer's UPDATE
matches no row, and it is told what happened instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from models.db import insert_once
from models.errors import RuleError
from models.requests.forms import CleanForm
from models.requests.tables import (
    OPEN_STATUSES,
    Request,
    RequestComment,
    RequestConfig,
    RequestEvent,
    RequestLabel,
)
from models.schedule import schedule_changed

# action → {from status: to status}. Anything else is refused with the current status.
TRANSITIONS: dict[str, dict[str, str]] = {
    "accept": {"new": "accepted", "need_info": "accepted"},
    "need_info": {"new": "need_info", "accepted": "need_info"},
    "decline": {"new": "declined", "need_info": "declined", "accepted": "declined"},
    "duplicate": {"new": "duplicate", "need_info": "duplicate", "accepted": "duplicate"},
    "start": {"accepted": "in_progress"},
    "done": {"accepted": "done", "in_progress": "done"},
    "reopen": {"done": "accepted", "declined": "new", "duplicate": "new"},
}
NEEDS_REASON = ("need_info", "decline")
EDITABLE = ("new", "need_info", "in_approval")  # by the requester
REASON_LIMIT = 2000


@dataclass(frozen=True)
class Change:
    """What a rule did, for the handler to tell Slack about."""

    request: Request
    event: RequestEvent


# -- configuration --------------------------------------------------------------------------
def get_config(session: Session, *, team_id: str, now: datetime) -> RequestConfig:
    config = session.get(RequestConfig, team_id)
    if config is None:
        config = RequestConfig(team_id=team_id, updated_at=now)
        if not insert_once(session, config):
            config = session.get(RequestConfig, team_id)
    return config


def configure(session: Session, *, team_id: str, actor_is_admin: bool, triage_channel: str | None,
              product_team_mode: str, product_team: list[str], sla_business_days: int,
              now: datetime) -> RequestConfig:
    if not actor_is_admin:
        raise RuleError("not_admin")
    if product_team_mode not in ("users", "channel"):
        raise RuleError("requests.bad_team_mode")
    if product_team_mode == "users" and not product_team:
        raise RuleError("requests.empty_team")
    if not triage_channel:
        raise RuleError("requests.no_triage_channel")
    if not 1 <= sla_business_days <= 30:
        raise RuleError("requests.bad_sla", low=1, high=30)
    config = get_config(session, team_id=team_id, now=now)
    config.triage_channel, config.product_team_mode = triage_channel, product_team_mode
    config.product_team, config.sla_business_days, config.updated_at = list(product_team), sla_business_days, now
    session.add(config)
    schedule_changed(session)  # a newly configured workspace gets its SLA job
    return config


def is_product_member(config: RequestConfig, *, user_id: str, triage_channel_members: frozenset[str]) -> bool:
    """Who may triage: the listed users, or the triage channel's members (as Slack says now)."""
    if config.product_team_mode == "users":
        return user_id in (config.product_team or [])
    return user_id in triage_channel_members


# -- filing and editing ---------------------------------------------------------------------
def _next_number(session: Session, *, team_id: str, now: datetime) -> int:
    get_config(session, team_id=team_id, now=now)
    # One UPDATE … RETURNING: concurrent filers each get their own number.
    return session.execute(
        sa.update(RequestConfig).where(RequestConfig.team_id == team_id)
        .values(last_number=RequestConfig.last_number + 1).returning(RequestConfig.last_number)
    ).scalar_one()


def _set_labels(session: Session, request: Request, labels: list[str]) -> None:
    session.execute(sa.delete(RequestLabel).where(RequestLabel.request_id == request.id))
    for label in labels:
        session.add(RequestLabel(request_id=request.id, label=label, team_id=request.team_id))


def file_request(session: Session, *, team_id: str, requester: str, form: CleanForm, now: datetime,
                 source_permalink: str | None = None) -> Change:
    number = _next_number(session, team_id=team_id, now=now)
    request = Request(team_id=team_id, number=number, kind=form.kind, title=form.title, priority=form.priority,
                      requester=requester, wanted_by=form.wanted_by, labels=form.labels, fields=form.fields,
                      source_permalink=source_permalink, created_at=now, updated_at=now)
    session.add(request)
    session.flush()
    _set_labels(session, request, form.labels)
    event = _record(session, request, actor=requester, action="filed", from_status=None, to_status="new", now=now)
    return Change(request, event)


def edit_request(session: Session, *, team_id: str, number: int, actor: str, form: CleanForm,
                 expected_version: int | None, now: datetime) -> Change:
    request = get_request(session, team_id=team_id, number=number)
    if actor != request.requester:
        raise RuleError("requests.not_requester", ref=request.ref)
    if request.status not in EDITABLE:
        raise RuleError("requests.not_editable", ref=request.ref, status=request.status)
    if form.kind != request.kind:
        raise RuleError("requests.kind_fixed", ref=request.ref)
    changed = sorted(k for k in set(request.fields) | set(form.fields) if request.fields.get(k) != form.fields.get(k))
    to_status = "in_approval" if request.status == "in_approval" else "new"  # approvals decide what follows
    values = dict(title=form.title, priority=form.priority, wanted_by=form.wanted_by, labels=form.labels,
                  fields=form.fields, status=to_status, updated_at=now)
    from_status = request.status
    _update(session, request, expected_version=expected_version, values=values)
    _set_labels(session, request, form.labels)
    event = _record(session, request, actor=actor, action="edited", from_status=from_status, to_status=to_status,
                    now=now, detail={"changed": changed})
    return Change(request, event)


# -- triage ---------------------------------------------------------------------------------
def get_request(session: Session, *, team_id: str, number: int) -> Request:
    request = session.exec(select(Request).where(Request.team_id == team_id, Request.number == number)).first()
    if request is None:
        raise RuleError("requests.unknown", ref=f"REQ-{number}")
    return request


def transition(session: Session, *, team_id: str, number: int, action: str, actor: str, may_triage: bool,
               now: datetime, reason: str | None = None, duplicate_of: int | None = None,
               expected_version: int | None = None) -> Change:
    """Move a request along the state machine. Refuses stale buttons and non-triagers."""
    if action not in TRANSITIONS:
        raise RuleError("requests.unknown_action")
    request = get_request(session, team_id=team_id, number=number)
    if not may_triage:
        raise RuleError("requests.not_product", ref=request.ref)
    reason = (reason or "").strip() or None
    if action in NEEDS_REASON and not reason:
        raise RuleError("requests.reason_required")
    if reason and len(reason) > REASON_LIMIT:
        raise RuleError("form.too_long", limit=REASON_LIMIT, length=len(reason))
    to_status = TRANSITIONS[action].get(request.status)
    if to_status is None:
        raise _stale(session, request, action)
    values: dict = {"status": to_status, "updated_at": now}
    detail: dict = {}
    if action == "duplicate":
        original = get_request(session, team_id=team_id, number=duplicate_of or 0)
        if original.id == request.id:
            raise RuleError("requests.duplicate_of_itself", ref=request.ref)
        values["duplicate_of"], detail["duplicate_of"] = original.id, original.number
    if action in ("accept", "decline", "duplicate", "need_info") and request.triaged_at is None:
        values["triaged_at"] = now
    if to_status == "done":
        values["done_at"] = now
    if action == "reopen":
        values["done_at"] = None
    from_status = request.status
    _update(session, request, expected_version=expected_version, values=values, action=action)
    event = _record(session, request, actor=actor, action=action, from_status=from_status, to_status=to_status,
                    reason=reason, now=now, detail=detail)
    return Change(request, event)


def assign(session: Session, *, team_id: str, number: int, actor: str, assignee: str | None, may_triage: bool,
           now: datetime) -> Change | None:
    """Set the owner. Assigning the same person again changes nothing (None)."""
    request = get_request(session, team_id=team_id, number=number)
    if not may_triage:
        raise RuleError("requests.not_product", ref=request.ref)
    if request.status not in OPEN_STATUSES:
        raise RuleError("requests.closed", ref=request.ref, status=request.status)
    if request.assignee == assignee:
        return None
    before = request.assignee
    _update(session, request, expected_version=None, values={"assignee": assignee, "updated_at": now})
    event = _record(session, request, actor=actor, action="assigned", from_status=request.status,
                    to_status=request.status, now=now, detail={"from": before, "to": assignee})
    return Change(request, event)


def _stale(session: Session, request: Request, action: str) -> RuleError:
    last = session.exec(
        select(RequestEvent).where(RequestEvent.request_id == request.id).order_by(RequestEvent.id.desc())
    ).first()
    return RuleError("requests.invalid_transition", ref=request.ref, action=action, status=request.status,
                     by=last.actor if last else request.requester)


def _update(session: Session, request: Request, *, expected_version: int | None, values: dict,
            action: str | None = None) -> None:
    """Write `values` if nobody changed the request since we read it; else explain who did."""
    version = request.version if expected_version is None else expected_version
    result = session.execute(
        sa.update(Request).where(Request.id == request.id, Request.version == version)
        .values(version=version + 1, **values)
    )
    if result.rowcount != 1:
        session.refresh(request)
        raise _stale(session, request, action or "edit")
    session.refresh(request)


def _record(session: Session, request: Request, *, actor: str, action: str, from_status: str | None,
            to_status: str | None, now: datetime, reason: str | None = None, detail: dict | None = None
            ) -> RequestEvent:
    event = RequestEvent(request_id=request.id, team_id=request.team_id, actor=actor, action=action,
                         from_status=from_status, to_status=to_status, reason=reason, detail=detail or {},
                         created_at=now)
    session.add(event)
    session.flush()
    return event


# -- comments -------------------------------------------------------------------------------
def add_comment(session: Session, *, team_id: str, request_id: int, author: str, text: str, slack_ts: str,
                now: datetime) -> Change | None:
    """Store a thread reply. The requester replying to need_info sends the request back to new."""
    comment = RequestComment(request_id=request_id, team_id=team_id, author=author, text=text[:40000],
                             slack_ts=slack_ts, created_at=now)
    if not insert_once(session, comment):
        return None  # the same Slack message again
    request = session.get(Request, request_id)
    if request is None or request.status != "need_info" or author != request.requester:
        return None
    _update(session, request, expected_version=None, values={"status": "new", "updated_at": now})
    event = _record(session, request, actor=author, action="replied", from_status="need_info", to_status="new",
                    now=now)
    return Change(request, event)


def set_status(session: Session, request: Request, *, actor: str, action: str, to_status: str, now: datetime,
               reason: str | None = None, values: dict | None = None) -> Change:
    """Move a request to a status another capability decided (approvals), with its audit event."""
    from_status = request.status
    _update(session, request, expected_version=None, values={"status": to_status, "updated_at": now, **(values or {})},
            action=action)
    event = _record(session, request, actor=actor, action=action, from_status=from_status, to_status=to_status,
                    reason=reason, now=now)
    return Change(request, event)
