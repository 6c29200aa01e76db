"""What is due at `now`: prompts at each participant's local minute, nudges, report finalisation.

A participant's local date and prompt time come from the standup's zone, or their own Slack
zone (models.workspaces.Member.timezone, the workspace zone until Slack told us). A prompt
is due from its local minute until the report time; after that its window has closed and it
is not replayed. Rules never read the clock: they take `now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, select

from models.db import insert_missing, insert_once
from models.standups.tables import Standup, StandupAnswer, StandupAway, StandupRun, StandupSend
from models.workspaces import Member, Workspace

PROMPT = "prompt"


@dataclass(frozen=True)
class Due:
    kind: str            # "prompt", "nudge:60" or "finalise"
    standup: Standup
    run: StandupRun
    user_id: str | None  # None for "finalise"
    due_at: datetime


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def zones_of(session: Session, standup: Standup, users: list[str] | None = None) -> dict[str, ZoneInfo]:
    """Each participant's zone: the standup's, or their own Slack zone (else the workspace's)."""
    users = standup.participants if users is None else users
    if standup.timezone:
        fixed = zone(standup.timezone)
        return {user: fixed for user in users}
    workspace = session.get(Workspace, standup.team_id)
    fallback = workspace.timezone if workspace else "UTC"
    known = {m.user_id: m.timezone for m in session.exec(
        select(Member).where(Member.team_id == standup.team_id, Member.user_id.in_(users)))}
    return {user: zone(known.get(user) or fallback) for user in users}


def prompt_at(standup: Standup, local_date: date, tz: ZoneInfo) -> datetime:
    """The UTC instant of the prompt on a local date (a time inside a DST gap moves forward)."""
    hour, minute = (int(part) for part in standup.prompt_time.split(":"))
    local = datetime.combine(local_date, time(hour, minute), tzinfo=tz)
    return local.astimezone(ZoneInfo("UTC"))


def missed_while_paused(session: Session, standup: Standup, *, now: datetime) -> bool:
    """True if a prompt of today (in any participant's zone) fell due before `now`, the moment it was
    resumed, and is not sent late (see _standup_due)."""
    for tz in set(zones_of(session, standup).values()):
        today = now.astimezone(tz).date()
        start = prompt_at(standup, today, tz)
        if is_standup_day(standup, today) and start <= now < start + timedelta(minutes=standup.report_after):
            return True
    return False


def is_standup_day(standup: Standup, local_date: date) -> bool:
    if local_date.weekday() not in standup.days or local_date.isoformat() in (standup.holidays or []):
        return False
    return not (standup.holiday_country and local_date in public_holidays(standup.holiday_country, local_date.year))


@lru_cache(maxsize=64)
def public_holidays(code: str, year: int) -> frozenset[date]:
    """A country's (or "DE-BY": a subdivision's) public holidays in a year, from the holidays package."""
    import holidays

    country, _, subdivision = code.partition("-")
    return frozenset(holidays.country_holidays(country, subdiv=subdivision or None, years=year))


def away_on(session: Session, team_id: str, local_date: date) -> set[str]:
    rows = session.exec(select(StandupAway.user_id).where(
        StandupAway.team_id == team_id, StandupAway.starts <= local_date, StandupAway.ends >= local_date))
    return set(rows)


def get_run(session: Session, standup: Standup, local_date: date, zones: dict[str, ZoneInfo], *,
            now: datetime) -> StandupRun:
    """The day's run, made once: (standup_id, local_date) is unique."""
    query = select(StandupRun).where(StandupRun.standup_id == standup.id, StandupRun.local_date == local_date)
    run = session.exec(query).first()
    if run is not None:
        return run
    report_at = max(prompt_at(standup, local_date, tz) for tz in zones.values()) \
        + timedelta(minutes=standup.report_after)
    fresh = StandupRun(standup_id=standup.id, team_id=standup.team_id, local_date=local_date,
                       participants=list(standup.participants),
                       away=sorted(away_on(session, standup.team_id, local_date) & set(standup.participants)),
                       report_at=report_at, created_at=now)
    return fresh if insert_once(session, fresh) else session.exec(query).one()


def due_work(session: Session, *, now: datetime) -> list[Due]:
    """Everything due at `now` and not done yet, over every active standup (runs are made here)."""
    work: list[Due] = []
    for standup in session.exec(select(Standup).where(Standup.paused.is_(False)).order_by(Standup.id)).all():
        work.extend(_standup_due(session, standup, now=now))
    unfinished = select(StandupRun, Standup).join(Standup, Standup.id == StandupRun.standup_id).where(
        StandupRun.finalised_at.is_(None), StandupRun.report_at <= now)
    for run, standup in session.exec(unfinished).all():
        work.append(Due("finalise", standup, run, None, run.report_at))
    return work


def _standup_due(session: Session, standup: Standup, *, now: datetime) -> list[Due]:
    zones = zones_of(session, standup)
    window = timedelta(minutes=standup.report_after)
    by_date: dict[date, list[tuple[str, datetime]]] = {}
    for user, tz in zones.items():
        today = now.astimezone(tz).date()
        for local_date in (today - timedelta(days=1), today):  # a window may cross midnight
            if not is_standup_day(standup, local_date):
                continue
            start = prompt_at(standup, local_date, tz)
            if start <= now < start + window:
                by_date.setdefault(local_date, []).append((user, start))
    work = []
    for local_date, people in sorted(by_date.items()):
        if standup.resumed_at and all(start < standup.resumed_at for _user, start in people) and \
                session.exec(select(StandupRun.id).where(StandupRun.standup_id == standup.id,
                                                         StandupRun.local_date == local_date)).first() is None:
            continue  # the day's prompt time passed while paused: no late prompt, no run, no report
        run = get_run(session, standup, local_date, zones, now=now)
        sent = {(user, kind): at for user, kind, at in session.exec(
            select(StandupSend.user_id, StandupSend.kind, StandupSend.created_at).where(StandupSend.run_id == run.id))}
        done = set(session.exec(select(StandupAnswer.user_id).where(StandupAnswer.run_id == run.id)))
        away = set(run.away) | away_on(session, standup.team_id, local_date)  # also marked away since the prompt
        for user, start in people:
            if user in away or user in done or user not in run.participants:
                continue
            if (user, PROMPT) not in sent:
                if standup.resumed_at is None or start >= standup.resumed_at:  # not a prompt missed while paused
                    work.append(Due(PROMPT, standup, run, user, start))
                continue
            # Offsets count from when the prompt went out (late after downtime: so do the nudges),
            # and after a gap only the latest nudge due is sent.
            prompted = max(start, sent[(user, PROMPT)])
            passed = [n for n in standup.nudges if prompted + timedelta(minutes=n) <= now]
            if passed and (user, f"nudge:{passed[-1]}") not in sent:
                work.append(Due(f"nudge:{passed[-1]}", standup, run, user, prompted + timedelta(minutes=passed[-1])))
    return work


def claim_sends(session: Session, dues: list[Due], *, now: datetime) -> list[Due]:
    """Insert (run, user, kind) first, for a batch in one statement; returns the ones this call claimed.

    A row that exists already (sent before, or by another process at this moment) is left alone
    (ON CONFLICT DO NOTHING), and its Due is not returned.
    """
    rows = [{"run_id": due.run.id, "team_id": due.run.team_id, "user_id": due.user_id, "kind": due.kind,
             "due_at": due.due_at, "created_at": now} for due in dues]
    claimed = insert_missing(session, StandupSend, rows, unique=["run_id", "user_id", "kind"])
    return [due for due in dues if (due.run.id, due.user_id, due.kind) in claimed]


def next_prompt(standup: Standup, tz: ZoneInfo, *, now: datetime) -> datetime | None:
    """The next prompt instant after `now` in zone `tz` (None when no day qualifies)."""
    today = now.astimezone(tz).date()
    for offset in range(0, 400):
        local_date = today + timedelta(days=offset)
        if is_standup_day(standup, local_date):
            moment = prompt_at(standup, local_date, tz)
            if moment > now:
                return moment
    return None
