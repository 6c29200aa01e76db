"""What every handler module shares: the services it is given, and small Slack-side helpers."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.engine import Engine
from sqlmodel import Session

import templates
from delivery import Delivery
from models import workspaces
from models.db import session_scope, utcnow
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
    scheduler: Any = None  # scheduler.Scheduler, once bot.py has built it

    async def in_thread(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Run blocking work (database, Web API) off the event loop, in the sized pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

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
            return workspaces.language_for(self.workspace(session, team_id), member)


def rule_error_message(error: RuleError, *, language: str) -> dict:
    return templates.render("error.yaml.j2", language=language, key=error.key, params=error.params)
