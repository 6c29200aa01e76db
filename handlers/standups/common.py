"""Shared by the standup handlers: who is asking, in which language, names from Slack."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

import templates
from clock import utcnow
from handlers.common import Services
from models import workspaces
from models.db import session_scope


def display_names(services: Services, team_id: str, users: list[str]) -> dict[str, str]:
    """Plain names for reports (users.info; also refreshes each member's zone and locale).

    One call per person: run it after the modal's ack, never before (Slack waits 3 seconds)."""
    names = {}
    for user_id in users:
        try:
            user = services.delivery.call("users.info", user=user_id, include_locale=True)["user"]
        except SlackApiError:
            names[user_id] = user_id
            continue
        profile = user.get("profile") or {}
        names[user_id] = user.get("real_name") or profile.get("real_name") or user.get("name") or user_id
        with session_scope(services.engine) as session:
            workspaces.remember_member(session, team_id=team_id, user_id=user_id, locale=user.get("locale"),
                                       timezone=user.get("tz"), now=utcnow(),
                                       is_slack_admin=bool(user.get("is_admin") or user.get("is_owner")))
    return names


def notice(language: str, key: str, **params) -> dict:
    """A short ephemeral confirmation ("paused", "deleted", …) from standups/notice.yaml.j2."""
    return templates.render("standups/notice.yaml.j2", language=language, key=key, p=params)
