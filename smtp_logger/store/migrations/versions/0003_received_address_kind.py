"""received_messages.way is renamed address_kind: it holds the logging address's kind
("bcc" | "forward"), not the kind of delivery ("bcc" | "manual_forward" | "auto_copy"), which
engagements.source holds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 18:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('received_messages', schema=None) as batch_op:
        batch_op.alter_column('way', new_column_name='address_kind',
                              existing_type=sa.String(length=10), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('received_messages', schema=None) as batch_op:
        batch_op.alter_column('address_kind', new_column_name='way',
                              existing_type=sa.String(length=10), existing_nullable=False)
