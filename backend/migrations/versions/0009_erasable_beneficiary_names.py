"""beneficiaries' full names and commitment salts move out of history into an erasable table; citizens erase

``retirement.beneficiary_name`` and ``certificate.name_salt`` sat in append-only tables (PostgreSQL refuses to
update them), so no name could ever be erased. They move to ``beneficiary_name`` (one row per retirement), which
erasure blanks; the retirement keeps its masked name and the certificate its commitment, so both still verify.
``mp_user.erased_at`` marks an anonymised citizen.

Existing RETIRE transfers keep their request hashes, made over the plain name; retirements made from now on hash a
keyed fingerprint of it instead (backend/privacy/fingerprint.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('beneficiary_name',
    sa.Column('retirement_id', sa.Integer(), nullable=False),
    sa.Column('full_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('salt', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['retirement_id'], ['retirement.id'], ),
    sa.PrimaryKeyConstraint('retirement_id')
    )
    op.execute("INSERT INTO beneficiary_name (retirement_id, full_name, salt) "
               "SELECT r.id, r.beneficiary_name, c.name_salt FROM retirement r "
               "JOIN certificate c ON c.retirement_id = r.id")
    # Dropping a column is DDL: the append-only triggers (0002, 0003) guard rows, not the table's shape.
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_column('name_salt')
    with op.batch_alter_table('retirement', schema=None) as batch_op:
        batch_op.drop_column('beneficiary_name')
    with op.batch_alter_table('mp_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('mp_user', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
    with op.batch_alter_table('retirement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('beneficiary_name', sa.VARCHAR(length=200), nullable=False,
                                      server_default=''))
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_salt', sa.VARCHAR(length=32), nullable=False, server_default=''))
    # Names and salts come back where they are still kept; erased ones stay erased (the empty string).
    if op.get_bind().dialect.name == "postgresql":
        for table in ("retirement", "certificate"):
            op.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
    op.execute("UPDATE retirement SET beneficiary_name = COALESCE((SELECT full_name FROM beneficiary_name b "
               "WHERE b.retirement_id = retirement.id), '')")
    op.execute("UPDATE certificate SET name_salt = COALESCE((SELECT salt FROM beneficiary_name b "
               "WHERE b.retirement_id = certificate.retirement_id), '')")
    if op.get_bind().dialect.name == "postgresql":
        for table in ("retirement", "certificate"):
            op.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
    op.drop_table('beneficiary_name')
