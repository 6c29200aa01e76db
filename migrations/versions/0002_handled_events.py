"""handled events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('handled_event',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('handled_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handled_event_received_at'), ['received_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('handled_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handled_event_received_at'))

    op.drop_table('handled_event')
