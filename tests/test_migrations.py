"""Migrations that cannot carry old data forward say so instead of leaving a half-working database."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from backend import migrate


def test_0004_refuses_certificates_issued_before_the_transparency_log(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0003")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("PRAGMA foreign_keys=OFF"))  # a certificate row alone is enough to trip it
        connection.execute(text("INSERT INTO certificate (id, number, year, sequence, retirement_id, payload, "
                                "payload_sha256, jws, kid, name_salt, created_at) VALUES (1, 'TH2026-00000001', "
                                "2026, 1, 1, '{}', 'x', 'j', 'k', 's', '2026-01-01 00:00:00')"))
    engine.dispose()
    with pytest.raises(RuntimeError, match="rm instance/tanhui.db"):
        migrate.upgrade(url)
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate.upgrade(fresh)  # an empty database goes all the way
