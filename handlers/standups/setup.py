"""/standup new|edit (the modal), list, pause, resume, delete."""

from __future__ import annotations

import functools
import json
from datetime import datetime

from slack_bolt.async_app import AsyncApp

import templates
from clock import utcnow
from handlers.common import (
    Services,
    admin_and_language,
    bot_is_in,
    form_values,
    metadata_of,
    open_modal,
    rule_error_message,
    who,
)
from handlers.listeners import Outcome, ack_then, ack_with
from handlers.standups.common import display_names, notice
from models import keys
from models.db import session_scope
from models.errors import RuleError
from models.requests.forms import FormErrors
from models.standups import Standup
from models.standups.forms import DEFAULT_DAYS, MAX_QUESTIONS, clean_standup_form
from models.standups.manage import (
    create_standup,
    delete_standup,
    deletion_of,
    find_standup,
    list_standups,
    set_paused,
    update_standup,
)
from models.standups.schedule import missed_while_paused, next_prompt, zone, zones_of


def _modal(language: str, *, values: dict, mode: str, metadata: dict) -> dict:
    return templates.render("standups/setup_modal.yaml.j2", language=language, v=values, mode=mode,
                            max_questions=MAX_QUESTIONS, metadata=json.dumps(metadata))


def open_new(services: Services, *, command: dict, words: list[str]) -> dict | None:
    team_id, user_id = command["team_id"], command["user_id"]
    _admin, language = admin_and_language(services, team_id, user_id)
    with session_scope(services.engine) as session:
        default_zone = services.workspace(session, team_id).timezone
    values = {"name": " ".join(words) or None, "channel": command.get("channel_id"), "participants": [user_id],
              "days": list(DEFAULT_DAYS), "prompt_time": "09:30", "zone_mode": "team", "timezone": default_zone,
              "questions": None,  # the template writes the three default questions in the user's language
              "blocker": True, "nudges": "60", "report_after": "120", "holidays": "", "holiday_country": ""}
    view = _modal(language, values=values, mode="new", metadata={"mode": "new"})
    return open_modal(services, command["trigger_id"], view, language=language)


def open_edit(services: Services, *, command: dict, words: list[str]) -> dict | None:
    team_id, user_id = command["team_id"], command["user_id"]
    admin, language = admin_and_language(services, team_id, user_id)
    if not words:
        raise RuleError("standups.name_missing", command="edit")
    with session_scope(services.engine) as session:
        standup = find_standup(session, team_id=team_id, name=words[0])
        if standup.owner != user_id and not admin:
            raise RuleError("standups.not_owner", name=standup.name, owner=standup.owner)
        values = {"name": standup.name, "channel": standup.channel, "participants": standup.participants,
                  "days": standup.days, "prompt_time": standup.prompt_time,
                  "zone_mode": "team" if standup.timezone else "member", "timezone": standup.timezone or "",
                  "questions": "\n".join(q["text"] for q in standup.questions),
                  "blocker": any(q.get("blocker") for q in standup.questions),
                  "nudges": ", ".join(str(n) for n in standup.nudges), "report_after": str(standup.report_after),
                  "holidays": ", ".join(standup.holidays), "holiday_country": standup.holiday_country or ""}
        metadata = {"mode": "edit", "id": standup.id}
    view = _modal(language, values=values, mode="edit", metadata=metadata)
    return open_modal(services, command["trigger_id"], view, language=language)


def submit(services: Services, body: dict) -> Outcome:
    """Validate and save, then learn the participants' names; inline errors leave nothing saved."""
    view, team_id, user_id = body["view"], body["team"]["id"], body["user"]["id"]
    metadata = metadata_of(view)
    admin, language = admin_and_language(services, team_id, user_id)
    now = utcnow()
    try:
        form = clean_standup_form(form_values(view))
        if not bot_is_in(services, form.channel):  # else every report would fail with not_in_channel
            raise FormErrors({"channel": ("standups.bot_not_in_channel", {})})
        with session_scope(services.engine) as session:
            if metadata.get("mode") == "edit":
                standup = update_standup(session, team_id=team_id, standup_id=int(metadata["id"]), actor=user_id,
                                         is_admin=admin, form=form, names={}, now=now)
            else:
                standup = create_standup(session, team_id=team_id, owner=user_id, form=form, names={}, now=now)
            saved = notice(language, "saved", name=standup.name, channel=standup.channel,
                           next=_next(session, standup, now))
            services.delivery.queue(session, key=keys.standup_saved(view["id"], view.get("hash") or ""),
                                    team_id=team_id, method="chat.postMessage", now=now, channel=user_id,
                                    text=saved["text"], blocks=saved["blocks"])
    except FormErrors as problems:
        return Outcome.form_errors(problems, template="standups/form_errors.yaml.j2", language=language)
    except RuleError as error:
        return Outcome.refused(error, language=language, block="name")
    services.delivery.kick()
    return Outcome(then=functools.partial(learn_names, services, team_id=team_id, standup_id=standup.id))


