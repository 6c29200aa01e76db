"""The sandbox's demo workspace: people, channels, and what an admin would have set up.

People in three zones (one speaks Chinese), #ops, #triage and #leadership, and, in Tandem's
database: the request settings (triage in #triage), a daily standup, a three-stage approval
chain, a weekly digest for #leadership and eight weeks of business metrics. Everything is
written through the same rules the slash commands and modals use (models/), with `now`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from localslack import LocalSlack
from models.approvals.chain import check_chain
from models.approvals.tables import ApprovalConfig
from models.db import insert_missing, make_engine, session_scope
from models.digests import digests, metrics
from models.digests.tables import MetricPoint
from models.requests import lifecycle
from models.schedule import schedule_changed
from models.standups.forms import clean_standup_form
from models.standups.manage import create_standup
from models.workspaces import get_workspace

TEAM_ID = "T0SANDBOX"


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str
    real_name: str
    tz: str
    locale: str = "en-US"
    admin: bool = False


ADA = Person("U0ADA", "ada", "Ada Park (Head of Ops)", "America/New_York", admin=True)
OLGA = Person("U0OLGA", "olga", "Olga Ivanova (Ops)", "Europe/London", "en-GB")
PRIYA = Person("U0PRIYA", "priya", "Priya Shah (Product owner)", "Europe/London", "en-GB")
CHEN = Person("U0CHEN", "chen", "陈伟 Chen Wei (Tech lead)", "Asia/Shanghai", "zh-CN")
LEO = Person("U0LEO", "leo", "Leo Martin (VP, budget)", "America/New_York")
PEOPLE = (ADA, OLGA, PRIYA, CHEN, LEO)

OPS, TRIAGE, LEADERSHIP = "C0OPS", "C0TRIAGE", "C0LEADERSHIP"
CHANNELS = {
    OPS: ("ops", [ADA, OLGA, PRIYA, CHEN, LEO]),
    TRIAGE: ("triage", [ADA, OLGA, PRIYA, CHEN]),
    LEADERSHIP: ("leadership", [ADA, PRIYA, LEO]),
}
STANDUP_TIME = "09:30"  # each participant's own zone
# (metric, value eight weeks ago, weekly growth, daily wobble)
METRICS = (("DAU", 12000, 0.025, 0.04), ("MAU", 61000, 0.015, 0.0), ("RETENTION", 38.0, 0.01, 0.02),
           ("CONVERSION", 3.1, 0.012, 0.05), ("NPS", 41.0, 0.01, 0.0), ("ARPU", 23.5, 0.008, 0.0),
           ("CAC", 52.0, -0.015, 0.03), ("LTV", 310.0, 0.01, 0.0))


def people_and_channels(slack: LocalSlack) -> None:
    """The local Slack's users and channels (the bot is in every channel)."""
    for person in PEOPLE:
        slack.add_user(person.user_id, name=person.name, real_name=person.real_name, tz=person.tz,
                       locale=person.locale, is_admin=person.admin, is_owner=person.admin)
    for channel_id, (name, members) in CHANNELS.items():
        slack.add_channel(channel_id, name, members=[p.user_id for p in members])
    slack.add_message(OPS, "Morning all! The spring campaign brief is in the drive; "
                      "can someone file it as a request?", user=OLGA.user_id)


def seed_database(database_url: str, *, now: datetime) -> None:
    engine = make_engine(database_url)
    try:
        seed(engine, now=now)
    finally:
        engine.dispose()


def seed(engine, *, now: datetime) -> None:
    """What an admin would have configured, plus eight weeks of metrics, as of `now`."""
    with session_scope(engine) as session:
        get_workspace(session, team_id=TEAM_ID, now=now, default_timezone="America/New_York")
        lifecycle.configure(session, team_id=TEAM_ID, actor_is_admin=True, triage_channel=TRIAGE,
                            product_team_mode="users", product_team=[PRIYA.user_id, CHEN.user_id],
                            sla_business_days=2, now=now)
        form = clean_standup_form({
            "name": "daily", "channel": OPS, "participants": [OLGA.user_id, PRIYA.user_id, CHEN.user_id],
            "days": [str(d) for d in range(7)], "prompt_time": STANDUP_TIME, "zone_mode": "own",
            "questions": "What did you finish yesterday?\nWhat are you doing today?\nAnything blocking you?",
            "blocker": ["blocker"], "nudges": "30", "report_after": "60",
        })
        create_standup(session, team_id=TEAM_ID, owner=ADA.user_id, form=form,
                       names={p.user_id: p.name for p in PEOPLE}, now=now)
        stages = check_chain([
            {"name": "Ops lead", "approvers": [ADA.user_id], "due_hours": 8},
            {"name": "Product owner", "approvers": [PRIYA.user_id], "due_hours": 16},
            {"name": "Budget owner", "approvers": [LEO.user_id], "due_hours": 24},
        ])
        session.add(ApprovalConfig(team_id=TEAM_ID, stages=stages, updated_by=ADA.user_id, updated_at=now))
        schedule_changed(session)
    with session_scope(engine) as session:
        zone = ZoneInfo("America/New_York")
        today = now.astimezone(zone).date()
        points = []
        for name, start, growth, wobble in METRICS:
            metric = metrics.define_metric(session, team_id=TEAM_ID, actor=ADA.user_id,
                                           definition=metrics.parse_definition([name]), now=now)
            for back in range(56, 0, -1):  # eight weeks of daily values up to yesterday
                value = start * (1 + growth) ** ((56 - back) / 7) * (1 + wobble * math.sin(back * 1.3))
                points.append({"metric_id": metric.id, "team_id": TEAM_ID, "day": today - timedelta(days=back),
                               "value": round(value, 2), "source": "import", "recorded_by": ADA.user_id,
                               "recorded_at": now})
        # One batch insert (what record_point does one by one): the sandbox must start within seconds.
        insert_missing(session, MetricPoint, points, unique=["metric_id", "day"])
        digest = digests.clean(session, team_id=TEAM_ID, form=digests.DigestForm(
            name="weekly", channel=LEADERSHIP, weekday="0", time="09:00", timezone="America/New_York",
            metrics=["DAU", "MAU", "RETENTION", "CONVERSION", "NPS", "CAC"], thresholds="DAU=5, CAC=5",
            template="default"))
        digests.save_digest(session, digest=digest, actor=ADA.user_id, actor_is_admin=True, now=now)
