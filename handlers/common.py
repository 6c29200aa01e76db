"""What every handler module shares: the services it is given, who is asking and in which language,
and the small Slack-side helpers (modals, private answers, channel checks).

Listener shapes live in handlers/listeners.py.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.engine import Engine
from sqlmodel import Session

import templates
from clock import utcnow
from delivery import Delivery
from handlers import ack_budget
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
    # team → (monotonic time fetched, users.list members): handlers/people.py resolves typed @names
    people: dict = field(default_factory=dict)
    # (team, user group) → (its members, monotonic time Slack said so): approvers' groups, read on the
    # modal submission's ack path (handlers/approvals/chains.py), refreshed by the scheduler.
    usergroups: dict = field(default_factory=dict)

    async def in_thread(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Run blocking work (database, Web API) off the event loop, in the sized pool."""
        loop = asyncio.get_running_loop()
        self.busy += 1  # only touched on the event loop thread
        try:
            # the log context (team, user, listener, request id) goes with the work into the thread
            context = contextvars.copy_context()
            return await loop.run_in_executor(self.executor, context.run, functools.partial(fn, *args, **kwargs))
        finally:
            self.busy -= 1

    def workspace(self, session: Session, team_id: str) -> workspaces.Workspace:
        return workspaces.get_workspace(
            session, team_id=team_id, now=utcnow(), default_language=self.settings.default_language,
            default_timezone=self.settings.default_timezone,
        )

    def member(self, team_id: str, user_id: str) -> workspaces.Member | None:
        """The user as Slack describes them (locale, zone, admin), asked again once a day.

        Before an ack (handlers/ack_budget.py) Slack is not waited for when we know the user, even
        from yesterday: what we know is used and refreshed in the background; a user we never met
        is asked for within the ack budget, and when Slack is slower the workspace's defaults stand in.

        The users.info call happens outside any transaction: on SQLite a transaction holds the
        write lock, and no one should wait on it behind a network call.
        """
        now = utcnow()
        with session_scope(self.engine) as session:
            member = workspaces.get_member(session, team_id=team_id, user_id=user_id)
        if workspaces.member_is_fresh(member, now=now):
            return member
        key = ("users.info", id(self), team_id, user_id)  # per app: tests run two in one process
        if member is not None and ack_budget.left() is not None:
            ack_budget.refresh(key, self._ask_slack_about, team_id, user_id, now)
            return member
        try:
            return ack_budget.read(key, self._ask_slack_about, team_id, user_id, now)
        except ack_budget.SlackSlow:
            log.warning("users.info for %s is slower than the ack allows; using what we know", user_id)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("users.info for %s failed (%r); using what we know", user_id, exc)
        return member

    def learn_member(self, team_id: str, user_id: str) -> None:
        """Start asking Slack about a user needed soon, without waiting; `member` joins that ask."""
        now = utcnow()
        with session_scope(self.engine) as session:
            member = workspaces.get_member(session, team_id=team_id, user_id=user_id)
        if not workspaces.member_is_fresh(member, now=now):
            ack_budget.refresh(("users.info", id(self), team_id, user_id), self._ask_slack_about, team_id, user_id, now)

    def _ask_slack_about(self, team_id: str, user_id: str, now) -> workspaces.Member:
        """users.info, remembered in the members table."""
        user = self.delivery.call("users.info", user=user_id, include_locale=True)["user"]
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


def who(body: dict) -> tuple[str, str]:
    """(team_id, user_id) of the person behind an interaction."""
    user = body["user"]
    return (body.get("team") or {}).get("id") or user.get("team_id"), user["id"]


def admin_and_language(services: Services, team_id: str, user_id: str) -> tuple[bool, str]:
    """Is the user a workspace admin (Slack's, or listed in TANDEM_ADMINS), and their language."""
    member = services.member(team_id, user_id)
    with session_scope(services.engine) as session:
        workspace = services.workspace(session, team_id)
        admin = workspaces.is_admin(workspace, member, user_id=user_id,
                                    settings_admins=services.settings.admin_user_ids)
        return admin, workspaces.language_for(workspace, member)


def _option(element: dict):
    return (element.get("selected_option") or {}).get("value")


def _options(element: dict) -> list:
    return [option["value"] for option in element.get("selected_options") or []]


# What a submitted element holds, by its type (text and number inputs: their "value").
_VALUE_OF = {
    "static_select": _option, "radio_buttons": _option, "checkboxes": _options, "multi_static_select": _options,
    "conversations_select": lambda element: element.get("selected_conversation"),
    "users_select": lambda element: element.get("selected_user"),
    "multi_users_select": lambda element: list(element.get("selected_users") or []),
    "datepicker": lambda element: element.get("selected_date"),
    "datetimepicker": lambda element: element.get("selected_date_time"),
    "file_input": lambda element: list(element.get("files") or []),
}


