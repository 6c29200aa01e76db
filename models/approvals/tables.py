"""Activity approvals: the tables.

A request's approval is a run: the chain resolved for it (conditions applied, user groups
expanded) frozen as JSON, the current stage, and when that stage is due. A requester's edit
that restarts the chain starts a new run (round + 1); old runs stay for the audit trail.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime

RUN_STATUSES = ("running", "approved", "rejected", "changes", "reset")
DECISIONS = ("approve", "reject", "changes")


class ApprovalConfig(SQLModel, table=True):
    """Per workspace: the chain as stages (see models/approvals/chain.py for their shape)."""

    __tablename__ = "approval_config"

    team_id: str = Field(primary_key=True, max_length=32)
    stages: list = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    updated_by: str | None = Field(default=None, max_length=32)
    updated_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class ApprovalRun(SQLModel, table=True):
    __tablename__ = "approval_run"
    __table_args__ = (
        sa.UniqueConstraint("request_id", "round", name="uq_approval_run_round"),
        sa.Index("ix_approval_run_team_status", "team_id", "status"),
        sa.Index("ix_approval_run_status_remind", "status", "stage_remind_at"),  # the sweep
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    request_id: int = Field(foreign_key="request.id")
    round: int = 1
    stages: list = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    current_stage: int = 0
    status: str = Field(default="running", max_length=16)
    version: int = 1
    stage_started_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    stage_remind_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    stage_due_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))


class ApprovalDecision(SQLModel, table=True):
    """Exactly one per (run, stage, approver's seat): the unique key settles double clicks."""

    __tablename__ = "approval_decision"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "stage", "approver", name="uq_approval_decision_seat"),
        sa.Index("ix_approval_decision_team_created", "team_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="approval_run.id")
    request_id: int = Field(foreign_key="request.id", index=True)
    team_id: str = Field(max_length=32)
    stage: int
    stage_name: str = Field(max_length=80)
    approver: str = Field(max_length=32)       # whose seat: the approver (or the backup)
    actor: str = Field(max_length=32)          # who clicked: the approver, their deputy, the backup
    on_behalf_of: str | None = Field(default=None, max_length=32)
    decision: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class ApprovalEvent(SQLModel, table=True):
    """The append-only timeline of a request's approvals. `once` makes one-time events unique."""

    __tablename__ = "approval_event"
    __table_args__ = (
        sa.UniqueConstraint("once", name="uq_approval_event_once"),
        sa.Index("ix_approval_event_request", "request_id", "id"),
        sa.Index("ix_approval_event_team_action_created", "team_id", "action", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="approval_run.id")
    request_id: int = Field(foreign_key="request.id")
    team_id: str = Field(max_length=32)
    actor: str | None = Field(default=None, max_length=32)
    on_behalf_of: str | None = Field(default=None, max_length=32)
    stage: int | None = None
    stage_name: str | None = Field(default=None, max_length=80)
    action: str = Field(max_length=24)
    reason: str | None = Field(default=None, max_length=2000)
    detail: dict = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    once: str | None = Field(default=None, max_length=120)
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class ApprovalDelegation(SQLModel, table=True):
    """An approver's deputy until a date (inclusive, in the workspace's zone)."""

    __tablename__ = "approval_delegation"

    team_id: str = Field(primary_key=True, max_length=32)
    approver: str = Field(primary_key=True, max_length=32)
    deputy: str = Field(max_length=32)
    until: date
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
