"""Shared by the request handlers: who may triage, languages, and a request as templates see it."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from handlers import ack_budget
from handlers.common import Services
from models.errors import RuleError
from models.requests import Request, RequestConfig
from models.requests.lifecycle import is_product_member

MEMBERS_TTL = 60.0  # seconds a triage channel's member list is trusted
_members_cache: dict[str, tuple[float, frozenset[str]]] = {}
_members_lock = threading.Lock()


def channel_members(services: Services, channel: str) -> frozenset[str]:
    """The channel's members as Slack says (conversations.members, all pages), cached briefly: after
    MEMBERS_TTL the last list still answers at once while a fresh one is asked for in the background
    (Home opens and triage clicks never wait on Slack for it). Only a channel never asked about waits:
    before an ack (handlers/ack_budget.py) within the budget, then the user is told to try again."""
    with _members_lock:
        cached = _members_cache.get(channel)
    if cached and time.monotonic() - cached[0] < MEMBERS_TTL:
        return cached[1]
    key = ("conversations.members", id(services), channel)
    if cached:  # the last list stands in while a newer one is asked for: no one waits on Slack for it
        ack_budget.refresh(key, _ask_members, services, channel)
        return cached[1]
    try:
        return ack_budget.read(key, _ask_members, services, channel)
    except ack_budget.SlackSlow:
        if ack_budget.answer_in_ack():
            raise RuleError("slack_slow") from None
        return ack_budget.wait_for(key, _ask_members, services, channel)  # a click: slower, not refused


def _ask_members(services: Services, channel: str) -> frozenset[str]:
    members: set[str] = set()
    cursor = None
    try:
        while True:
            page = services.delivery.call("conversations.members", channel=channel, limit=1000, cursor=cursor)
            members.update(page.get("members") or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
    except SlackApiError:
        members = set()  # channel gone or bot removed: nobody triages by membership
    result = frozenset(members)
    with _members_lock:
        _members_cache[channel] = (time.monotonic(), result)
    return result


def forget_members_cache() -> None:
    with _members_lock:
        _members_cache.clear()


def may_triage(services: Services, config: RequestConfig, user_id: str) -> bool:
    members = frozenset()
    if config.product_team_mode == "channel" and config.triage_channel:
        members = channel_members(services, config.triage_channel)
    return is_product_member(config, user_id=user_id, triage_channel_members=members)


def workspace_language(services: Services, session: Session, team_id: str) -> str:
    return services.workspace(session, team_id).language


def as_template(request: Request, *, duplicate_of_number: int | None = None) -> dict:
    """A request as templates read it (plain values; templates do all the words)."""
    return {
        "id": request.id, "number": request.number, "ref": request.ref, "kind": request.kind,
        "title": request.title, "status": request.status, "priority": request.priority,
        "requester": request.requester, "assignee": request.assignee,
        "wanted_by": request.wanted_by.isoformat() if request.wanted_by else None,
        "labels": list(request.labels or []), "fields": dict(request.fields or {}), "version": request.version,
        "duplicate_of": duplicate_of_number, "source_permalink": request.source_permalink,
        "created_at": _unix(request.created_at), "button": f"{request.number}:{request.version}",
    }


def _unix(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


def parse_button(value: str) -> tuple[int, int | None]:
    """Card buttons carry "number:version"; the version catches clicks on an outdated card."""
    number, _, version = (value or "").partition(":")
    return int(number), int(version) if version.isdigit() else None


def update_unless_changed(services: Services, view: dict, new_view: dict, *, dropped: str) -> None:
    """views.update with the view's hash: when the person changed the form meanwhile, Slack refuses
    with hash_conflict and the newer state wins; this redraw is dropped (`dropped` says which)."""
    try:
        services.delivery.call("views.update", view_id=view["id"], hash=view.get("hash"), view=new_view)
    except SlackApiError as exc:
        if exc.response.get("error") != "hash_conflict":
            raise
        logging.getLogger("tandem.requests").info("%s", dropped)
