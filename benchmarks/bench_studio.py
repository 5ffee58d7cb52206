"""How fast the studio answers each interaction, as the browser sees it (HTTP on loopback).

The studio runs as its own process (``accessrl studio --port 0 --db ...``, as a learner starts
it); this process is the client, with one keep-alive connection, like a browser tab.  Every
interaction a page sends (the lesson's defaults, plus a moved slider or an edited spec) is
timed in each repeat, all interactions interleaved within a repeat so that drift in the
machine's load hits them alike; the table gives the median and the worst of the repeats.
Beside each, the library call alone (the lab function, in this process) and the floor: the
same server answering a static file (HTTP, routing and keep-alive only).

Usage: ``python benchmarks/bench_studio.py [--repeats 15]``.  Writes
``benchmarks/results/studio.md`` and ``studio.json``.  Target: every interaction < 100 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "src"))

from accessrl.lesson.exercises import STARTERS  # noqa: E402
from accessrl.studio import editor, labs  # noqa: E402

SPEC = editor.spec_text("access-review-abandonment")

INTERACTIONS: list[tuple[str, str, str, Any, Callable[[], Any] | None]] = [
    # (label, method, path, JSON body, the library call alone)
    ("floor: static file", "GET", "/static/studio.css", None, None),
    ("returns: edit gamma", "POST", "/api/lab/returns", {"gamma": 0.5}, lambda: labs.returns_lab(gamma=0.5)),
    ("bellman backup", "POST", "/api/lab/bellman-backup", {}, labs.bellman_backup_lab),
    ("value iteration: every sweep", "POST", "/api/lab/value-iteration", {}, labs.value_iteration_lab),
    ("abandonment slider p = 0.045", "POST", "/api/lab/abandonment", {"p": 0.045}, lambda: labs.abandonment_lab(0.045)),
    ("Monte Carlo 2 x 10,000 episodes", "POST", "/api/lab/monte-carlo", {}, labs.monte_carlo_lab),
    ("Q-learning 20,000 episodes", "POST", "/api/lab/q-learning", {}, labs.q_learning_lab),
    ("exploration slider eps = 0", "POST", "/api/lab/exploration", {"epsilon": 0.0}, lambda: labs.exploration_lab(0.0)),
    ("reward design: your weights", "POST", "/api/lab/reward-design", {"weights": {"resolved": 100, "delay_days": -10}},
     lambda: labs.reward_design_lab({"resolved": 100, "delay_days": -10})),
    ("policy gradient: 20 steps", "POST", "/api/lab/policy-gradient", {"steps": 20}, lambda: labs.policy_gradient_lab(steps=20)),
    ("held-out: 2,000 requests", "POST", "/api/lab/held-out", {}, labs.held_out_lab_data),
    ("editor: solve as you type", "POST", "/api/editor/solve", {"text": SPEC}, lambda: editor.solve_text(SPEC)),
    ("editor: broken spec", "POST", "/api/editor/solve", {"text": SPEC.replace("p: 0.75", "p: 0.7")},
     lambda: editor.solve_text(SPEC.replace("p: 0.75", "p: 0.7"))),
    ("exercise 1", "POST", "/api/exercise/1", {"answer": STARTERS[1]}, None),
    ("exercise 2 (audit)", "POST", "/api/exercise/2", {"answer": STARTERS[2]}, None),
    ("exercise 3", "POST", "/api/exercise/3", {"answer": STARTERS[3]}, None),
    ("quiz: check one answer", "POST", "/api/quiz/check", {"index": 4, "answer": "a"}, None),
    ("quiz: submit ten answers", "POST", "/api/quiz/submit", {"answers": ["a"] * 10}, None),
    ("progress", "GET", "/api/progress", None, None),
    ("engineer view (1,500-request log; cached until it changes)", "GET", "/api/engineer", None, None),
]


def start_studio(db: str, data: str) -> tuple[subprocess.Popen[str], str, int]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), ACCESSRL_DATA_DIR=data)
    proc = subprocess.Popen([sys.executable, "-m", "accessrl", "studio", "--port", "0", "--db", db],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    m = re.search(r"http://(127\.0\.0\.1):(\d+)/", proc.stdout.readline())
    if not m:
        proc.kill()
        raise SystemExit("the studio did not start")
    return proc, m.group(1), int(m.group(2))


def call(conn: http.client.HTTPConnection, method: str, path: str, body: Any) -> float:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    t0 = time.perf_counter()
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    payload = resp.read()
    dt = time.perf_counter() - t0
    if resp.status != 200:
        raise SystemExit(f"{method} {path}: {resp.status} {payload[:200]!r}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-studio-") as tmp:
        db = str(Path(tmp) / "logs.db")
        subprocess.run([sys.executable, "-m", "accessrl", "logs", "generate", "--model", "catalog:access-review-abandonment",
                        "--behavior", "uniform", "--epsilon", "0.1", "--requests", "1500", "--start", "2026-01-05",
                        "--seed", "1", "--db", db], check=True, capture_output=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
        proc, host, port = start_studio(db, str(Path(tmp) / "data"))
        try:
            conn = http.client.HTTPConnection(host, port, timeout=60)
            conn.connect()
            # As browsers do: no Nagle delay on small requests (otherwise ~40 ms per call is delayed ACKs).
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            first: dict[str, float] = {}
            for label, method, path, body, fn in INTERACTIONS:  # warm-up: imports and the studio's caches fill
                first[label] = call(conn, method, path, body)
                if fn is not None:
                    fn()
            load_before = os.getloadavg()
            http_t: dict[str, list[float]] = {label: [] for label, *_ in INTERACTIONS}
            lib_t: dict[str, list[float]] = {label: [] for label, *_ in INTERACTIONS}
            for _ in range(args.repeats):
                for label, method, path, body, fn in INTERACTIONS:
                    http_t[label].append(call(conn, method, path, body))
                    if fn is not None:
                        t0 = time.perf_counter()
                        fn()
                        lib_t[label].append(time.perf_counter() - t0)
            load_after = os.getloadavg()
            conn.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    rows = []
    for label, *_ in INTERACTIONS:
        h = [1000 * x for x in http_t[label]]
        lib = [1000 * x for x in lib_t[label]]
        rows.append({"interaction": label, "first_ms": 1000 * first[label], "median_ms": statistics.median(h),
                     "max_ms": max(h), "library_median_ms": statistics.median(lib) if lib else None})
    worst = max(r["median_ms"] for r in rows)
    slowest_max = max(r["max_ms"] for r in rows)
    meta = {"repeats": args.repeats, "load_before": load_before, "load_after": load_after,
            "cpus": os.cpu_count(), "python": platform.python_version()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "studio.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    lines = [
        "# Studio interactions on loopback",
        "",
        f"`accessrl studio` (uvicorn, 1 worker) in its own process; one keep-alive HTTP client; "
        f"{args.repeats} interleaved repeats after one warm-up call each; {meta['cpus']} CPUs, Python "
        f"{meta['python']}; 1-minute load average {load_before[0]:.2f} before and {load_after[0]:.2f} after "
        "(the machine is shared with other work).",
        "Times are the full round trip as a browser tab sees it (request, library computation, JSON); "
        "\"library\" is the lab's function alone in the client process; the floor is a static file. The first call "
        "of each interaction is shown apart: it fills the studio's caches (the abandonment curve, the quiz's "
        "questions, exercise 1's breakeven, the engineer's view until the log changes).",
        "",
        "| interaction | first call ms | median ms | worst ms | library median ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lib = "" if r["library_median_ms"] is None else f"{r['library_median_ms']:.1f}"
        lines.append(f"| {r['interaction']} | {r['first_ms']:.1f} | {r['median_ms']:.1f} | {r['max_ms']:.1f} | {lib} |")
    lines += ["", f"Slowest median: {worst:.1f} ms; slowest single call: {slowest_max:.1f} ms. "
              f"Target: every interaction under 100 ms ({'met' if worst < 100 else 'NOT met'} at the median, "
              f"{'met' if slowest_max < 100 else 'not met'} for every single call)."]
    (RESULTS / "studio.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
