"""Meetings from calendar invitations, engagement type, signature and blocked attachments (issue 17)

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-04 18:10:00
"""
from alembic import op
import sqlalchemy as sa
import smtp_logger.store.models


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

UTC = smtp_logger.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('engagements') as batch:
        batch.add_column(sa.Column('type', sa.String(length=10), nullable=False, server_default='email'))
    with op.batch_alter_table('attachments') as batch:
        batch.add_column(sa.Column('signature', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('blocked_type', sa.String(length=40), nullable=True))
    op.create_index('ix_attachments_sha256', 'attachments', ['sha256'], unique=False)
    op.create_table('meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('engagement_id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=900), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('starts_at', UTC, nullable=True),
    sa.Column('ends_at', UTC, nullable=True),
    sa.Column('all_day', sa.Boolean(), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=True),
    sa.Column('location', sa.Text(), nullable=False),
    sa.Column('organizer_address', sa.String(length=320), nullable=True),
    sa.Column('organizer_name', sa.String(length=200), nullable=True),
    sa.Column('updated_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['engagement_id'], ['engagements.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'uid'),
    sa.UniqueConstraint('engagement_id')
    )
    op.create_index('ix_meetings_account_id', 'meetings', ['account_id'], unique=False)
    op.create_table('meeting_attendees',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('partstat', sa.String(length=20), nullable=False),
    sa.Column('role', sa.String(length=30), nullable=True),
    sa.Column('replied_at', UTC, nullable=True),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('meeting_id', 'address')
    )
    op.create_index('ix_meeting_attendees_meeting_id', 'meeting_attendees', ['meeting_id'], unique=False)
    op.create_table('meeting_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('dedup_key', sa.String(length=998), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('applied', sa.Boolean(), nullable=False),
    sa.Column('received_message_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'dedup_key')
    )
    op.create_index('ix_meeting_messages_meeting_id', 'meeting_messages', ['meeting_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_meeting_messages_meeting_id', table_name='meeting_messages')
    op.drop_table('meeting_messages')
    op.drop_index('ix_meeting_attendees_meeting_id', table_name='meeting_attendees')
    op.drop_table('meeting_attendees')
    op.drop_index('ix_meetings_account_id', table_name='meetings')
    op.drop_table('meetings')
    op.drop_index('ix_attachments_sha256', table_name='attachments')
    with op.batch_alter_table('attachments') as batch:
        batch.drop_column('blocked_type')
        batch.drop_column('signature')
    with op.batch_alter_table('engagements') as batch:
        batch.drop_column('type')
