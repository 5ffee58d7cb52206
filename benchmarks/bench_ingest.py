"""``logs ingest`` beside the bare insert floor of each database, in one run.

A log of the lesson's abandonment workflow (uniform behaviour, epsilon 0.1) is written as
JSON lines and as Parquet: every decision is one snapshot record and one outcome record.

Contenders, each into a fresh database (a new SQLite file in WAL mode, or a new
PostgreSQL schema), every batch of 50,000 records in one transaction:

* **SQLite floor** — the rows already built as tuples (parsing and validation done before
  the clock starts), written by ``sqlite3`` alone: ``INSERT OR IGNORE`` with 100 rows per
  statement into the same tables, keys and indexes;
* **PostgreSQL floor** — the same tuples written by psycopg 3's ``COPY ... FROM STDIN``
  straight into the tables (no idempotency: a repeated id would fail the batch);
* **accessrl ingest** of the JSONL and of the Parquet file: reading, the full validation
  (the same checks on both databases), idempotent inserts that report duplicates and
  conflicts apart, line-numbered rejects.

Repeats are interleaved (contender A, B, C, A, B, C, ...); medians of wall time and of this
process's CPU time (PostgreSQL's own work happens in its server processes, so its CPU
column counts the client only).  The 1-minute load average is recorded before and after.

Usage: ``python benchmarks/bench_ingest.py [--requests 50000] [--repeats 3] [--postgres URL]``
(the URL defaults to ``ACCESSRL_TEST_POSTGRES_URL``; without one the PostgreSQL rows are
skipped).  Writes ``benchmarks/results/ingest.md`` and ``ingest.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from accessrl.catalog.lesson import access_review_abandonment
from accessrl.model.policies import uniform_policy
from accessrl.offline.logsim import simulate_logs
from accessrl.storage import DecisionLog
from accessrl.storage.files import read_records
from accessrl.storage.generated import write_generated_file
from accessrl.storage.records import decision_row, outcome_row
from accessrl.storage.schema import DECISION_COLUMNS, OUTCOME_COLUMNS
from accessrl.storage.times import to_us

RESULTS = Path(__file__).resolve().parent / "results"
BATCH = 50_000
SQLITE_GOAL = 0.8
PG_GOAL = 100_000


def prebuilt(path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Validated row tuples of a log file (outside the timed region)."""
    dec, out = [], []
    for _, rec in read_records(path):
        if rec["record"] == "decision":
            dec.append(decision_row(rec))
        else:
            o = outcome_row(rec)
            o["episode_id"] = rec["episode_id"]
            out.append(tuple(o[c] for c in OUTCOME_COLUMNS))
    return dec, out


def batches(rows: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]) -> list[tuple[list[Any], list[Any]]]:
    """The floors commit as accessrl does: decisions and their outcomes, 50,000 records per transaction."""
    dec, out = rows
    half = BATCH // 2
    return [(dec[i : i + half], out[i : i + half]) for i in range(0, len(dec), half)]


def sqlite_floor(rows: Any, db: Path) -> int:
    DecisionLog(str(db)).close()  # the same tables, keys and indexes
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA cache_size=-65536")
    k = 100
    for dec, out in batches(rows):
        con.execute("BEGIN")
        for table, cols, data in (("decision_snapshots", DECISION_COLUMNS, dec), ("outcome_events", OUTCOME_COLUMNS, out)):
            one = "(" + ",".join("?" * len(cols)) + ")"
            head = f"INSERT OR IGNORE INTO {table} ({','.join(cols)}) VALUES "
            full = head + ",".join([one] * k)
            for i in range(0, len(data), k):
                part = data[i : i + k]
                con.execute(full if len(part) == k else head + ",".join([one] * len(part)),
                            list(itertools.chain.from_iterable(part)))
        con.execute("COMMIT")
    con.close()
    return len(rows[0])


