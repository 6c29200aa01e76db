"""Weekly metric digests: the tables (metric definitions, points, digests, sends)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime
from models.requests import Request, RequestEvent

DIRECTIONS = ("higher", "lower")
AGGREGATIONS = ("last", "sum", "average")
SCHEDULED = "scheduled"  # DigestSend.slot of the one scheduled send of a (digest, week)


class Metric(SQLModel, table=True):
    """A business metric a workspace records: DAU, NPS, GMV…"""

    __tablename__ = "metric"
    __table_args__ = (sa.UniqueConstraint("team_id", "name", name="uq_metric_team_name"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    name: str = Field(max_length=32)  # stored upper-case: DAU, dau and Dau are one metric
    label: str = Field(max_length=100)
    unit: str = Field(default="", max_length=20)
    target: float | None = None
    direction: str = Field(default="higher", max_length=8)
    aggregation: str = Field(default="last", max_length=8)
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class MetricPoint(SQLModel, table=True):
    """One value of a metric on one day; recording the day again replaces the value."""

    __tablename__ = "metric_point"
    __table_args__ = (sa.UniqueConstraint("metric_id", "day", name="uq_metric_point_metric_day"),)

    id: int | None = Field(default=None, primary_key=True)
    metric_id: int = Field(foreign_key="metric.id")
    team_id: str = Field(max_length=32)
    day: date
    value: float
    source: str = Field(default="command", max_length=16)  # command, import, api
    recorded_by: str = Field(default="", max_length=32)
    recorded_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class Digest(SQLModel, table=True):
    """A weekly digest: where, when (weekday + local time in an IANA zone), what, and how it looks."""

    __tablename__ = "digest"
    __table_args__ = (sa.UniqueConstraint("team_id", "name", name="uq_digest_team_name"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    name: str = Field(max_length=40)
    channel: str = Field(max_length=32)
    weekday: int = 0  # 0 = Monday
    hour: int = 9
    minute: int = 0
    timezone: str = Field(default="UTC", max_length=64)
    metrics: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    # metric name → alert when the week-over-week change passes ± this many per cent
    thresholds: dict = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    # metric name → this digest's target, instead of the metric's own
    targets: dict = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    template: str = Field(default="default", max_length=64)
    owner: str = Field(max_length=32)
    paused: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false()))
    # weekly (on `weekday`), monthly or quarterly (on the first business day after the period): period.py
    cadence: str = Field(default="weekly", sa_column=sa.Column(sa.String(10), nullable=False,
                                                               server_default="weekly"))
    # The version of the template edited in Slack that this digest uses (DigestTemplate.version);
    # None: the named `template` (Tandem's default or the team's directory).
    template_version: int | None = None
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class DigestSend(SQLModel, table=True):
    """Every digest posted. (digest, period, "scheduled") is unique: the scheduled send happens once;
    a manual send or a resend is its own recorded row with a slot of its own. The period is its
    label (2026-W46, 2026-11, 2026-Q4): a month and a week may start on the same day."""

    __tablename__ = "digest_send"
    __table_args__ = (sa.UniqueConstraint("digest_id", "period", "slot", name="uq_digest_send_period_slot"),)

    id: int | None = Field(default=None, primary_key=True)
    digest_id: int = Field(foreign_key="digest.id")
    team_id: str = Field(max_length=32)
    period_start: date
    period: str = Field(max_length=10)
    slot: str = Field(max_length=48)
    kind: str = Field(max_length=16)  # scheduled, now, resend
    sent_by: str | None = Field(default=None, max_length=32)
    template_used: str = Field(max_length=64)
    fell_back: bool = False
    message_key: str = Field(max_length=255)
    chart_uploaded: bool = False
    # The chart uploaded (unshared) for this send's digest message: its Slack file id once Slack gave
    # one, so a retry after a lost reply reuses it instead of uploading again.
    chart_file_id: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class DigestTemplate(SQLModel, table=True):
    """A version of a digest's template as its owner saved it from Slack. Versions are never
    changed: a revert saves the old text again as a new version (reverted_from names it)."""

    __tablename__ = "digest_template"
    __table_args__ = (sa.UniqueConstraint("digest_id", "version", name="uq_digest_template_version"),)

    id: int | None = Field(default=None, primary_key=True)
    digest_id: int = Field(foreign_key="digest.id")
    team_id: str = Field(max_length=32)
    version: int
    source: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    saved_by: str = Field(max_length=32)
    reverted_from: int | None = None
    saved_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


# The week's request numbers read requests by when they were opened, triaged and done, and the
# audit trail by when things happened: indexes this capability's queries need, on the request tables.
REQUEST_INDEXES = (
    sa.Index("ix_request_team_created_at", Request.team_id, Request.created_at),
    sa.Index("ix_request_team_triaged_at", Request.team_id, Request.triaged_at),
    sa.Index("ix_request_team_done_at", Request.team_id, Request.done_at),
    sa.Index("ix_request_event_team_created_at", RequestEvent.team_id, RequestEvent.created_at),
)
