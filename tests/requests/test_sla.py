"""The daily SLA reminder, driven by calling the job's run with chosen times (no waiting).

The week used: Wednesday 2025-11-19 … Friday 21, Saturday 22, Monday 24, Tuesday 25 (in the
past, so what the reminder queues is due at once); the workspace lives in Asia/Shanghai (UTC+8).
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import select

import templates
from clock import utcnow
from handlers.requests import config as config_handlers
from models.business_time import business_days_before
from models.db import session_scope
from models.requests import RequestConfig, RequestReminder
from models.requests.forms import CleanForm
from models.requests.lifecycle import file_request, transition
from tests.conftest import at_once
from tests.outbox import drained
from tests.requests.conftest import FEATURE, OPS, PM1, TRIAGE

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in November 2025, Shanghai time."""
    return datetime(2025, 11, day, hour, minute, tzinfo=SHANGHAI)


WEDNESDAY, FRIDAY, SATURDAY, MONDAY, TUESDAY = 19, 21, 22, 24, 25


def set_up(tandem, team_id, *, sla: int = 1, language: str = "en"):
    with session_scope(tandem.engine) as session:
        workspace = tandem.services.workspace(session, team_id)
        workspace.timezone, workspace.language = "Asia/Shanghai", language
        session.add(workspace)
        config = session.get(RequestConfig, team_id)
        config.sla_business_days = sla
        session.add(config)


def file_at(tandem, team_id, moment: datetime, title: str = "Faster export") -> int:
    form = CleanForm(kind="feature", title=title, priority="P2", wanted_by=None, labels=[], fields=dict(FEATURE))
    with session_scope(tandem.engine) as session:
        return file_request(session, team_id=team_id, requester=OPS, form=form, now=moment).request.number


def sla_job(tandem, team_id):
    with session_scope(tandem.engine) as session:
        [source] = config_handlers.job_sources(tandem.services)
        jobs = {job.key: job for job in source(session, utcnow())}
    return jobs[f"requests:sla:{team_id}"]


def run(tandem, team_id, moment: datetime) -> None:
    sla_job(tandem, team_id).run(moment, moment)
    tandem.settle()


def reminders(slack) -> list[dict]:
    return [m for m in slack.messages(TRIAGE) if "SLA" in m["text"]]


def reminder_rows(tandem) -> list:
    with session_scope(tandem.engine) as session:
        return [(r.team_id, r.local_date.isoformat()) for r in session.exec(select(RequestReminder))]


def test_the_job_runs_on_weekdays_at_ten_in_the_workspaces_zone(tandem, workspace):
    set_up(tandem, workspace.team_id)
    trigger = sla_job(tandem, workspace.team_id).trigger
    assert trigger.get_next_fire_time(None, at(FRIDAY, 11)) == at(MONDAY, 10)
    assert trigger.get_next_fire_time(None, at(MONDAY, 9)) == at(MONDAY, 10)
    with session_scope(tandem.engine) as session:  # a workspace without a triage channel has no job
        session.add(RequestConfig(team_id="T0NOCHANNEL", updated_at=utcnow()))
        [source] = config_handlers.job_sources(tandem.services)
        assert [job.key for job in source(session, utcnow())] == [f"requests:sla:{workspace.team_id}"]


def test_a_friday_request_is_reminded_on_monday_once_not_on_saturday(slack, tandem, workspace):
    set_up(tandem, workspace.team_id)
    file_at(tandem, workspace.team_id, at(FRIDAY, 9))
    run(tandem, workspace.team_id, at(FRIDAY, 10))      # hours old: within the SLA
    run(tandem, workspace.team_id, at(SATURDAY, 10))    # no business day has passed (and no one works)
    assert reminders(slack) == [] and reminder_rows(tandem) == []
    run(tandem, workspace.team_id, at(MONDAY, 10))
    [monday] = drained(lambda: reminders(slack), "Monday's reminder")
    assert monday["text"] == "Waiting for triage longer than the SLA: 1"
    assert "*REQ-1* “Faster export”" in monday["blocks"][2]["text"]["text"]
    run(tandem, workspace.team_id, at(MONDAY, 10))      # run twice: still one
    run(tandem, workspace.team_id, at(MONDAY, 17))
    assert len(reminders(slack)) == 1 and reminder_rows(tandem) == [(workspace.team_id, "2025-11-24")]
    run(tandem, workspace.team_id, at(TUESDAY, 10))     # still untriaged: one more the next day
    assert len(reminders(slack)) == 2


