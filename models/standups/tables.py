"""Daily standups: the tables.

Exactly once rests on two unique keys: a day's run is (standup_id, local_date), and every
prompt or nudge sent to a person is (run_id, user_id, kind), inserted before its DM is queued.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime


class Standup(SQLModel, table=True):
    __tablename__ = "standup"
    __table_args__ = (sa.UniqueConstraint("team_id", "name_key", name="uq_standup_team_name"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    name: str = Field(max_length=80)
    name_key: str = Field(max_length=80)  # casefolded name: names are unique per workspace
    channel: str = Field(max_length=32)
    owner: str = Field(max_length=32)
    participants: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    names: dict = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))  # user → display name
    days: list[int] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))  # 0 = Monday
    prompt_time: str = Field(max_length=5)  # "HH:MM", local
    timezone: str | None = Field(default=None, max_length=64)  # None: each participant's Slack zone
    questions: list[dict] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    nudges: list[int] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))  # minutes
    report_after: int = 120  # minutes after the prompt
    holidays: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))  # ISO dates
    holiday_country: str | None = Field(default=None, max_length=16)  # public holidays: "CN", "DE-BY"
    paused: bool = False
    # When it was last resumed: a prompt whose time fell before this (while paused) is not sent late.
    resumed_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime, nullable=True))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class StandupRun(SQLModel, table=True):
    """One standup on one local date: who was in it, and the report's state."""

    __tablename__ = "standup_run"
    __table_args__ = (sa.UniqueConstraint("standup_id", "local_date", name="uq_standup_run_day"),)

    id: int | None = Field(default=None, primary_key=True)
    standup_id: int = Field(foreign_key="standup.id", ondelete="CASCADE")
    team_id: str = Field(max_length=32)
    local_date: date
    participants: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    away: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    report_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    report_version: int = 0  # bumped on every report edit: the outbox key of each chat.update
    finalised_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class StandupSend(SQLModel, table=True):
    """A prompt or nudge DM, claimed before it is queued: (run, user, kind) happens once."""

    __tablename__ = "standup_send"
    __table_args__ = (sa.UniqueConstraint("run_id", "user_id", "kind", name="uq_standup_send"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="standup_run.id", ondelete="CASCADE")
    team_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    kind: str = Field(max_length=16)  # "prompt", "nudge:60"
    due_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class StandupAnswer(SQLModel, table=True):
    __tablename__ = "standup_answer"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "user_id", name="uq_standup_answer"),
        sa.Index("ix_standup_answer_team_user", "team_id", "user_id", "answered_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="standup_run.id", ondelete="CASCADE")
    team_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    status: str = Field(max_length=16)  # "answered" or "skipped"
    answers: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    has_blocker: bool = False
    on_time: bool = True  # answered before the report time
    answered_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class StandupAway(SQLModel, table=True):
    """A person out of office from `starts` to `ends` (local dates, inclusive), for every standup."""

    __tablename__ = "standup_away"

    team_id: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(primary_key=True, max_length=32)
    starts: date
    ends: date
    updated_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
