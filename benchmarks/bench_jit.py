"""What the first run after an install costs: `accessrl solve` with an empty numba cache vs a filled one.

Each run is a fresh process with ``NUMBA_CACHE_DIR`` pointing at a directory of this run
(empty for "cold", the one the cold run filled for "cached"); the table quotes the median
CPU time (user + system of the child) of each, over interleaved repeats, and the load
average.  Models: a 1e5-state random model (compiled MPI) and the 1e5-state acyclic workflow.

Usage: ``python benchmarks/bench_jit.py [--repeats 3]``; writes ``benchmarks/results/jit.md``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def cpu_of(args: list[str], env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "accessrl", *args], env=env, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-jit-"))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    subprocess.run([sys.executable, "-m", "accessrl", "generate", str(tmp / "rand.npz"), "--kind", "rand", "--states",
                    "100000", "--actions", "4", "--successors", "10", "--seed", "1"], env=env, check=True,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "accessrl", "generate", str(tmp / "wf.npz"), "--states", "100000"], env=env,
                   check=True, capture_output=True)
    load0 = os.getloadavg()
    cases = {"random 1e5, compiled-mpi": ["solve", str(tmp / "rand.npz"), "--method", "compiled-mpi", "--json"],
             "acyclic workflow 1e5, auto": ["solve", str(tmp / "wf.npz"), "--json"]}
    rows = []
    for name, cmd in cases.items():
        cold, warm = [], []
        for r in range(args.repeats):
            cache = tmp / f"cache-{name[:6]}-{r}"
            e = {**env, "NUMBA_CACHE_DIR": str(cache)}
            cold.append(cpu_of(cmd, e))
            warm.append(cpu_of(cmd, e))
            shutil.rmtree(cache, ignore_errors=True)
        rows.append((name, statistics.median(cold), statistics.median(warm)))
    load1 = os.getloadavg()
    shutil.rmtree(tmp, ignore_errors=True)
    lines = ["# The first run after an install: numba compiling vs its cache", "",
             f"`accessrl solve`, fresh processes, median CPU time (user + system) of {args.repeats} repeats; "
             f"load average before {load0[0]:.2f}, after {load1[0]:.2f}.", "",
             "| model | empty cache: CPU s | cached: CPU s |", "|---|---:|---:|"]
    lines += [f"| {n} | {c:.1f} | {w:.1f} |" for n, c, w in rows]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "jit.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