def test_a_request_filed_friday_evening_waits_until_tuesday(slack, tandem, workspace):
    set_up(tandem, workspace.team_id)
    file_at(tandem, workspace.team_id, at(FRIDAY, 18))
    run(tandem, workspace.team_id, at(MONDAY, 10))     # 16 business hours so far
    assert reminders(slack) == []
    run(tandem, workspace.team_id, at(TUESDAY, 10))
    assert len(reminders(slack)) == 1


def test_the_sla_counts_business_days(slack, tandem, workspace):
    set_up(tandem, workspace.team_id, sla=3)
    file_at(tandem, workspace.team_id, at(WEDNESDAY, 9))
    run(tandem, workspace.team_id, at(FRIDAY, 10))     # two business days
    assert reminders(slack) == []
    run(tandem, workspace.team_id, at(MONDAY, 10))     # three
    [reminder] = reminders(slack)
    assert "Triage SLA in business days: 3." in str(reminder["blocks"])


def test_nothing_overdue_means_no_reminder(slack, tandem, workspace):
    set_up(tandem, workspace.team_id)
    triaged = file_at(tandem, workspace.team_id, at(16, 9), title="Old but accepted")
    with session_scope(tandem.engine) as session:
        transition(session, team_id=workspace.team_id, number=triaged, action="accept", actor=PM1,
                   may_triage=True, now=at(17, 9))
    file_at(tandem, workspace.team_id, at(MONDAY, 9, 30), title="Fresh")
    run(tandem, workspace.team_id, at(MONDAY, 10))
    assert reminders(slack) == [] and reminder_rows(tandem) == []


def test_oldest_first_and_the_rest_counted(slack, tandem, workspace):
    set_up(tandem, workspace.team_id)
    for index in range(23):
        file_at(tandem, workspace.team_id, at(16, 9, index), title=f"Request {index + 1}")
    run(tandem, workspace.team_id, at(MONDAY, 10))
    [reminder] = reminders(slack)
    listed = [b["text"]["text"].split("*")[1] for b in reminder["blocks"] if b["type"] == "section"][1:]
    assert listed == [f"REQ-{n}" for n in range(1, 21)]
    assert reminder["text"] == "Waiting for triage longer than the SLA: 23"
    assert reminder["blocks"][-1]["elements"][0]["text"].startswith("…and 3 more.")


def test_two_runs_at_once_send_one_reminder(slack, tandem, workspace):
    set_up(tandem, workspace.team_id)
    file_at(tandem, workspace.team_id, at(FRIDAY, 9))
    job = sla_job(tandem, workspace.team_id)
    at_once(*[lambda: job.run(at(MONDAY, 10), at(MONDAY, 10))] * 2)
    tandem.settle()
    assert len(reminders(slack)) == 1 and len(reminder_rows(tandem)) == 1


def test_the_reminder_speaks_the_workspace_language(slack, tandem, workspace):
    set_up(tandem, workspace.team_id, language="zh_CN")
    file_at(tandem, workspace.team_id, at(FRIDAY, 9))
    run(tandem, workspace.team_id, at(MONDAY, 10))
    [reminder] = [m for m in slack.messages(TRIAGE)]
    expected = templates.render("requests/sla_reminder.yaml.j2", language="zh_CN", rows=[], total=1, days=1)
    assert reminder["text"] == expected["text"] == "等待分诊超过 SLA 的需求：1 个"


def test_business_cutoff_keeps_the_local_time_across_a_weekend_and_dst():
    new_york = ZoneInfo("America/New_York")  # DST ended on Sunday 2026-11-01
    monday = datetime(2026, 11, 2, 10, tzinfo=new_york)
    assert business_days_before(monday, new_york, 1) == datetime(2026, 10, 30, 14, tzinfo=UTC)
    assert business_days_before(monday, new_york, 2) == datetime(2026, 10, 29, 14, tzinfo=UTC)
    assert business_days_before(at(TUESDAY, 10), SHANGHAI, 1) == at(MONDAY, 10)
