"""Decision logs: SQLite ingest rate and the estimators over 10 million logged decisions.

Part A, ingest (target: >= 100,000 decision events/s into SQLite, nothing lost on
a repeated or interrupted ingest).  A log of the lesson's abandonment workflow is drawn
with :func:`accessrl.offline.logsim.simulate_logs` (uniform behaviour, epsilon 0.1) and written
as JSON lines and Parquet: every decision is one snapshot record plus one outcome
record.  Contenders, each into a fresh SQLite file in WAL mode:

* ``accessrl ingest`` of the JSONL and of the Parquet file (validation, idempotent
  inserts, line-numbered rejects, one transaction per 50,000 records);
* a hand-written loader: ``json.loads`` per line and ``executemany`` of plain INSERTs
  into the same tables (no validation, not idempotent) — what one would write first;
* the insert floor: ``executemany`` of already-built row tuples, nothing else.

Then the same file is ingested again (every record must be reported as already stored)
and an ingest is interrupted in its third batch and rerun (the counts must equal a clean
ingest).

Part B, estimators (target: all of them over 10 million logged decisions in under 60 s
and 4 GB): in a child process, 10 M decisions are simulated (not timed), then timed:
model estimation with Wilson intervals, the temporal split with leakage checks, held-out
evaluation of one candidate (model-based, IS, WIS, PDIS, DR, 1,000 bootstrap resamples
each and 1,000 parametric ones for the model-based interval), fitted Q-iteration and
SPIBB.  The child's peak resident memory (``ru_maxrss``) covers the log itself too.
The competitor is a plain Python per-episode loop computing only the IS estimate,
timed on the first 200,000 decisions and scaled linearly.

Medians of ``--repeats`` runs; wall and CPU time (``time.process_time``) are both shown
because other work may share the machine.

Usage: ``python benchmarks/bench_logs.py [--requests 100000] [--decisions 10000000] [--repeats 3] [--quick]``.
Writes ``benchmarks/results/logs.md`` and ``logs.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from accessrl.catalog.lesson import access_review_abandonment
from accessrl.model.policies import uniform_policy
from accessrl.offline.logsim import simulate_logs
from accessrl.storage import DecisionLog
from accessrl.storage.generated import write_generated_file
from accessrl.storage.records import json_loads
from accessrl.storage.schema import DECISION_COLUMNS, OUTCOME_COLUMNS
from accessrl.storage.store import DecisionLog as _DL
from accessrl.storage.times import to_us

RESULTS = Path(__file__).resolve().parent / "results"
INGEST_TARGET = 100_000
EST_SECONDS, EST_GB = 60.0, 4.0


def _timed(fn: Any) -> tuple[float, float, Any]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def _fresh(tmp: Path, name: str) -> Path:
    p = tmp / f"{name}-{time.perf_counter_ns()}.db"
    return p


def naive_loader(path: Path, db: Path) -> int:
    """json.loads per line, plain INSERTs (what one writes first); returns decisions stored."""
    DecisionLog(str(db)).close()  # same tables
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    dec, out = [], []
    with path.open("rb") as fh:
        for line in fh:
            r = json.loads(line)
            if r["record"] == "decision":
                dec.append(tuple(json.dumps(r[c]) if isinstance(r.get(c), (dict, list)) else r.get(c)
                                 for c in DECISION_COLUMNS))
            else:
                r.setdefault("severe", False)
                r.setdefault("truncated", False)
                out.append(tuple(json.dumps(r[c]) if isinstance(r.get(c), (dict, list)) else r.get(c, None)
                                 for c in OUTCOME_COLUMNS))
    con.executemany(f"INSERT INTO decision_snapshots VALUES ({','.join('?' * len(DECISION_COLUMNS))})", dec)
    con.executemany(f"INSERT INTO outcome_events ({','.join(OUTCOME_COLUMNS)}) "
                    f"VALUES ({','.join('?' * len(OUTCOME_COLUMNS))})", out)
    con.commit()
    con.close()
    return len(dec)


def insert_floor(rows: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]], db: Path) -> int:
    DecisionLog(str(db)).close()
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.executemany(f"INSERT INTO decision_snapshots VALUES ({','.join('?' * len(DECISION_COLUMNS))})", rows[0])
    con.executemany(f"INSERT INTO outcome_events ({','.join(OUTCOME_COLUMNS)}) "
                    f"VALUES ({','.join('?' * len(OUTCOME_COLUMNS))})", rows[1])
    con.commit()
    con.close()
    return len(rows[0])


def insert_floor_multirow(rows: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]], db: Path,
                          k: int = 100, bare: bool = False) -> int:
    """The floor of the statement accessrl uses: INSERT OR IGNORE with k rows per statement."""
    import itertools

    if bare:  # the same columns without any key, index or constraint, in memory: SQLite + sqlite3 alone
        con = sqlite3.connect(":memory:")
        con.execute(f"CREATE TABLE decision_snapshots ({','.join(DECISION_COLUMNS)})")
        con.execute(f"CREATE TABLE outcome_events (outcome_id INTEGER PRIMARY KEY, {','.join(OUTCOME_COLUMNS)})")
    else:
        DecisionLog(str(db)).close()
        con = sqlite3.connect(db)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
    for table, cols, data in (("decision_snapshots", DECISION_COLUMNS, rows[0]),
                              ("outcome_events", OUTCOME_COLUMNS, rows[1])):
        one = "(" + ",".join("?" * len(cols)) + ")"
        head = f"INSERT OR IGNORE INTO {table} ({','.join(cols)}) VALUES "
        for i in range(0, len(data), k):
            part = data[i : i + k]
            con.execute(head + ",".join([one] * len(part)), list(itertools.chain.from_iterable(part)))
    con.commit()
    con.close()
    return len(rows[0])


def prebuilt_rows(path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    dec, out = [], []
    with path.open("rb") as fh:
        for line in fh:
            r = json_loads(line)
            if r["record"] == "decision":
                dec.append(tuple(json.dumps(r[c]) if isinstance(r.get(c), (dict, list)) else r.get(c)
                                 for c in DECISION_COLUMNS))
            else:
                r.setdefault("severe", False)
                r.setdefault("truncated", False)
                out.append(tuple(json.dumps(r[c]) if isinstance(r.get(c), (dict, list)) else r.get(c)
                                 for c in OUTCOME_COLUMNS))
    return dec, out


def bench_ingest(requests: int, repeats: int, tmp: Path) -> dict[str, Any]:
    mdp = access_review_abandonment()
    log = simulate_logs(mdp, uniform_policy(mdp), n_requests=requests, start_us=to_us("2026-01-05"),
                        rng=np.random.default_rng(0), epsilon=0.1)
    n = log.steps.n_steps
    jsonl, parquet = tmp / "log.jsonl", tmp / "log.parquet"
    write_generated_file(log, mdp, jsonl)
    write_generated_file(log, mdp, parquet)
    rows = prebuilt_rows(jsonl)
    contenders = {
        "accessrl ingest (JSONL)": lambda: DecisionLog(str(_fresh(tmp, "a"))).ingest(jsonl).decisions_inserted,
        "accessrl ingest (Parquet)": lambda: DecisionLog(str(_fresh(tmp, "p"))).ingest(parquet).decisions_inserted,
        "hand-written loader (json + INSERT)": lambda: naive_loader(jsonl, _fresh(tmp, "n")),
        "insert floor (prebuilt tuples, one-row executemany)": lambda: insert_floor(rows, _fresh(tmp, "f")),
        "insert floor (prebuilt tuples, 100-row INSERT OR IGNORE)": lambda: insert_floor_multirow(rows, _fresh(tmp, "m")),
        "bare floor (same, no keys or indexes, :memory:)": lambda: insert_floor_multirow(rows, _fresh(tmp, "b"),
                                                                                        bare=True),
    }
    out: list[dict[str, Any]] = []
    for name, fn in contenders.items():
        walls, cpus = [], []
        for _ in range(repeats):
            w, c, stored = _timed(fn)
            assert stored == n, (name, stored, n)
            walls.append(w)
            cpus.append(c)
        out.append({"contender": name, "decisions": n, "records": 2 * n, "wall_s": statistics.median(walls),
                    "cpu_s": statistics.median(cpus), "decisions_per_s_wall": n / statistics.median(walls),
                    "decisions_per_s_cpu": n / statistics.median(cpus)})
    # nothing lost or duplicated: the same file twice; an interrupted ingest rerun
    db = DecisionLog(str(_fresh(tmp, "twice")))
    first = db.ingest(jsonl)
    second = db.ingest(jsonl)
    twice_ok = (first.decisions_inserted == n and second.decisions_inserted == 0 and second.decisions_duplicate == n
                and second.outcomes_duplicate == n and db.counts() == {"decision_snapshots": n, "outcome_events": n})
    db2 = DecisionLog(str(_fresh(tmp, "interrupted")))
    real, calls = _DL._insert, {"n": 0}

    def flaky(self: Any, conn: Any, d: Any, o: Any) -> Any:
        calls["n"] += 1
        res = real(self, conn, d, [])
        if calls["n"] == 3:
            raise KeyboardInterrupt("simulated crash in the third batch")
        return res[0], real(self, conn, [], o)[1]

    small = max(1_000, n // 5)  # at least five batches, so the crash lands mid-file
    _DL._insert = flaky  # type: ignore[method-assign]
    try:
        db2.ingest(jsonl, batch_size=small)
    except KeyboardInterrupt:
        pass
    finally:
        _DL._insert = real  # type: ignore[method-assign]
    after_crash = db2.counts()
    db2.ingest(jsonl, batch_size=small)
    interrupted_ok = db2.counts() == {"decision_snapshots": n, "outcome_events": n} and \
        after_crash["decision_snapshots"] == after_crash["outcome_events"] < n
    return {"rows": out, "twice_ok": twice_ok, "interrupted_ok": interrupted_ok,
            "after_crash": after_crash, "decisions": n}


def estimators_child(decisions: int, out_path: str) -> None:
    from accessrl.model.policies import pair_probabilities
    from accessrl.offline.batch import fitted_q_iteration, spibb
    from accessrl.offline.estimation import estimate_model
    from accessrl.offline.ope import evaluate_policy
    from accessrl.offline.splits import default_cutoffs, temporal_split
    from accessrl.planning.exact import policy_iteration

    mdp = access_review_abandonment()
    requests = int(decisions / 1.71) + 1  # about 1.71 decisions per request with this behaviour
    t0 = time.perf_counter()
    steps = simulate_logs(mdp, uniform_policy(mdp), n_requests=requests, start_us=0,
                          rng=np.random.default_rng(1), epsilon=0.1).steps
    gen_s = time.perf_counter() - t0
    pol = policy_iteration(mdp).policy
    target = np.zeros((mdp.n_states, mdp.n_actions))
    target[mdp.sa_state, mdp.sa_action] = pair_probabilities(mdp, pol)
    rng = np.random.default_rng(2)
    timings: dict[str, float] = {}
    w0, c0 = time.perf_counter(), time.process_time()

    def lap(name: str, fn: Any) -> Any:
        t = time.perf_counter()
        res = fn()
        timings[name] = time.perf_counter() - t
        return res

    lap("estimate model (Wilson intervals)", lambda: estimate_model(steps, gamma=0.9))
    split = lap("temporal split + leakage checks", lambda: temporal_split(steps, default_cutoffs(steps)))
    rep = lap("model-based + IS + WIS + PDIS + DR with bootstrap CIs",
              lambda: evaluate_policy(split.test, target, gamma=0.9, rng=rng, train=split.train, n_boot=1000))
    lap("fitted Q-iteration (train)", lambda: fitted_q_iteration(split.train, gamma=0.9))
    lap("SPIBB (train, N=100)", lambda: spibb(split.train, gamma=0.9, n_wedge=100))
    total_wall, total_cpu = time.perf_counter() - w0, time.process_time() - c0
    # competitor: a plain per-episode Python loop, IS only, on the first 200,000 decisions
    m = min(200_000, steps.n_steps)
    ep, st, ac, pr, rw = (x[:m].tolist() for x in (steps.episode, steps.state, steps.action, steps.propensity,
                                                     steps.reward))
    t = time.perf_counter()
    total, count, w, g, disc, cur = 0.0, 0, 1.0, 0.0, 1.0, ep[0]
    for i in range(m):
        if ep[i] != cur:
            total += w * g
            count += 1
            w, g, disc, cur = 1.0, 0.0, 1.0, ep[i]
        w *= target[st[i], ac[i]] / pr[i]
        g += disc * rw[i]
        disc *= 0.9
    loop_s = (time.perf_counter() - t) * steps.n_steps / m
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    Path(out_path).write_text(json.dumps({
        "decisions": int(steps.n_steps), "episodes": int(steps.n_episodes), "generate_s": gen_s,
        "timings": timings, "total_wall_s": total_wall, "total_cpu_s": total_cpu, "peak_rss_gb": peak_gb,
        "python_loop_is_only_s_extrapolated": loop_s,
        "estimates": {e.name: None if e.estimate is None else e.estimate.__dict__ for e in rep.estimates},
    }))


def bench_estimators(decisions: int, repeats: int, tmp: Path) -> dict[str, Any]:
    runs = []
    for i in range(repeats):
        path = tmp / f"est-{i}.json"
        subprocess.run([sys.executable, __file__, "--estimators-child", str(decisions), str(path)], check=True)
        runs.append(json.loads(path.read_text()))
    best = sorted(runs, key=lambda r: r["total_wall_s"])[len(runs) // 2]
    best["median_total_wall_s"] = statistics.median(r["total_wall_s"] for r in runs)
    best["median_total_cpu_s"] = statistics.median(r["total_cpu_s"] for r in runs)
    best["max_peak_rss_gb"] = max(r["peak_rss_gb"] for r in runs)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--decisions", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--estimators-child", nargs=2)
    args = ap.parse_args()
    if args.estimators_child:
        estimators_child(int(args.estimators_child[0]), args.estimators_child[1])
        return
    if args.quick:
        args.requests, args.decisions, args.repeats = 20_000, 300_000, 1
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ingest = bench_ingest(args.requests, args.repeats, tmp)
        est = bench_estimators(args.decisions, args.repeats, tmp)
    load1 = os.getloadavg()[0]
    import sqlalchemy

    env = (f"Python {platform.python_version()}, numpy {np.__version__}, SQLAlchemy {sqlalchemy.__version__}, "
           f"SQLite {sqlite3.sqlite_version}, {platform.machine()}, {os.cpu_count()} logical CPUs; "
           f"load average {load0:.1f} before, {load1:.1f} after (other work shared the machine).")
    lines = ["# Decision logs: SQLite ingest and estimators at scale", "", env, "",
             f"## Ingest ({ingest['decisions']:,} decisions = {2 * ingest['decisions']:,} records; "
             f"medians of {args.repeats} runs)", "",
             "| contender | wall s | CPU s | decisions/s (wall) | decisions/s (CPU) | accessrl JSONL / this (CPU) |",
             "|---|---:|---:|---:|---:|---:|"]
    ref = ingest["rows"][0]["cpu_s"]
    for r in ingest["rows"]:
        lines.append(f"| {r['contender']} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['decisions_per_s_wall']:,.0f} | "
                     f"{r['decisions_per_s_cpu']:,.0f} | {ref / r['cpu_s']:.2f}x |")
    best = max(ingest["rows"][:2], key=lambda r: r["decisions_per_s_wall"])
    met = best["decisions_per_s_wall"] >= INGEST_TARGET
    lines += ["", f"- Target >= {INGEST_TARGET:,} decision events/s into SQLite: best accessrl path "
              f"{best['contender']} {best['decisions_per_s_wall']:,.0f}/s wall, {best['decisions_per_s_cpu']:,.0f}/s "
              f"CPU — {'met' if met else 'MISSED'}.",
              f"- The floors bound any loader with this schema in CPython's sqlite3: the 100-row insert floor alone "
              f"(no parsing, no validation) is {ingest['rows'][4]['decisions_per_s_wall']:,.0f}/s wall, "
              f"{ingest['rows'][4]['decisions_per_s_cpu']:,.0f}/s CPU, and even without any key or index, in memory, "
              f"{ingest['rows'][5]['decisions_per_s_wall']:,.0f}/s wall, {ingest['rows'][5]['decisions_per_s_cpu']:,.0f}"
              f"/s CPU (2 records, ~30 bound values per decision); {best['contender']} spends "
              f"{best['cpu_s'] - ingest['rows'][4]['cpu_s']:.2f} s CPU on top of the insert floor "
              f"(reading, validation, building rows).",
              f"- Same file ingested twice: {'nothing lost or duplicated' if ingest['twice_ok'] else 'FAILED'}.",
              f"- Ingest interrupted in its third batch (counts after the crash {ingest['after_crash']}), then rerun: "
              f"{'complete, nothing lost or duplicated' if ingest['interrupted_ok'] else 'FAILED'}.", "",
              f"## Estimators over {est['decisions']:,} logged decisions ({est['episodes']:,} episodes; child process, "
              f"median of {args.repeats})", "",
              "| step | wall s |", "|---|---:|"]
    for k, v in est["timings"].items():
        lines.append(f"| {k} | {v:.2f} |")
    lines += [f"| **all estimators** | **{est['median_total_wall_s']:.2f}** (CPU {est['median_total_cpu_s']:.2f}) |",
              f"| plain Python per-episode loop, IS only (extrapolated from 200,000 decisions) | "
              f"{est['python_loop_is_only_s_extrapolated']:.2f} |", "",
              f"Generating the log (not timed above): {est['generate_s']:.1f} s. Peak resident memory of the child, "
              f"log included: {est['max_peak_rss_gb']:.2f} GB.", "",
              f"- Target < {EST_SECONDS:.0f} s and < {EST_GB:.0f} GB: {est['median_total_wall_s']:.1f} s, "
              f"{est['max_peak_rss_gb']:.2f} GB — "
              f"{'met' if est['median_total_wall_s'] < EST_SECONDS and est['max_peak_rss_gb'] < EST_GB else 'MISSED'}."]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "logs.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "logs.json").write_text(json.dumps({"environment": env, "ingest": ingest, "estimators": est,
                                                   "args": vars(args)}, indent=2, default=str) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
