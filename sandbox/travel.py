"""The sandbox's clock control: move Tandem's clock ahead and run, in order, what fell due.

"+1 day 09:30" means: one day later, at 09:30 in the acting person's zone. Also "+2h", "+30m",
"+3 days", "+1 week", "09:30" (the next 09:30) and "+1 day" (same time tomorrow).

Each scheduler job runs at each of its due times passed on the way, with `now` at that time and
the clock set there, through the scheduler's own claim (Scheduler.run_once), exactly as if the time
had passed. Jobs due every minute or every few minutes only run where something can happen: the
standup tick at each prompt, nudge and report time, a sweep once at the end (a sweep looks at
everything overdue, so one run at the end does what the missed ones would have done).
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

import clock
from models.db import session_scope
from models.standups import Standup
from models.standups.schedule import is_standup_day, prompt_at, zones_of
from scheduler import Job, Scheduler

MAX_JUMP = timedelta(days=31)
DENSE = 24  # a job due more often than this on the way is a sweep: run once, at the end
_UNIT = {"m": "minutes", "min": "minutes", "minute": "minutes", "minutes": "minutes", "h": "hours",
         "hour": "hours", "hours": "hours", "d": "days", "day": "days", "days": "days", "w": "weeks",
         "week": "weeks", "weeks": "weeks"}
_JUMP = re.compile(r"^\s*(?:\+\s*(\d{1,3})\s*([a-z]+))?\s*(?:(\d{1,2}):(\d{2}))?\s*$")


class BadJump(ValueError):
    """The text is not a jump the clock control understands (the page says how to write one)."""


def parse_jump(text: str, *, now: datetime, zone: ZoneInfo) -> datetime:
    match = _JUMP.match((text or "").lower())
    if not match or not (match[1] or match[3]):
        raise BadJump(text)
    target = now
    if match[1]:
        unit = _UNIT.get(match[2])
        if unit is None:
            raise BadJump(text)
        target = now + timedelta(**{unit: int(match[1])})
    if match[3]:
        hour, minute = int(match[3]), int(match[4])
        if hour > 23 or minute > 59:
            raise BadJump(text)
        local = target.astimezone(zone).replace(hour=hour, minute=minute, second=0, microsecond=0)
        if not match[1] and local <= now:  # "09:30" alone: the next 09:30
            local += timedelta(days=1)
        target = local
    if target <= now or target - now > MAX_JUMP:
        raise BadJump(text)
    return target


def fire_times(job: Job, *, after: datetime, until: datetime, limit: int = 2000) -> list[datetime]:
    times, previous, cursor = [], None, after + timedelta(microseconds=1)
    while len(times) < limit:
        fire = job.trigger.get_next_fire_time(previous, cursor)
        if fire is None or fire > until:
            break
        times.append(fire)
        previous, cursor = fire, fire + timedelta(microseconds=1)
    return times


def standup_moments(engine, *, after: datetime, until: datetime) -> set[datetime]:
    """Each prompt, nudge and report time of every active standup between the two instants."""
    moments: set[datetime] = set()
    with session_scope(engine) as session:
        for standup in session.exec(select(Standup).where(Standup.paused.is_(False))).all():
            for tz in set(zones_of(session, standup).values()):
                day: date = after.astimezone(tz).date() - timedelta(days=1)
                while day <= until.astimezone(tz).date():
                    if is_standup_day(standup, day):
                        start = prompt_at(standup, day, tz)
                        for minutes in (0, *standup.nudges, standup.report_after):
                            moment = start + timedelta(minutes=minutes)
                            if after < moment <= until:
                                moments.add(moment.replace(second=0, microsecond=0))
                    day += timedelta(days=1)
    return moments


def travel(scheduler: Scheduler, *, target: datetime, settle=None) -> int:
    """Move the clock to `target`, running each job at each due time on the way. Returns the runs made.
    `settle()` (optional) is called after each moment, so messages go out in the order they fell due."""
    start = clock.utcnow()
    plan: dict[datetime, list[tuple[Job, datetime]]] = {}
    for job in scheduler.load_jobs(start):
        due = fire_times(job, after=start, until=target)
        if job.key == "standups:tick":
            due = sorted(standup_moments(scheduler.engine, after=start, until=target) | set(due[-1:]))
        elif len(due) > DENSE:
            due = due[-1:]
        for moment in due:
            plan.setdefault(moment, []).append((job, moment))
    runs = 0
    with scheduler.held():  # APScheduler's own firing waits: the runs below are the ones that count
        for moment in sorted(plan):
            clock.set_offset(moment - clock.wall())
            for job, due_at in plan[moment]:
                # `now` is the moment itself, not the clock a few ms later: a nudge due 30 minutes
                # after a prompt must find the prompt's time exactly 30 minutes before it.
                runs += scheduler.run_once(job, due_at=due_at, now=moment)
            if settle is not None:
                settle()
        clock.set_offset(target - clock.wall())
        scheduler.resync()
    return runs


def epoch() -> float:
    """Unix time on the sandbox's clock (the local Slack's message ts)."""
    return time.time() + clock.offset().total_seconds()
