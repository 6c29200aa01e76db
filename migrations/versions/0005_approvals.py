"""approvals

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-22

Branches from 0003 beside 0004 (standups); Tandem upgrades to "heads".
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('approval_config',
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('stages', sa.JSON(), nullable=False),
    sa.Column('updated_by', sa.String(length=32), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('team_id')
    )
    op.create_table('approval_delegation',
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('approver', sa.String(length=32), nullable=False),
    sa.Column('deputy', sa.String(length=32), nullable=False),
    sa.Column('until', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('team_id', 'approver')
    )
    op.create_table('approval_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('stages', sa.JSON(), nullable=False),
    sa.Column('current_stage', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('stage_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('stage_remind_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('stage_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['request.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id', 'round', name='uq_approval_run_round')
    )
    with op.batch_alter_table('approval_run', schema=None) as batch_op:
        batch_op.create_index('ix_approval_run_status_remind', ['status', 'stage_remind_at'], unique=False)
        batch_op.create_index('ix_approval_run_team_status', ['team_id', 'status'], unique=False)

    op.create_table('approval_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('stage', sa.Integer(), nullable=False),
    sa.Column('stage_name', sa.String(length=80), nullable=False),
    sa.Column('approver', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=32), nullable=False),
    sa.Column('on_behalf_of', sa.String(length=32), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['request.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['approval_run.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'stage', 'approver', name='uq_approval_decision_seat')
    )
    with op.batch_alter_table('approval_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_approval_decision_request_id'), ['request_id'], unique=False)
        batch_op.create_index('ix_approval_decision_team_created', ['team_id', 'created_at'], unique=False)

    op.create_table('approval_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=32), nullable=True),
    sa.Column('on_behalf_of', sa.String(length=32), nullable=True),
    sa.Column('stage', sa.Integer(), nullable=True),
    sa.Column('stage_name', sa.String(length=80), nullable=True),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('once', sa.String(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['request.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['approval_run.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('once', name='uq_approval_event_once')
    )
    with op.batch_alter_table('approval_event', schema=None) as batch_op:
        batch_op.create_index('ix_approval_event_request', ['request_id', 'id'], unique=False)
        batch_op.create_index('ix_approval_event_team_action_created', ['team_id', 'action', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('approval_event', schema=None) as batch_op:
        batch_op.drop_index('ix_approval_event_team_action_created')
        batch_op.drop_index('ix_approval_event_request')

    op.drop_table('approval_event')
    with op.batch_alter_table('approval_decision', schema=None) as batch_op:
        batch_op.drop_index('ix_approval_decision_team_created')
        batch_op.drop_index(batch_op.f('ix_approval_decision_request_id'))

    op.drop_table('approval_decision')
    with op.batch_alter_table('approval_run', schema=None) as batch_op:
        batch_op.drop_index('ix_approval_run_team_status')
        batch_op.drop_index('ix_approval_run_status_remind')

    op.drop_table('approval_run')
    op.drop_table('approval_delegation')
    op.drop_table('approval_config')
