"""Fresh stores for a benchmark run: a migrated SQLite file with the Redis stand-in, or a ``bench_*`` schema in
PostgreSQL's ``test`` database with the real Redis (db 14) under a key prefix of its own; removed afterwards."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from sqlalchemy import create_engine, text

from backend import migrate

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


@contextmanager
def fresh_stores(kind: str, name: str = "fp") -> Iterator[dict]:
    """App settings for a migrated, empty database: a temp SQLite file (and the Redis stand-in), or a ``bench_*``
    schema in PostgreSQL's ``test`` with the real Redis under a prefix of its own. Removed afterwards."""
    directory = tempfile.mkdtemp(prefix=f"bench-{name}-")
    keys = {"CERT_SIGNING_KEY_FILE": os.path.join(directory, "signing.pem")}
    try:
        if kind == "sqlite":
            url = f"sqlite:///{directory}/{name}.db"
            migrate.upgrade(url)
            yield {"DATABASE_URL": url, "REDIS_URL": None, **keys}
            return
        schema, prefix = f"bench_{uuid.uuid4().hex[:10]}", f"bench-{name}-{uuid.uuid4().hex[:8]}:"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        client = redis.Redis.from_url(REDIS_URL)
        try:
            with admin.connect() as connection:
                connection.execute(text(f"CREATE SCHEMA {schema}"))
            url = f"{PG_URL}?options=-csearch_path%3D{schema}"
            migrate.upgrade(url)
            yield {"DATABASE_URL": url, "REDIS_URL": REDIS_URL, "REDIS_KEY_PREFIX": prefix, **keys}
        finally:
            found = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if found:
                client.delete(*found)
            client.close()
            with admin.connect() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            admin.dispose()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
