"""Triage from the card: its buttons, the owner select, the reason modal, and thread replies.

Who may triage is decided here, on the server, for every click (whatever the card showed);
the rule in models/ refuses anyone else. A click carries the card's version, so a click on an
outdated card, a double click or the loser of two simultaneous clicks changes nothing and is
told what happened instead, in their own language, visible only to them.
"""

from __future__ import annotations

import json
import re

from slack_bolt.async_app import AsyncApp
from sqlmodel import select

import templates
from clock import utcnow
from handlers.common import Services, clicked_in, form_values, metadata_of, open_modal_for_click, refuse, who
from handlers.listeners import Outcome, ack_then, ack_with
from handlers.requests import notify
from handlers.requests.common import as_template, may_triage, parse_button
from models import events, keys, outbox
from models.db import session_scope
from models.errors import RuleError
from models.requests import RequestEvent, lifecycle
from models.requests.queries import parse_ref

BUTTONS = {"request_accept": "accept", "request_start": "start", "request_done": "done", "request_reopen": "reopen"}
REASONED = {"request_need_info": "need_info", "request_decline": "decline", "request_duplicate": "duplicate"}
# Rule errors about one field of the reason modal: shown inline under that block.
FIELD_ERRORS = {"requests.reason_required": "reason", "form.too_long": "reason",
                "requests.bad_ref": "duplicate_of", "requests.duplicate_of_itself": "duplicate_of"}


def triager(services: Services, team_id: str, user_id: str) -> bool:
    """May this user triage? Asked of Slack outside any transaction (members are cached briefly)."""
    with session_scope(services.engine) as session:
        config = lifecycle.get_config(session, team_id=team_id, now=utcnow())
    return may_triage(services, config, user_id)


def button(value: str | None) -> tuple[int, int | None]:
    try:
        return parse_button(value or "")
    except ValueError:
        raise RuleError("requests.unknown_action") from None


def apply(services: Services, *, team_id: str, user_id: str, number: int, action: str, version: int | None,
          reason: str | None = None, duplicate_of: int | None = None) -> None:
    """One transition and everything it tells Slack, in one transaction. Raises RuleError."""
    allowed = triager(services, team_id, user_id)
    now = utcnow()
    with session_scope(services.engine) as session:
        change = lifecycle.transition(session, team_id=team_id, number=number, action=action, actor=user_id,
                                      may_triage=allowed, now=now, reason=reason, duplicate_of=duplicate_of,
                                      expected_version=version)
        notify.queue_change(services, session, change, now=now)
    services.delivery.kick()


# -- the card's buttons --------------------------------------------------------------------------
def click(services: Services, body: dict) -> None:
    team_id, user_id = who(body)
    action = body["actions"][0]
    try:
        number, version = button(action.get("value"))
        apply(services, team_id=team_id, user_id=user_id, number=number, action=BUTTONS[action["action_id"]],
              version=version)
    except RuleError as error:
        refuse(services, body, error)


def choose_owner(services: Services, body: dict) -> None:
    team_id, user_id = who(body)
    action = body["actions"][0]
    _prefix, _, card = (action.get("block_id") or "").partition(":")
    try:
        number, _version = button(card)
        allowed = triager(services, team_id, user_id)
        now = utcnow()
        with session_scope(services.engine) as session:
            change = lifecycle.assign(session, team_id=team_id, number=number, actor=user_id,
                                      assignee=action.get("selected_user"), may_triage=allowed, now=now)
            if change is not None:
                notify.queue_change(services, session, change, now=now)
    except RuleError as error:
        refuse(services, body, error)
        return
    if change is not None:
        services.delivery.kick()


