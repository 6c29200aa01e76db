"""Setting standups up and managing them: owners and workspace admins only."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from models.db import insert_once
from models.errors import RuleError
from models.requests.forms import FormErrors
from models.schedule import schedule_changed
from models.standups.forms import CleanStandup
from models.standups.tables import Standup


def _name_key(name: str) -> str:
    return name.strip().casefold()


def find_standup(session: Session, *, team_id: str, name: str) -> Standup:
    query = select(Standup).where(Standup.team_id == team_id, Standup.name_key == _name_key(name))
    standup = session.exec(query).first()
    if standup is None:
        raise RuleError("standups.unknown", name=name)
    return standup


def list_standups(session: Session, *, team_id: str) -> list[Standup]:
    return list(session.exec(select(Standup).where(Standup.team_id == team_id).order_by(Standup.name_key)))


def check_may_manage(standup: Standup, *, actor: str, is_admin: bool) -> None:
    if actor != standup.owner and not is_admin:
        raise RuleError("standups.not_owner", name=standup.name, owner=standup.owner)


def _apply(standup: Standup, form: CleanStandup, names: dict, now: datetime) -> None:
    for attribute in ("name", "channel", "participants", "days", "prompt_time", "timezone", "questions", "nudges",
                      "report_after", "holidays", "holiday_country"):
        setattr(standup, attribute, getattr(form, attribute))
    standup.name_key = _name_key(form.name)
    known = standup.names or {}
    standup.names = {user: names.get(user) or known.get(user) or user for user in form.participants}
    standup.updated_at = now


def create_standup(session: Session, *, team_id: str, owner: str, form: CleanStandup, names: dict,
                   now: datetime) -> Standup:
    """A new standup owned by its creator; a name taken in the workspace is refused inline."""
    standup = Standup(team_id=team_id, owner=owner, created_at=now, name="", name_key="", channel="",
                      prompt_time="09:00")
    _apply(standup, form, names, now)
    if not insert_once(session, standup):
        raise FormErrors({"name": ("standups.duplicate_name", {"name": form.name})})
    schedule_changed(session)  # the first standup starts the minute tick
    return standup


def update_standup(session: Session, *, team_id: str, standup_id: int, actor: str, is_admin: bool,
                   form: CleanStandup, names: dict, now: datetime) -> Standup:
    standup = session.get(Standup, standup_id)
    if standup is None or standup.team_id != team_id:
        raise RuleError("standups.unknown", name=form.name)
    check_may_manage(standup, actor=actor, is_admin=is_admin)
    clash = session.exec(select(Standup.id).where(Standup.team_id == team_id, Standup.name_key == _name_key(form.name),
                                                  Standup.id != standup_id)).first()
    if clash is not None:
        raise FormErrors({"name": ("standups.duplicate_name", {"name": form.name})})
    _apply(standup, form, names, now)
    session.add(standup)
    schedule_changed(session)
    return standup


def set_paused(session: Session, *, team_id: str, name: str, actor: str, is_admin: bool, paused: bool,
               now: datetime) -> Standup:
    standup = find_standup(session, team_id=team_id, name=name)
    check_may_manage(standup, actor=actor, is_admin=is_admin)
    standup.paused, standup.updated_at = paused, now
    session.add(standup)
    schedule_changed(session)
    return standup


def delete_standup(session: Session, *, team_id: str, name: str, actor: str, is_admin: bool) -> str:
    standup = find_standup(session, team_id=team_id, name=name)
    check_may_manage(standup, actor=actor, is_admin=is_admin)
    session.delete(standup)  # runs, sends and answers go with it (ON DELETE CASCADE)
    schedule_changed(session)
    return standup.name
