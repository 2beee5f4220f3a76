"""received messages: the From: address (flood counting) and the sender check's verdict

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-03 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None

_COLUMNS = (("from_address", 320), ("auth_method", 30), ("auth_spf", 16), ("auth_dkim", 16),
            ("auth_dmarc", 16), ("auth_verdict", 8))


def upgrade() -> None:
    with op.batch_alter_table('received_messages', schema=None) as batch_op:
        for name, length in _COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=True))
        batch_op.create_index('ix_received_flood', ['logging_address', 'from_address', 'received_at'])


def downgrade() -> None:
    with op.batch_alter_table('received_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_received_flood')
        for name, _length in reversed(_COLUMNS):
            batch_op.drop_column(name)
