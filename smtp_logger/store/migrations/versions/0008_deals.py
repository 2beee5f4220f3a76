"""deals: deals and their contacts, engagement links, record-address refs, ignored refs;
account settings deal_links and deal_links_max

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 18:00:00
"""
from alembic import op
import sqlalchemy as sa
import smtp_logger.store.models


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('deals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('stage', sa.String(length=10), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('owner_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', smtp_logger.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', smtp_logger.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], ),
    sa.ForeignKeyConstraint(['owner_user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_deals_account_stage', 'deals', ['account_id', 'stage'], unique=False)
    op.create_table('deal_contacts',
    sa.Column('deal_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], ),
    sa.PrimaryKeyConstraint('deal_id', 'contact_id')
    )
    op.create_index('ix_deal_contacts_contact_id', 'deal_contacts', ['contact_id'], unique=False)
    op.create_table('engagement_deals',
    sa.Column('engagement_id', sa.Integer(), nullable=False),
    sa.Column('deal_id', sa.Integer(), nullable=False),
    sa.Column('linked_by', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], ),
    sa.ForeignKeyConstraint(['engagement_id'], ['engagements.id'], ),
    sa.PrimaryKeyConstraint('engagement_id', 'deal_id')
    )
    op.create_index('ix_engagement_deals_deal_id', 'engagement_deals', ['deal_id'], unique=False)
    op.create_table('received_deal_refs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_message_id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['received_message_id'], ['received_messages.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_received_deal_refs_received_message_id', 'received_deal_refs', ['received_message_id'],
                    unique=False)
    op.create_table('ignored_deal_refs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('received_message_id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=20), nullable=False),
    sa.Column('via', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('created_at', smtp_logger.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['received_message_id'], ['received_messages.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_ignored_deal_refs_received_message_id', 'ignored_deal_refs', ['received_message_id'],
                    unique=False)
    # Plain ALTER TABLE (no batch rebuild), as in 0006: other tables' rows refer to accounts.
    op.add_column('accounts', sa.Column('deal_links', sa.String(length=10), nullable=True))
    op.add_column('accounts', sa.Column('deal_links_max', sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column('accounts', 'deal_links_max')
    op.drop_column('accounts', 'deal_links')
    op.drop_index('ix_ignored_deal_refs_received_message_id', table_name='ignored_deal_refs')
    op.drop_table('ignored_deal_refs')
    op.drop_index('ix_received_deal_refs_received_message_id', table_name='received_deal_refs')
    op.drop_table('received_deal_refs')
    op.drop_index('ix_engagement_deals_deal_id', table_name='engagement_deals')
    op.drop_table('engagement_deals')
    op.drop_index('ix_deal_contacts_contact_id', table_name='deal_contacts')
    op.drop_table('deal_contacts')
    op.drop_index('ix_deals_account_stage', table_name='deals')
    op.drop_table('deals')
