"""digests: cadence (weekly, monthly, quarterly), sends keyed by period label, the chart's file id,
and templates edited in Slack with their versions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cadence", sa.String(length=10), nullable=False, server_default="weekly"))
        batch_op.add_column(sa.Column("template_version", sa.Integer(), nullable=True))
    with op.batch_alter_table("digest_send", schema=None) as batch_op:
        batch_op.add_column(sa.Column("period", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("chart_file_id", sa.String(length=32), nullable=True))
    # Every send so far was weekly: its period is the ISO week of its Monday.
    sends = sa.table("digest_send", sa.column("id", sa.Integer()), sa.column("period_start", sa.Date()),
                     sa.column("period", sa.String()))
    connection = op.get_bind()
    for send_id, start in connection.execute(sa.select(sends.c.id, sends.c.period_start)).all():
        start = start if isinstance(start, date) else date.fromisoformat(str(start)[:10])
        year, week, _ = start.isocalendar()
        connection.execute(sends.update().where(sends.c.id == send_id).values(period=f"{year}-W{week:02d}"))
    with op.batch_alter_table("digest_send", schema=None) as batch_op:
        batch_op.alter_column("period", existing_type=sa.String(length=10), nullable=False)
        batch_op.drop_constraint("uq_digest_send_slot", type_="unique")
        batch_op.create_unique_constraint("uq_digest_send_period_slot", ["digest_id", "period", "slot"])
    op.create_table(
        "digest_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("saved_by", sa.String(length=32), nullable=False),
        sa.Column("reverted_from", sa.Integer(), nullable=True),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["digest_id"], ["digest.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest_id", "version", name="uq_digest_template_version"),
    )


def downgrade() -> None:
    op.drop_table("digest_template")
    with op.batch_alter_table("digest_send", schema=None) as batch_op:
        batch_op.drop_constraint("uq_digest_send_period_slot", type_="unique")
        batch_op.create_unique_constraint("uq_digest_send_slot", ["digest_id", "period_start", "slot"])
        batch_op.drop_column("chart_file_id")
        batch_op.drop_column("period")
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.drop_column("template_version")
        batch_op.drop_column("cadence")
