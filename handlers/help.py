"""/tandem: help, the workspace language and currency, and a clear answer to anything else."""

from __future__ import annotations

from functools import lru_cache

from babel.numbers import get_currency_name, get_currency_symbol
from slack_bolt.async_app import AsyncApp

import templates
from clock import utcnow
from handlers.ack_budget import before_ack
from handlers.common import Services, rule_error_message
from handlers.outbox import outbox_reply
from models import workspaces
from models.db import session_scope
from models.errors import RuleError


@lru_cache(maxsize=8)
def help_message(language: str, version: str) -> dict:
    return templates.render("help.yaml.j2", language=language, version=version)


def tandem_reply(services: Services, *, team_id: str, user_id: str, text: str) -> dict:
    words = text.split()
    sub = words[0].lower() if words else "help"
    if sub == "language":
        member = services.member(team_id, user_id)
        return set_language_reply(services, team_id=team_id, user_id=user_id, member=member, words=words[1:])
    if sub == "currency":
        member = services.member(team_id, user_id)
        return currency_reply(services, team_id=team_id, user_id=user_id, member=member, words=words[1:])
    if sub == "outbox":
        return outbox_reply(services, team_id=team_id, user_id=user_id)
    language = services.language_of(team_id, user_id)
    if sub == "help":
        return help_message(language, services.version)
    return templates.render("help.yaml.j2", language=language, version=services.version, unknown=words[0])


def set_language_reply(services: Services, *, team_id: str, user_id: str, member, words: list[str]) -> dict:
    try:
        with session_scope(services.engine) as session:
            language = workspaces.language_for(services.workspace(session, team_id), member)
            if not words:
                raise RuleError("language_missing")
            workspace = workspaces.set_language(
                session, team_id=team_id, actor=user_id, member=member, language_text=words[0],
                settings_admins=services.settings.admin_user_ids, now=utcnow(),
            )
    except RuleError as error:
        return rule_error_message(error, language=language)
    services.forget_languages(team_id)
    return templates.render("language_set.yaml.j2", language=workspaces.language_for(workspace, member),
                            new_language=workspace.language)


def currency_reply(services: Services, *, team_id: str, user_id: str, member, words: list[str]) -> dict:
    """`/tandem currency` says which currency money metrics show; `/tandem currency CNY` (admins) sets it,
    `/tandem currency none` goes back to the DEFAULT_CURRENCY setting."""
    try:
        with session_scope(services.engine) as session:
            workspace = services.workspace(session, team_id)
            language = workspaces.language_for(workspace, member)
            if words:
                workspace = workspaces.set_currency(
                    session, team_id=team_id, actor=user_id, member=member, currency_text=words[0],
                    settings_admins=services.settings.admin_user_ids, now=utcnow(),
                )
            chosen = workspace.currency
    except RuleError as error:
        return rule_error_message(error, language=language)
    code = chosen or services.settings.default_currency
    locale = language if language in templates.LANGUAGES else "en"
    return templates.render(
        "currency.yaml.j2", language=language, changed=bool(words), code=code, from_setting=not chosen,
        name=get_currency_name(code, locale=locale) if code else "",
        symbol=get_currency_symbol(code, locale=locale) if code else "")


def register(app: AsyncApp, services: Services) -> None:
    # The one listener not in a handlers/listeners.py shape: `/tandem help` is the hot path
    # (bench/ack.py), answered in the ack from memory, without a worker thread, once the language is known.
    @app.command("/tandem")
    async def tandem_command(ack, command):
        text = (command.get("text") or "").strip().lower()
        language = services.known_language(command["team_id"], command["user_id"])
        if language and text in ("", "help"):  # the hot path: no thread, no query
            await ack(dict(help_message(language, services.version)))
            return
        reply = await services.in_thread(
            before_ack(tandem_reply), services, team_id=command["team_id"], user_id=command["user_id"],
            text=command.get("text") or "",
        )
        await ack(**reply)

