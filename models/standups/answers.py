"""Answers, skips, away periods, and what a day's report shows."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, select

from models.db import insert_once
from models.errors import RuleError
from models.requests.forms import FormErrors
from models.standups.forms import ANSWER_LENGTH
from models.standups.schedule import zones_of
from models.standups.tables import Standup, StandupAnswer, StandupAway, StandupRun

NO_BLOCKER = {"", "-", "no", "none", "nope", "n/a", "na", "nothing", "无", "没有", "暂无", "否"}


def open_run(session: Session, *, team_id: str, run_id: int, user_id: str, now: datetime) -> tuple[Standup, StandupRun]:
    """The run a prompt's button points at, if this user may still answer it (today, a participant)."""
    run = session.get(StandupRun, run_id)
    standup = session.get(Standup, run.standup_id) if run is not None else None
    if run is None or standup is None or run.team_id != team_id:
        raise RuleError("standups.run_gone")
    if user_id not in run.participants:
        raise RuleError("standups.not_participant", name=standup.name)
    today = now.astimezone(zones_of(session, standup, [user_id])[user_id]).date()
    if run.local_date < today:
        raise RuleError("standups.stale", name=standup.name, date=run.local_date.isoformat())
    return standup, run


def _upsert(session: Session, run: StandupRun, user_id: str, *, now: datetime, **values) -> StandupAnswer:
    query = select(StandupAnswer).where(StandupAnswer.run_id == run.id, StandupAnswer.user_id == user_id)
    answer = session.exec(query).first()
    if answer is None:
        answer = StandupAnswer(run_id=run.id, team_id=run.team_id, user_id=user_id, answered_at=now, updated_at=now,
                               on_time=now <= run.report_at, **values)
        if insert_once(session, answer):
            return answer
        answer = session.exec(query).one()  # a double submit: the other one won; this one edits it
    for name, value in values.items():
        setattr(answer, name, value)
    answer.updated_at = now
    session.add(answer)
    return answer


def record_answer(session: Session, *, team_id: str, run_id: int, user_id: str, answers: list[str],
                  now: datetime) -> tuple[Standup, StandupRun, StandupAnswer]:
    standup, run = open_run(session, team_id=team_id, run_id=run_id, user_id=user_id, now=now)
    problems = FormErrors()
    cleaned = [(text or "").strip() for text in answers][: len(standup.questions)]
    cleaned += [""] * (len(standup.questions) - len(cleaned))
    for index, text in enumerate(cleaned):
        if len(text) > ANSWER_LENGTH:
            problems.add(f"q{index}", "form.too_long", length=len(text), limit=ANSWER_LENGTH)
    if not any(cleaned):
        problems.add("q0", "form.required")
    if problems.errors:
        raise problems
    blocker = any(q.get("blocker") and text.casefold().strip(" .!") not in NO_BLOCKER
                  for q, text in zip(standup.questions, cleaned, strict=True))
    answer = _upsert(session, run, user_id, now=now, status="answered", answers=cleaned, has_blocker=blocker)
    return standup, run, answer


def record_skip(session: Session, *, team_id: str, run_id: int, user_id: str,
                now: datetime) -> tuple[Standup, StandupRun]:
    standup, run = open_run(session, team_id=team_id, run_id=run_id, user_id=user_id, now=now)
    query = select(StandupAnswer).where(StandupAnswer.run_id == run.id, StandupAnswer.user_id == user_id)
    existing = session.exec(query).first()
    if existing is not None and existing.status == "answered":
        raise RuleError("standups.already_answered", name=standup.name)
    _upsert(session, run, user_id, now=now, status="skipped", answers=[], has_blocker=False)
    return standup, run


def previous_answers(session: Session, *, standup: Standup, user_id: str, before: date) -> list[str]:
    """The person's latest answers before this day (hints for the modal)."""
    query = (select(StandupAnswer.answers).join(StandupRun, StandupRun.id == StandupAnswer.run_id)
             .where(StandupRun.standup_id == standup.id, StandupAnswer.user_id == user_id,
                    StandupAnswer.status == "answered", StandupRun.local_date < before)
             .order_by(StandupRun.local_date.desc()))
    return list(session.exec(query).first() or [])


def set_away(session: Session, *, team_id: str, user_id: str, starts: date, ends: date, now: datetime) -> StandupAway:
    if ends < starts:
        raise RuleError("standups.bad_away")
    away = session.get(StandupAway, (team_id, user_id))
    if away is None:
        away = StandupAway(team_id=team_id, user_id=user_id, starts=starts, ends=ends, updated_at=now)
    away.starts, away.ends, away.updated_at = starts, ends, now
    session.add(away)
    return away


def clear_away(session: Session, *, team_id: str, user_id: str) -> bool:
    away = session.get(StandupAway, (team_id, user_id))
    if away is not None:
        session.delete(away)
    return away is not None


def sync_open_runs_away(session: Session, *, team_id: str, user_id: str) -> list[StandupRun]:
    """After an away change: the days still open (not finalised) that this person is in list them
    as away, or no longer, as the away table now says. Returns the runs that changed."""
    changed = []
    session.flush()  # the change just made (a cleared period is deleted only at flush)
    period = session.get(StandupAway, (team_id, user_id))
    runs = session.exec(select(StandupRun).where(StandupRun.team_id == team_id, StandupRun.finalised_at.is_(None))
                        .with_for_update())
    for run in runs:
        if user_id not in run.participants:
            continue
        away = period is not None and period.starts <= run.local_date <= period.ends
        if away != (user_id in run.away):
            run.away = sorted(set(run.away) | {user_id}) if away else [u for u in run.away if u != user_id]
            session.add(run)
            changed.append(run)
    return changed


def report_state(session: Session, *, standup: Standup, run: StandupRun) -> dict:
    """A day's report as templates read it: blockers first, then answers, then skips; counts; missing."""
    answers = {a.user_id: a for a in session.exec(select(StandupAnswer).where(StandupAnswer.run_id == run.id))}
    name = (standup.names or {}).get
    entries = [{"user": user, "name": name(user) or user, "status": a.status, "blocker": a.has_blocker,
                "answers": list(a.answers or []), "late": not a.on_time}
               for user, a in answers.items() if user in run.participants]
    entries.sort(key=lambda e: (e["status"] != "answered", not e["blocker"], e["name"].casefold()))
    away = [name(user) or user for user in run.participants if user in run.away and user not in answers]
    missing = sorted((name(user) or user for user in run.participants if user not in answers and user not in run.away),
                     key=str.casefold)
    return {"name": standup.name, "date": run.local_date.isoformat(), "questions": [q["text"] for q in standup.questions],
            "total": len(run.participants), "answered": sum(e["status"] == "answered" for e in entries),
            "skipped": sum(e["status"] == "skipped" for e in entries), "away": sorted(away, key=str.casefold),
            "missing": missing, "final": run.finalised_at is not None,
            "blockers": sum(e["blocker"] for e in entries), "entries": entries,
            "threaded": len(run.participants) > 20}
