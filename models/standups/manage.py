"""Setting standups up and managing them: owners and workspace admins only."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from models.db import insert_once
from models.errors import RuleError
from models.requests.forms import FormErrors
from models.schedule import schedule_changed
from models.standups.forms import CleanStandup
from models.standups.tables import Standup, StandupAnswer, StandupRun


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
    if standup.paused and not paused:
        standup.resumed_at = now  # today's prompt, if its time passed while paused, stays unsent
    standup.paused, standup.updated_at = paused, now
    session.add(standup)
    schedule_changed(session)
    return standup


def deletion_of(session: Session, *, team_id: str, name: str, actor: str, is_admin: bool) -> dict:
    """What deleting a standup would lose (asked before it is deleted): its days and answers."""
    standup = find_standup(session, team_id=team_id, name=name)
    check_may_manage(standup, actor=actor, is_admin=is_admin)
    days = session.exec(select(sa.func.count()).select_from(StandupRun).where(StandupRun.standup_id == standup.id)).one()
    answers = session.exec(select(sa.func.count()).select_from(StandupAnswer).join(
        StandupRun, StandupRun.id == StandupAnswer.run_id).where(StandupRun.standup_id == standup.id,
                                                                 StandupAnswer.status == "answered")).one()
    return {"id": standup.id, "name": standup.name, "days": days, "answers": answers,
            "participants": len(standup.participants)}


def delete_standup(session: Session, *, team_id: str, standup_id: int, actor: str, is_admin: bool) -> str:
    """Delete (after the person confirmed): by id, so a standup renamed meanwhile is still the one."""
    standup = session.get(Standup, standup_id)
    if standup is None or standup.team_id != team_id:
        raise RuleError("standups.already_deleted")
    check_may_manage(standup, actor=actor, is_admin=is_admin)
    session.delete(standup)  # runs, sends and answers go with it (ON DELETE CASCADE)
    schedule_changed(session)
    return standup.name