def learn_names(services: Services, *, team_id: str, standup_id: int) -> None:
    """After the ack: participants' names (for reports) and zones, from users.info."""
    with session_scope(services.engine) as session:
        standup = session.get(Standup, standup_id)
        users = [] if standup is None else list(standup.participants)
    names = display_names(services, team_id, users)
    with session_scope(services.engine) as session:
        standup = session.get(Standup, standup_id)
        if standup is not None:
            standup.names = {user: names.get(user) or (standup.names or {}).get(user) or user
                             for user in standup.participants}
            session.add(standup)


def _next(session, standup: Standup, now: datetime) -> int | None:
    """The next prompt (unix time): the standup's zone, else the earliest participant's."""
    if standup.paused:
        return None
    zones = {standup.timezone: zone(standup.timezone)} if standup.timezone else \
        {tz.key: tz for tz in zones_of(session, standup).values()}
    moments = [m for m in (next_prompt(standup, tz, now=now) for tz in zones.values()) if m]
    return int(min(moments).timestamp()) if moments else None


def list_reply(services: Services, *, command: dict, words: list[str]) -> dict:
    team_id, user_id = command["team_id"], command["user_id"]
    _admin, language = admin_and_language(services, team_id, user_id)
    now = utcnow()
    with session_scope(services.engine) as session:
        rows = [{"name": s.name, "channel": s.channel, "owner": s.owner, "paused": s.paused, "time": s.prompt_time,
                 "zone": s.timezone, "people": len(s.participants), "next": _next(session, s, now)}
                for s in list_standups(session, team_id=team_id)]
    return templates.render("standups/list.yaml.j2", language=language, rows=rows)


def _manage(services: Services, command: dict, words: list[str], action: str) -> dict:
    team_id, user_id = command["team_id"], command["user_id"]
    admin, language = admin_and_language(services, team_id, user_id)
    if not words:
        raise RuleError("standups.name_missing", command=action)
    now = utcnow()
    with session_scope(services.engine) as session:
        if action == "delete":  # nothing is deleted yet: the person confirms first (confirm_delete)
            loss = deletion_of(session, team_id=team_id, name=words[0], actor=user_id, is_admin=admin)
            return templates.render("standups/delete_confirm.yaml.j2", language=language, **loss)
        else:
            standup = set_paused(session, team_id=team_id, name=words[0], actor=user_id, is_admin=admin,
                                 paused=action == "pause", now=now)
            if action == "resume":
                return notice(language, action, name=standup.name, time=standup.prompt_time,
                              missed=missed_while_paused(session, standup, now=now), next=_next(session, standup, now))
            name = standup.name
    return notice(language, action, name=name)


def pause(services: Services, *, command: dict, words: list[str]) -> dict:
    return _manage(services, command, words, "pause")


def resume(services: Services, *, command: dict, words: list[str]) -> dict:
    return _manage(services, command, words, "resume")


def delete(services: Services, *, command: dict, words: list[str]) -> dict:
    return _manage(services, command, words, "delete")


def confirm_delete(services: Services, body: dict) -> None:
    """The Delete button of `/standup delete NAME` (past Slack's confirm dialog): delete, and put the
    answer in place of the question (replace_original), so the button cannot be clicked again."""
    team_id, user_id = who(body)
    admin, language = admin_and_language(services, team_id, user_id)
    try:
        with session_scope(services.engine) as session:
            name = delete_standup(session, team_id=team_id, standup_id=int(body["actions"][0]["value"]),
                                  actor=user_id, is_admin=admin)
        message = notice(language, "delete", name=name)
    except RuleError as error:
        message = rule_error_message(error, language=language)
    if body.get("response_url"):
        services.delivery.respond(body["response_url"], {**message, "replace_original": True})


def register(app: AsyncApp, services: Services) -> None:
    app.view("standup_setup")(ack_with(services, submit))
    app.action("standup_delete")(ack_then(services, confirm_delete))
