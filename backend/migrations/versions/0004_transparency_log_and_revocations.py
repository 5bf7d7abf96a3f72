"""transparency log (leaves, stored subtree nodes, head, signed tree heads) and certificate revocations

Every certificate's digest becomes a leaf of an RFC 6962 Merkle tree in the certificate's own transaction.
The leaves, nodes, signed tree heads and revocations are history: append-only on PostgreSQL. ``log_head`` is
the one mutable row, the lock that keeps leaf indexes dense.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

HISTORY = ("log_entry", "log_node", "log_tree_head", "certificate_revocation")


def upgrade() -> None:
    # Certificates made before the log existed (development databases only: nothing was released before 0004)
    # would sit outside it, and their JWS uses the earlier claim layout. Say so rather than leave a database
    # whose `ledger check` fails and whose verify pages 404.
    if op.get_bind().execute(sa.text("SELECT count(*) FROM certificate")).scalar():
        raise RuntimeError("this database holds certificates issued before the transparency log (development "
                           "data from before migration 0004); start a fresh one, e.g. rm instance/tanhui.db")
    log_head = op.create_table('log_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('id = 1 AND tree_size >= 0', name='ck_log_head_single'),
    sa.PrimaryKeyConstraint('id')
    )
    op.bulk_insert(log_head, [{"id": 1, "tree_size": 0}])
    op.create_table('log_node',
    sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('start', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.CheckConstraint('level BETWEEN 1 AND 62 AND start >= 0 AND start % (CAST(1 AS BIGINT) << level) = 0',
                       name='ck_log_node_aligned'),
    sa.PrimaryKeyConstraint('level', 'start')
    )
    op.create_table('log_tree_head',
    sa.Column('tree_size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.Column('signature', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('kid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.CheckConstraint('tree_size >= 0', name='ck_log_tree_head_size'),
    sa.PrimaryKeyConstraint('tree_size')
    )
    op.create_table('certificate_revocation',
    sa.Column('certificate_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('revoked_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(reason) > 0', name='ck_certificate_revocation_reason'),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificate.id'], ),
    sa.PrimaryKeyConstraint('certificate_id')
    )
    op.create_table('log_entry',
    sa.Column('leaf_index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('leaf_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.CheckConstraint('leaf_index >= 0', name='ck_log_entry_index'),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificate.id'], ),
    sa.PrimaryKeyConstraint('leaf_index'),
    sa.UniqueConstraint('certificate_id')
    )
    if op.get_bind().dialect.name == "postgresql":  # refuse_history_change() comes from 0002
        for table in HISTORY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION refuse_history_change()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in HISTORY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    op.drop_table('log_entry')
    op.drop_table('certificate_revocation')
    op.drop_table('log_tree_head')
    op.drop_table('log_node')
    op.drop_table('log_head')
