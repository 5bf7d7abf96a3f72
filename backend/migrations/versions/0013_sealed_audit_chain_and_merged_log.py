"""throughput: audit events chained by a sealer after commit, certificate numbers from a sequence, certificates
merged into the transparency log in batches (issue 17)

- ``audit_event`` gets ``id`` (order of writing, from a sequence; existing events keep id = seq) as its key; ``seq``,
  ``prev_hash`` and ``hash`` are empty until the sealer chains the event. On PostgreSQL the append-only trigger now
  lets exactly one update through: sealing an unsealed event, its content unchanged.
- ``certificate_counter`` (one row per year, locked by every certificate) goes; numbers come from
  ``certificate_number_seq`` (PostgreSQL), continuing above the largest number given so far, or from the largest
  stored one (SQLite, one writer at a time).
- ``log_pending``: certificates signed but not yet appended to the transparency log (the merge queue). On
  PostgreSQL a certificate leaves it only once it is in the log, so none can silently go missing.
- ``log_tree_head.previous_size``: heads are now signed per appended batch, not per leaf; each names the one
  before it, so a head removed from between two others is noticed. Existing heads (one per size) get size − 1.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

CONTENT = "id, at, actor, action, object_type, object_id, before::text, after::text"
SEAL_ONCE = f"""
    CREATE FUNCTION seal_audit_event_once() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL
           AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL
           AND (NEW.{CONTENT.replace(', ', ', NEW.')}) IS NOT DISTINCT FROM (OLD.{CONTENT.replace(', ', ', OLD.')})
        THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_event is append-only: % refused (an unsealed event may only be sealed)', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END $$
"""


LEAVE_ONLY_WHEN_LOGGED = """
    CREATE FUNCTION leave_log_pending_when_logged() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM log_entry WHERE certificate_id = OLD.certificate_id) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'log_pending: % refused (a certificate leaves the queue only once it is in the log)', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END $$
