"""The held-out interval: accessrl's percentile bootstrap against ``scipy.stats.bootstrap``
(BCa and percentile), on the same weighted-importance-sampling estimate, in one run.

Data: decision logs of the lesson's abandonment workflow under a uniform behaviour policy
with epsilon 0.1 (``simulate_logs``, seed 1), ``n`` requests; the estimate is WIS of the
candidate that requests evidence first (then optimal), sum_i w_i G_i / sum_i w_i.
accessrl's ``bootstrap_ratio`` draws multinomial counts over the distinct (x_i, w_i) pairs
(tabular logs have few); scipy resamples the n episodes (paired), and BCa adds a jackknife
of n leave-one-out ratios.  Each contender gives a 95% interval from 1000 resamples; the
table shows the intervals, their difference from accessrl's, and the median wall and CPU
time over interleaved repeats.

Usage: ``python benchmarks/bench_bootstrap.py [--repeats 5]``.
Writes ``benchmarks/results/bootstrap.md`` and ``bootstrap.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from accessrl.catalog.lesson import access_review_abandonment
from accessrl.model import uniform_policy
from accessrl.offline.logsim import simulate_logs
from accessrl.offline.ope import bootstrap_ratio, episode_terms, target_matrix
from accessrl.planning.exact import policy_iteration

RESULTS = Path(__file__).resolve().parent / "results"
N_BOOT = 1000


def terms(n: int) -> tuple[np.ndarray, np.ndarray]:
    mdp = access_review_abandonment()
    log = simulate_logs(mdp, uniform_policy(mdp), n_requests=n, start_us=0, rng=np.random.default_rng(1), epsilon=0.1)
    opt = policy_iteration(mdp).policy
    mapping = {mdp.state_names[s]: mdp.action_names[int(opt[s])] for s in mdp.decision_states}
    mapping["new_request"] = "request_evidence"  # a candidate whose return varies (abandonment)
    target = target_matrix(log.steps.state_names, log.steps.action_names, mapping)
    x, w = episode_terms(log.steps, target, gamma=mdp.gamma).terms["wis"]
    return x, w


def contenders(x: np.ndarray, w: np.ndarray) -> dict[str, Callable[[], tuple[float, float]]]:
    def ours() -> tuple[float, float]:
        iv = bootstrap_ratio(x, w, rng=np.random.default_rng(0), n_boot=N_BOOT)
        return iv.low, iv.high

    def ratio(xs: np.ndarray, ws: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.sum(xs, axis=axis) / np.sum(ws, axis=axis)

    def scipy_method(method: str) -> Callable[[], tuple[float, float]]:
        def go() -> tuple[float, float]:
            res = stats.bootstrap((x, w), ratio, paired=True, vectorized=True, n_resamples=N_BOOT, method=method,
                                  confidence_level=0.95, random_state=np.random.default_rng(0))
            return float(res.confidence_interval.low), float(res.confidence_interval.high)
        return go

    return {"accessrl percentile (multinomial over distinct pairs)": ours,
            "scipy.stats.bootstrap percentile": scipy_method("percentile"),
            "scipy.stats.bootstrap BCa": scipy_method("BCa")}


def measure(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes", default="1000,5000")
    args = ap.parse_args()
    load = os.getloadavg()
    rows: list[dict[str, Any]] = []
    for n in (int(s) for s in args.sizes.split(",")):
        x, w = terms(n)
        value = float(np.sum(x) / np.sum(w))
        fns = contenders(x, w)
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in fns}
        intervals: dict[str, tuple[float, float]] = {}
        for _ in range(args.repeats):  # interleaved
            for name, fn in fns.items():
                wall, cpu, iv = measure(fn)
                times[name].append((wall, cpu))
                intervals[name] = iv
        ref = intervals[next(iter(fns))]
        for name in fns:
            lo, hi = intervals[name]
            rows.append({"n": n, "distinct_pairs": int(np.unique(np.stack([x, w], 1), axis=0).shape[0]),
                         "contender": name, "estimate": value, "low": lo, "high": hi,
                         "d_low": lo - ref[0], "d_high": hi - ref[1],
                         "wall_ms": 1e3 * statistics.median(t[0] for t in times[name]),
                         "cpu_ms": 1e3 * statistics.median(t[1] for t in times[name])})
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bootstrap.json").write_text(json.dumps({"load_average": load, "rows": rows}, indent=2) + "\n")
    lines = ["# Bootstrap intervals: accessrl's percentile bootstrap vs scipy.stats.bootstrap", "",
             f"WIS of request-evidence-first on uniform (epsilon 0.1) logs of the abandonment workflow; {N_BOOT} "
             f"resamples, 95%; medians of {args.repeats} interleaved repeats; load average {load[0]:.2f} "
             f"{load[1]:.2f} {load[2]:.2f}.", "",
             "| n | distinct (x, w) | contender | estimate | interval | vs accessrl | wall ms | CPU ms |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['n']} | {r['distinct_pairs']} | {r['contender']} | {r['estimate']:.3f} | "
                     f"[{r['low']:.3f}, {r['high']:.3f}] | {r['d_low']:+.3f} / {r['d_high']:+.3f} | "
                     f"{r['wall_ms']:.1f} | {r['cpu_ms']:.1f} |")
    (RESULTS / "bootstrap.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
