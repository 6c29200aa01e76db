"""activities: each activity's days (activity_window) for the digest and the daily look; a goal's
hit on its progress rows

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("activity_progress", sa.Column("hit", sa.Boolean(), nullable=True))
    op.create_table(
        "activity_window",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["request.id"]),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_index("ix_activity_window_team_last_day", "activity_window", ["team_id", "last_day"])
    _backfill()


def _backfill() -> None:
    """Activities filed with goals under 0012 get their days, in their workspace's zone."""
    bind = op.get_bind()
    request = sa.table("request", sa.column("id"), sa.column("team_id"), sa.column("kind"), sa.column("fields", sa.JSON))
    workspace = sa.table("workspace", sa.column("team_id"), sa.column("timezone"))
    window = sa.table("activity_window", sa.column("request_id"), sa.column("team_id"), sa.column("first_day"),
                      sa.column("last_day"))
    zones = dict(bind.execute(sa.select(workspace.c.team_id, workspace.c.timezone)).all())
    rows = []
    for request_id, team_id, fields in bind.execute(sa.select(request.c.id, request.c.team_id, request.c.fields)
                                                    .where(request.c.kind == "activity")):
        fields = fields or {}
        if not fields.get("goals"):
            continue
        try:
            zone = ZoneInfo(zones.get(team_id) or "UTC")
            first = datetime.fromisoformat(fields["starts_at"]).astimezone(zone).date()
            last = datetime.fromisoformat(fields["ends_at"]).astimezone(zone).date()
        except (KeyError, TypeError, ValueError):
            continue
        rows.append({"request_id": request_id, "team_id": team_id, "first_day": first, "last_day": last})
    if rows:
        bind.execute(sa.insert(window), rows)


def downgrade() -> None:
    op.drop_index("ix_activity_window_team_last_day", table_name="activity_window")
    op.drop_table("activity_window")
    with op.batch_alter_table("activity_progress") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("hit")
