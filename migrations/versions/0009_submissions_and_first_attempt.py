"""modal submissions handled once; the outbox remembers its first attempt

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('handled_submission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('view_id', sa.String(length=32), nullable=False),
    sa.Column('view_hash', sa.String(length=64), nullable=False),
    sa.Column('state_digest', sa.String(length=64), nullable=False),
    sa.Column('answer', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('team_id', 'view_id', 'view_hash', 'state_digest', name='uq_handled_submission')
    )
    with op.batch_alter_table('handled_submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handled_submission_received_at'), ['received_at'], unique=False)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_attempt_at', sa.DateTime(timezone=True), nullable=True))
    # Rows already tried: their first attempt was no earlier than their queueing.
    op.execute("UPDATE outbox SET first_attempt_at = created_at WHERE attempts > 0")


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('first_attempt_at')
    with op.batch_alter_table('handled_submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handled_submission_received_at'))
    op.drop_table('handled_submission')
