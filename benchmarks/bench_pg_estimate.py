"""`accessrl logs estimate` on PostgreSQL beside SQLite, on a 100,000-decision log just ingested.

As reported: after `logs ingest` into PostgreSQL (COPY, no statistics) `logs estimate` ran for
over 15 minutes — the planner took the decision table for a few hundred rows and joined the
decisions to their outcomes by a nested loop; after a manual ANALYZE it took seconds.  An
ingest now ends with ANALYZE (and a read of a never-analyzed table analyzes it first).

Target: `logs estimate` on PostgreSQL within 1.5x of SQLite on the same log.

Set-up (not timed): the lesson's abandonment workflow, uniform behavior with epsilon 0.1,
enough requests for ``--decisions`` decisions, written as JSON lines; then
``accessrl logs ingest`` of that file into a fresh SQLite file and a fresh PostgreSQL schema
(timed, for information).  Timed: ``accessrl logs estimate --db URL --out FILE`` as a child
process (the whole command as a user runs it: start-up, reading, estimating, writing),
SQLite and PostgreSQL interleaved, ``--repeats`` times each; medians of wall time.

"Before": the same log ingested into another schema with the ANALYZE switched off
(``DecisionLog.analyze_after_ingest = False``, what a bare COPY leaves) and the read query
of ``logs estimate`` run directly under ``statement_timeout`` (``--before-timeout`` seconds),
with the planner's estimate of the decision table and whether it chose a nested loop.

Usage: ``python benchmarks/bench_pg_estimate.py [--decisions 100000] [--repeats 3]``; the
server is ``$ACCESSRL_BENCH_POSTGRES_URL`` or ``$ACCESSRL_TEST_POSTGRES_URL``.
Writes ``benchmarks/results/pg_estimate.md`` and ``pg_estimate.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from accessrl.catalog.lesson import access_review_abandonment
from accessrl.model.policies import uniform_policy
from accessrl.offline.logsim import LogConfig, simulate_logs
from accessrl.storage import DecisionLog
from accessrl.storage.generated import write_generated_file
from accessrl.storage.times import to_us

RESULTS = Path(__file__).resolve().parent / "results"
CLI = [sys.executable, "-m", "accessrl"]


def _run(args: list[str]) -> float:
    t = time.perf_counter()
    r = subprocess.run([*CLI, *args], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"accessrl {' '.join(args)} failed: {r.stderr.strip()[-400:]}")
    return wall


def _schema_url(base: str, admin: sa.Engine, prefix: str) -> tuple[str, str]:
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", schema


def before(url: str, path: Path, timeout_s: float) -> dict[str, Any]:
    """Ingest without ANALYZE, then EXPLAIN and run the read query of logs estimate under a timeout."""
    log = DecisionLog(url)
    log.analyze_after_ingest = False
    t = time.perf_counter()
    log.ingest(path)
    ingest_s = time.perf_counter() - t
    comp = log.steps_query().compile(dialect=log.engine.dialect, compile_kwargs={"render_postcompile": True})
    raw = log.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("EXPLAIN (FORMAT JSON) " + str(comp), comp.params)
        plan = cur.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        text = json.dumps(plan)
        rows = _scan_rows(plan[0]["Plan"], "decision_snapshots")
        cur.execute(f"SET statement_timeout = {int(timeout_s * 1000)}")
        t = time.perf_counter()
        try:
            cur.execute(str(comp), comp.params)
            cur.fetchall()
            done, wall = True, time.perf_counter() - t
        except Exception:  # noqa: BLE001 - the statement timeout is the expected outcome
            done, wall = False, time.perf_counter() - t
        raw.rollback()
    finally:
        raw.close()
        log.close()
    return {"ingest_s": ingest_s, "nested_loop": "Nested Loop" in text, "estimated_decision_rows": rows,
            "finished": done, "wall_s": wall, "timeout_s": timeout_s}


def _same_spec(a: Path, b: Path) -> bool:
    """The two estimated specs agree (all but the name, which names the database) to 1e-9."""
    import yaml

    x, y = (yaml.safe_load(p.read_text()) for p in (a, b))
    x.pop("name", None)
    y.pop("name", None)

    def close(u: Any, v: Any) -> bool:
        if isinstance(u, dict) and isinstance(v, dict):
            return u.keys() == v.keys() and all(close(u[k], v[k]) for k in u)
        if isinstance(u, list) and isinstance(v, list):
            return len(u) == len(v) and all(close(p, q) for p, q in zip(u, v, strict=True))
        if isinstance(u, float) or isinstance(v, float):
            return abs(float(u) - float(v)) <= 1e-9 * max(1.0, abs(float(u)))
        return bool(u == v)

    return close(x, y)


def _scan_rows(node: dict[str, Any], table: str) -> int | None:
    if node.get("Relation Name") == table:
        return int(node.get("Plan Rows", 0))
    for child in node.get("Plans", []):
        found = _scan_rows(child, table)
        if found is not None:
            return found
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--decisions", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--before-timeout", type=float, default=30.0)
    args = ap.parse_args()
    base = os.environ.get("ACCESSRL_BENCH_POSTGRES_URL") or os.environ.get("ACCESSRL_TEST_POSTGRES_URL")
    if not base:
        raise SystemExit("set ACCESSRL_BENCH_POSTGRES_URL (or ACCESSRL_TEST_POSTGRES_URL) to a PostgreSQL database")
    load_before = os.getloadavg()[0]
    mdp = access_review_abandonment()
    n_requests = int(args.decisions / 1.7)  # about 1.7 decisions per request under this behavior
    gen = simulate_logs(mdp, uniform_policy(mdp), n_requests=n_requests, start_us=to_us("2026-01-05"),
                        rng=np.random.default_rng(0), epsilon=0.1, config=LogConfig(arrivals_per_hour=20.0))
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1)
                             if base.startswith("postgresql://") else base)
    schemas = []
    with tempfile.TemporaryDirectory(prefix="accessrl-pg-bench-") as tmp:
        path = Path(tmp) / "log.jsonl"
        write_generated_file(gen, mdp, path)
        sqlite_db = str(Path(tmp) / "log.db")
        pg_url, schema = _schema_url(base, admin, "bench_after")
        schemas.append(schema)
        ingest = {"sqlite": _run(["logs", "ingest", str(path), "--db", sqlite_db]),
                  "postgresql": _run(["logs", "ingest", str(path), "--db", pg_url])}
        times: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
        for i in range(args.repeats):
            for name, db in (("sqlite", sqlite_db), ("postgresql", pg_url)):
                times[name].append(_run(["logs", "estimate", "--db", db, "--out", str(Path(tmp) / f"{name}{i}.yaml")]))
        same = _same_spec(Path(tmp) / "sqlite0.yaml", Path(tmp) / "postgresql0.yaml")
        before_url, before_schema = _schema_url(base, admin, "bench_before")
        schemas.append(before_schema)
        old = before(before_url, path, args.before_timeout)
    with admin.begin() as c:
        for s in schemas:
            c.exec_driver_sql(f'DROP SCHEMA "{s}" CASCADE')
    admin.dispose()
    load_after = os.getloadavg()[0]
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["postgresql"] / med["sqlite"]
    result = {"decisions": int(gen.steps.n_steps), "requests": n_requests, "repeats": args.repeats,
              "ingest_s": ingest, "estimate_s": times, "median_s": med, "ratio_pg_over_sqlite": ratio,
              "same_spec": same, "before": old, "load_average": [load_before, load_after],
              "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pg_estimate.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# `logs estimate` on PostgreSQL beside SQLite, after `logs ingest`",
        "",
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} logical CPUs; 1-minute load "
        f"average {load_before:.1f} before, {load_after:.1f} after (the machine is shared with other work: wall "
        f"times are noisy, the ratio less so). {gen.steps.n_steps:,} decisions ({n_requests:,} requests); each "
        f"command a child process, SQLite and PostgreSQL interleaved, medians of {args.repeats}.",
        "",
        "| database | logs ingest s | logs estimate s (median) | runs |",
        "|---|---:|---:|---|",
        *[f"| {k} | {ingest[k]:.1f} | {med[k]:.2f} | {', '.join(f'{x:.2f}' for x in times[k])} |" for k in times],
        "",
        f"- Goal: PostgreSQL within 1.5x of SQLite: **{ratio:.2f}x** — {'MET' if ratio <= 1.5 else 'MISSED'}.",
        f"- The two estimated specs are {'the same' if same else 'DIFFERENT'} (every field but the name, numbers "
        "to 1e-9).",
        f"- Before (the same log ingested without ANALYZE, as a bare COPY leaves it): the planner estimated "
        f"{old['estimated_decision_rows']} rows for the decision table, "
        f"{'chose a nested loop' if old['nested_loop'] else 'chose no nested loop'}, and the read query "
        + (f"finished in {old['wall_s']:.1f} s." if old["finished"]
           else f"had not finished after {old['timeout_s']:.0f} s (cancelled by statement_timeout)."),
    ]
    (RESULTS / "pg_estimate.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
