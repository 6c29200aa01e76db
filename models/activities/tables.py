"""Activities: the tables. Each unique key is what makes a daily or one-off message happen once."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime


class ActivityProgress(SQLModel, table=True):
    """One goal's standing on one local day of the activity: written once per (request, goal, day)."""

    __tablename__ = "activity_progress"
    __table_args__ = (sa.UniqueConstraint("request_id", "goal", "day", name="uq_activity_progress"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id")
    team_id: str = Field(max_length=32)
    goal: int  # index in fields["goals"]
    day: date
    value: float | None = None       # the window's value so far (None: no data yet)
    target_value: float | None = None  # the level to reach (a change target turned into one)
    change_pct: float | None = None  # the value against the baseline
    way_pct: float | None = None     # % of the way from the baseline to the target
    pace_pct: float | None = None    # way as a share of the linear pace for this day
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class ActivityFlag(SQLModel, table=True):
    """Something that happens once per activity: "half_time", "at_risk", "no_data:0",
    "review_asked", "review_reminder:2026-12-03". Insert first; a conflict means it was done."""

    __tablename__ = "activity_flag"

    request_id: int = Field(foreign_key="request.id", primary_key=True)
    what: str = Field(primary_key=True, max_length=48)
    team_id: str = Field(max_length=32)
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class ActivityReview(SQLModel, table=True):
    """The review (复盘) of one activity; a second save edits it (version counts the saves)."""

    __tablename__ = "activity_review"

    request_id: int = Field(foreign_key="request.id", primary_key=True)
    team_id: str = Field(max_length=32)
    author: str = Field(max_length=32)
    actual_cost: float | None = None
    worked: str = Field(default="", max_length=3000)
    not_worked: str = Field(default="", max_length=3000)
    next_time: str = Field(default="", max_length=3000)
    results: list = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))  # per goal
    roi_pct: float | None = None
    hit: bool | None = None  # every goal hit (None: no goal could be measured)
    version: int = 1
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class ActivityTemplate(SQLModel, table=True):
    """A reviewed activity kept for the next one: its fields and goals (targets relative where
    they can be), and the review it came from."""

    __tablename__ = "activity_template"
    __table_args__ = (sa.UniqueConstraint("team_id", "source_request_id", name="uq_activity_template_source"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    name: str = Field(max_length=150)
    fields: dict = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    goals: list = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    source_request_id: int = Field(foreign_key="request.id")
    created_by: str = Field(max_length=32)
    uses: int = 0  # requests filed from it
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
