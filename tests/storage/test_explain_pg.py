"""PostgreSQL plans of every read query of `logs estimate`, `evaluate-policy`, `learn-from-logs`
and `monitor`, on a log of realistic size, checked with EXPLAIN.

As reported: after `logs ingest` (COPY, no statistics) the planner took the 85,000-row decision
table for about 170 rows and joined each decision to its outcomes by a nested loop over a
materialised subquery — quadratic, a read that ran for over 15 minutes.  An ingest now ends
with ANALYZE, and a read of a table that was never analyzed analyzes it first.  The test
captures every statement the commands send, EXPLAINs each with its own parameters and fails
on a nested loop whose inner side is not an index lookup; it also shows the check fails on
the same log without statistics.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from accessrl.cli import app
from databases import PG_URL, postgres_schema

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not PG_URL, reason="set ACCESSRL_TEST_POSTGRES_URL to run the PostgreSQL tests")]
REQUESTS = 20_000  # about 34,000 decisions and as many outcomes
runner = CliRunner()
INDEXED = ("Index Scan", "Index Only Scan", "Bitmap Heap Scan")


def quadratic_joins(plan: dict[str, Any]) -> list[str]:
    """Nested loops whose inner side is not an index lookup (each row of the outer side rescans it)."""
    out = []
    inner = plan.get("Plans", [])
    if plan.get("Node Type") == "Nested Loop" and len(inner) == 2 and inner[1].get("Node Type") not in INDEXED:
        out.append(f"Nested Loop over {inner[0].get('Plan Rows')} x {inner[1].get('Node Type')} "
                   f"({inner[1].get('Plan Rows')} rows)")
    for child in inner:
        out += quadratic_joins(child)
    return out


def _log(url: str, *, analyze: bool) -> None:
    from accessrl.catalog import access_review_abandonment
    from accessrl.model.policies import uniform_policy
    from accessrl.offline.logsim import LogConfig, simulate_logs
    from accessrl.storage import DecisionLog
    from accessrl.storage.generated import write_generated
    from accessrl.storage.times import to_us

    mdp = access_review_abandonment()
    gen = simulate_logs(mdp, uniform_policy(mdp), n_requests=REQUESTS, start_us=to_us("2026-01-05"),
                        rng=np.random.default_rng(0), epsilon=0.1, config=LogConfig(arrivals_per_hour=10.0))
    log = DecisionLog(url)
    log.analyze_after_ingest = analyze
    write_generated(log, gen, mdp)
    log.close()


@pytest.fixture(scope="module")
def big_log():
    with postgres_schema("explain") as (url, admin, schema):
        _log(url, analyze=True)
        yield url, admin, schema


class Capture:
    """Every read of the log's tables (with its parameters) sent through any SQLAlchemy engine while active."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, Any]] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        # the reads of the log's tables (the schema checks read pg_catalog's small tables: not ours to plan)
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and not executemany and any(
                t in statement for t in ("decision_snapshots", "outcome_events", "service_deployments")):
            self.statements.append((statement, parameters))

    def __enter__(self) -> Capture:
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc: Any) -> None:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", self)


def explain_all(admin: sa.Engine, schema: str, statements: list[tuple[str, Any]]) -> dict[str, list[str]]:
    problems = {}
    raw = admin.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(f'SET search_path TO "{schema}"')
        for statement, params in statements:
            cur.execute("EXPLAIN (FORMAT JSON) " + statement, params)
            plan = cur.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            bad = quadratic_joins(plan[0]["Plan"])
            if bad:
                problems[statement[:120]] = bad
        raw.rollback()
    finally:
        raw.close()
    return problems


def test_every_read_query_plans_without_quadratic_joins(big_log, tmp_path: Path) -> None:
    url, admin, schema = big_log
    pol = tmp_path / "review.yaml"
    pol.write_text("new_request: human_review\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    deployed = tmp_path / "evidence.yaml"
    deployed.write_text("new_request: request_evidence\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    commands = {
        "logs estimate": ["logs", "estimate", "--db", url, "--out", str(tmp_path / "e.yaml"), "--drift-at", "2026-02-20"],
        "evaluate-policy": ["evaluate-policy", "--db", url, "--policy", str(pol), "--incumbent", str(deployed),
                            "--n-boot", "50"],
        "learn-from-logs": ["learn-from-logs", "--db", url, "--out-dir", str(tmp_path / "l"), "--n-boot", "50"],
        "monitor": ["monitor", "--db", url, "--since", "2026-03-01"],
    }
    with admin.connect() as conn:
        counts = {t: conn.exec_driver_sql(f'SELECT count(*) FROM "{schema}".{t}').scalar_one()
                  for t in ("decision_snapshots", "outcome_events")}
        stats = {t: conn.exec_driver_sql(f"SELECT reltuples FROM pg_class WHERE oid = '\"{schema}\".{t}'::regclass"
                                         ).scalar_one() for t in counts}
    assert counts["decision_snapshots"] > 30_000
    for t, n in counts.items():  # the ingest left statistics: the planner knows the sizes
        assert 0.9 * n <= stats[t] <= 1.1 * n, (t, n, stats[t])
    seen = {}
    for name, argv in commands.items():
        with Capture() as cap:
            r = runner.invoke(app, argv)
        assert r.exit_code in (0, 1), (name, r.output)
        assert cap.statements, name
        seen[name] = explain_all(admin, schema, cap.statements)
        assert any("decision_snapshots" in s for s, _ in cap.statements), name
    assert seen == {name: {} for name in commands}


def test_the_check_catches_the_plan_of_a_log_without_statistics(tmp_path: Path) -> None:
    """The same query on a log loaded without ANALYZE: the planner's nested loop is flagged."""
    from accessrl.storage import DecisionLog

    with postgres_schema("nostats") as (url, admin, schema):
        _log(url, analyze=False)
        log = DecisionLog(url)
        q = log.steps_query()
        comp = q.compile(dialect=log.engine.dialect, compile_kwargs={"render_postcompile": True})
        before = explain_all(admin, schema, [(str(comp), comp.params)])
        assert before and "Nested Loop" in next(iter(before.values()))[0]
        assert log.ensure_statistics()  # a read analyzes a log that never was
        assert explain_all(admin, schema, [(str(comp), comp.params)]) == {}
        assert not log.ensure_statistics()  # once
        log.close()
