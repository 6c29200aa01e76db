"""Answering: the prompt's "Fill in" and "Skip today", the answer modal, /standup edit-answer and away."""

from __future__ import annotations

import json
from datetime import date

from slack_bolt.async_app import AsyncApp
from sqlmodel import select

import templates
from clock import utcnow
from delivery import REF
from handlers.common import (
    Services,
    admin_and_language,
    form_values,
    metadata_of,
    open_modal,
    respond,
    rule_error_message,
    who,
)
from handlers.listeners import Outcome, ack_then, ack_with
from handlers.standups.common import notice
from handlers.standups.report import lock_run, queue_report
from models import keys, outbox
from models.db import session_scope
from models.errors import RuleError
from models.requests.forms import FormErrors
from models.standups import Standup, StandupAnswer, StandupRun, StandupSend
from models.standups.answers import (
    clear_away,
    open_run,
    previous_answers,
    record_answer,
    record_skip,
    set_away,
    sync_open_runs_away,
)
from models.standups.forms import ANSWER_LENGTH
from models.standups.manage import find_standup
from models.standups.schedule import zones_of


def open_answer_modal(services: Services, *, team_id: str, user_id: str, trigger_id: str, run_id: int) -> dict | None:
    """The answer modal, prefilled with today's answers (an edit) and hinted with the last ones."""
    _admin, language = admin_and_language(services, team_id, user_id)
    with session_scope(services.engine) as session:
        standup, run = open_run(session, team_id=team_id, run_id=run_id, user_id=user_id, now=utcnow())
        current = session.exec(select(StandupAnswer).where(StandupAnswer.run_id == run.id,
                                                           StandupAnswer.user_id == user_id)).first()
        before = previous_answers(session, standup=standup, user_id=user_id, before=run.local_date)
        hints = list(before) + [""] * (len(standup.questions) - len(before))
        if current and current.status == "answered":
            values = list(current.answers)  # an edit: today's answers
        elif len(before) >= 2 and len(standup.questions) >= 2:
            # The last day's "today" is this day's "yesterday" (as Standup & Prosper does): the text
            # itself, editable, whole (an answer fits the input's max_length; a placeholder only 150).
            values, hints[0] = [before[1][:ANSWER_LENGTH]], ""
        else:
            values = []
        view = templates.render(
            "standups/answer_modal.yaml.j2", language=language, name=standup.name, date=run.local_date.isoformat(),
            questions=[q["text"] for q in standup.questions], hints=hints, values=values,
            limit=ANSWER_LENGTH, metadata=json.dumps({"run": run.id}))
    return open_modal(services, trigger_id, view, language=language)


def fill_in(services: Services, body: dict) -> None:
    """The prompt's "Fill in" (or "Edit answers"): the answer modal for the run the button names."""
    team_id, user_id = who(body)
    try:
        refusal = open_answer_modal(services, team_id=team_id, user_id=user_id, trigger_id=body["trigger_id"],
                                    run_id=int(body["actions"][0]["value"]))
    except RuleError as error:
        refusal = rule_error_message(error, language=admin_and_language(services, team_id, user_id)[1])
    if refusal:
        respond(services, body, refusal)


def skip(services: Services, body: dict) -> None:
    """The prompt's "Skip today"."""
    team_id, user_id = who(body)
    run_id = int(body["actions"][0]["value"])
    _admin, language = admin_and_language(services, team_id, user_id)
    now = utcnow()
    try:
        with session_scope(services.engine) as session:
            lock_run(session, run_id)
            standup, run = record_skip(session, team_id=team_id, run_id=run_id, user_id=user_id, now=now)
            queue_report(services, session, standup=standup, run=run, now=now)
        message = notice(language, "skipped", name=standup.name)
    except RuleError as error:
        message = rule_error_message(error, language=language)
    services.delivery.kick()
    respond(services, body, message)


