"""Alembic environment: migrate the database named by the config's sqlalchemy.url (set by backend.migrate)."""

from alembic import context
from sqlmodel import SQLModel

import backend.models
from backend.db import make_engine

backend.models.import_extension_models()  # every table on the metadata: the core's and the extensions'

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            sqlite = engine.dialect.name == "sqlite"
            if sqlite:
                # Batch mode copies a table and drops the old one; with foreign keys on, dropping a table other rows
                # refer to fails. The pragma only takes effect outside a transaction, so it goes to the driver's
                # connection before SQLAlchemy begins one; the keys are checked, then switched back on, below.
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            # render_as_batch: SQLite can only ALTER by copying tables; batch mode does that, PostgreSQL ignores it.
            context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration left rows whose foreign keys point nowhere: {broken[:5]}")
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
