"""Filing and editing requests: one modal, opened from /request, the shortcuts and App Home."""

from __future__ import annotations

import concurrent.futures
import json
import logging
import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

import templates
from clock import utcnow
from handlers.common import Services, form_values, metadata_of, open_modal, respond, rule_error_message
from handlers.listeners import Outcome, ack_then, ack_with
from handlers.requests import goals, handover, notify
from models.activities.goals import MAX_GOALS, TARGET_LENGTH, ensure_metrics, form_lines
from models.db import session_scope
from models.errors import RuleError
from models.requests import PRIORITIES
from models.requests.forms import CURRENCIES, LIMITS, SUPPORT, FormErrors, clean_form
from models.requests.lifecycle import EDITABLE, edit_request, file_request, get_request
from models.requests.queries import parse_ref
from templates.blockkit import PRIVATE_METADATA
from templates.cutting import cut

log = logging.getLogger("tandem.requests")
DESCRIPTION = {"activity": "details", "optimisation": "current_problem", "feature": "problem"}
PERMALINK_WAIT = 1.0  # seconds for chat.getPermalink: the modal must open within the trigger_id's 3 s


def _metadata_text(metadata: dict) -> str:
    return json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))


def modal(services: Services, *, language: str, kind: str, mode: str, metadata: dict, values: dict | None = None,
          ref: str | None = None, metrics: list[dict] | None = None, baselines: dict | None = None) -> dict:
    """The form; for an activity, `metrics` are the goal lines' choices and `baselines` what is
    shown under each line (handlers/requests/goals.py)."""
    return templates.render(
        "requests/modal.yaml.j2", language=language, kind=kind, mode=mode, ref=ref, values=values or {},
        limits=LIMITS, support=SUPPORT, currencies=CURRENCIES, priorities=PRIORITIES,
        metadata=_metadata_text(metadata), shortened=metadata.get("shortened"), permalink=metadata.get("permalink"),
        metrics=metrics or [], baselines=baselines or {}, max_goals=MAX_GOALS, goal_limit=TARGET_LENGTH,
    )


def metric_choices(services: Services, team_id: str, language: str) -> list[dict]:
    with session_scope(services.engine) as session:
        return goals.catalogue_options(session, team_id, language)


def with_prefill(metadata: dict, text: str, *, channel: str | None) -> dict:
    """The metadata with as much of `text` as the description field (2000 characters) and the
    modal's private_metadata (3000, JSON-encoded, where the prefill lives for a change of kind)
    hold; when that is not all of it, a note the modal shows: how long it was, where it is."""
    shortened = {"length": len(text), "kept": len(text), "channel": channel}
    room = PRIVATE_METADATA - len(_metadata_text({**metadata, "prefill": "", "shortened": shortened}))
    kept = cut(text, LIMITS["details"], end="")
    fits, over = 0, len(kept) + 1  # the longest prefix whose JSON fits: quotes, line breaks take two
    while over - fits > 1:
        middle = (fits + over) // 2
        fits, over = (middle, over) if len(_metadata_text(kept[:middle])) - 2 <= room else (fits, middle)
    kept = cut(kept, fits, end="")
    if len(kept) == len(text):
        return {**metadata, "prefill": kept}
    return {**metadata, "prefill": kept, "shortened": {**shortened, "kept": len(kept)}}


def open_form(services: Services, *, team_id: str, user_id: str, trigger_id: str, prefill: str | None = None,
              permalink: str | None = None, channel: str | None = None) -> dict | None:
    """Open the empty form (activity first: ops' most common kind); a message shortcut prefills it."""
    language = services.language_of(team_id, user_id)
    metadata = {"mode": "new", "kind": "activity"}
    if permalink:
        metadata["permalink"] = permalink
    if prefill:
        metadata = with_prefill(metadata, prefill, channel=channel)
    view = modal(services, language=language, kind="activity", mode="new", metadata=metadata,
                 values={"details": metadata.get("prefill")}, metrics=metric_choices(services, team_id, language))
    return open_modal(services, trigger_id, view, language=language)


