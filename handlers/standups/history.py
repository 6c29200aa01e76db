"""/standup history [@user] [14d] and /standup stats NAME [30d]."""

from __future__ import annotations

import re
from datetime import timedelta

import templates
from clock import utcnow
from handlers.common import Services, admin_and_language
from handlers.people import resolve_user
from models import mentions
from models.db import session_scope
from models.errors import RuleError
from models.standups.manage import find_standup
from models.standups.schedule import zone
from models.standups.stats import standup_stats, user_history
from models.workspaces import get_member

_DAYS = re.compile(r"^(\d{1,3})d$")
MAX_DAYS = 366


def _days(words: list[str], default: int) -> tuple[int, list[str]]:
    rest, days = [], default
    for word in words:
        match = _DAYS.match(word.lower())
        if match:
            days = int(match[1])
            if not 1 <= days <= MAX_DAYS:
                raise RuleError("standups.bad_period", given=word, limit=MAX_DAYS)
        else:
            rest.append(word)
    return days, rest


def _today(services: Services, session, team_id: str, user_id: str):
    member = get_member(session, team_id=team_id, user_id=user_id)
    name = (member.timezone if member else None) or services.workspace(session, team_id).timezone
    return utcnow().astimezone(zone(name)).date()


def history(services: Services, *, command: dict, words: list[str]) -> dict:
    team_id, user_id = command["team_id"], command["user_id"]
    _admin, language = admin_and_language(services, team_id, user_id)
    days, rest = _days(words, 14)
    target = user_id
    if rest:
        if not rest[0].startswith(("<@", "@")) and not mentions.user_id(rest[0]):
            raise RuleError("standups.bad_user", given=rest[0])
        target = resolve_user(services, team_id, rest[0])
    with session_scope(services.engine) as session:
        since = _today(services, session, team_id, user_id) - timedelta(days=days - 1)
        rows = user_history(session, team_id=team_id, user_id=target, since=since)
    return templates.render("standups/history.yaml.j2", language=language, rows=rows, user=target, days=days)


def stats(services: Services, *, command: dict, words: list[str]) -> dict:
    team_id, user_id = command["team_id"], command["user_id"]
    _admin, language = admin_and_language(services, team_id, user_id)
    days, rest = _days(words, 30)
    if not rest:
        raise RuleError("standups.name_missing", command="stats")
    with session_scope(services.engine) as session:
        standup = find_standup(session, team_id=team_id, name=rest[0])
        since = _today(services, session, team_id, user_id) - timedelta(days=days - 1)
        numbers = standup_stats(session, standup=standup, since=since)
    return templates.render("standups/stats.yaml.j2", language=language, s=numbers, days=days)
