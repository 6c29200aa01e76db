"""Workspaces and the members Tandem has met: language, zone, who may administer."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel

from models.db import UTCDateTime, insert_once
from models.errors import RuleError

LANGUAGES = ("en", "zh_CN")
MEMBER_FRESH_FOR = timedelta(hours=24)


class Workspace(SQLModel, table=True):
    team_id: str = Field(primary_key=True, max_length=32)
    language: str = Field(default="en", max_length=8)
    timezone: str = Field(default="UTC", max_length=64)
    # ISO 4217 code of the money metrics' currency, set by `/tandem currency`; "" falls back to the
    # DEFAULT_CURRENCY setting. Never guessed from the language or the zone.
    currency: str = Field(default="", sa_column=sa.Column(sa.String(3), nullable=False, server_default=""))
    admin_user_ids: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class Member(SQLModel, table=True):
    """What Slack told us about a user (users.info), kept for a day."""

    team_id: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(primary_key=True, max_length=32)
    locale: str | None = Field(default=None, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)
    is_slack_admin: bool = False
    refreshed_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


def get_workspace(
    session: Session, *, team_id: str, now: datetime, default_language: str = "en", default_timezone: str = "UTC"
) -> Workspace:
    workspace = session.get(Workspace, team_id)
    if workspace is None:
        fresh = Workspace(
            team_id=team_id, language=default_language, timezone=default_timezone, created_at=now, updated_at=now
        )
        # Two first requests at once: one inserts, the other reads what it inserted.
        workspace = fresh if insert_once(session, fresh) else session.get(Workspace, team_id)
    return workspace


def get_member(session: Session, *, team_id: str, user_id: str) -> Member | None:
    return session.get(Member, (team_id, user_id))


def member_is_fresh(member: Member | None, *, now: datetime) -> bool:
    return member is not None and now - member.refreshed_at < MEMBER_FRESH_FOR


def remember_member(
    session: Session, *, team_id: str, user_id: str, locale: str | None, timezone: str | None,
    is_slack_admin: bool, now: datetime,
) -> Member:
    values = dict(locale=locale, timezone=timezone, is_slack_admin=is_slack_admin, refreshed_at=now)
    member = session.get(Member, (team_id, user_id))
    if member is None:
        member = Member(team_id=team_id, user_id=user_id, **values)
        if insert_once(session, member):
            return member
        member = session.get(Member, (team_id, user_id))  # the same user's other request got here first
    for name, value in values.items():
        setattr(member, name, value)
    session.add(member)
    return member


def language_for(workspace: Workspace, member: Member | None) -> str:
    """Simplified Chinese when the user's Slack locale or the workspace default says so."""
    if member is not None and (member.locale or "").lower().replace("_", "-") == "zh-cn":
        return "zh_CN"
    return workspace.language


def is_admin(workspace: Workspace, member: Member | None, *, user_id: str, settings_admins: frozenset[str]) -> bool:
    return (
        user_id in settings_admins
        or user_id in (workspace.admin_user_ids or [])
        or (member is not None and member.is_slack_admin)
    )


def parse_language(text: str) -> str | None:
    """`zh-CN`, `zh_cn`, `zh`, `中文` → zh_CN; `en`, `en-US`, `english` → en."""
    value = text.strip().lower().replace("_", "-")
    if value in {"zh", "zh-cn", "zh-hans", "cn", "中文", "简体中文", "chinese"}:
        return "zh_CN"
    if value in {"en", "en-us", "en-gb", "english", "英文", "英语"}:
        return "en"
    return None


def _set_by_admin(session: Session, *, team_id: str, actor: str, member: Member | None,
                  settings_admins: frozenset[str], now: datetime, field: str, value, invalid: RuleError) -> Workspace:
    """A workspace setting changed by an admin: `not_admin` first, then `invalid` when `value` is None."""
    workspace = get_workspace(session, team_id=team_id, now=now)
    if not is_admin(workspace, member, user_id=actor, settings_admins=settings_admins):
        raise RuleError("not_admin")
    if value is None:
        raise invalid
    setattr(workspace, field, value)
    workspace.updated_at = now
    session.add(workspace)
    return workspace


def set_language(
    session: Session, *, team_id: str, actor: str, member: Member | None, language_text: str,
    settings_admins: frozenset[str], now: datetime,
) -> Workspace:
    return _set_by_admin(session, team_id=team_id, actor=actor, member=member, settings_admins=settings_admins,
                         now=now, field="language", value=parse_language(language_text),
                         invalid=RuleError("unknown_language", given=language_text, choices="en, zh-CN"))


def parse_currency(text: str) -> str | None:
    """`cny`, `CNY` → CNY (any ISO 4217 code Babel knows); `none`/`clear` → "" (back to the default)."""
    from babel.numbers import list_currencies

    value = text.strip().upper()
    if value in {"NONE", "CLEAR", "DEFAULT"}:
        return ""
    return value if len(value) == 3 and value in list_currencies() else None


def set_currency(
    session: Session, *, team_id: str, actor: str, member: Member | None, currency_text: str,
    settings_admins: frozenset[str], now: datetime,
) -> Workspace:
    return _set_by_admin(session, team_id=team_id, actor=actor, member=member, settings_admins=settings_admins,
                         now=now, field="currency", value=parse_currency(currency_text),
                         invalid=RuleError("unknown_currency", given=currency_text[:20]))
