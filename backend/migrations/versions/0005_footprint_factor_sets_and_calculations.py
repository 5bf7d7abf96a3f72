"""footprint: numbered factor sets (the data files' text) and stored calculations; both append-only on PostgreSQL

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('factor_set',
    sa.Column('number', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('number'),
    sa.UniqueConstraint('sha256')
    )
    op.create_table('footprint_calculation',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=26), nullable=False),
    sa.Column('calculator', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('factor_set', sa.Integer(), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('total_g', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['factor_set'], ['factor_set.number'], ),
    sa.PrimaryKeyConstraint('id')
    )
    if op.get_bind().dialect.name == "postgresql":  # refuse_history_change() comes from 0002
        for table in ("factor_set", "footprint_calculation"):
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION refuse_history_change()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("factor_set", "footprint_calculation"):
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    op.drop_table('footprint_calculation')
    op.drop_table('factor_set')
