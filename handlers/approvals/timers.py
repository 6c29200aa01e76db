"""Time in approvals: reminders at half the due time, escalation at the due time, delegation.

One scheduler job sweeps every few minutes; `sweep(services, now=…)` is the rule it wakes
(tests call it with `now`). A reminder is one outbox message per (run, stage, seat) and an
escalation one `once` event per (run, stage), so a sweep that runs twice sends nothing twice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from apscheduler.triggers.interval import IntervalTrigger

import templates
from clock import utcnow
from handlers.approvals import running
from handlers.approvals.chains import user_exists
from handlers.common import Services, cached_language
from handlers.people import resolve_user
from handlers.requests.handover import as_template
from models import keys
from models.approvals.flow import deputy_of, pending_seats, record, running_runs, set_delegation
from models.db import session_scope
from models.errors import RuleError
from models.requests import Request
from scheduler import Job

SWEEP_MINUTES = 5
# The sweep's interval counts from a fixed start, so its fire times (:00, :05, … UTC) are the same on
# every replica and after a restart: the scheduler's catch-up on start then finds the last one inside
# its grace window and sweeps at once, instead of five minutes after start (an interval counted from
# creation has no fire time in the past). What fell due during any downtime is in the tables, so that
# first sweep sends it; the `once` key keeps an escalation to one however many sweeps see it.
SWEEP_FROM = datetime(2000, 1, 1, tzinfo=UTC)


def sweep(services: Services, *, now: datetime) -> int:
    """Send what fell due: reminders to pending approvers, escalations to backups. Returns how many."""
    done = 0
    at = min(now, utcnow())  # when queued: a sweep for a moment ahead (tests) still sends at once
    with session_scope(services.engine) as session:
        for run in running_runs(session, remind_by=now):  # the due time is never before the reminder time
            request = session.get(Request, run.request_id)
            stage, spec = run.current_stage, run.stages[run.current_stage]
            today = now.astimezone(running.zone(services, session, run.team_id)).date()
            if now >= run.stage_remind_at:
                for seat in pending_seats(session, run):
                    recipient = deputy_of(session, team_id=run.team_id, approver=seat, today=today) or seat
                    language = cached_language(services, session, team_id=run.team_id, user_id=recipient)
                    message = templates.render("approvals/dm.yaml.j2", language=language, kind="reminder",
                                               r=as_template(request),
                                               s=running.stage_view(session, run, stage))
                    done += services.delivery.queue(
                        session, key=keys.approval_reminder(run.id, stage, seat), team_id=run.team_id,
                        method="chat.postMessage", now=at, channel=recipient, text=message["text"],
                        blocks=message["blocks"])
            if now >= run.stage_due_at and spec.get("backup") and record(
                    session, run, action="escalated", now=now, stage=stage, actor=spec["backup"],
                    once=f"{run.id}:{stage}:escalated"):
                running.send_card(services, session, run, request, stage, spec["backup"], now=at)
                running.tell(services, session, run, request, user=request.requester, kind="escalated", now=at,
                             about=f"{stage}:escalated")
                done += 1
    services.delivery.kick()
    return done


def job_sources(services: Services) -> list:
    def run(due_at: datetime, now: datetime) -> None:
        sweep(services, now=now)

    def source(session, now):
        yield Job(key="approvals:sweep", trigger=IntervalTrigger(minutes=SWEEP_MINUTES, start_date=SWEEP_FROM,
                                                                      timezone="UTC"), run=run)

    return [source]


# -- /approval delegate @deputy until YYYY-MM-DD | clear -------------------------------------------
def delegate(services: Services, *, command: dict, words: list[str]) -> dict:
    team_id, user_id = command["team_id"], command["user_id"]
    language = services.language_of(team_id, user_id)
    now = utcnow()
    clear = bool(words) and words[0].lower() == "clear"
    if not clear and (len(words) != 3 or words[1].lower() != "until"):
        raise RuleError("approvals.delegate_usage")
    deputy = None if clear else resolve_user(services, team_id, words[0])  # users.list, outside a transaction
    with session_scope(services.engine) as session:
        today = now.astimezone(running.zone(services, session, team_id)).date()
        if clear:
            set_delegation(session, team_id=team_id, approver=user_id, deputy=None, until=None, today=today, now=now)
            return templates.render("approvals/notice.yaml.j2", language=language, kind="delegation_cleared")
        try:
            until = date.fromisoformat(words[2])
        except ValueError:
            raise RuleError("approvals.bad_until", today=today.isoformat()) from None
        if deputy != user_id and not user_exists(services, deputy):
            raise RuleError("approvals.unknown_deputy", given=deputy)
        set_delegation(session, team_id=team_id, approver=user_id, deputy=deputy, until=until, today=today, now=now)
        handed = running.hand_over(services, session, team_id=team_id, approver=user_id, deputy=deputy, now=now)
    services.delivery.kick()
    return templates.render("approvals/notice.yaml.j2", language=language, kind="delegation_set", deputy=deputy,
                            until=until.isoformat(), handed=handed)
