"""merge the capability branches; outbox lanes keep a card's messages in order

Revision ID: 0007
Revises: 0004, 0005, 0006
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = ("0004", "0005", "0006")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lane', sa.String(length=255), nullable=True))
        batch_op.create_index('ix_outbox_lane', ['lane', 'id'], unique=False)
    # Rows queued before lanes existed are their own lane.
    op.execute("UPDATE outbox SET lane = key WHERE lane IS NULL")


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_lane')
        batch_op.drop_column('lane')
