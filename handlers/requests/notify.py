"""What a filed or changed request tells Slack, queued in the same transaction as the change.

The triage card is posted once (models/keys.py: request_card); every later change edits it in
place (chat.update by reference), adds one line to its thread, DMs the requester, and refreshes
the Home tab of the requester and the owner (rendered when sent, so it shows the latest state).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

import templates
from delivery import HOME, PERMALINK, REF, THREAD
from handlers.common import Services, cached_language
from handlers.requests.common import as_template, workspace_language
from models import keys, outbox
from models.activities.running import latest_progress
from models.requests import Request, RequestEvent
from models.requests.lifecycle import Change, get_config


def render_card(session: Session, services: Services, request: Request) -> dict:
    duplicate_of = session.get(Request, request.duplicate_of).number if request.duplicate_of else None
    language = workspace_language(services, session, request.team_id)
    progress = latest_progress(session, request) if (request.fields or {}).get("goals") else None
    return templates.render("requests/card.yaml.j2", language=language,
                            r=as_template(request, duplicate_of_number=duplicate_of), progress=progress,
                            declined=_declined(session, request))


def _declined(session: Session, request: Request) -> dict | None:
    """Who declined the request and why, for its card (the latest decline: it may have been reopened)."""
    if request.status != "declined":
        return None
    event = session.exec(select(RequestEvent).where(RequestEvent.request_id == request.id,
                                                    RequestEvent.to_status == "declined")
                         .order_by(RequestEvent.id.desc())).first()
    return {"actor": event.actor, "reason": event.reason or ""} if event else None


def queue_filed(services: Services, session: Session, request: Request, *, now: datetime) -> None:
    """The card in the triage channel, and a DM to the requester linking to it."""
    config = get_config(session, team_id=request.team_id, now=now)
    queue = services.delivery.queue
    if config.triage_channel:
        card = render_card(session, services, request)
        queue(session, key=keys.request_card(request.id), team_id=request.team_id, method="chat.postMessage",
              now=now, channel=config.triage_channel, text=card["text"], blocks=card["blocks"], unfurl_links=False)
    language = cached_language(services, session, team_id=request.team_id, user_id=request.requester)
    dm = templates.render("requests/dm_filed.yaml.j2", language=language, r=as_template(request),
                          channel=config.triage_channel)
    links = {PERMALINK: keys.request_card(request.id)} if config.triage_channel else {}
    queue(session, key=keys.request_filed_dm(request.id), team_id=request.team_id, method="chat.postMessage",
          now=now, channel=request.requester, text=dm["text"], blocks=dm["blocks"], **links)
    queue(session, key=keys.request_filed_home(request.id), team_id=request.team_id, method="views.publish",
          now=now, **{HOME: request.requester})


def queue_change(services: Services, session: Session, change: Change, *, now: datetime) -> None:
    """Edit the card, add a line to its thread, DM the requester (unless they made the change)."""
    request, event = change.request, change.event
    queue = services.delivery.queue
    team_id, card_key = request.team_id, keys.request_card(request.id)
    card_exists = outbox.was_queued(session, key=card_key)
    if card_exists:
        card = render_card(session, services, request)
        queue(session, key=keys.edit(card_key, request.version), team_id=team_id, method="chat.update",
              now=now, text=card["text"], blocks=card["blocks"], **{REF: card_key})
        line = templates.render("requests/thread_line.yaml.j2", language=workspace_language(services, session, team_id),
                                r=as_template(request), e=_event(event))
        queue(session, key=keys.request_change(request.id, event.id, "thread"), team_id=team_id,
              method="chat.postMessage", now=now, text=line["text"], **{THREAD: card_key})
    for user in dict.fromkeys(u for u in (request.requester, request.assignee) if u):  # their Home tabs
        queue(session, key=keys.request_change(request.id, event.id, f"home:{user}"), team_id=team_id,
              method="views.publish", now=now, **{HOME: user})
    if event.actor != request.requester:
        language = cached_language(services, session, team_id=team_id, user_id=request.requester)
        dm = templates.render("requests/dm_change.yaml.j2", language=language, r=as_template(request),
                              e=_event(event), has_card=card_exists)
        links = {PERMALINK: card_key} if card_exists else {}
        queue(session, key=keys.request_change(request.id, event.id, "dm"), team_id=team_id,
              method="chat.postMessage", now=now, channel=request.requester, text=dm["text"],
              blocks=dm["blocks"], **links)


def _event(event) -> dict:
    return {"id": event.id, "actor": event.actor, "action": event.action, "from_status": event.from_status,
            "to_status": event.to_status, "reason": event.reason, "detail": dict(event.detail or {})}
