"""The database blob store: blobs and their 1 MiB chunks; indexes for the reference checks
of reference-safe deletion (issue 19)

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-04 18:30:00
"""
from alembic import op
import sqlalchemy as sa
import smtp_logger.store.models


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

UTC = smtp_logger.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('blobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.Column('touched_at', UTC, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256'))
    op.create_table('blob_chunks',
    sa.Column('blob_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['blob_id'], ['blobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('blob_id', 'seq'))
    if op.get_bind().dialect.name == 'postgresql':
        # chunks are mostly compressed already (images, PDFs, zips): no TOAST compression
        op.execute('ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL')
    # ix_attachments_sha256 came with 0009 (signature logos by sender)
    op.create_index('ix_received_raw_sha256', 'received_messages', ['raw_sha256'])


def downgrade() -> None:
    op.drop_index('ix_received_raw_sha256', table_name='received_messages')
    op.drop_table('blob_chunks')
    op.drop_table('blobs')
