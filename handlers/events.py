"""Events: each event_id acted on once, the App Home tab, and the events Tandem listens to."""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

from apscheduler.triggers.cron import CronTrigger
from slack_bolt.async_app import AsyncApp

import templates
from clock import utcnow
from delivery import HOME
from handlers import approvals, requests
from handlers.common import Services
from handlers.listeners import ack_then
from models import events, retention, submissions
from models.db import session_scope
from scheduler import Job

log = logging.getLogger("tandem.events")


def home_view(services: Services, team_id: str, user_id: str) -> dict:
    language = services.language_of(team_id, user_id)
    return templates.render("home.yaml.j2", language=language, version=services.version,
                            **requests.home_context(services, team_id, user_id),
                            **approvals.home_context(services, team_id, user_id))


def publish_home(services: Services, *, team_id: str, user_id: str) -> None:
    services.delivery.call("views.publish", user_id=user_id, view=home_view(services, team_id, user_id))


def home_opened(services: Services, body: dict) -> None:
    """The user opened Tandem's App Home: its Home tab as it is now (the Messages tab needs nothing)."""
    event = body["event"]
    if event.get("tab", "home") == "home":
        publish_home(services, team_id=body["team_id"], user_id=event["user"])


def home_args(services: Services, team_id: str, user_id: str) -> dict:
    """A queued Home refresh (delivery.HOME), rendered when it is sent: the tab as it is then."""
    return {"user_id": user_id, "view": home_view(services, team_id, user_id)}


def from_a_person(event: dict) -> bool:
    """A message a person wrote: not a bot's (Tandem's own DMs come back as message.im), not an
    edit, deletion or join (subtypes), except a thread reply also sent to the channel."""
    return (event.get("type") == "message" and event.get("subtype") in (None, "thread_broadcast")
            and bool(event.get("user")) and not event.get("bot_id") and not event.get("bot_profile"))


def kind_of(event: dict) -> str | None:
    """Messages are filtered before anything is stored: Tandem sees every message in every channel
    it is in, and handles only two kinds: a DM to it, and a thread reply (a comment if the thread is
    a request card's). Read on the event loop: no thread, no query for the rest."""
    if not from_a_person(event):
        return None
    if event.get("channel_type") == "im":
        return "dm"
    return "reply" if event.get("thread_ts") and event.get("thread_ts") != event.get("ts") else None


def on_message(services: Services, body: dict) -> None:
    kind = kind_of(body.get("event") or {})
    if kind == "dm":
        answer_dm(services, body)
    elif kind == "reply":
        requests.on_message(services, body)


def answer_dm(services: Services, body: dict) -> None:
    """A DM to Tandem gets a short help in the person's language, at most once an hour."""
    team_id, user_id = body.get("team_id") or body["event"].get("team", ""), body["event"]["user"]
    language = services.language_of(team_id, user_id)
    message = templates.render("dm_help.yaml.j2", language=language)
    now = utcnow()
    with session_scope(services.engine) as session:
        key = events.dm_help_key(session, team_id=team_id, user_id=user_id, now=now)
        if key is None:
            return  # answered within the hour (or this is Slack's retry of the DM just answered)
        if body.get("event_id") and not events.first_delivery(session, event_id=body["event_id"], team_id=team_id,
                                                              now=now):
            return
        services.delivery.queue(session, key=key, team_id=team_id, method="chat.postMessage", now=now,
                                channel=user_id, text=message["text"], blocks=message["blocks"])
    services.delivery.kick()


def first_time(services: Services, *, event_id: str, team_id: str) -> bool:
    with session_scope(services.engine) as session:
        return events.first_delivery(session, event_id=event_id, team_id=team_id, now=utcnow())


def job_sources(services: Services):
    def forget_old_deliveries(due_at, now):
        """What Slack may deliver again is remembered for a while (events by id, modal submissions)."""
        with session_scope(services.engine) as session:
            removed = events.forget_old(session, now=now)
            forgotten = submissions.forget_old(session, now=now)
        log.info("forgot %d handled events and %d handled submissions", removed, forgotten)

    def prune(due_at, now):
        """RETENTION_DAYS: sent messages, handled events, scheduled-run claims (models/retention.py)."""
        done = retention.prune(services.engine, now=now, keep=timedelta(days=services.settings.retention_days))
        log.info("retention: %s", ", ".join(f"{count} {what}" for what, count in done.items()))

    def source(session, now):
        yield Job(key="events:forget-old", trigger=CronTrigger(hour=3, minute=17, timezone="UTC"),
                  run=forget_old_deliveries)
        yield Job(key="retention:prune", trigger=CronTrigger(hour=3, minute=47, timezone="UTC"), run=prune)

    return [source]


def register(app: AsyncApp, services: Services) -> None:
    services.delivery.late[HOME] = functools.partial(home_args, services)

    def once_per_event(work):
        """Slack retries events it thinks we missed (X-Slack-Retry-Num); the event_id decides, after
        the ack: the ack never waits for the database (on SQLite, for its one write turn)."""

        def once(services: Services, body: dict) -> None:
            event_id = body.get("event_id") if body.get("type") == "event_callback" else None
            if event_id and not first_time(services, event_id=event_id, team_id=body.get("team_id", "")):
                return
            work(services, body)

        return once

    app.event("app_home_opened")(ack_then(services, once_per_event(home_opened)))
    # No `once` here: a message is stored as handled only after on_message kept it (a thread reply
    # under a request's card, which becomes a comment; a DM to Tandem, answered with help).
    @app.event("message")
    async def message(ack, body):
        await ack()
        if kind_of(body.get("event") or {}):
            await services.in_thread(on_message, services, body)