def submit_answer(services: Services, body: dict) -> Outcome:
    view, (team_id, user_id) = body["view"], who(body)
    run_id = int(metadata_of(view)["run"])
    raw = form_values(view)
    _admin, language = admin_and_language(services, team_id, user_id)
    now = utcnow()
    try:
        with session_scope(services.engine) as session:
            lock_run(session, run_id)
            answers = [raw.get(f"q{i}") or "" for i in range(len(raw))]
            standup, run, _answer = record_answer(session, team_id=team_id, run_id=run_id, user_id=user_id,
                                                  answers=answers, now=now)
            queue_report(services, session, standup=standup, run=run, now=now, changed_user=user_id)
            _show_dms_answered(services, session, standup=standup, run=run, user_id=user_id, language=language,
                                  now=now)
    except FormErrors as problems:
        return Outcome.form_errors(problems, template="standups/form_errors.yaml.j2", language=language)
    except RuleError as error:
        return Outcome.refused(error, language=language, block="q0")
    services.delivery.kick()
    return Outcome()


def _show_dms_answered(services: Services, session, *, standup: Standup, run: StandupRun, user_id: str,
                          language: str, now) -> None:
    """The day's prompt and nudge DMs become "answered", with an Edit button, once each (later
    edits leave them as they are)."""
    kinds = session.exec(select(StandupSend.kind).where(StandupSend.run_id == run.id,
                                                        StandupSend.user_id == user_id)).all()
    dms = [key for key in (keys.standup_dm(run.id, user_id, kind) for kind in kinds)
           if outbox.is_live(session, key=key)]  # a DM that failed for good has nothing to edit
    if not dms:
        return
    message = templates.render("standups/prompt.yaml.j2", language=language, answered=True, name=standup.name,
                               channel=standup.channel, run_id=run.id, date=run.local_date.isoformat(),
                               report_at=run.report_at)
    for dm in dms:
        services.delivery.queue(session, key=keys.standup_answered(dm), team_id=run.team_id, method="chat.update",
                                now=now, text=message["text"], blocks=message["blocks"], **{REF: dm})


def edit_answer(services: Services, *, command: dict, words: list[str]) -> dict | None:
    """/standup edit-answer NAME: today's answers of that standup, in the modal again."""
    team_id, user_id = command["team_id"], command["user_id"]
    if not words:
        raise RuleError("standups.name_missing", command="edit-answer")
    now = utcnow()
    with session_scope(services.engine) as session:
        standup = find_standup(session, team_id=team_id, name=words[0])
        today = now.astimezone(zones_of(session, standup, [user_id])[user_id]).date()
        run = session.exec(select(StandupRun).where(StandupRun.standup_id == standup.id,
                                                    StandupRun.local_date == today)).first()
        if run is None or user_id not in run.participants:
            raise RuleError("standups.no_run_today", name=standup.name)
        run_id = run.id
    return open_answer_modal(services, team_id=team_id, user_id=user_id, trigger_id=command["trigger_id"],
                             run_id=run_id)


def away(services: Services, *, command: dict, words: list[str]) -> dict:
    """/standup away 2026-12-20 2026-12-31 | /standup away clear."""
    team_id, user_id = command["team_id"], command["user_id"]
    _admin, language = admin_and_language(services, team_id, user_id)
    now = utcnow()
    if words and words[0].lower() == "clear":
        with session_scope(services.engine) as session:
            clear_away(session, team_id=team_id, user_id=user_id)
            _update_open_reports(services, session, team_id=team_id, user_id=user_id, now=now)
        services.delivery.kick()
        return notice(language, "away_cleared")
    try:
        starts = date.fromisoformat(words[0])
        ends = date.fromisoformat(words[1]) if len(words) > 1 else starts
    except (IndexError, ValueError):
        raise RuleError("standups.bad_away") from None
    with session_scope(services.engine) as session:
        set_away(session, team_id=team_id, user_id=user_id, starts=starts, ends=ends, now=now)
        _update_open_reports(services, session, team_id=team_id, user_id=user_id, now=now)
    services.delivery.kick()
    return notice(language, "away_set", starts=starts.isoformat(), ends=ends.isoformat())


def _update_open_reports(services: Services, session, *, team_id: str, user_id: str, now) -> None:
    """Today's reports already posted show the person as away (or back) at once."""
    for run in sync_open_runs_away(session, team_id=team_id, user_id=user_id):
        if run.report_version:  # posted (or queued): edit it; an unposted one is built right later
            queue_report(services, session, standup=session.get(Standup, run.standup_id), run=run, now=now)


def register(app: AsyncApp, services: Services) -> None:
    app.action("standup_fill")(ack_then(services, fill_in))
    app.action("standup_skip")(ack_then(services, skip))
    app.view("standup_answer")(ack_with(services, submit_answer))
