"""received messages: the From: address (flood counting) and the sender check's verdict

Revision ID: 0004
Revises: 0006
Create Date: 2026-12-03 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0006'
branch_labels = None
depends_on = None

_COLUMNS = (("from_address", 320), ("auth_method", 30), ("auth_spf", 16), ("auth_dkim", 16),
            ("auth_dmarc", 16), ("auth_verdict", 8))


def upgrade() -> None:
    # Plain ALTER TABLE (no batch rebuild): on SQLite a rebuilt received_messages could not be
    # dropped while decisions, held waits or notices refer to its rows (foreign keys are on).
    for name, length in _COLUMNS:
        op.add_column('received_messages', sa.Column(name, sa.String(length=length), nullable=True))
    op.create_index('ix_received_flood', 'received_messages', ['logging_address', 'from_address', 'received_at'])


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN: SQLite 3.35 or later.
    op.drop_index('ix_received_flood', table_name='received_messages')
    for name, _length in reversed(_COLUMNS):
        op.drop_column('received_messages', name)
