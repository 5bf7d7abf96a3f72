"""documents beside certificates; orders placed by organisations, paid offline, bound to a scenario's record;
the judicial scenario's cases, payers and purchases

A ``certificate`` row may now be a scenario's document (``kind`` other than ``retirement``: a witness certificate
of a court case …), with no retirement of its own. An order is a citizen's (``user_id``) or an organisation's
(``org_id``), paid by WeChat Pay JSAPI, Native or offline (``channel``), and may be bound to a scenario's record
(``purpose_ref``). Every existing row keeps its meaning: certificates are ``retirement``s, orders ``jsapi``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False,
                                      server_default='retirement'))
        batch_op.alter_column('retirement_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_check_constraint('ck_certificate_kind_retirement',
                                         "(kind = 'retirement') = (retirement_id IS NOT NULL)")
    with op.batch_alter_table('purchase_order', schema=None) as batch_op:
        batch_op.alter_column('user_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('org_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('placed_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch_op.add_column(sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False,
                                      server_default='jsapi'))
        batch_op.add_column(sa.Column('purpose_ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('payment_reference', sqlmodel.sql.sqltypes.AutoString(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('payment_recorded_by', sqlmodel.sql.sqltypes.AutoString(length=128),
                                      nullable=True))
        batch_op.create_unique_constraint('uq_order_payment_reference', ['payment_reference'])
        batch_op.create_index('ix_purchase_order_org_id', ['org_id'])
        batch_op.create_index('ix_purchase_order_purpose_ref', ['purpose_ref'])
        batch_op.create_foreign_key('fk_purchase_order_org_id', 'organisation', ['org_id'], ['id'])
        batch_op.create_unique_constraint('uq_order_org_idempotency_key', ['org_id', 'idempotency_key'])
        batch_op.create_check_constraint('ck_order_one_buyer', '(user_id IS NULL) <> (org_id IS NULL)')
        batch_op.create_check_constraint('ck_order_channel', "channel IN ('jsapi', 'native', 'offline')")
        batch_op.drop_constraint('ck_order_purpose', type_='check')
        batch_op.create_check_constraint('ck_order_purpose',
                                         "purpose IN ('personal', 'gift', 'keep', 'judicial', 'event', "
                                         "'tree_duty', 'tourism')")
    op.create_table('judicial_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('case_no', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('case_no_salt', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('publish_case_no', sa.Boolean(), nullable=False),
    sa.Column('cause', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('cause_note', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('damage_region', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('loss', sa.JSON(), nullable=False),
    sa.Column('loss_g', sa.BigInteger(), nullable=True),
    sa.Column('multiplier', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('rounding', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('required_g', sa.BigInteger(), nullable=True),
    sa.Column('required_fen', sa.BigInteger(), nullable=True),
    sa.Column('computation', sa.JSON(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('closed_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('witness_certificate_id', sa.Integer(), nullable=True),
    sa.Column('restored_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("cause IN ('illegal_felling', 'fire', 'occupation', 'other')", name='ck_case_cause'),
    sa.CheckConstraint("status IN ('ordered', 'partially_paid', 'restored', 'closed')", name='ck_case_status'),
    sa.CheckConstraint("rounding IN ('up_tonne', 'up_kg', 'exact')", name='ck_case_rounding'),
    sa.CheckConstraint('(required_g IS NULL) <> (required_fen IS NULL)', name='ck_case_one_requirement'),
    sa.CheckConstraint('required_g IS NULL OR required_g > 0', name='ck_case_required_g_positive'),
    sa.CheckConstraint('required_fen IS NULL OR required_fen > 0', name='ck_case_required_fen_positive'),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['witness_certificate_id'], ['certificate.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('org_id', 'case_no', name='uq_case_org_case_no'),
    sa.UniqueConstraint('witness_certificate_id')
    )
    op.create_index('ix_judicial_case_org_id', 'judicial_case', ['org_id'])
    op.create_index('ix_judicial_case_status', 'judicial_case', ['status'])
    op.create_table('case_payer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('name_masked', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('share_percent', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('share_g', sa.BigInteger(), nullable=True),
    sa.Column('share_fen', sa.BigInteger(), nullable=True),
    sa.Column('claim_code', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['judicial_case.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('claim_code'),
    sa.UniqueConstraint('case_id', 'position', name='uq_case_payer_position')
    )
    op.create_index('ix_case_payer_case_id', 'case_payer', ['case_id'])
    op.create_table('case_purchase',
    sa.Column('order_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('payer_id', sa.Integer(), nullable=False),
    sa.Column('tier', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('tier_reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.CheckConstraint("tier IN ('county', 'prefecture', 'province', 'elsewhere')", name='ck_case_purchase_tier'),
    sa.ForeignKeyConstraint(['order_id'], ['purchase_order.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['judicial_case.id'], ),
    sa.ForeignKeyConstraint(['payer_id'], ['case_payer.id'], ),
    sa.PrimaryKeyConstraint('order_id')
    )
    op.create_index('ix_case_purchase_case_id', 'case_purchase', ['case_id'])
    op.create_table('case_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('deadline_before', sa.Date(), nullable=True),
    sa.Column('deadline_after', sa.Date(), nullable=True),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['judicial_case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_case_decision_case_id', 'case_decision', ['case_id'])


def downgrade() -> None:
    bind = op.get_bind()
    kept = {"organisations' orders": "SELECT count(*) FROM purchase_order WHERE user_id IS NULL",
            "documents (witness certificates …)": "SELECT count(*) FROM certificate WHERE retirement_id IS NULL",
            "scenario orders": "SELECT count(*) FROM purchase_order WHERE purpose NOT IN ('personal', 'gift', 'keep')"}
    for what, query in kept.items():
        if bind.exec_driver_sql(query).scalar():
            raise RuntimeError(f"cannot go below 0010: the database holds {what}, which 0009 has no place for "
                               "(history is never dropped to make a downgrade fit)")
    op.drop_table('case_decision')
    op.drop_table('case_purchase')
    op.drop_table('case_payer')
    op.drop_table('judicial_case')
    with op.batch_alter_table('purchase_order', schema=None) as batch_op:
        batch_op.drop_constraint('ck_order_purpose', type_='check')
        batch_op.create_check_constraint('ck_order_purpose', "purpose IN ('personal', 'gift', 'keep')")
        batch_op.drop_constraint('ck_order_channel', type_='check')
        batch_op.drop_constraint('ck_order_one_buyer', type_='check')
        batch_op.drop_constraint('uq_order_org_idempotency_key', type_='unique')
        batch_op.drop_constraint('uq_order_payment_reference', type_='unique')
        batch_op.drop_constraint('fk_purchase_order_org_id', type_='foreignkey')
        batch_op.drop_index('ix_purchase_order_purpose_ref')
        batch_op.drop_index('ix_purchase_order_org_id')
        for column in ('payment_recorded_by', 'payment_reference', 'purpose_ref', 'channel', 'placed_by', 'org_id'):
            batch_op.drop_column(column)
        batch_op.alter_column('user_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_constraint('ck_certificate_kind_retirement', type_='check')
        batch_op.alter_column('retirement_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('kind')
