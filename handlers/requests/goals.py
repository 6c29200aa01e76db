"""An activity's goal lines in the request form: the metric choices, the baseline shown under a
line once its metric and the dates are chosen (redrawn on block_actions), and the check on submit."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlmodel import Session

from handlers import metric_words
from handlers.common import Services, form_values, metadata_of, zone_of
from handlers.requests.common import update_unless_changed
from models.activities import goals as rules
from models.db import session_scope

log = logging.getLogger("tandem.requests")
OPTIONS = 100  # a static_select holds 100 options


def catalogue_options(session: Session, team_id: str, language: str = "en") -> list[dict]:
    """The metrics a goal may name, for the select: [{name, label}], a preset's label in `language`."""
    known = rules.catalogue(session, team_id=team_id)
    return [{"name": name, "label": metric_words.metric({"label": label}, language=language, currency="")["label"]}
            for name, (label, *_rest) in list(known.items())[:OPTIONS]]


def _window(raw: dict, zone) -> rules.Window | None:
    try:
        starts = datetime.fromtimestamp(int(raw.get("starts_at")), UTC)
        ends = datetime.fromtimestamp(int(raw.get("ends_at")), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return rules.window_of({"starts_at": starts.isoformat(), "ends_at": ends.isoformat()}, zone) \
        if ends > starts else None


def baselines(session: Session, services: Services, team_id: str, raw: dict, language: str = "en") -> dict:
    """Line → what the form says under it: the baseline value and its period, or that there is no
    data for it (a change target then cannot be measured). Nothing until the metric and dates are set."""
    zone = zone_of(services.workspace(session, team_id).timezone)
    window = _window(raw, zone)
    shown = {}
    known = rules.catalogue(session, team_id=team_id)
    currency = metric_words.currency_of(services, session, team_id)
    for line, metric, _target in rules.goal_rows(raw):
        if window is None or metric not in known:
            continue
        goal = {"metric": metric, "kind": "absolute", "op": ">=", "target": 0}
        before = window.baseline
        unit = metric_words.metric({"unit": known[metric][1]}, language=language, currency=currency)["unit"]
        shown[line] = {"metric": metric, "unit": unit, "days": window.days,
                       "first": before.start.isoformat(), "last": before.end.isoformat(),
                       "value": rules.baseline(session, team_id=team_id, goal=goal, window=window)}
    return shown


def goals_check(session: Session, services: Services, team_id: str, raw: dict):
    """clean_form's `goals` for an activity: the lines, checked in this session."""
    zone = zone_of(services.workspace(session, team_id).timezone)

    def check(fields: dict, errors) -> list[dict]:
        window = rules.window_of(fields, zone) if fields.get("starts_at") and fields.get("ends_at") else None
        if window is not None and window.end < window.start:
            window = None
        return rules.check_goals(session, team_id=team_id, raw=raw, window=window, add=errors.add)

    return check


def redraw(services: Services, body: dict) -> None:
    """A goal's metric or a date changed: redraw the form with the baselines. Acked first (this
    reads the database); the views.update carries the view's hash, so a redraw that lost the race
    with a newer one is refused by Slack instead of undoing it."""
    from handlers.requests.filing import activity_choices, modal

    view, team_id, user_id = body["view"], body["team"]["id"], body["user"]["id"]
    metadata = metadata_of(view)
    raw = form_values(view)
    kind = raw.get("kind") or metadata.get("kind") or "activity"
    if kind != "activity":
        return
    language = services.language_of(team_id, user_id)
    with session_scope(services.engine) as session:
        shown = baselines(session, services, team_id, raw, language)
    values = {k: v for k, v in raw.items() if v not in (None, "", [])}
    new_view = modal(services, language=language, kind=kind, mode=metadata.get("mode", "new"), metadata=metadata,
                     values=values, ref=f"REQ-{metadata['number']}" if metadata.get("number") else None,
                     baselines=shown, **activity_choices(services, team_id, language))
    update_unless_changed(services, view, new_view, dropped="a newer redraw of the request form won; this one is dropped")
