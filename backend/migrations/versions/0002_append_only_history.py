"""history tables are append-only on PostgreSQL

Transfers, their serial ranges, retirements, review decisions and audit events are history: the ledger's code
never updates or deletes them, and on PostgreSQL the database now refuses to as well. (A superuser can still
disable triggers for a session; `flask ledger check` and `flask audit verify` catch what gets past.) SQLite, the
embedded development store, relies on the code and the checkers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

HISTORY = ("transfer", "transfer_range", "retirement", "project_decision", "audit_event")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'integrity_constraint_violation';
        END $$
    """)
    for table in HISTORY:
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION refuse_history_change()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in HISTORY:
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    op.execute("DROP FUNCTION refuse_history_change()")
