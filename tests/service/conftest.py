"""Fixtures of the service tests: a fresh database on each backend."""

from __future__ import annotations

import os
import uuid

import pytest

PG_URL = os.environ.get("ACCESSRL_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.skipif(
    not PG_URL, reason="set ACCESSRL_TEST_POSTGRES_URL to run the PostgreSQL tests")])]


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """A fresh database: a SQLite file, or a PostgreSQL schema (dropped afterwards)."""
    if request.param == "sqlite":
        yield str(tmp_path / "svc.db")
        return
    import sqlalchemy as sa

    from accessrl.storage.schema import normalise_url

    schema = f"hs_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


