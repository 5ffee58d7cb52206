"""Fresh test databases on both backends: a SQLite file, or a PostgreSQL schema reached
through ``search_path`` (so every layer — service, store, CLI — sees only it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

PG_URL = os.environ.get("ACCESSRL_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.skipif(
    not PG_URL, reason="set ACCESSRL_TEST_POSTGRES_URL to run the PostgreSQL tests")])]


@contextmanager
def postgres_schema(prefix: str = "t") -> Iterator[tuple[str, Any, str]]:
    """``(url, admin engine, schema)`` of a new schema of the test server, dropped afterwards."""
    import sqlalchemy as sa

    from accessrl.storage.schema import normalise_url

    assert PG_URL, "set ACCESSRL_TEST_POSTGRES_URL (CI does)"
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}", admin, schema
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@contextmanager
def fresh_database(backend: str, tmp_path: Any, name: str = "db.sqlite") -> Iterator[str]:
    """The URL of a new, empty database on ``backend`` ('sqlite' or 'postgres')."""
    if backend == "sqlite":
        yield str(tmp_path / name)
        return
    with postgres_schema() as (url, _admin, _schema):
        yield url
