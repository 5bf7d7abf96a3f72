"""staff accounts, memberships, API tokens, invitations; organisation sign-up and verification

Actor columns grow from 64 to 128 characters: an API call's actor names the account and its token
(``staff:12:wang.shuji token:3:deploy``). SQLite does not enforce VARCHAR lengths, so only PostgreSQL is altered.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OLD_KINDS = ("forest_farm", "cooperative", "company", "government", "court", "procuratorate", "event_organiser",
             "ngo", "other")
KINDS = ("forest_farm", "cooperative", "company", "government", "court", "procuratorate", "event_organiser",
         "scenic_area", "ngo", "other")
STATES = ("applied", "verified", "rejected", "suspended")
ACTOR_COLUMNS = (("audit_event", "actor", False), ("transfer", "actor", False), ("batch", "issued_by", False),
                 ("certificate_revocation", "revoked_by", False), ("project", "decided_by", True),
                 ("project_decision", "actor", False))


def _sql_list(values) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _widen_actor_columns(length: int) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, nullable in ACTOR_COLUMNS:
        op.alter_column(table, column, type_=sa.String(length), existing_nullable=nullable)


def upgrade() -> None:
    op.create_table('staff_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('totp_secret', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('totp_last_step', sa.BigInteger(), nullable=True),
    sa.Column('session_epoch', sa.Integer(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_sign_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('organisation_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('to_state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('organisation_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organisation_decision_organisation_id'), ['organisation_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":  # history, like project_decision (0002)
        op.execute("CREATE TRIGGER organisation_decision_append_only BEFORE UPDATE OR DELETE ON organisation_decision "
                   "FOR EACH ROW EXECUTE FUNCTION refuse_history_change()")

    op.create_table('staff_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('invited_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_by', sa.Integer(), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'reviewer', 'finance', 'auditor', 'viewer', 'clerk', 'org_admin')", name='ck_staff_invitation_role'),
    sa.ForeignKeyConstraint(['accepted_by'], ['staff_account.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('staff_invitation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_invitation_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('staff_membership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('granted_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(organisation_id IS NULL AND role IN ('admin', 'reviewer', 'finance', 'auditor')) OR (organisation_id IS NOT NULL AND role IN ('viewer', 'clerk', 'org_admin'))", name='ck_staff_membership_scope'),
    sa.CheckConstraint("role IN ('admin', 'reviewer', 'finance', 'auditor', 'viewer', 'clerk', 'org_admin')", name='ck_staff_membership_role'),
    sa.ForeignKeyConstraint(['account_id'], ['staff_account.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('staff_membership', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_membership_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_membership_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index('uq_staff_membership_organisation', ['account_id', 'organisation_id'], unique=True, sqlite_where=sa.text('organisation_id IS NOT NULL'), postgresql_where=sa.text('organisation_id IS NOT NULL'))
        batch_op.create_index('uq_staff_membership_platform_role', ['account_id', 'role'], unique=True, sqlite_where=sa.text('organisation_id IS NULL'), postgresql_where=sa.text('organisation_id IS NULL'))

    op.create_table('staff_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('hint', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['staff_account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('staff_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_token_account_id'), ['account_id'], unique=False)

    with op.batch_alter_table('organisation', schema=None) as batch_op:
        # Organisations an operator registered before sign-up existed were verified by that act.
        batch_op.add_column(sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False,
                                      server_default='verified'))
        batch_op.add_column(sa.Column('status_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('contact_name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True))
        batch_op.add_column(sa.Column('contact_phone', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch_op.add_column(sa.Column('contact_email', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))
        batch_op.add_column(sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch_op.add_column(sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_organisation_status'), ['status'], unique=False)
        batch_op.drop_constraint('ck_organisation_kind', type_='check')
        batch_op.create_check_constraint('ck_organisation_kind', f"kind IN ({_sql_list(KINDS)})")
        batch_op.create_check_constraint('ck_organisation_status', f"status IN ({_sql_list(STATES)})")

    _widen_actor_columns(128)


def downgrade() -> None:
    _widen_actor_columns(64)
    # A kind the old check does not know (a scenic area) goes down as 'other', as lossy as the dropped columns.
    op.execute(f"UPDATE organisation SET kind = 'other' WHERE kind NOT IN ({_sql_list(OLD_KINDS)})")
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.drop_constraint('ck_organisation_status', type_='check')
        batch_op.drop_constraint('ck_organisation_kind', type_='check')
        batch_op.create_check_constraint('ck_organisation_kind', f"kind IN ({_sql_list(OLD_KINDS)})")
        batch_op.drop_index(batch_op.f('ix_organisation_status'))
        batch_op.drop_column('decided_at')
        batch_op.drop_column('decided_by')
        batch_op.drop_column('contact_email')
        batch_op.drop_column('contact_phone')
        batch_op.drop_column('contact_name')
        batch_op.drop_column('status_reason')
        batch_op.drop_column('status')

    with op.batch_alter_table('staff_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_token_account_id'))

    op.drop_table('staff_token')
    with op.batch_alter_table('staff_membership', schema=None) as batch_op:
        batch_op.drop_index('uq_staff_membership_platform_role', sqlite_where=sa.text('organisation_id IS NULL'), postgresql_where=sa.text('organisation_id IS NULL'))
        batch_op.drop_index('uq_staff_membership_organisation', sqlite_where=sa.text('organisation_id IS NOT NULL'), postgresql_where=sa.text('organisation_id IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_staff_membership_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_staff_membership_account_id'))

    op.drop_table('staff_membership')
    with op.batch_alter_table('staff_invitation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_invitation_organisation_id'))

    op.drop_table('staff_invitation')
    with op.batch_alter_table('organisation_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisation_decision_organisation_id'))

    op.drop_table('organisation_decision')
    op.drop_table('staff_account')
