"""The review (复盘) of an activity: the modal (from the DM's button or `/request review REQ-42`),
prefilled with the results computed from the metrics; saving posts it to the card's thread and the
triage channel (a second save edits both), and moves the request to `reviewed`.
`/request list status:review_due` lists the ended activities still waiting for theirs."""

from __future__ import annotations

from sqlmodel import Session

import templates
from clock import utcnow
from delivery import REF, THREAD
from handlers.common import Services, form_values, metadata_of, open_modal, refuse, zone_of
from handlers.listeners import Outcome
from handlers.requests import finding, notify
from handlers.requests.common import as_template, workspace_language
from models import keys, outbox
from models.activities import review as rules
from models.activities.running import review_due
from models.activities.tables import ActivityReview
from models.db import session_scope
from models.errors import RuleError
from models.requests.forms import FormErrors, _number
from models.requests.lifecycle import get_config
from models.requests.queries import parse_ref

LIST_ROWS = 50


def _zone(services: Services, session: Session, team_id: str):
    return zone_of(services.workspace(session, team_id).timezone)


def review_modal(services: Services, *, team_id: str, user_id: str, number: int) -> tuple[dict, str]:
    """The modal for REQ-number, or RuleError when `user_id` may not review it (yet)."""
    language = services.language_of(team_id, user_id)
    now = utcnow()
    with session_scope(services.engine) as session:
        zone = _zone(services, session, team_id)
        request = rules.reviewable(session, team_id=team_id, number=number, actor=user_id, zone=zone, now=now)
        rows = rules.results(session, request, zone=zone)
        earlier = session.get(ActivityReview, request.id)
        cost = earlier.actual_cost if earlier else rules.budget_of(request)
        roi = rules.roi(session, request, rows, cost)
        view = templates.render(
            "requests/activity_review_modal.yaml.j2", language=language, r=as_template(request), rows=rows, roi=roi,
            cost=cost, currency=request.fields.get("budget_currency") or "",
            earlier=earlier and {"worked": earlier.worked, "not_worked": earlier.not_worked,
                                 "next_time": earlier.next_time},
            metadata=f'{{"number":{request.number}}}', limit=rules.TEXT_LIMIT)
    return view, language


def open_review(services: Services, *, team_id: str, user_id: str, trigger_id: str, number: int) -> dict | None:
    view, language = review_modal(services, team_id=team_id, user_id=user_id, number=number)
    return open_modal(services, trigger_id, view, language=language)


def review_command(services: Services, *, command: dict, words: list[str]) -> dict | None:
    """`/request review REQ-42`."""
    if not words:
        raise RuleError("requests.bad_ref", given="")
    return open_review(services, team_id=command["team_id"], user_id=command["user_id"],
                       trigger_id=command["trigger_id"], number=parse_ref(words[0]))


def review_button(services: Services, body: dict) -> None:
    """"Write review" in the DM."""
    try:
        refusal = open_review(services, team_id=body["team"]["id"], user_id=body["user"]["id"],
                              trigger_id=body["trigger_id"], number=int(body["actions"][0]["value"]))
    except RuleError as error:
        refuse(services, body, error)
        return
    if refusal and body.get("response_url"):
        services.delivery.respond(body["response_url"], {**refusal, "replace_original": False})


def submit(services: Services, body: dict) -> Outcome:
    view, team_id, user_id = body["view"], body["team"]["id"], body["user"]["id"]
    number = int(metadata_of(view)["number"])
    raw = form_values(view)
    language = services.language_of(team_id, user_id)
    cost_text = (raw.get("actual_cost") or "").strip()
    cost = _number(cost_text) if cost_text else None
    if cost_text and (cost is None or cost < 0):
        problems = FormErrors()
        problems.add("actual_cost", "form.not_a_number" if cost is None else "form.negative")
        return Outcome.form_errors(problems, template="requests/form_errors.yaml.j2", language=language)
    form = rules.ReviewForm(actual_cost=float(cost) if cost is not None else None,
                            worked=(raw.get("worked") or "").strip(), not_worked=(raw.get("not_worked") or "").strip(),
                            next_time=(raw.get("next_time") or "").strip())
    now = utcnow()
    try:
        with session_scope(services.engine) as session:
            zone = _zone(services, session, team_id)
            request = rules.reviewable(session, team_id=team_id, number=number, actor=user_id, zone=zone, now=now)
            rows = rules.results(session, request, zone=zone)
            review, change = rules.save_review(session, request, actor=user_id, form=form, rows=rows, now=now)
            queue_review(services, session, request, review, now=now)
            if change is not None:
                notify.queue_change(services, session, change, now=now)
    except RuleError as error:
        return Outcome.refused(error, language=language, block="worked")
    services.delivery.kick()
    return Outcome()


def queue_review(services: Services, session: Session, request, review: ActivityReview, *, now) -> None:
    """The review in the card's thread and in the triage channel; a second save edits both."""
    config = get_config(session, team_id=request.team_id, now=now)
    message = templates.render(
        "requests/activity_review.yaml.j2", language=workspace_language(services, session, request.team_id),
        r=as_template(request), review=review, rows=review.results,
        currency=request.fields.get("budget_currency") or "")
    card_key = keys.request_card(request.id)
    places = []
    if outbox.was_queued(session, key=card_key):
        places.append(("thread", {THREAD: card_key}))
    if config.triage_channel:
        places.append(("triage", {"channel": config.triage_channel, "unfurl_links": False}))
    for where, target in places:
        key = keys.activity_review_post(request.id, where)
        if review.version == 1:
            services.delivery.queue(session, key=key, team_id=request.team_id, method="chat.postMessage", now=now,
                                    text=message["text"], blocks=message["blocks"], **target)
        else:
            services.delivery.queue(session, key=keys.edit(key, review.version), team_id=request.team_id,
                                    method="chat.update", now=now, text=message["text"], blocks=message["blocks"],
                                    **{REF: key})


def list_reply(services: Services, *, command: dict, words: list[str]) -> dict:
    """`/request list …`; `status:review_due` lists the activities whose review is due."""
    if [w.lower() for w in words] != ["status:review_due"]:
        return finding.list_reply(services, command=command, words=words)
    team_id, user_id = command["team_id"], command["user_id"]
    with session_scope(services.engine) as session:
        due = review_due(session, team_id=team_id, zone=_zone(services, session, team_id), now=utcnow(),
                         settle_days=services.settings.activity_settle_days)
        items = [as_template(r) for r in due[:LIST_ROWS]]
    return templates.render("requests/list.yaml.j2", language=services.language_of(team_id, user_id), items=items,
                            filter_text="status:review_due", has_newer=False, has_older=False, replace=False)