def open_new_modal(services: Services, *, command: dict, words: list[str]) -> dict | None:
    return open_form(services, team_id=command["team_id"], user_id=command["user_id"],
                     trigger_id=command["trigger_id"])


def open_edit_modal(services: Services, *, command: dict, words: list[str]) -> dict | None:
    if not words:
        raise RuleError("requests.bad_ref", given="")
    return open_edit(services, team_id=command["team_id"], user_id=command["user_id"],
                     trigger_id=command["trigger_id"], number=parse_ref(words[0]))


def open_edit(services: Services, *, team_id: str, user_id: str, trigger_id: str, number: int) -> dict | None:
    language = services.language_of(team_id, user_id)
    with session_scope(services.engine) as session:
        request = get_request(session, team_id=team_id, number=number)
        if request.requester != user_id:
            raise RuleError("requests.not_requester", ref=request.ref)
        if request.status not in EDITABLE:
            raise RuleError("requests.not_editable", ref=request.ref, status=request.status)
        values = {**request.fields, **form_lines(request.fields.get("goals") or []), "title": request.title,
                  "priority": request.priority,
                  "wanted_by": request.wanted_by.isoformat() if request.wanted_by else None,
                  "labels": ", ".join(request.labels or [])}
        for name in ("starts_at", "ends_at"):
            if values.get(name):
                values[name] = int(datetime.fromisoformat(values[name]).timestamp())
        metadata = {"mode": "edit", "number": request.number, "version": request.version}
        view = modal(services, language=language, kind=request.kind, mode="edit", metadata=metadata,
                     values=values, ref=request.ref, metrics=goals.catalogue_options(session, team_id, language),
                     baselines=goals.baselines(session, services, team_id, values, language))
    return open_modal(services, trigger_id, view, language=language)


def switch_kind(services: Services, body: dict) -> None:
    """The kind changed: redraw the form for it. Slack keeps what was typed in blocks that stay."""
    view = body["view"]
    metadata = metadata_of(view)
    kind = body["actions"][0]["selected_option"]["value"]
    metadata["kind"] = kind
    language = services.language_of(body["team"]["id"], body["user"]["id"])
    values = {DESCRIPTION[kind]: metadata.get("prefill")}
    metrics = metric_choices(services, body["team"]["id"], language) if kind == "activity" else []
    new_view = modal(services, language=language, kind=kind, mode="new", metadata=metadata, values=values,
                     metrics=metrics)
    services.delivery.call("views.update", view_id=view["id"], hash=view.get("hash"), view=new_view)


def user_today(services: Services, team_id: str, user_id: str, now: datetime):
    member = services.member(team_id, user_id)
    try:
        zone = ZoneInfo((member.timezone if member else None) or services.settings.default_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).date()


def submit(services: Services, body: dict) -> Outcome:
    """The form was submitted: file or save it (the modal closes), or inline errors."""
    view, team_id, user_id = body["view"], body["team"]["id"], body["user"]["id"]
    metadata = metadata_of(view)
    raw = form_values(view)
    raw.setdefault("kind", metadata.get("kind"))
    now = utcnow()
    language = services.language_of(team_id, user_id)
    today = user_today(services, team_id, user_id, now)  # may ask Slack: before the transaction
    try:
        # The approval chain, with user groups expanded: asks Slack, so also before the transaction.
        approvals = handover.approvals()
        chain = approvals.chain_for(services, team_id) if metadata.get("mode") == "edit" or \
            raw.get("kind") == "activity" else None
        with session_scope(services.engine) as session:
            if metadata.get("mode") == "edit":
                request = get_request(session, team_id=team_id, number=int(metadata["number"]))
                raw["kind"] = request.kind  # the kind cannot change
                form = clean_form(raw, now=now, today=today, goals=goals.goals_check(session, services, team_id, raw)
                                  if request.kind == "activity" else None)
                ensure_metrics(session, team_id=team_id, goals=form.fields.get("goals") or [], actor=user_id, now=now)
                change = edit_request(session, team_id=team_id, number=request.number, actor=user_id, form=form,
                                      expected_version=metadata.get("version"), now=now)
                notify.queue_change(services, session, change, now=now)
                approvals.after_edit(services, session, change.request, change.event.detail.get("changed", []),
                                     chain, actor=user_id, now=now)
            else:
                form = clean_form(raw, now=now, today=today, goals=goals.goals_check(session, services, team_id, raw)
                                  if raw.get("kind") == "activity" else None)
                ensure_metrics(session, team_id=team_id, goals=form.fields.get("goals") or [], actor=user_id, now=now)
                change = file_request(session, team_id=team_id, requester=user_id, form=form, now=now,
                                      source_permalink=metadata.get("permalink"))
                if not approvals.route_filed(services, session, change.request, chain, now=now):
                    notify.queue_filed(services, session, change.request, now=now)
    except FormErrors as problems:
        return Outcome.form_errors(problems, template="requests/form_errors.yaml.j2", language=language)
    except RuleError as error:  # e.g. triaged meanwhile: shown on the first field, nothing saved
        return Outcome.refused(error, language=language, block="title")
    services.delivery.kick()
    return Outcome()


