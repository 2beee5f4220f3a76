"""Cheaper writes per logged message (issue 18): on PostgreSQL, bodies and blob chunks
compressed with lz4 instead of pglz (or not at all): about a third of the server's CPU per
compressed value; three indexes on account_id alone dropped where a unique constraint on
(account_id, ...) already answers every lookup by account (one index fewer to update per row).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 00:30:00
"""
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# table -> its index on account_id alone, covered by a unique constraint starting with account_id
REDUNDANT = {
    'engagements': 'ix_engagements_account_id',
    'contact_emails': 'ix_contact_emails_account_id',
    'companies': 'ix_companies_account_id',
}
# the columns whose values are often over the 2 KB TOAST threshold and compress well
LZ4 = {
    'engagements': ('body_text', 'body_html', 'reply_text'),
    'blob_chunks': ('data',),
}


def _compression(method: str) -> None:
    """SET COMPRESSION exists from PostgreSQL 14; lz4 only where the server was built with it
    (Debian's and the official images are). Elsewhere the columns keep pglz: only slower."""
    statements = '; '.join(
        f'ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}'
        for table, columns in LZ4.items() for column in columns)
    op.execute(f"""
DO $$ BEGIN
  IF current_setting('server_version_num')::int >= 140000 THEN
    BEGIN {statements};
    EXCEPTION WHEN feature_not_supported THEN RAISE NOTICE 'lz4 not available: pglz kept';
    END;
  END IF;
END $$""")


def upgrade() -> None:
    for table, index in REDUNDANT.items():
        op.drop_index(index, table_name=table)
    if op.get_bind().dialect.name == 'postgresql':
        # raw copies in one chunk are mostly text (headers, base64): worth lz4, which gives up
        # quickly on what does not compress (images, zips) and then stores it as it is
        op.execute('ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTENDED')
        _compression('lz4')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        _compression('pglz')
        op.execute('ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL')
    for table, index in REDUNDANT.items():
        op.create_index(index, table, ['account_id'])