def pg_schema(url: str) -> tuple[DecisionLog, str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    return DecisionLog(url, schema=schema), schema


def pg_floor(rows: Any, url: str) -> int:
    import psycopg

    log, schema = pg_schema(url)
    dsn = log.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(dsn) as con, con.cursor() as cur:
            for dec, out in batches(rows):
                for table, cols, data in (("decision_snapshots", DECISION_COLUMNS, dec),
                                          ("outcome_events", OUTCOME_COLUMNS, out)):
                    with cur.copy(f'COPY "{schema}".{table} ({", ".join(cols)}) FROM STDIN') as copy:
                        for row in data:
                            copy.write_row(row)
                con.commit()
        return int(log.counts()["decision_snapshots"])
    finally:
        log.drop_schema()
        log.close()


def pg_ingest(path: Path, url: str) -> int:
    log, _ = pg_schema(url)
    try:
        res = log.ingest(path)
        assert res.rejected_total == 0 and res.conflict_total == 0
        return res.decisions_inserted
    finally:
        log.drop_schema()
        log.close()


def sqlite_ingest(path: Path, db: Path) -> int:
    log = DecisionLog(str(db))
    res = log.ingest(path)
    log.close()
    assert res.rejected_total == 0 and res.conflict_total == 0
    return res.decisions_inserted


def timed(fn: Callable[[], int]) -> tuple[float, float, int]:
    w0, c0 = time.perf_counter(), time.process_time()
    n = fn()
    return time.perf_counter() - w0, time.process_time() - c0, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--postgres", default=os.environ.get("ACCESSRL_TEST_POSTGRES_URL"))
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    mdp = access_review_abandonment()
    log = simulate_logs(mdp, uniform_policy(mdp), n_requests=args.requests, start_us=to_us("2026-01-05"),
                        rng=np.random.default_rng(0), epsilon=0.1)
    n = log.steps.n_steps
    jsonl, parquet = tmp / "log.jsonl", tmp / "log.parquet"
    write_generated_file(log, mdp, jsonl)
    write_generated_file(log, mdp, parquet)
    rows = prebuilt(jsonl)

    def fresh() -> Path:
        return tmp / f"{uuid.uuid4().hex}.db"

    contenders: dict[str, tuple[str, Callable[[], int]]] = {
        "SQLite floor: sqlite3, prebuilt tuples, 100-row INSERT OR IGNORE": ("sqlite", lambda: sqlite_floor(rows, fresh())),
        "SQLite: accessrl logs ingest (JSONL)": ("sqlite", lambda: sqlite_ingest(jsonl, fresh())),
        "SQLite: accessrl logs ingest (Parquet)": ("sqlite", lambda: sqlite_ingest(parquet, fresh())),
    }
    if args.postgres:
        pg = args.postgres
        contenders |= {
            "PostgreSQL floor: psycopg COPY of prebuilt tuples": ("postgresql", lambda: pg_floor(rows, pg)),
            "PostgreSQL: accessrl logs ingest (JSONL)": ("postgresql", lambda: pg_ingest(jsonl, pg)),
            "PostgreSQL: accessrl logs ingest (Parquet)": ("postgresql", lambda: pg_ingest(parquet, pg)),
        }
    walls: dict[str, list[float]] = {k: [] for k in contenders}
    cpus: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(args.repeats):  # interleaved repeats
        for name, (_db, fn) in contenders.items():
            w, c, stored = timed(fn)
            assert stored == n, (name, stored, n)
            walls[name].append(w)
            cpus[name].append(c)
    load_after = os.getloadavg()[0]
    out = []
    for name, (db, _) in contenders.items():
        w, c = statistics.median(walls[name]), statistics.median(cpus[name])
        out.append({"contender": name, "database": db, "decisions": n, "wall_s": w, "cpu_s": c,
                    "per_s_wall": n / w, "per_s_cpu": n / c, "walls": walls[name], "cpus": cpus[name]})
    floors = {r["database"]: r for r in out if "floor" in r["contender"]}
    for r in out:
        f = floors[r["database"]]
        r["vs_floor_wall"] = r["per_s_wall"] / f["per_s_wall"]
        r["vs_floor_cpu"] = r["per_s_cpu"] / f["per_s_cpu"]
    versions = f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, SQLAlchemy {sa.__version__}"
    lines = [
        "# Decision-log ingest beside the insert floor of each database",
        "",
        f"{versions}, {platform.machine()}, {os.cpu_count()} logical CPUs; 1-minute load average {load_before:.1f} "
        f"before, {load_after:.1f} after (the machine is shared). {n:,} decisions = {2 * n:,} records "
        f"(one snapshot and one outcome each); medians of {args.repeats} interleaved repeats; every batch of "
        f"{BATCH:,} records in one transaction.",
        "",
        "| contender | wall s | CPU s (this process) | decisions/s (wall) | decisions/s (CPU) | vs floor (wall) | "
        "vs floor (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in out:
        lines.append(f"| {r['contender']} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['per_s_wall']:,.0f} | "
                     f"{r['per_s_cpu']:,.0f} | {r['vs_floor_wall']:.2f}x | {r['vs_floor_cpu']:.2f}x |")
    lines.append("")
    best_sqlite = max((r for r in out if r["database"] == "sqlite" and "floor" not in r["contender"]),
                      key=lambda r: r["vs_floor_wall"])
    lines.append(f"- Goal SQLite >= {SQLITE_GOAL}x the floor: best {best_sqlite['contender']} "
                 f"{best_sqlite['vs_floor_wall']:.2f}x wall, {best_sqlite['vs_floor_cpu']:.2f}x CPU — "
                 f"{'met' if best_sqlite['vs_floor_wall'] >= SQLITE_GOAL else 'MISSED'} (wall).")
    pgs = [r for r in out if r["database"] == "postgresql" and "floor" not in r["contender"]]
    if pgs:
        best_pg = max(pgs, key=lambda r: r["per_s_wall"])
        lines.append(f"- Goal PostgreSQL >= {PG_GOAL:,} decisions/s by COPY: best {best_pg['contender']} "
                     f"{best_pg['per_s_wall']:,.0f}/s wall ({best_pg['vs_floor_wall']:.2f}x the COPY floor) — "
                     f"{'met' if best_pg['per_s_wall'] >= PG_GOAL else 'MISSED'}.")
    lines += ["", "The floors do no parsing and no validation (their tuples were built before the clock started), "
              "and the PostgreSQL floor is not idempotent; accessrl does both, with the same checks on both databases."]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / "ingest.json").write_text(json.dumps({"load_before": load_before, "load_after": load_after,
                                                     "rows": out}, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
