"""requests

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=150), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.String(length=2), nullable=False),
    sa.Column('requester', sa.String(length=32), nullable=False),
    sa.Column('assignee', sa.String(length=32), nullable=True),
    sa.Column('wanted_by', sa.Date(), nullable=True),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('duplicate_of', sa.Integer(), nullable=True),
    sa.Column('source_permalink', sa.String(length=500), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('triaged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['duplicate_of'], ['request.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('team_id', 'number', name='uq_request_team_number')
    )
    with op.batch_alter_table('request', schema=None) as batch_op:
        batch_op.create_index('ix_request_team_assignee_number', ['team_id', 'assignee', 'number'], unique=False)
        batch_op.create_index('ix_request_team_assignee_status_number', ['team_id', 'assignee', 'status', 'number'], unique=False)
        batch_op.create_index('ix_request_team_requester_status_number', ['team_id', 'requester', 'status', 'number'], unique=False)
        batch_op.create_index('ix_request_team_kind_number', ['team_id', 'kind', 'number'], unique=False)
        batch_op.create_index('ix_request_team_requester_number', ['team_id', 'requester', 'number'], unique=False)
        batch_op.create_index('ix_request_team_status_number', ['team_id', 'status', 'number'], unique=False)

    op.create_table('request_config',
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('triage_channel', sa.String(length=32), nullable=True),
    sa.Column('product_team_mode', sa.String(length=16), nullable=False),
    sa.Column('product_team', sa.JSON(), nullable=False),
    sa.Column('sla_business_days', sa.Integer(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('team_id')
    )
    op.create_table('request_reminder',
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('team_id', 'local_date')
    )
    op.create_table('request_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('author', sa.String(length=32), nullable=False),
    sa.Column('text', sa.String(length=40000), nullable=False),
    sa.Column('slack_ts', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['request.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('team_id', 'slack_ts', name='uq_request_comment_ts')
    )
    with op.batch_alter_table('request_comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_comment_request_id'), ['request_id'], unique=False)

    op.create_table('request_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.String(length=3000), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['request.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('request_event', schema=None) as batch_op:
        batch_op.create_index('ix_request_event_request', ['request_id', 'id'], unique=False)

    op.create_table('request_label',
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=50), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['request.id'], ),
    sa.PrimaryKeyConstraint('request_id', 'label')
    )
    with op.batch_alter_table('request_label', schema=None) as batch_op:
        batch_op.create_index('ix_request_label_team_label', ['team_id', 'label', 'request_id'], unique=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_message', ['channel', 'ts'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_message')

    with op.batch_alter_table('request_label', schema=None) as batch_op:
        batch_op.drop_index('ix_request_label_team_label')

    op.drop_table('request_label')
    with op.batch_alter_table('request_event', schema=None) as batch_op:
        batch_op.drop_index('ix_request_event_request')

    op.drop_table('request_event')
    with op.batch_alter_table('request_comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_comment_request_id'))

    op.drop_table('request_comment')
    op.drop_table('request_reminder')
    op.drop_table('request_config')
    with op.batch_alter_table('request', schema=None) as batch_op:
        batch_op.drop_index('ix_request_team_status_number')
        batch_op.drop_index('ix_request_team_requester_number')
        batch_op.drop_index('ix_request_team_kind_number')
        batch_op.drop_index('ix_request_team_assignee_status_number')
        batch_op.drop_index('ix_request_team_requester_status_number')
        batch_op.drop_index('ix_request_team_assignee_number')

    op.drop_table('request')
