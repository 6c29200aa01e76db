"""workspace.currency: money metrics show the currency a workspace chose, never a guessed one

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

The money presets (GMV, ARPU, CAC, LTV) used to store "¥" as their unit whatever the workspace.
They now store "¤", "the workspace's currency" (models/digests/metrics.py). Metrics still carrying a
preset's own label with that "¥" were defined from the preset: they follow the workspace too (set
DEFAULT_CURRENCY=CNY, or `/tandem currency CNY`, to keep showing ¥).
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

MONEY_PRESETS = {"GMV": "Gross merchandise value", "ARPU": "Average revenue per user",
                 "CAC": "Customer acquisition cost", "LTV": "Customer lifetime value"}


def upgrade() -> None:
    with op.batch_alter_table("workspace") as batch:
        batch.add_column(sa.Column("currency", sa.String(length=3), nullable=False, server_default=""))
    metric = sa.table("metric", sa.column("name", sa.String), sa.column("label", sa.String),
                      sa.column("unit", sa.String))
    for name, label in MONEY_PRESETS.items():
        op.execute(metric.update().where(metric.c.name == name, metric.c.label == label, metric.c.unit == "¥")
                   .values(unit="¤"))


def downgrade() -> None:
    metric = sa.table("metric", sa.column("unit", sa.String))
    op.execute(metric.update().where(metric.c.unit == "¤").values(unit="¥"))
    with op.batch_alter_table("workspace") as batch:
        batch.drop_column("currency")
