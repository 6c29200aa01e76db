"""History and participation numbers (the weekly digest reads the same `standup_stats`)."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from models.standups.tables import Standup, StandupAnswer, StandupRun


def _status(run: StandupRun, answer: StandupAnswer | None, user_id: str) -> str:
    if answer is not None:
        return answer.status  # "answered" or "skipped"
    if user_id in run.away:
        return "away"
    return "missing" if run.finalised_at is not None else "waiting"


def user_history(session: Session, *, team_id: str, user_id: str, since: date, limit: int = 40) -> list[dict]:
    """A person's standup days since `since`, newest first."""
    query = (select(StandupRun, Standup).join(Standup, Standup.id == StandupRun.standup_id)
             .where(StandupRun.team_id == team_id, StandupRun.local_date >= since)
             .order_by(StandupRun.local_date.desc(), Standup.name_key))
    rows = [(run, standup) for run, standup in session.exec(query) if user_id in run.participants][:limit]
    answers = {a.run_id: a for a in session.exec(select(StandupAnswer).where(
        StandupAnswer.user_id == user_id, StandupAnswer.run_id.in_([run.id for run, _ in rows])))}
    return [{"name": standup.name, "date": run.local_date.isoformat(), "status": _status(run, answers.get(run.id), user_id),
             "blocker": bool(answers.get(run.id) and answers[run.id].has_blocker),
             "late": bool(answers.get(run.id) and not answers[run.id].on_time),
             "answers": list(answers[run.id].answers) if run.id in answers else [],
             "questions": [q["text"] for q in standup.questions]} for run, standup in rows]


def standup_stats(session: Session, *, standup: Standup, since: date) -> dict:
    """Per person and overall: days expected (not away), answered, on time, skipped, blockers raised."""
    runs = list(session.exec(select(StandupRun).where(StandupRun.standup_id == standup.id,
                                                      StandupRun.local_date >= since)))
    answers = {(a.run_id, a.user_id): a for a in session.exec(select(StandupAnswer).where(
        StandupAnswer.run_id.in_([run.id for run in runs])))}
    people: dict[str, dict] = {}
    for run in runs:
        for user in run.participants:
            row = people.setdefault(user, {"user": user, "name": (standup.names or {}).get(user) or user,
                                           "expected": 0, "answered": 0, "on_time": 0, "skipped": 0, "blockers": 0})
            answer = answers.get((run.id, user))
            if user in run.away and answer is None:
                continue
            row["expected"] += 1
            if answer is not None and answer.status == "answered":
                row["answered"] += 1
                row["on_time"] += answer.on_time
                row["blockers"] += answer.has_blocker
            elif answer is not None:
                row["skipped"] += 1
    total = {key: sum(p[key] for p in people.values()) for key in ("expected", "answered", "on_time", "skipped",
                                                                    "blockers")}
    for row in [*people.values(), total]:
        row["participation"] = round(100 * row["answered"] / row["expected"]) if row["expected"] else None
        row["on_time_rate"] = round(100 * row["on_time"] / row["answered"]) if row["answered"] else None
    return {"name": standup.name, "since": since.isoformat(), "days": len(runs),
            "people": sorted(people.values(), key=lambda p: p["name"].casefold()), "total": total}
