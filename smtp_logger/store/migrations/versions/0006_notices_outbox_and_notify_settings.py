"""notices outbox and notify settings

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-03 18:15:17.267544
"""
from alembic import op
import sqlalchemy as sa
import smtp_logger.store.models


revision = '0006'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('received_message_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', smtp_logger.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claimed_until', smtp_logger.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('digest_id', sa.Integer(), nullable=True),
    sa.Column('created_at', smtp_logger.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', smtp_logger.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['digest_id'], ['notices.id'], ),
    sa.ForeignKeyConstraint(['received_message_id'], ['received_messages.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('received_message_id', 'reason')
    )
    op.create_index('ix_notices_account_id', 'notices', ['account_id'], unique=False)
    op.create_index('ix_notices_status', 'notices', ['status'], unique=False)
    op.create_index('ix_notices_user_created', 'notices', ['user_id', 'created_at'], unique=False)
    # Plain ALTER TABLE (no batch rebuild): on SQLite a rebuilt users or accounts table could
    # not be dropped while other tables' rows refer to it (foreign keys are on).
    op.add_column('accounts', sa.Column('notify', sa.String(length=10), nullable=True))
    op.add_column('accounts', sa.Column('language', sa.String(length=8), nullable=True))
    op.add_column('users', sa.Column('notify', sa.String(length=10), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN: SQLite 3.35 or later.
    op.drop_column('users', 'notify')
    op.drop_column('accounts', 'language')
    op.drop_column('accounts', 'notify')
    op.drop_index('ix_notices_user_created', table_name='notices')
    op.drop_index('ix_notices_status', table_name='notices')
    op.drop_index('ix_notices_account_id', table_name='notices')
    op.drop_table('notices')
