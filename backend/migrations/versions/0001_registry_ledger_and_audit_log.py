"""registry, ledger and audit log

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_event',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('object_type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('object_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    audit_head = op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # The chain's tip starts at the genesis hash; appenders lock and advance this one row.
    op.bulk_insert(audit_head, [{"id": 1, "seq": 0, "hash": "0" * 64}])
    op.create_table('methodology',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('ecosystem', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('source_document', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("ecosystem IN ('forest', 'bamboo', 'grassland', 'wetland')", name='ck_methodology_ecosystem'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('organisation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('credit_code', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True),
    sa.Column('adcode', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('forest_farm', 'cooperative', 'company', 'government', 'court', 'procuratorate', 'event_organiser', 'ngo', 'other')", name='ck_organisation_kind'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('credit_code')
    )
    op.create_table('project',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('county_adcode', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('ecosystem', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('methodology_id', sa.Integer(), nullable=False),
    sa.Column('area_mu', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('crediting_start', sa.Date(), nullable=False),
    sa.Column('crediting_end', sa.Date(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('state_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("ecosystem IN ('forest', 'bamboo', 'grassland', 'wetland')", name='ck_project_ecosystem'),
    sa.CheckConstraint("state IN ('draft', 'submitted', 'registered', 'rejected', 'suspended')", name='ck_project_state'),
    sa.CheckConstraint('area_mu > 0', name='ck_project_area_positive'),
    sa.CheckConstraint('crediting_end > crediting_start', name='ck_project_crediting_period'),
    sa.ForeignKeyConstraint(['methodology_id'], ['methodology.id'], ),
    sa.ForeignKeyConstraint(['owner_id'], ['organisation.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_county_adcode'), ['county_adcode'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_state'), ['state'], unique=False)

    op.create_table('batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('monitoring_start', sa.Date(), nullable=False),
    sa.Column('monitoring_end', sa.Date(), nullable=False),
    sa.Column('vintage', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('quantity_g', sa.BigInteger(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.CheckConstraint('monitoring_end >= monitoring_start', name='ck_batch_monitoring_period'),
    sa.CheckConstraint('quantity_g > 0', name='ck_batch_quantity_positive'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'),
    sa.UniqueConstraint('project_id', 'vintage', 'sequence', name='uq_batch_project_vintage_sequence')
    )
    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_batch_project_id'), ['project_id'], unique=False)

    op.create_table('project_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('to_state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('project_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_decision_project_id'), ['project_id'], unique=False)

    op.create_table('ledger_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('debits_g', sa.BigInteger(), nullable=False),
    sa.Column('credits_g', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind = 'issuance' OR credits_g >= debits_g", name='ck_account_non_negative'),
    sa.CheckConstraint("kind IN ('issuance', 'available', 'reserved', 'retired', 'cancelled')", name='ck_account_kind'),
    sa.CheckConstraint('debits_g >= 0 AND credits_g >= 0', name='ck_account_totals'),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('holder', 'batch_id', 'kind', name='uq_account_holder_batch_kind')
    )
    with op.batch_alter_table('ledger_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_account_batch_id'), ['batch_id'], unique=False)

    op.create_table('transfer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('request_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('debit_account_id', sa.Integer(), nullable=False),
    sa.Column('credit_account_id', sa.Integer(), nullable=False),
    sa.Column('amount_g', sa.BigInteger(), nullable=False),
    sa.Column('pending_id', sa.Integer(), nullable=True),
    sa.Column('counterparty', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('corrects_id', sa.Integer(), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("code IN ('ISSUE', 'RESERVE', 'POST', 'VOID', 'TRANSFER', 'RETIRE', 'CANCEL', 'CORRECT')", name='ck_transfer_code'),
    sa.CheckConstraint('amount_g > 0', name='ck_transfer_amount_positive'),
    sa.CheckConstraint('debit_account_id <> credit_account_id', name='ck_transfer_distinct_accounts'),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], ),
    sa.ForeignKeyConstraint(['corrects_id'], ['transfer.id'], ),
    sa.ForeignKeyConstraint(['credit_account_id'], ['ledger_account.id'], ),
    sa.ForeignKeyConstraint(['debit_account_id'], ['ledger_account.id'], ),
    sa.ForeignKeyConstraint(['pending_id'], ['transfer.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('client_id'),
    sa.UniqueConstraint('corrects_id')
    )
    with op.batch_alter_table('transfer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transfer_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfer_credit_account_id'), ['credit_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfer_debit_account_id'), ['debit_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfer_pending_id'), ['pending_id'], unique=False)

    op.create_table('pending_resolution',
    sa.Column('pending_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['pending_id'], ['transfer.id'], ),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfer.id'], ),
    sa.PrimaryKeyConstraint('pending_id')
    )
    op.create_table('retirement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('quantity_g', sa.BigInteger(), nullable=False),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('purpose_ref', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('beneficiary_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('beneficiary_masked', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("purpose IN ('personal', 'tree_duty', 'event', 'judicial', 'tourism', 'other')", name='ck_retirement_purpose'),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], ),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfer.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('transfer_id')
    )
    with op.batch_alter_table('retirement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retirement_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_retirement_holder'), ['holder'], unique=False)

    op.create_table('serial_range',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('first', sa.BigInteger(), nullable=False),
    sa.Column('last', sa.BigInteger(), nullable=False),
    sa.Column('reservation_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('first >= 1 AND last >= first', name='ck_serial_range_bounds'),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_account.id'], ),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], ),
    sa.ForeignKeyConstraint(['reservation_id'], ['transfer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('serial_range', schema=None) as batch_op:
        batch_op.create_index('ix_serial_range_account_first', ['account_id', 'first'], unique=False)
        batch_op.create_index('ix_serial_range_batch_first', ['batch_id', 'first'], unique=False)
        batch_op.create_index(batch_op.f('ix_serial_range_reservation_id'), ['reservation_id'], unique=False)

    op.create_table('transfer_range',
    sa.Column('transfer_id', sa.Integer(), nullable=False),
    sa.Column('first', sa.BigInteger(), nullable=False),
    sa.Column('last', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfer.id'], ),
    sa.PrimaryKeyConstraint('transfer_id', 'first')
    )
    with op.batch_alter_table('transfer_range', schema=None) as batch_op:
        batch_op.create_index('ix_transfer_range_first_last', ['first', 'last'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('transfer_range', schema=None) as batch_op:
        batch_op.drop_index('ix_transfer_range_first_last')

    op.drop_table('transfer_range')
    with op.batch_alter_table('serial_range', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_serial_range_reservation_id'))
        batch_op.drop_index('ix_serial_range_batch_first')
        batch_op.drop_index('ix_serial_range_account_first')

    op.drop_table('serial_range')
    with op.batch_alter_table('retirement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retirement_holder'))
        batch_op.drop_index(batch_op.f('ix_retirement_batch_id'))

    op.drop_table('retirement')
    op.drop_table('pending_resolution')
    with op.batch_alter_table('transfer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transfer_pending_id'))
        batch_op.drop_index(batch_op.f('ix_transfer_debit_account_id'))
        batch_op.drop_index(batch_op.f('ix_transfer_credit_account_id'))
        batch_op.drop_index(batch_op.f('ix_transfer_batch_id'))

    op.drop_table('transfer')
    with op.batch_alter_table('ledger_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_account_batch_id'))

    op.drop_table('ledger_account')
    with op.batch_alter_table('project_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_decision_project_id'))

    op.drop_table('project_decision')
    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_batch_project_id'))

    op.drop_table('batch')
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_state'))
        batch_op.drop_index(batch_op.f('ix_project_owner_id'))
        batch_op.drop_index(batch_op.f('ix_project_county_adcode'))

    op.drop_table('project')
    op.drop_table('organisation')
    op.drop_table('methodology')
    op.drop_table('audit_head')
    op.drop_table('audit_event')
