"""mini-program users, listings, orders and payment notifications (append-only on PostgreSQL)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mp_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('openid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('unionid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('nickname', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('avatar_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('region_adcode', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=True),
    sa.Column('real_name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('openid')
    )
    with op.batch_alter_table('mp_user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mp_user_unionid'), ['unionid'], unique=False)

    op.create_table('payment_notification',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('event_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('order_no', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('payment_notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_notification_order_no'), ['order_no'], unique=False)

    op.create_table('listing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('seller', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('price_fen_per_t', sa.BigInteger(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('story', sa.Text(), nullable=False),
    sa.Column('photo_urls', sa.JSON(), nullable=False),
    sa.Column('location', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('price_fen_per_t > 0', name='ck_listing_price_positive'),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('batch_id')
    )
    op.create_table('purchase_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_no', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('request_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('quantity_g', sa.BigInteger(), nullable=False),
    sa.Column('price_fen_per_t', sa.BigInteger(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('beneficiary_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('footprint_id', sqlmodel.sql.sqltypes.AutoString(length=26), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reservation_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('prepay_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('transaction_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retirement_id', sa.Integer(), nullable=True),
    sa.Column('fulfilled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refund_no', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('refund_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('refund_reason', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.Column('refunded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("purpose IN ('personal', 'gift', 'keep')", name='ck_order_purpose'),
    sa.CheckConstraint("status IN ('reserved', 'paid', 'fulfilled', 'expired', 'refunding', 'refunded')", name='ck_order_status'),
    sa.CheckConstraint('amount_fen > 0', name='ck_order_amount_positive'),
    sa.CheckConstraint('quantity_g > 0', name='ck_order_quantity_positive'),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], ),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], ),
    sa.ForeignKeyConstraint(['reservation_id'], ['transfer.id'], ),
    sa.ForeignKeyConstraint(['retirement_id'], ['retirement.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['mp_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_no'),
    sa.UniqueConstraint('user_id', 'idempotency_key', name='uq_order_user_idempotency_key')
    )
    with op.batch_alter_table('purchase_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purchase_order_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_purchase_order_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_purchase_order_user_id'), ['user_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":  # refuse_history_change() comes from 0002
        op.execute("CREATE TRIGGER payment_notification_append_only BEFORE UPDATE OR DELETE ON payment_notification "
                   "FOR EACH ROW EXECUTE FUNCTION refuse_history_change()")



def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER payment_notification_append_only ON payment_notification")
    with op.batch_alter_table('purchase_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_purchase_order_user_id'))
        batch_op.drop_index(batch_op.f('ix_purchase_order_status'))
        batch_op.drop_index(batch_op.f('ix_purchase_order_expires_at'))

    op.drop_table('purchase_order')
    op.drop_table('listing')
    with op.batch_alter_table('payment_notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_notification_order_no'))

    op.drop_table('payment_notification')
    with op.batch_alter_table('mp_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mp_user_unionid'))

    op.drop_table('mp_user')
