"""Fresh test databases on both backends: a SQLite file, or a PostgreSQL schema reached
through ``search_path`` (so every layer — service, store, CLI — sees only it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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


def fill_demo_log(url: str, *, requests: int = 300, reason: str = "test") -> None:
    """A decision log with ``requests`` generated requests (the lesson's abandonment model, uniform
    behavior, seed 4) and one deployment of the always-review policy: what the engineer's view reads."""
    import json

    import numpy as np

    from accessrl.catalog import access_review_abandonment
    from accessrl.model.policies import uniform_policy
    from accessrl.offline.logsim import simulate_logs
    from accessrl.storage import DecisionLog
    from accessrl.storage.generated import write_generated
    from accessrl.storage.times import to_us
    from accessrl.storage.writepath import Store, open_engine

    mdp = access_review_abandonment()
    log = simulate_logs(mdp, uniform_policy(mdp), n_requests=requests, start_us=to_us("2026-01-05"),
                        rng=np.random.default_rng(4), epsilon=0.1)
    dlog = DecisionLog(url)
    write_generated(dlog, log, mdp)
    dlog.close()
    store = Store(open_engine(url))
    store.deploy({"role": "deployed", "policy_id": "always_review", "policy_version": "v1",
                  "policy": json.dumps({"new_request": "human_review", "evidence_ready": "human_review",
                                        "review_queue": "approve_rotation"}),
                  "model_spec": json.dumps({"gamma": 0.9}), "deployed_at": "2026-01-05T00:00:00+00:00",
                  "reason": reason})
    store.engine.dispose()


BPIC_EXCERPT = Path(__file__).resolve().parent / "storage" / "data" / "bpic2012_excerpt.xes.gz"
BPIC_MAPPING = Path(__file__).resolve().parents[1] / "examples" / "eventlogs" / "bpic2012.yaml"


def import_bpic_excerpt(url: str) -> None:
    """The BPIC 2012 excerpt (655 cases, 2011-09-30 to 2012-03-14, tests/storage/data) imported into
    ``url`` through examples/eventlogs/bpic2012.yaml, as `accessrl logs import` does: a real log of
    five months with abandonments and no deployment."""
    from accessrl.storage import DecisionLog
    from accessrl.storage.eventimport import import_event_log
    from accessrl.storage.eventlogs import load_mapping

    log = DecisionLog(url)
    try:
        import_event_log(log, BPIC_EXCERPT, load_mapping(BPIC_MAPPING, default_name="bpic2012_excerpt"))
    finally:
        log.close()
