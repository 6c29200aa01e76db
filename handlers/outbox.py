"""/tandem outbox (workspace admins): the messages that failed for good, with Retry and Drop.

A message fails for good when Slack refused it for a reason another attempt cannot fix
(channel_not_found, not_in_channel, …) or it ran out of attempts (delivery.py). Retry queues
it again now; Drop gives it up. Each button counts once: the change is a conditional UPDATE
of a failed row (models.outbox.retry_failed/drop_failed), so a double click, or two admins
clicking, leaves one effect and the second click is told the message is no longer failed.
"""

from __future__ import annotations

import logging

import templates
from clock import utcnow
from handlers.common import Services, admin_and_language, refuse, rule_error_message, who
from handlers.listeners import ack_then
from models import outbox
from models.db import session_scope
from models.errors import RuleError

log = logging.getLogger("tandem.handlers.outbox")
LISTED = 15  # two blocks each: well inside a message's 50


def outbox_reply(services: Services, *, team_id: str, user_id: str, notice: str | None = None) -> dict:
    """The list of failed messages for an admin; the not-admin refusal for anyone else."""
    admin, language = admin_and_language(services, team_id, user_id)
    if not admin:
        return rule_error_message(RuleError("not_admin"), language=language)
    return listing(services, team_id=team_id, language=language, notice=notice)


def listing(services: Services, *, team_id: str, language: str, notice: str | None = None) -> dict:
    with session_scope(services.engine) as session:
        rows = outbox.failed_messages(session, team_id=team_id, limit=LISTED)
        total = outbox.count_failed(session, team_id=team_id)
        messages = [describe(row) for row in rows]
    return templates.render("outbox.yaml.j2", language=language, messages=messages, total=total, notice=notice)


def describe(row: outbox.OutboxMessage) -> dict:
    """What a failed message was for: its key (names the request/standup/digest), the call, where it
    was going, why it failed, and the start of its text."""
    args = row.args or {}
    return {"id": row.id, "key": row.key, "method": row.method, "to": args.get("channel") or args.get("user_id"),
            "error": row.last_error or "", "attempts": row.attempts, "created_at": row.created_at,
            "preview": (args.get("text") or "")[:200]}


def clicked(change):
    """A Retry/Drop click: checked against the rule (admins only) on the server, whatever the UI showed."""

    def work(services: Services, body: dict) -> None:
        team_id, user_id = who(body)
        admin, language = admin_and_language(services, team_id, user_id)
        if not admin:
            refuse(services, body, RuleError("not_admin"))
            return
        value = (body["actions"][0].get("value") or "").strip()
        message_id = int(value) if value.isdigit() else 0  # a forged value finds no failed row: "gone"
        with session_scope(services.engine) as session:
            done = change(session, message_id=message_id, team_id=team_id)
        if done:
            log.info("outbox message %s: %s by %s", message_id, change.__name__, user_id)
        notice = ("retried" if change is retry else "dropped") if done else "gone"
        if done and change is retry:
            services.delivery.kick()
        if body.get("response_url"):  # the listing the admin clicked in becomes the new one
            services.delivery.respond(body["response_url"], {
                **listing(services, team_id=team_id, language=language, notice=notice), "replace_original": True})

    return work


def retry(session, *, message_id: int, team_id: str) -> bool:
    return outbox.retry_failed(session, message_id=message_id, team_id=team_id, now=utcnow())


def drop(session, *, message_id: int, team_id: str) -> bool:
    return outbox.drop_failed(session, message_id=message_id, team_id=team_id)


def register(app, services: Services) -> None:
    app.action("outbox_retry")(ack_then(services, clicked(retry)))
    app.action("outbox_drop")(ack_then(services, clicked(drop)))
