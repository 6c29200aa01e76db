"""What every handler module shares: the services it is given, and small Slack-side helpers."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.engine import Engine
from sqlmodel import Session

import templates
from clock import utcnow
from delivery import Delivery
from handlers.submissions import once_per_submission
from models import workspaces
from models.db import session_scope
from models.errors import RuleError
from settings import Settings

log = logging.getLogger("tandem.handlers")
T = TypeVar("T")


@dataclass
class Services:
    settings: Settings
    engine: Engine
    delivery: Delivery
    executor: ThreadPoolExecutor
    version: str
    busy: int = 0  # blocking calls under way (read at shutdown, and by tests waiting for quiet)
    # (team, user) → (language, monotonic expiry): lets hot paths such as /tandem help answer
    # without a thread or a query. A language change on another replica shows here within the TTL.
    languages: dict = field(default_factory=dict)
    LANGUAGE_TTL = 300.0

    async def in_thread(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Run blocking work (database, Web API) off the event loop, in the sized pool."""
        loop = asyncio.get_running_loop()
        self.busy += 1  # only touched on the event loop thread
        try:
            return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))
        finally:
            self.busy -= 1

    def workspace(self, session: Session, team_id: str) -> workspaces.Workspace:
        return workspaces.get_workspace(
            session, team_id=team_id, now=utcnow(), default_language=self.settings.default_language,
            default_timezone=self.settings.default_timezone,
        )

    def member(self, team_id: str, user_id: str) -> workspaces.Member | None:
        """The user as Slack describes them (locale, zone, admin), asked again once a day.

        The users.info call happens outside any transaction: on SQLite a transaction holds the
        write lock, and no one should wait on it behind a network call.
        """
        now = utcnow()
        with session_scope(self.engine) as session:
            member = workspaces.get_member(session, team_id=team_id, user_id=user_id)
        if workspaces.member_is_fresh(member, now=now):
            return member
        try:
            user = self.delivery.call("users.info", user=user_id, include_locale=True)["user"]
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("users.info for %s failed (%r); using what we know", user_id, exc)
            return member
        with session_scope(self.engine) as session:
            return workspaces.remember_member(
                session, team_id=team_id, user_id=user_id, locale=user.get("locale"), timezone=user.get("tz"),
                is_slack_admin=bool(user.get("is_admin") or user.get("is_owner")), now=now,
            )

    def language_of(self, team_id: str, user_id: str) -> str:
        member = self.member(team_id, user_id)
        with session_scope(self.engine) as session:
            language = workspaces.language_for(self.workspace(session, team_id), member)
        self.languages[(team_id, user_id)] = (language, time.monotonic() + self.LANGUAGE_TTL)
        return language

    def known_language(self, team_id: str, user_id: str) -> str | None:
        """The user's language if this process learnt it recently; no I/O."""
        known = self.languages.get((team_id, user_id))
        return known[0] if known and known[1] > time.monotonic() else None

    def forget_languages(self, team_id: str) -> None:
        for key in [key for key in self.languages if key[0] == team_id]:
            self.languages.pop(key, None)


def admin_and_language(services: Services, team_id: str, user_id: str) -> tuple[bool, str]:
    """Is the user a workspace admin (Slack's, or listed in TANDEM_ADMINS), and their language."""
    member = services.member(team_id, user_id)
    with session_scope(services.engine) as session:
        workspace = services.workspace(session, team_id)
        admin = workspaces.is_admin(workspace, member, user_id=user_id,
                                    settings_admins=services.settings.admin_user_ids)
        return admin, workspaces.language_for(workspace, member)


def form_values(view: dict) -> dict:
    """A submitted modal's state: block_id → the element's value (one element per block)."""
    values: dict = {}
    for block_id, actions in (view.get("state") or {}).get("values", {}).items():
        for element in actions.values():
            kind = element.get("type")
            if kind in ("static_select", "radio_buttons"):
                values[block_id] = (element.get("selected_option") or {}).get("value")
            elif kind in ("checkboxes", "multi_static_select"):
                values[block_id] = [o["value"] for o in element.get("selected_options") or []]
            elif kind == "conversations_select":
                values[block_id] = element.get("selected_conversation")
            elif kind == "channels_select":
                values[block_id] = element.get("selected_channel")
            elif kind == "users_select":
                values[block_id] = element.get("selected_user")
            elif kind == "multi_users_select":
                values[block_id] = list(element.get("selected_users") or [])
            else:
                values[block_id] = element.get("value")
    return values


def rule_error_message(error: RuleError, *, language: str) -> dict:
    """Capability keys ("requests.unknown") have their words in "<capability>/errors.yaml.j2"."""
    prefix, dot, _rest = error.key.partition(".")
    template = f"{prefix}/errors.yaml.j2" if dot and (templates.BLOCKS_DIR / prefix / "errors.yaml.j2").exists() \
        else "error.yaml.j2"
    return templates.render(template, language=language, key=error.key, params=error.params)


def run_subcommand(services: Services, function, *, command: dict, words: list[str]) -> dict | None:
    """Run one slash subcommand; a broken rule becomes its translated message."""
    try:
        return function(services, command=command, words=words)
    except RuleError as error:
        return rule_error_message(error, language=services.language_of(command["team_id"], command["user_id"]))


def action_listener(services: Services, work):
    """A button's listener: ack at once (Slack waits 3 s), then `work(services, body, action)` in
    a worker thread; what it has to say goes through the response_url or a modal."""

    async def listener(ack, body, action):
        await ack()
        await services.in_thread(work, services, body, action)

    return listener


def view_listener(services: Services, submit):
    """A modal's submission listener: `submit(services, body=...)` in a worker thread returns the
    ack's fields (inline errors, an update) or None, which closes the modal. Once per submission."""

    async def listener(ack, body):
        answer = await services.in_thread(submit, services, body=body)
        await ack(**answer) if answer else await ack()

    return once_per_submission(services, listener)


def subcommand_listener(services: Services, *, subcommands: dict, usage_template: str, default: str,
                        usage_context: dict | None = None):
    """The listener for a capability's slash command: `/request list …` → subcommands["list"].

    `subcommands` maps a word to (function, ack_first). Modal openers and slow work ack at once
    and answer through the response_url (trigger_id lives 3 s); quick answers go back in the ack.
    Anything else gets the capability's usage (rendered with `usage_context` too), translated.
    """

    async def listener(ack, command):
        words = (command.get("text") or "").split()
        sub = words[0].lower() if words else default
        if sub not in subcommands:
            language = await services.in_thread(services.language_of, command["team_id"], command["user_id"])
            await ack(templates.render(usage_template, language=language, unknown=None if sub == "help" else words[0],
                                       **(usage_context or {})))
            return
        function, ack_first = subcommands[sub]
        if ack_first:
            await ack()
        reply = await services.in_thread(run_subcommand, services, function, command=command, words=words[1:])
        if not ack_first:
            await ack(reply)
        elif reply:
            await services.in_thread(services.delivery.respond, command["response_url"], reply)

    return listener