def form_values(view: dict) -> dict:
    """A submitted modal's state: block_id → its element's value (one element per block)."""
    values: dict = {}
    for block_id, actions in (view.get("state") or {}).get("values", {}).items():
        for element in actions.values():
            values[block_id] = _VALUE_OF.get(element.get("type"), lambda element: element.get("value"))(element)
    return values


def cached_language(services: Services, session: Session, *, team_id: str, user_id: str) -> str:
    """A user's language from what we already know (no Slack call: used inside transactions)."""
    workspace = services.workspace(session, team_id)
    return workspaces.language_for(workspace, workspaces.get_member(session, team_id=team_id, user_id=user_id))


def metadata_of(view: dict) -> dict:
    """What a modal carries in its private_metadata (JSON; empty when it carries nothing)."""
    return json.loads(view.get("private_metadata") or "{}")


def clicked_in(body: dict) -> str | None:
    """The channel of the message a button was clicked in (None on the Home tab)."""
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


def rule_error_message(error: RuleError, *, language: str) -> dict:
    """Capability keys ("requests.unknown") have their words in "<capability>/errors.yaml.j2"."""
    prefix, dot, _rest = error.key.partition(".")
    template = f"{prefix}/errors.yaml.j2" if dot and (templates.BLOCKS_DIR / prefix / "errors.yaml.j2").exists() \
        else "error.yaml.j2"
    return templates.render(template, language=language, key=error.key, params=error.params)


def plain(text: str) -> str:
    """A rendered mrkdwn message as plain text (inline modal errors are not mrkdwn)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def zone_of(name: str | None) -> ZoneInfo:
    """The IANA zone by name; UTC (with a warning) for an unknown one."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; using UTC", name)
        return ZoneInfo("UTC")


# -- Slack-side helpers ----------------------------------------------------------------------------
TRIGGER_ERRORS = ("expired_trigger_id", "exchanged_trigger_id", "invalid_trigger_id")
TRIGGER_TTL = 3.0  # seconds Slack lets a trigger_id open a modal


def open_modal(services: Services, trigger_id: str, view: dict, *, language: str) -> dict | None:
    """views.open. None when the modal opened; when the trigger_id was no longer good (Slack gives
    it 3 seconds), the message that says so, to answer with. A trigger that is known to be older
    than that (the payload waited for a worker) is not even tried."""
    age = ack_budget.trigger_age(trigger_id)
    if age is not None and age > TRIGGER_TTL:
        log.warning("the trigger_id is %.1f s old: views.open would be refused; asking to try again", age)
        return templates.render("too_slow.yaml.j2", language=language)
    try:
        services.delivery.call("views.open", trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        if exc.response.get("error") in TRIGGER_ERRORS:
            return templates.render("too_slow.yaml.j2", language=language)
        raise
    return None


def respond(services: Services, body: dict, message: dict) -> None:
    """Answer the clicker privately through the response_url; what they clicked stays as it is.
    A click on the Home tab or a global shortcut has no response_url: the answer goes to the
    user's DM with Tandem (the app's Messages tab), never nowhere."""
    if body.get("response_url"):
        services.delivery.respond(body["response_url"], {**message, "replace_original": False})
    else:
        services.delivery.call("chat.postMessage", channel=who(body)[1], text=message["text"],
                               blocks=message.get("blocks") or [])


def open_modal_for_click(services: Services, body: dict, view: dict, *, language: str) -> None:
    """Open a modal from a click; when Slack's 3 seconds have passed, tell the clicker so, privately."""
    refusal = open_modal(services, body["trigger_id"], view, language=language)
    if refusal:
        respond(services, body, refusal)


def refuse(services: Services, body: dict, error: RuleError) -> None:
    """Tell only the clicker why nothing happened; the message they clicked stays as it is."""
    team_id, user_id = who(body)
    respond(services, body, rule_error_message(error, language=services.language_of(team_id, user_id)))


def tell(services: Services, *, user_id: str, channel: str | None, message: dict) -> None:
    """An ephemeral message in `channel`, or a DM when the user cannot get one there."""
    if channel:
        try:
            services.delivery.call("chat.postEphemeral", channel=channel, user=user_id, text=message["text"],
                                   blocks=message["blocks"])
            return
        except SlackApiError as exc:
            log.info("ephemeral to %s in %s refused (%s); sending a DM", user_id, channel, exc.response.get("error"))
    services.delivery.call("chat.postMessage", channel=user_id, text=message["text"], blocks=message["blocks"])


def bot_is_in(services: Services, channel: str) -> bool:
    """Is Tandem a member of the channel (so that it can post there)?"""
    try:
        info = services.delivery.call("conversations.info", channel=channel)
    except SlackApiError:
        return False  # a private channel Tandem is not in looks like no channel at all
    return bool(info["channel"].get("is_member"))
