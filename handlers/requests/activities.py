"""Activities while they run: the daily job per workspace (progress lines in the card's thread,
the card's progress field edited in place, the at-risk and no-data DMs, the review request and its
reminders). The rule (models/activities/running.py) decides what is new; this queues it."""

from __future__ import annotations

from datetime import datetime

from apscheduler.triggers.cron import CronTrigger
from sqlmodel import Session

import templates
from delivery import PERMALINK, REF, THREAD
from handlers.common import Services, cached_language, zone_of
from handlers.requests.common import as_template, workspace_language
from handlers.requests.config import per_triage_team
from handlers.requests.notify import render_card
from models import keys, outbox
from models.activities import running
from models.db import session_scope
from scheduler import Job

LOOK_AT = 18  # local hour: the day's values are mostly in by then


def look(services: Services, team_id: str, *, now: datetime) -> int:
    """Today's look at the workspace's activities. Returns how many had something new."""
    settings = services.settings
    with session_scope(services.engine) as session:
        workspace = services.workspace(session, team_id)
        found = running.daily(session, team_id=team_id, zone=zone_of(workspace.timezone), now=now,
                              at_risk_share=settings.activity_at_risk_share, settle_days=settings.activity_settle_days)
        for seen in found:
            queue_today(services, session, seen, now=now)
    if found:
        services.delivery.kick()
    return len(found)


def queue_today(services: Services, session: Session, seen: running.Today, *, now: datetime) -> None:
    request, queue = seen.request, services.delivery.queue
    team_id, card_key = request.team_id, keys.request_card(request.id)
    has_card = outbox.was_queued(session, key=card_key)
    r = as_template(request)
    goals = request.fields["goals"]
    day = seen.day.isoformat()
    if seen.standings and has_card:
        line = templates.render("requests/activity_progress.yaml.j2", language=workspace_language(
            services, session, team_id), r=r, goals=goals, standings=seen.standings,
            day_number=(seen.day - seen.window.start).days + 1, days=seen.window.days)
        queue(session, key=keys.activity_progress(request.id, day), team_id=team_id, method="chat.postMessage",
              now=now, text=line["text"], **{THREAD: card_key})
    if (seen.standings or seen.at_risk) and has_card:
        card = render_card(session, services, request)
        queue(session, key=keys.activity_card(card_key, day), team_id=team_id, method="chat.update", now=now,
              text=card["text"], blocks=card["blocks"], **{REF: card_key})
    links = {PERMALINK: card_key} if has_card else {}
    if seen.at_risk:
        for user in dict.fromkeys(u for u in (request.requester, request.assignee) if u):
            dm = templates.render("requests/activity_at_risk.yaml.j2", language=cached_language(
                services, session, team_id=team_id, user_id=user), r=r, goals=goals, behind=seen.at_risk,
                standings=_latest(session, request), has_card=has_card,
                share=round(services.settings.activity_at_risk_share * 100))
            queue(session, key=keys.activity_dm(request.id, "at_risk", user), team_id=team_id,
                  method="chat.postMessage", now=now, channel=user, text=dm["text"], blocks=dm["blocks"], **links)
    for index in seen.silent:
        dm = templates.render("requests/activity_no_data.yaml.j2", language=cached_language(
            services, session, team_id=team_id, user_id=request.requester), r=r, metric=goals[index]["metric"],
            days=running.SILENT_DAYS, day=day)
        queue(session, key=keys.activity_dm(request.id, f"no_data.{index}", request.requester), team_id=team_id,
              method="chat.postMessage", now=now, channel=request.requester, text=dm["text"], blocks=dm["blocks"])
    if seen.review:
        dm = templates.render("requests/activity_review_ask.yaml.j2", language=cached_language(
            services, session, team_id=team_id, user_id=request.requester), r=r, reminder=seen.review == "reminder")
        what = "review.ask" if seen.review == "ask" else f"review.{day}"
        queue(session, key=keys.activity_dm(request.id, what, request.requester), team_id=team_id,
              method="chat.postMessage", now=now, channel=request.requester, text=dm["text"], blocks=dm["blocks"],
              **links)


def _latest(session: Session, request) -> list[dict]:
    return (running.latest_progress(session, request) or {"lines": []})["lines"]


def look_job(services: Services, team_id: str, timezone: str | None) -> Job:
    def run(due_at: datetime, now: datetime) -> None:
        look(services, team_id, now=now)

    trigger = CronTrigger(hour=LOOK_AT, minute=0, timezone=zone_of(timezone))
    return Job(key=f"activities:{team_id}", trigger=trigger, run=run)


def job_sources(services: Services) -> list:
    return per_triage_team(services, look_job)
