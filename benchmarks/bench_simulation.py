"""simulate: the compiled engine vs the readable one, side by side in one run.

    python benchmarks/bench_simulation.py [--episodes 1000000] [--repeats 3]

Model: the lesson's 4-state abandonment workflow, its optimal policy, the first action
forced to ``request_evidence`` (the lesson's Monte Carlo estimate of Q(new_request,
request_evidence)), ``record=False``; seed 7.  Both engines run once per repeat in turn
(interleaved), in this one process; medians of wall and CPU time.  Compilation is warmed
first.  The two engines' returns are compared bit for bit (the goal: >= 20x faster with
the same seeded numbers).  Writes benchmarks/results/simulation.md and simulation.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from accessrl.catalog.lesson import access_review_abandonment
from accessrl.simulation import simulate

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    mdp = access_review_abandonment()
    best = np.array([2, 0, 3, -1])
    kw = dict(first_action="request_evidence", record=False)
    simulate(mdp, best, 10, rng=np.random.default_rng(0), engine="fast", **kw)  # compile / load the cache
    load0 = os.getloadavg()[0]
    times: dict[str, dict[str, list[float]]] = {e: {"wall": [], "cpu": []} for e in ("reference", "fast")}
    results = {}
    for _ in range(a.repeats):
        for engine in ("reference", "fast"):
            c0, t0 = time.process_time(), time.perf_counter()
            results[engine] = simulate(mdp, best, a.episodes, rng=np.random.default_rng(7), engine=engine, **kw)
            times[engine]["wall"].append(time.perf_counter() - t0)
            times[engine]["cpu"].append(time.process_time() - c0)
    load1 = os.getloadavg()[0]
    same = bool(np.array_equal(results["reference"].returns, results["fast"].returns)
                and results["reference"].event_counts == results["fast"].event_counts)
    med = {e: {k: statistics.median(v) for k, v in t.items()} for e, t in times.items()}
    x_wall = med["reference"]["wall"] / med["fast"]["wall"]
    x_cpu = med["reference"]["cpu"] / med["fast"]["cpu"]
    fast = results["fast"]
    meta = {"episodes": a.episodes, "repeats": a.repeats, "load": [load0, load1], "python": platform.python_version(),
            "same_numbers": same, "mean": fast.stats.mean, "events": dict(fast.event_counts), "times": times,
            "medians": med, "x_wall": x_wall, "x_cpu": x_cpu}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "simulation.json").write_text(json.dumps(meta, indent=1) + "\n")
    lines = ["# simulate: compiled engine vs readable engine", "",
             f"`python benchmarks/bench_simulation.py`: {a.episodes} episodes of the lesson's abandonment workflow "
             f"(optimal policy, first action request_evidence, seed 7), {a.repeats} interleaved repeats, medians; "
             f"load average {load0:.2f} at the start, {load1:.2f} at the end (a shared 2-core machine).", "",
             "| engine | wall (s) | CPU (s) | us / episode (CPU) |", "|---|---:|---:|---:|"]
    for e in ("reference", "fast"):
        lines.append(f"| {e} | {med[e]['wall']:.3f} | {med[e]['cpu']:.3f} | {1e6 * med[e]['cpu'] / a.episodes:.2f} |")
    verdict = "MET" if min(x_wall, x_cpu) >= 20 else "MISSED"
    lines += ["", f"Speed-up: {x_wall:.1f}x wall, {x_cpu:.1f}x CPU (goal >= 20x: {verdict}). "
              f"Same seeded numbers: {'yes' if same else 'NO'} (mean return {fast.stats.mean:.4f}, "
              f"abandoned in {fast.event_counts.get('abandoned')} episodes).", ""]
    (RESULTS / "simulation.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
