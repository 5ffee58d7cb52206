import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


PG_URL = os.environ.get("ACCESSRL_TEST_POSTGRES_URL")
DB_BACKENDS = ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.skipif(
    not PG_URL, reason="set ACCESSRL_TEST_POSTGRES_URL to run the PostgreSQL tests")])]


@pytest.fixture(params=DB_BACKENDS)
def db_url(request, tmp_path):
    """A fresh database URL: a new SQLite file, or a new PostgreSQL schema (dropped afterwards)
    reached through ``search_path`` so every layer (service, store, CLI) sees only it."""
    if request.param == "sqlite":
        yield str(tmp_path / "db.sqlite")
        return
    import uuid

    import sqlalchemy as sa

    from accessrl.storage.schema import normalise_url

    schema = f"t_{uuid.uuid4().hex[:12]}"
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
