"""Requirement requests: the tables."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime

KINDS = ("activity", "optimisation", "feature")
PRIORITIES = ("P0", "P1", "P2", "P3")
# "reviewed": an activity whose review (复盘) is written, the end state after done (models/activities).
STATUSES = ("new", "in_approval", "need_info", "accepted", "in_progress", "done", "declined", "duplicate", "reviewed")
OPEN_STATUSES = ("new", "in_approval", "need_info", "accepted", "in_progress")


class RequestConfig(SQLModel, table=True):
    """Per workspace: where triage happens, who triages, the SLA, and the request counter."""

    __tablename__ = "request_config"

    team_id: str = Field(primary_key=True, max_length=32)
    triage_channel: str | None = Field(default=None, max_length=32)
    # "users": product_team lists the triagers; "channel": the triage channel's members triage.
    product_team_mode: str = Field(default="channel", max_length=16)
    product_team: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    sla_business_days: int = 1
    last_number: int = 0
    updated_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class Request(SQLModel, table=True):
    __tablename__ = "request"
    __table_args__ = (
        sa.UniqueConstraint("team_id", "number", name="uq_request_team_number"),
        sa.Index("ix_request_team_status_number", "team_id", "status", "number"),
        sa.Index("ix_request_team_requester_number", "team_id", "requester", "number"),
        sa.Index("ix_request_team_assignee_number", "team_id", "assignee", "number"),
        sa.Index("ix_request_team_kind_number", "team_id", "kind", "number"),
        # Home's "my open" and "assigned to me, open": index-only, however many closed requests there are.
        sa.Index("ix_request_team_requester_status_number", "team_id", "requester", "status", "number"),
        sa.Index("ix_request_team_assignee_status_number", "team_id", "assignee", "status", "number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    number: int
    kind: str = Field(max_length=16)
    title: str = Field(max_length=150)
    status: str = Field(default="new", max_length=16)
    priority: str = Field(default="P2", max_length=2)
    requester: str = Field(max_length=32)
    assignee: str | None = Field(default=None, max_length=32)
    wanted_by: date | None = None
    labels: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    fields: dict = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    duplicate_of: int | None = Field(default=None, foreign_key="request.id")
    source_permalink: str | None = Field(default=None, max_length=500)
    version: int = 1  # optimistic lock: every change bumps it; a stale writer loses
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    triaged_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))
    done_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))

    @property
    def ref(self) -> str:
        return f"REQ-{self.number}"


class RequestLabel(SQLModel, table=True):
    """Labels as rows, so `label:x` filters use an index on both databases."""

    __tablename__ = "request_label"
    __table_args__ = (sa.Index("ix_request_label_team_label", "team_id", "label", "request_id"),)

    request_id: int = Field(foreign_key="request.id", primary_key=True)
    label: str = Field(primary_key=True, max_length=50)
    team_id: str = Field(max_length=32)


class RequestEvent(SQLModel, table=True):
    """The append-only audit trail: who did what, from which status to which, and why."""

    __tablename__ = "request_event"
    __table_args__ = (sa.Index("ix_request_event_request", "request_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id")
    team_id: str = Field(max_length=32)
    actor: str = Field(max_length=32)
    action: str = Field(max_length=24)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    reason: str | None = Field(default=None, max_length=3000)
    detail: dict = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class RequestComment(SQLModel, table=True):
    """A reply in the card's thread, kept with the request. Slack's ts makes it once-only."""

    __tablename__ = "request_comment"
    __table_args__ = (sa.UniqueConstraint("team_id", "slack_ts", name="uq_request_comment_ts"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    team_id: str = Field(max_length=32)
    author: str = Field(max_length=32)
    text: str = Field(max_length=40000)
    slack_ts: str = Field(max_length=32)
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class RequestReminder(SQLModel, table=True):
    """One SLA reminder per workspace per local day."""

    __tablename__ = "request_reminder"

    team_id: str = Field(primary_key=True, max_length=32)
    local_date: date = Field(primary_key=True)
    sent_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
