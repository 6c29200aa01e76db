"""/request config (admins) and the daily SLA reminder in the triage channel.

The reminder runs on weekdays at 10:00 in the workspace's zone. Each workspace gets at most
one a local day: a RequestReminder row (team, local date) is inserted first, and a conflict
means another run (a restart, a second replica) already sent it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger
from slack_bolt.async_app import AsyncApp
from sqlmodel import select

import templates
from clock import utcnow
from handlers.common import (
    Services,
    admin_and_language,
    bot_is_in,
    form_values,
    metadata_of,
    open_modal,
    who,
    zone_of,
)
from handlers.listeners import Outcome, ack_with
from handlers.requests.common import as_template
from models import keys
from models.business_time import business_days_before, is_business_day
from models.db import insert_once, session_scope
from models.errors import RuleError
from models.requests import RequestConfig, RequestReminder, lifecycle, queries
from scheduler import Job

SLA_LOW, SLA_HIGH = 1, 30
REMIND_AT = 10          # local hour, Monday to Friday
REMINDER_ROWS = 20      # requests listed in one reminder; the rest are counted
# Rule errors about one field of the config modal: shown inline under that block.
FIELD_ERRORS = {"requests.bad_team_mode": "team_mode", "requests.empty_team": "product_team",
                "requests.no_triage_channel": "triage_channel", "requests.bad_sla": "sla"}


def open_config_modal(services: Services, *, command: dict, words: list[str]) -> dict | None:
    """Open the settings modal, prefilled. Non-admins are refused (the dispatcher says so)."""
    team_id, user_id = command["team_id"], command["user_id"]
    admin, language = admin_and_language(services, team_id, user_id)
    if not admin:
        raise RuleError("not_admin")
    with session_scope(services.engine) as session:
        config = lifecycle.get_config(session, team_id=team_id, now=utcnow())
        current = {"triage_channel": config.triage_channel, "mode": config.product_team_mode,
                   "users": list(config.product_team or []), "sla": config.sla_business_days}
    view = templates.render("requests/config_modal.yaml.j2", language=language, c=current, low=SLA_LOW,
                            high=SLA_HIGH, metadata=json.dumps({"channel": command.get("channel_id")}))
    return open_modal(services, command["trigger_id"], view, language=language)


def _whole_days(text: str | None) -> int:
    try:
        return int((text or "").strip())
    except ValueError:
        raise RuleError("requests.bad_sla", low=SLA_LOW, high=SLA_HIGH) from None


def submit_config(services: Services, body: dict) -> Outcome:
    team_id, user_id = who(body)
    view = body["view"]
    values = form_values(view)
    channel, mode, users = values.get("triage_channel"), values.get("team_mode") or "", values.get("product_team") or []
    admin, language = admin_and_language(services, team_id, user_id)
    if admin and channel and not bot_is_in(services, channel):
        words = templates.messages("requests/config_errors.yaml.j2", language=language)
        return Outcome.errors({"triage_channel": words["bot_not_in_channel"]})
    now = utcnow()
    try:
        days = _whole_days(values.get("sla"))
        with session_scope(services.engine) as session:
            config = lifecycle.configure(session, team_id=team_id, actor_is_admin=admin, triage_channel=channel,
                                         product_team_mode=mode, product_team=users, sla_business_days=days,
                                         now=now)
            saved = templates.render("requests/config_saved.yaml.j2", language=language, c={
                "triage_channel": config.triage_channel, "mode": config.product_team_mode,
                "users": config.product_team, "sla": config.sla_business_days})
            services.delivery.queue(session, key=keys.requests_config_saved(team_id, view["id"]), team_id=team_id,
                                    method="chat.postMessage", now=now, channel=user_id, text=saved["text"],
                                    blocks=saved["blocks"])
    except RuleError as error:
        return Outcome.refused(error, language=language, block=FIELD_ERRORS.get(error.key),
                               channel=metadata_of(view).get("channel"))
    services.delivery.kick()
    return Outcome()


# -- the SLA reminder ----------------------------------------------------------------------------
def remind_overdue(services: Services, team_id: str, *, now: datetime) -> bool:
    """Post today's reminder of requests untriaged past the SLA. True if one was queued."""
    with session_scope(services.engine) as session:
        config = lifecycle.get_config(session, team_id=team_id, now=now)
        workspace = services.workspace(session, team_id)
        zone = zone_of(workspace.timezone)
        today = now.astimezone(zone).date()
        if not config.triage_channel or not is_business_day(today):
            return False
        cutoff = business_days_before(now, zone, config.sla_business_days)
        rows, total = queries.untriaged_before(session, team_id=team_id, cutoff=cutoff, limit=REMINDER_ROWS)
        if not rows:
            return False
        if not insert_once(session, RequestReminder(team_id=team_id, local_date=today, sent_at=now)):
            return False  # today's reminder went out already
        message = templates.render("requests/sla_reminder.yaml.j2", language=workspace.language,
                                   rows=[as_template(r) for r in rows], total=total, days=config.sla_business_days)
        services.delivery.queue(session, key=keys.sla_reminder(team_id, today), team_id=team_id,
                                method="chat.postMessage", now=now, channel=config.triage_channel,
                                text=message["text"], blocks=message["blocks"], unfurl_links=False)
    services.delivery.kick()
    return True


def sla_job(services: Services, team_id: str, timezone: str | None) -> Job:
    def run(due_at: datetime, now: datetime) -> None:
        remind_overdue(services, team_id, now=now)

    trigger = CronTrigger(day_of_week="mon-fri", hour=REMIND_AT, minute=0, timezone=zone_of(timezone))
    return Job(key=f"requests:sla:{team_id}", trigger=trigger, run=run)


def per_triage_team(services: Services, make_job: Callable[[Services, str, str | None], Job]) -> list:
    """A scheduler source: `make_job(services, team_id, zone)` for every team with a triage channel."""
    def source(session, now):
        configured = session.exec(select(RequestConfig.team_id).where(RequestConfig.triage_channel.is_not(None)))
        for team_id in list(configured):
            yield make_job(services, team_id, services.workspace(session, team_id).timezone)

    return [source]


def job_sources(services: Services) -> list:
    return per_triage_team(services, sla_job)


def register(app: AsyncApp, services: Services) -> None:
    app.view("request_config")(ack_with(services, submit_config))