"""


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("DROP TRIGGER audit_event_append_only ON audit_event")
        op.add_column('audit_event', sa.Column('id', sa.BigInteger(), nullable=True))
        op.execute("UPDATE audit_event SET id = seq")
        op.execute("CREATE SEQUENCE audit_event_id_seq OWNED BY audit_event.id")
        op.execute("SELECT setval('audit_event_id_seq', COALESCE(MAX(id), 0) + 1, false) FROM audit_event")
        op.execute("ALTER TABLE audit_event DROP CONSTRAINT audit_event_pkey")
        op.execute("ALTER TABLE audit_event ALTER COLUMN id SET DEFAULT nextval('audit_event_id_seq'), "
                   "ALTER COLUMN id SET NOT NULL, ALTER COLUMN seq DROP NOT NULL, "
                   "ALTER COLUMN prev_hash DROP NOT NULL, ALTER COLUMN hash DROP NOT NULL")
        op.execute("ALTER TABLE audit_event ADD CONSTRAINT audit_event_pkey PRIMARY KEY (id)")
        op.execute("ALTER TABLE audit_event ADD CONSTRAINT audit_event_seq_key UNIQUE (seq)")
        op.execute(SEAL_ONCE)
        op.execute("CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
                   "FOR EACH ROW EXECUTE FUNCTION seal_audit_event_once()")
    else:  # SQLite: only INTEGER PRIMARY KEY autoincrements, so the table is rebuilt around its new key
        op.create_table('audit_event_new',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('object_type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('object_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('before', sa.JSON(), nullable=True),
        sa.Column('after', sa.JSON(), nullable=True),
        sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('seq')
        )
        op.execute("INSERT INTO audit_event_new (id, seq, at, actor, action, object_type, object_id, before, after, "
                   "prev_hash, hash) SELECT seq, seq, at, actor, action, object_type, object_id, before, after, "
                   "prev_hash, hash FROM audit_event")
        op.drop_table('audit_event')
        op.rename_table('audit_event_new', 'audit_event')
    op.create_index('ix_audit_event_unsealed', 'audit_event', ['id'], unique=False,
                    postgresql_where=sa.text('seq IS NULL'), sqlite_where=sa.text('seq IS NULL'))

    op.create_index('ix_certificate_sequence', 'certificate', ['sequence'], unique=False)
    if postgresql:
        op.execute("CREATE SEQUENCE certificate_number_seq OWNED BY certificate.sequence")
        op.execute("SELECT setval('certificate_number_seq', COALESCE(MAX(sequence), 0) + 1, false) FROM certificate")
    op.drop_table('certificate_counter')

    op.create_table('log_pending',
    sa.Column('certificate_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificate.id'], ),
    sa.PrimaryKeyConstraint('certificate_id')
    )
    if postgresql:
        op.execute(LEAVE_ONLY_WHEN_LOGGED)
        op.execute("CREATE TRIGGER log_pending_until_logged BEFORE UPDATE OR DELETE ON log_pending "
                   "FOR EACH ROW EXECUTE FUNCTION leave_log_pending_when_logged()")

    # Until 0013 every size had its head: the one before is one smaller. (The trigger guards rows, not DDL; the
    # UPDATE fills a new column of existing rows, once.)
    if postgresql:
        op.execute("ALTER TABLE log_tree_head DISABLE TRIGGER log_tree_head_append_only")
    with op.batch_alter_table('log_tree_head', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_size', sa.BigInteger(), nullable=True))
    op.execute("UPDATE log_tree_head SET previous_size = tree_size - 1")
    with op.batch_alter_table('log_tree_head', schema=None) as batch_op:
        batch_op.alter_column('previous_size', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_check_constraint('ck_log_tree_head_previous',
                                         'previous_size >= 0 AND previous_size < tree_size')
    if postgresql:
        op.execute("ALTER TABLE log_tree_head ENABLE TRIGGER log_tree_head_append_only")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM log_pending")).scalar_one() or bind.execute(
            sa.text("SELECT count(*) FROM audit_event WHERE seq IS NULL")).scalar_one():
        raise RuntimeError("run `flask seal` first: unsealed audit events or unlogged certificates cannot go back "
                           "to the per-transaction chain")
    heads, size = bind.execute(sa.text("SELECT (SELECT count(*) FROM log_tree_head), "
                                       "(SELECT tree_size FROM log_head WHERE id = 1)")).one()
    if heads != size:
        raise RuntimeError(f"the log has signed tree heads for {heads} of its {size} sizes (one per appended batch); "
                           "the code before 0013 requires one per size: restore a backup taken before 0013 instead")
    if postgresql:
        op.execute("DROP TRIGGER log_pending_until_logged ON log_pending")
        op.execute("DROP FUNCTION leave_log_pending_when_logged()")
    with op.batch_alter_table('log_tree_head', schema=None) as batch_op:
        batch_op.drop_constraint('ck_log_tree_head_previous', type_='check')
        batch_op.drop_column('previous_size')
    op.drop_table('log_pending')
    op.create_table('certificate_counter',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('year')
    )
    op.execute("INSERT INTO certificate_counter (year, last) SELECT year, MAX(sequence) FROM certificate GROUP BY year")
    if postgresql:
        op.execute("DROP SEQUENCE certificate_number_seq")
    op.drop_index('ix_certificate_sequence', table_name='certificate')
    op.drop_index('ix_audit_event_unsealed', table_name='audit_event')
    if postgresql:
        op.execute("DROP TRIGGER audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION seal_audit_event_once()")
        op.execute("ALTER TABLE audit_event DROP CONSTRAINT audit_event_seq_key")
        op.execute("ALTER TABLE audit_event DROP CONSTRAINT audit_event_pkey")
        op.execute("ALTER TABLE audit_event ALTER COLUMN seq SET NOT NULL, ALTER COLUMN prev_hash SET NOT NULL, "
                   "ALTER COLUMN hash SET NOT NULL")
        op.execute("ALTER TABLE audit_event ADD CONSTRAINT audit_event_pkey PRIMARY KEY (seq)")
        op.drop_column('audit_event', 'id')
        op.execute("CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
                   "FOR EACH ROW EXECUTE FUNCTION refuse_history_change()")
    else:
        op.create_table('audit_event_old',
        sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('object_type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('object_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('before', sa.JSON(), nullable=True),
        sa.Column('after', sa.JSON(), nullable=True),
        sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint('seq')
        )
        op.execute("INSERT INTO audit_event_old SELECT seq, at, actor, action, object_type, object_id, before, "
                   "after, prev_hash, hash FROM audit_event")
        op.drop_table('audit_event')
        op.rename_table('audit_event_old', 'audit_event')
