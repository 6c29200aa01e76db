"""Activity templates in Slack: "Save as template" on a review, "Start from a template" in the
activity form (the form redrawn prefilled, dates empty), and `/request templates`."""

from __future__ import annotations

import logging

import templates
from clock import utcnow
from handlers.common import Services, metadata_of, refuse, respond
from handlers.requests.common import update_unless_changed
from models.activities import reuse
from models.activities.goals import form_lines
from models.db import session_scope
from models.errors import RuleError
from models.requests.lifecycle import get_request

log = logging.getLogger("tandem.requests")


def save_button(services: Services, body: dict) -> None:
    """"Save as template" on a posted review: kept once; the clicker is told privately."""
    team_id, user_id = body["team"]["id"], body["user"]["id"]
    try:
        with session_scope(services.engine) as session:
            request = get_request(session, team_id=team_id, number=int(body["actions"][0]["value"]))
            template = reuse.save_template(session, request=request, actor=user_id, now=utcnow())
            name = template.name
    except RuleError as error:
        refuse(services, body, error)
        return
    respond(services, body, templates.render("requests/activity_template_saved.yaml.j2",
                                             language=services.language_of(team_id, user_id), name=name))


def pick(services: Services, body: dict) -> None:
    """A template chosen in the activity form: redraw it with the template's fields and goals."""
    from handlers.requests.filing import activity_choices, modal

    view, team_id, user_id = body["view"], body["team"]["id"], body["user"]["id"]
    chosen = (body["actions"][0].get("selected_option") or {}).get("value")
    metadata = metadata_of(view)
    if not chosen or not chosen.isdigit():
        return
    with session_scope(services.engine) as session:
        try:
            template = reuse.get_template(session, team_id=team_id, template_id=int(chosen))
        except RuleError:
            log.info("a template picked in the form is gone; the form stays as it is")
            return
        values = {**template.fields, **form_lines(template.goals), "title": template.name}
    metadata["template_id"] = int(chosen)
    language = services.language_of(team_id, user_id)
    new_view = modal(services, language=language, kind="activity", mode="new",
                     metadata=metadata, values=values, **activity_choices(services, team_id, language))
    update_unless_changed(services, view, new_view, dropped="the form changed meanwhile; the template's redraw is dropped")


def list_reply(services: Services, *, command: dict, words: list[str]) -> dict:
    """`/request templates`: each with its use count and hit rate."""
    team_id, user_id = command["team_id"], command["user_id"]
    with session_scope(services.engine) as session:
        listed = reuse.list_templates(session, team_id=team_id)
    return templates.render("requests/activity_templates.yaml.j2", language=services.language_of(team_id, user_id),
                            items=listed)
