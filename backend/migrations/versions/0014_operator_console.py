"""operator console: the platform's fee per listing, kept by each order; settled monthly statements; verifier runs
and CSV exports done by jobs; indexes for the dashboard's and settlement's sums by time (issue 18)

- ``listing.fee_bp``: the platform's fee in basis points of each sale (existing listings: 500, i.e. 5 %);
  ``purchase_order.fee_bp``: the rate the order was placed at (existing orders: 500, what every listing gets).
- ``settlement_payment``: a project owner's month marked paid, with the figures it was paid on.
- ``verification_run``: the console's verifier runs (audit chain, ledger, log), hourly and by hand.
- ``csv_export``: CSV exports of the console's big lists, written by jobs.
- indexes on ``purchase_order.paid_at``, ``refunded_at``, ``retirement_id``, ``retirement.retired_at`` and
  ``audit_event (object_type, object_id)`` (one record's history, on its console page).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

DEFAULT_FEE_BP = "500"


def upgrade() -> None:
    for table in ('listing', 'purchase_order'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('fee_bp', sa.Integer(), nullable=False, server_default=DEFAULT_FEE_BP))
        with op.batch_alter_table(table, schema=None) as batch_op:  # the models give the value from now on
            batch_op.alter_column('fee_bp', server_default=None)
    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.create_check_constraint('ck_listing_fee_bp', 'fee_bp >= 0 AND fee_bp <= 10000')
    with op.batch_alter_table('purchase_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purchase_order_paid_at'), ['paid_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_purchase_order_refunded_at'), ['refunded_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_purchase_order_retirement_id'), ['retirement_id'], unique=False)
    with op.batch_alter_table('retirement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retirement_retired_at'), ['retired_at'], unique=False)
    op.create_index('ix_audit_event_object', 'audit_event', ['object_type', 'object_id'], unique=False)
    op.create_table('settlement_payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('sold_g', sa.BigInteger(), nullable=False),
    sa.Column('gross_fen', sa.BigInteger(), nullable=False),
    sa.Column('refunds_fen', sa.BigInteger(), nullable=False),
    sa.Column('fee_fen', sa.BigInteger(), nullable=False),
    sa.Column('owed_fen', sa.BigInteger(), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('paid_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('owed_fen = gross_fen - refunds_fen - fee_fen', name='ck_settlement_owed'),
    sa.ForeignKeyConstraint(['owner_id'], ['organisation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('owner_id', 'month', name='uq_settlement_payment_owner_month'),
    sa.UniqueConstraint('reference', name='uq_settlement_payment_reference')
    )
    op.create_table('verification_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('slot', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
    sa.Column('requested_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=True),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('problems', sa.JSON(), nullable=False),
    sa.Column('done', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("kind IN ('audit', 'ledger', 'log')", name='ck_verification_run_kind'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'slot', name='uq_verification_run_kind_slot')
    )
    op.create_table('csv_export',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('query', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('requested_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('verification_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verification_run_requested_at'), ['requested_at'], unique=False)


def downgrade() -> None:
    op.drop_table('csv_export')
    op.drop_table('verification_run')
    op.drop_table('settlement_payment')
    op.drop_index('ix_audit_event_object', table_name='audit_event')
    with op.batch_alter_table('retirement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retirement_retired_at'))
    with op.batch_alter_table('purchase_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_purchase_order_retirement_id'))
        batch_op.drop_index(batch_op.f('ix_purchase_order_refunded_at'))
        batch_op.drop_index(batch_op.f('ix_purchase_order_paid_at'))
        batch_op.drop_column('fee_bp')
    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.drop_constraint('ck_listing_fee_bp', type_='check')
        batch_op.drop_column('fee_bp')
