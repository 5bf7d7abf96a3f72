"""tourism: perk offers at a site (权益兑换), and the vouchers issued under them

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('perk_offer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('terms', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('min_g', sa.BigInteger(), nullable=True),
    sa.Column('duty_region', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=True),
    sa.Column('duty_outside', sa.Boolean(), nullable=False),
    sa.Column('duty_year', sa.Integer(), nullable=True),
    sa.Column('duty_tier', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('valid_days', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('issued', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('site_offset', 'tree_duty', 'certificate')", name='ck_perk_offer_kind'),
    sa.CheckConstraint("(kind = 'site_offset') = (min_g IS NOT NULL)", name='ck_perk_offer_min_g'),
    sa.CheckConstraint("(kind = 'tree_duty') = (duty_year IS NOT NULL AND duty_tier IS NOT NULL)",
                       name='ck_perk_offer_duty'),
    sa.CheckConstraint("duty_tier IS NULL OR duty_tier IN ('duty', 'honour')", name='ck_perk_offer_duty_tier'),
    sa.CheckConstraint('issued >= 0 AND (stock IS NULL OR issued <= stock)', name='ck_perk_offer_stock'),
    sa.CheckConstraint('valid_days >= 1 AND valid_days <= 366', name='ck_perk_offer_valid_days'),
    sa.CheckConstraint('ends_on IS NULL OR ends_on >= starts_on', name='ck_perk_offer_period'),
    sa.ForeignKeyConstraint(['site_id'], ['tourism_site.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_perk_offer_site_id', 'perk_offer', ['site_id'])
    op.create_table('perk_voucher',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('evidence', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('redeemed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('redeemed_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.CheckConstraint('(redeemed_at IS NULL) = (redeemed_by IS NULL)', name='ck_perk_voucher_redeemed'),
    sa.CheckConstraint('expires_at > issued_at', name='ck_perk_voucher_validity'),
    sa.ForeignKeyConstraint(['offer_id'], ['perk_offer.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['mp_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'),
    sa.UniqueConstraint('offer_id', 'user_id', 'year', name='uq_perk_voucher_once_a_year')
    )
    op.create_index('ix_perk_voucher_offer_id', 'perk_voucher', ['offer_id'])
    op.create_index('ix_perk_voucher_user_id', 'perk_voucher', ['user_id'])
    op.create_index('ix_perk_voucher_issued_at', 'perk_voucher', ['issued_at'])
    op.create_index('ix_perk_voucher_redeemed_at', 'perk_voucher', ['redeemed_at'])


def downgrade() -> None:
    op.drop_table('perk_voucher')
    op.drop_table('perk_offer')