def register(app: AsyncApp, services: Services) -> None:
    app.shortcut("request_new")(ack_then(services, open_from_shortcut))
    app.action("request_new_from_home")(ack_then(services, open_from_shortcut))
    app.shortcut("request_from_message")(ack_then(services, open_from_message))
    app.action("request_edit")(ack_then(services, edit_from_button))
    app.action("request_kind")(ack_then(services, switch_kind))
    # A goal's metric or a date chosen: the baselines are shown (Slack sends block_actions for
    # input blocks with dispatch_action; the dates keep action_id "value", so match their blocks).
    app.action("activity_goal_metric")(ack_then(services, goals.redraw))
    app.action({"block_id": re.compile(r"^(starts_at|ends_at)$"), "action_id": "value"})(
        ack_then(services, goals.redraw))
    app.view("request_form")(ack_with(services, submit))


def open_from_shortcut(services: Services, body: dict) -> None:
    """The "New request" shortcut, or the App Home button: the empty form (or why it did not open)."""
    refusal = open_form(services, team_id=body["team"]["id"], user_id=body["user"]["id"],
                        trigger_id=body["trigger_id"])
    if refusal:
        respond(services, body, refusal)


def open_from_message(services: Services, body: dict) -> None:
    """"Turn into request" on a message: the form prefilled with its text and a link back to it."""
    message, channel = body.get("message") or {}, (body.get("channel") or {}).get("id")
    services.learn_member(body["team"]["id"], body["user"]["id"])  # the form's language, meanwhile
    asked = services.executor.submit(permalink_of, services, channel, message.get("ts"))
    try:  # a slow Slack must not cost the trigger_id: without the link the modal names the channel
        permalink = asked.result(timeout=PERMALINK_WAIT)
    except concurrent.futures.TimeoutError:
        log.info("chat.getPermalink took over %s s; the form opens without the message's link", PERMALINK_WAIT)
        permalink = None
    refusal = open_form(services, team_id=body["team"]["id"], user_id=body["user"]["id"],
                        trigger_id=body["trigger_id"], prefill=message.get("text") or "", permalink=permalink,
                        channel=channel)
    if refusal:
        respond(services, body, refusal)


def permalink_of(services: Services, channel: str | None, ts: str | None) -> str | None:
    if not channel or not ts:
        return None
    try:
        return services.delivery.call("chat.getPermalink", channel=channel, message_ts=ts)["permalink"]
    except SlackApiError as exc:  # a channel the bot cannot see: file it without the link
        log.info("no permalink for the shortcut's message: %s", exc.response.get("error"))
        return None


def edit_from_button(services: Services, body: dict) -> None:
    team_id, user_id = body["team"]["id"], body["user"]["id"]
    number = int(body["actions"][0]["value"])
    try:
        refusal = open_edit(services, team_id=team_id, user_id=user_id, trigger_id=body["trigger_id"], number=number)
    except RuleError as error:
        refusal = rule_error_message(error, language=services.language_of(team_id, user_id))
    if refusal:
        respond(services, body, refusal)
