"""tree duty: the yearly tree-planting duty discharged with credits (碳汇+全民义务植树) — the regions' versioned
threshold rules, family members, staff lists, tree-duty payments and vouchers; a citizen's birth year and sex (for
duty age only); organisations of kind school

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

OLD_KINDS = ("forest_farm", "cooperative", "company", "government", "court", "procuratorate", "event_organiser",
             "scenic_area", "ngo", "other")
KINDS = ("forest_farm", "cooperative", "company", "government", "court", "procuratorate", "event_organiser",
         "scenic_area", "school", "ngo", "other")


def _kinds(kinds) -> None:
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.drop_constraint('ck_organisation_kind', type_='check')
        batch_op.create_check_constraint('ck_organisation_kind', f"kind IN ({', '.join(repr(k) for k in kinds)})")


def upgrade() -> None:
    op.create_table('tree_duty_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('region', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.Column('duty_fen', sa.BigInteger(), nullable=False),
    sa.Column('duty_trees', sa.Integer(), nullable=False),
    sa.Column('honour_fen', sa.BigInteger(), nullable=True),
    sa.Column('honour_trees', sa.Integer(), nullable=True),
    sa.Column('accumulates', sa.Boolean(), nullable=False),
    sa.Column('min_age', sa.Integer(), nullable=False),
    sa.Column('max_age_male', sa.Integer(), nullable=False),
    sa.Column('max_age_female', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('replaced_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('official', 'reported', 'assumed')", name='ck_tree_duty_rule_status'),
    sa.CheckConstraint('(honour_fen IS NULL) = (honour_trees IS NULL)', name='ck_tree_duty_rule_honour_pair'),
    sa.CheckConstraint('duty_fen > 0 AND duty_trees > 0', name='ck_tree_duty_rule_duty'),
    sa.CheckConstraint('effective_to IS NULL OR effective_to >= effective_from', name='ck_tree_duty_rule_period'),
    sa.CheckConstraint('honour_fen IS NULL OR (honour_fen > duty_fen AND honour_trees >= duty_trees)', name='ck_tree_duty_rule_honour'),
    sa.CheckConstraint('min_age >= 0 AND min_age <= max_age_male AND min_age <= max_age_female', name='ck_tree_duty_rule_ages'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', 'version', name='uq_tree_duty_rule_version')
    )
    with op.batch_alter_table('tree_duty_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tree_duty_rule_key'), ['key'], unique=False)
        batch_op.create_index(batch_op.f('ix_tree_duty_rule_region'), ['region'], unique=False)

    op.create_table('tree_duty_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
    sa.Column('birth_year', sa.Integer(), nullable=False),
    sa.Column('sex', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("sex IN ('male', 'female')", name='ck_tree_duty_member_sex'),
    sa.ForeignKeyConstraint(['user_id'], ['mp_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('tree_duty_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tree_duty_member_user_id'), ['user_id'], unique=False)

    op.create_table('tree_duty_payment',
    sa.Column('order_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('person', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('region', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('tier', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.CheckConstraint("tier IN ('duty', 'honour')", name='ck_tree_duty_payment_tier'),
    sa.ForeignKeyConstraint(['order_id'], ['purchase_order.id'], ),
    sa.ForeignKeyConstraint(['rule_id'], ['tree_duty_rule.id'], ),
    sa.PrimaryKeyConstraint('order_id')
    )
    with op.batch_alter_table('tree_duty_payment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tree_duty_payment_person'), ['person'], unique=False)

    op.create_table('tree_duty_roster',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('region', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('include_outside_age', sa.Boolean(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('persons', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('issued', sa.Integer(), nullable=False),
    sa.Column('uploaded_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('progressed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('archive_status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('archive_done', sa.Integer(), nullable=False),
    sa.Column('archive_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('archive_ready_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('checked', 'paid', 'issued', 'withdrawn')", name='ck_tree_duty_roster_status'),
    sa.CheckConstraint("archive_status IN ('requested', 'ready')", name='ck_tree_duty_roster_archive_status'),
    sa.ForeignKeyConstraint(['order_id'], ['purchase_order.id'], ),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['rule_id'], ['tree_duty_rule.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_id')
    )
    with op.batch_alter_table('tree_duty_roster', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tree_duty_roster_org_id'), ['org_id'], unique=False)

    op.create_table('tree_duty_voucher',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('person', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('tier', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('region', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('trees', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('quantity_g', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('org_id', sa.Integer(), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('full_name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
    sa.Column('name_salt', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recognised_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recognised_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.CheckConstraint("tier IN ('duty', 'honour')", name='ck_tree_duty_voucher_tier'),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificate.id'], ),
    sa.ForeignKeyConstraint(['order_id'], ['purchase_order.id'], ),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['rule_id'], ['tree_duty_rule.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['mp_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('certificate_id'),
    sa.UniqueConstraint('person', 'year', 'tier', name='uq_tree_duty_voucher_person_year_tier')
    )
    with op.batch_alter_table('tree_duty_voucher', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tree_duty_voucher_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tree_duty_voucher_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tree_duty_voucher_person'), ['person'], unique=False)
        batch_op.create_index(batch_op.f('ix_tree_duty_voucher_region'), ['region'], unique=False)
        batch_op.create_index(batch_op.f('ix_tree_duty_voucher_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tree_duty_voucher_year'), ['year'], unique=False)

    op.create_table('tree_duty_roster_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('roster_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('birth_year', sa.Integer(), nullable=False),
    sa.Column('sex', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('staff_no', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('of_duty_age', sa.Boolean(), nullable=False),
    sa.Column('paid_for', sa.Boolean(), nullable=False),
    sa.CheckConstraint("sex IN ('male', 'female')", name='ck_tree_duty_roster_entry_sex'),
    sa.ForeignKeyConstraint(['roster_id'], ['tree_duty_roster.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('roster_id', 'line', name='uq_tree_duty_roster_entry_line')
    )
    with op.batch_alter_table('tree_duty_roster_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tree_duty_roster_entry_roster_id'), ['roster_id'], unique=False)

    with op.batch_alter_table('mp_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('birth_year', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sex', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=True))
    _kinds(KINDS)


def downgrade() -> None:
    _kinds(OLD_KINDS)
    with op.batch_alter_table('mp_user', schema=None) as batch_op:
        batch_op.drop_column('sex')
        batch_op.drop_column('birth_year')

    with op.batch_alter_table('tree_duty_roster_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tree_duty_roster_entry_roster_id'))

    op.drop_table('tree_duty_roster_entry')
    with op.batch_alter_table('tree_duty_voucher', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tree_duty_voucher_year'))
        batch_op.drop_index(batch_op.f('ix_tree_duty_voucher_user_id'))
        batch_op.drop_index(batch_op.f('ix_tree_duty_voucher_region'))
        batch_op.drop_index(batch_op.f('ix_tree_duty_voucher_person'))
        batch_op.drop_index(batch_op.f('ix_tree_duty_voucher_org_id'))
        batch_op.drop_index(batch_op.f('ix_tree_duty_voucher_order_id'))

    op.drop_table('tree_duty_voucher')
    with op.batch_alter_table('tree_duty_roster', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tree_duty_roster_org_id'))

    op.drop_table('tree_duty_roster')
    with op.batch_alter_table('tree_duty_payment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tree_duty_payment_person'))

    op.drop_table('tree_duty_payment')
    with op.batch_alter_table('tree_duty_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tree_duty_member_user_id'))

    op.drop_table('tree_duty_member')
    with op.batch_alter_table('tree_duty_rule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tree_duty_rule_region'))
        batch_op.drop_index(batch_op.f('ix_tree_duty_rule_key'))

    op.drop_table('tree_duty_rule')