def open_reason(services: Services, body: dict) -> None:
    """Need info / Decline / Duplicate: refuse non-triagers and outdated cards at once, else ask."""
    team_id, user_id = who(body)
    action = body["actions"][0]
    name = REASONED[action["action_id"]]
    try:
        number, version = button(action.get("value"))
        if not triager(services, team_id, user_id):
            raise RuleError("requests.not_product", ref=f"REQ-{number}")
        with session_scope(services.engine) as session:
            request = lifecycle.get_request(session, team_id=team_id, number=number)
            if (version is not None and version != request.version) or \
                    request.status not in lifecycle.TRANSITIONS[name]:
                last = session.exec(select(RequestEvent.actor).where(RequestEvent.request_id == request.id)
                                    .order_by(RequestEvent.id.desc())).first()
                raise RuleError("requests.invalid_transition", ref=request.ref, action=name,
                                status=request.status, by=last or request.requester)
            r = as_template(request)
    except RuleError as error:
        refuse(services, body, error)
        return
    metadata = json.dumps({"number": number, "version": version, "action": name, "channel": clicked_in(body)})
    language = services.language_of(team_id, user_id)
    view = templates.render("requests/reason_modal.yaml.j2", language=language, r=r, action=name, metadata=metadata,
                            limit=lifecycle.REASON_LIMIT)
    open_modal_for_click(services, body, view, language=language)


def submit_reason(services: Services, body: dict) -> Outcome:
    """The reason modal's submission: inline errors for its fields, a notice for any other refusal."""
    team_id, user_id = who(body)
    view = body["view"]
    meta, values = metadata_of(view), form_values(view)
    number, action = int(meta["number"]), meta["action"]
    try:
        if action == "duplicate":
            original = parse_ref(values.get("duplicate_of") or "")
            apply(services, team_id=team_id, user_id=user_id, number=number, action=action,
                  version=meta.get("version"), duplicate_of=original)
        else:
            apply(services, team_id=team_id, user_id=user_id, number=number, action=action,
                  version=meta.get("version"), reason=values.get("reason") or "")
    except RuleError as error:
        block = FIELD_ERRORS.get(error.key)
        if error.key == "requests.unknown" and action == "duplicate" and error.params.get("ref") != f"REQ-{number}":
            block = "duplicate_of"  # the original does not exist (this request does)
        return Outcome.refused(error, language=services.language_of(team_id, user_id), block=block,
                               channel=meta.get("channel"))
    return Outcome()


# -- replies in the card's thread ----------------------------------------------------------------
def on_message(services: Services, body: dict) -> None:
    """A person's reply in a card's thread becomes a comment on the request (once per Slack ts).

    The requester's reply to a request that needs info sends it back to triage, and Slack hears
    about that like any other change.
    """
    event = body.get("event") or {}
    if event.get("type") != "message" or event.get("subtype") not in (None, "thread_broadcast"):
        return
    if event.get("bot_id") or event.get("bot_profile") or not event.get("user"):
        return
    thread_ts, ts, channel = event.get("thread_ts"), event.get("ts"), event.get("channel")
    if not thread_ts or not ts or not channel or thread_ts == ts:
        return
    team_id = body.get("team_id") or event.get("team")
    now = utcnow()
    with session_scope(services.engine) as session:
        request_id = keys.request_of_card(outbox.key_of_message(session, channel=channel, ts=thread_ts))
        if request_id is None:
            return  # a thread Tandem did not start, or not a card's: nothing stored
        if body.get("event_id") and not events.first_delivery(session, event_id=body["event_id"], team_id=team_id,
                                                              now=now):
            return  # Slack's retry of a reply already taken
        change = lifecycle.add_comment(session, team_id=team_id, request_id=request_id,
                                       author=event["user"], text=event.get("text") or "", slack_ts=ts, now=now)
        if change is not None:
            notify.queue_change(services, session, change, now=now)
    if change is not None:
        services.delivery.kick()


def register(app: AsyncApp, services: Services) -> None:
    app.action(re.compile(r"^request_(accept|start|done|reopen)$"))(ack_then(services, click))
    app.action("request_assign")(ack_then(services, choose_owner))
    app.action(re.compile(r"^request_(need_info|decline|duplicate)$"))(ack_then(services, open_reason))

    app.view("request_reason")(ack_with(services, submit_reason))
