"""The minute tick: prompts at each participant's local minute, nudges, report finalisation.

One scheduler job ("standups:tick") wakes every minute; the rule `due_work(now)` says what is
due. Each prompt or nudge is claimed in standup_send (run, user, kind) in the same transaction
that queues its DM, committed in small batches: a fan-out killed midway and run again sends
only what is still missing, and a second replica finds the rows taken.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlmodel import select

import templates
from handlers.common import Services
from handlers.standups.report import lock_run, queue_report
from models import keys, workspaces
from models.db import session_scope
from models.standups import Standup
from models.standups.schedule import PROMPT, Due, claim_sends, due_work
from scheduler import Job

log = logging.getLogger("tandem.standups")
BATCH = 100    # claims + queued DMs per transaction
REFRESH_PER_TICK = 50  # users.info calls a tick may make for zones (Slack's tier 4: 100+ a minute)
# A tick may run twice (every DM is claimed), so one cut short by a crash is taken over after this, not minutes.
TICK_LEASE = timedelta(seconds=20)
after_queue = None  # test hook: called with each batch of claimed DMs (a test makes it raise to kill the fan-out)


def refresh_zones(services: Services, *, now: datetime) -> None:
    """Ask Slack (users.info) for the zones of participants who follow their own zone: the unknown
    first, then the stale, at most REFRESH_PER_TICK a minute so that a big standup's daily refresh
    spreads over several ticks instead of holding one up (until then the known zone is used)."""
    with session_scope(services.engine) as session:
        wanted = {(s.team_id, user) for s in session.exec(select(Standup).where(
            Standup.paused.is_(False), Standup.timezone.is_(None))) for user in s.participants}
        known = {(m.team_id, m.user_id): m for m in session.exec(select(workspaces.Member).where(
            workspaces.Member.user_id.in_([user for _team, user in wanted])))}
    stale = [key for key in wanted if not workspaces.member_is_fresh(known.get(key), now=now)]
    stale.sort(key=lambda key: (key in known, known[key].refreshed_at if key in known else now, key))
    for team, user in stale[:REFRESH_PER_TICK]:
        services.member(team, user)


def run_tick(services: Services, *, now: datetime) -> int:
    """Do what is due at `now`. Returns how many DMs were queued."""
    refresh_zones(services, now=now)
    with session_scope(services.engine) as session:
        work = due_work(session, now=now)
    queued = 0
    sends = [due for due in work if due.kind != "finalise"]
    for start in range(0, len(sends), BATCH):
        batch = sends[start:start + BATCH]
        with session_scope(services.engine) as session:
            rendered: dict = {}
            languages = _languages(services, session, batch)
            claimed = claim_sends(session, batch, now=now)  # claimed first, in this transaction
            messages = [_prompt_dm(due, rendered, languages[due.user_id]) for due in claimed]
            services.delivery.queue_many(session, messages, now=now)
            queued += len(messages)
            if after_queue is not None:
                after_queue(claimed)
        services.delivery.kick()
    for due in work:
        if due.kind == "finalise":
            finalise(services, run_id=due.run.id, now=now)
    return queued


def _languages(services: Services, session, batch: list[Due]) -> dict[str, str]:
    """Each person's language from what we know (one query per batch, no Slack call)."""
    languages = {}
    for team_id in {due.run.team_id for due in batch}:
        workspace = services.workspace(session, team_id)
        users = [due.user_id for due in batch if due.run.team_id == team_id]
        members = {m.user_id: m for m in session.exec(select(workspaces.Member).where(
            workspaces.Member.team_id == team_id, workspaces.Member.user_id.in_(users)))}
        languages.update({user: workspaces.language_for(workspace, members.get(user)) for user in users})
    return languages


def _prompt_dm(due: Due, rendered: dict, language: str) -> dict:
    key = (language, due.kind, due.run.id)
    if key not in rendered:  # the same words for everyone in a run: render once per language
        rendered[key] = templates.render("standups/prompt.yaml.j2", language=language, nudge=due.kind != PROMPT,
                                         name=due.standup.name, channel=due.standup.channel, run_id=due.run.id,
                                         date=due.run.local_date.isoformat(), report_at=due.run.report_at)
    message = rendered[key]
    return {"key": keys.standup_dm(due.run.id, due.user_id, due.kind), "team_id": due.run.team_id,
            "method": "chat.postMessage", "channel": due.user_id, "text": message["text"],
            "blocks": message["blocks"]}


def finalise(services: Services, *, run_id: int, now: datetime) -> bool:
    """At report time: the report names who is missing, once."""
    with session_scope(services.engine) as session:
        run = lock_run(session, run_id)
        if run is None or run.finalised_at is not None:
            return False
        run.finalised_at = now
        standup = session.get(Standup, run.standup_id)
        queue_report(services, session, standup=standup, run=run, now=now)
    services.delivery.kick()
    return True


def job_sources(services: Services) -> list:
    def source(session, now):
        if session.exec(select(Standup.id)).first() is not None:
            yield Job(key="standups:tick", trigger=CronTrigger(second=0, timezone=UTC),
                      run=lambda due_at, now: run_tick(services, now=now), lease=TICK_LEASE)

    return [source]
