"""This tree against a reference commit, command for command: did a change make anything slower?

Each workload is one ``accessrl`` command a user runs (the CLI is the interface both trees
share, whatever their internal layout), executed as a fresh process with ``PYTHONPATH``
pointing at one tree's ``src``.  The two trees alternate within every repeat (A B, then B A,
and so on), so drift in the machine's load hits both alike; each tree first runs every
command once untimed, which fills its numba cache.  The table quotes the median wall time of
each side, the ratio new / reference, and the machine's load average before and after.

Usage: ``python benchmarks/bench_layout.py --reference REV [--repeats 5] [--quick]`` (REV is any
git revision; it is checked out into a temporary worktree and removed afterwards).
Writes ``benchmarks/results/layout.md`` and ``layout.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def workloads(quick: bool) -> list[tuple[str, list[str]]]:
    """(label, accessrl arguments); files are created in the working directory of the run."""
    s_wf, s_rand = (30_000, 20_000) if quick else (300_000, 200_000)
    episodes, sims, requests = (200_000, 20_000, 5_000) if quick else (2_000_000, 200_000, 50_000)
    return [
        ("start-up (--help)", ["--help"]),
        (f"generate workflow S~{s_wf:,}", ["generate", "wf.npz", "--states", str(s_wf)]),
        ("solve workflow --method auto", ["solve", "wf.npz", "--method", "auto", "--json"]),
        (f"generate rand S={s_rand:,} A=4 k=10", ["generate", "rand.npz", "--kind", "rand", "--states", str(s_rand),
                                                  "--actions", "4", "--successors", "10", "--seed", "1"]),
        ("solve rand --method compiled-mpi", ["solve", "rand.npz", "--method", "compiled-mpi", "--json"]),
        (f"learn (fast) {episodes:,} episodes", ["learn", "catalog:access-review-abandonment", "--episodes",
                                                 str(episodes), "--engine", "fast", "--json"]),
        (f"simulate {sims:,} episodes", ["simulate", "catalog:access-review-abandonment", "--episodes", str(sims),
                                         "--json"]),
        (f"logs generate {requests:,} requests", ["logs", "generate", "--model", "catalog:access-review-abandonment",
                                                  "--requests", str(requests), "--db", "logs.db"]),
        ("logs estimate", ["logs", "estimate", "--db", "logs.db", "--out", "est.yaml", "--json"]),
    ]


IN_PROCESS = r"""
import json, os, sys, tempfile, time
import numpy as np
import accessrl
from accessrl import catalog
try:
    from accessrl.offline.logsim import simulate_logs
    from accessrl.storage.generated import write_generated
    from accessrl.catalog.workflows import access_review_workflow
except ImportError:  # the layout before the packages
    from accessrl.logsim import simulate_logs
    from accessrl.loggen import write_generated
    from accessrl.workflows import access_review_workflow
from accessrl.storage import DecisionLog

quick = sys.argv[1] == "quick"
m = catalog.access_review_abandonment()
pol = accessrl.solve(m).policy
wf = access_review_workflow(max_days=30 if quick else 120, queue_capacity=8)

def logs():
    d = tempfile.mkdtemp()
    log = simulate_logs(m, accessrl.uniform_policy(m), n_requests=5_000 if quick else 50_000,
                        start_us=1767571200000000, rng=np.random.default_rng(1), epsilon=0.1)
    write_generated(DecisionLog(os.path.join(d, "l.db")), log, m)

calls = {
    "simulate 200,000 episodes": lambda: accessrl.simulate(m, pol, 200_000, rng=np.random.default_rng(7)),
    "learn fast 2,000,000 episodes": lambda: accessrl.learn(m, episodes=2_000_000, rng=np.random.default_rng(13),
                                                             engine="fast"),
    "learn reference 50,000 episodes": lambda: accessrl.learn(m, episodes=50_000, rng=np.random.default_rng(13)),
    f"solve workflow S={wf.n_states:,} (auto)": lambda: accessrl.solve(wf),
    "value iteration, lesson model, 10,000 times": lambda: [accessrl.value_iteration(m) for _ in range(10_000)],
    "logs: simulate and store": logs,
}
out = {}
for name, f in calls.items():
    f()
    best = float("inf")
    for _ in range(3):
        c = time.process_time()
        f()
        best = min(best, time.process_time() - c)
    out[name] = best
print(json.dumps(out))
"""


def in_process(tree: Path, quick: bool) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "MPLBACKEND": "Agg"}
    r = subprocess.run([sys.executable, "-c", IN_PROCESS, "quick" if quick else "full"], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{tree}: in-process workloads failed:\n{r.stderr[-2000:]}")
    result: dict[str, float] = json.loads(r.stdout.strip().splitlines()[-1])
    return result


def run(tree: Path, args: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system of the child) of one ``accessrl`` command."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "MPLBACKEND": "Agg"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "accessrl", *args], cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"{tree.name}: accessrl {' '.join(args)} failed:\n{r.stderr[-2000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def fresh_dir(base: Path, name: str) -> Path:
    d = base / name
    d.mkdir(parents=True, exist_ok=True)
    for f in ("logs.db", "logs.db-wal", "logs.db-shm"):  # logs generate appends: start each run empty
        (d / f).unlink(missing_ok=True)
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", required=True, help="git revision to compare with")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    opts = ap.parse_args()
    rev = subprocess.run(["git", "rev-parse", "--short", opts.reference], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    jobs = workloads(opts.quick)
    with tempfile.TemporaryDirectory(prefix="accessrl-bench-layout-") as tmp:
        base = Path(tmp)
        ref_tree = base / "reference"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(ref_tree), rev], cwd=ROOT, check=True)
        try:
            trees = {"reference": ref_tree, "this tree": ROOT}
            times: dict[str, dict[str, list[float]]] = {k: {label: [] for label, _ in jobs} for k in trees}
            cpu_times: dict[str, dict[str, list[float]]] = {k: {label: [] for label, _ in jobs} for k in trees}
            load0 = os.getloadavg()
            for side, tree in trees.items():  # untimed: fills each tree's numba cache
                work = fresh_dir(base, f"warm-{side}")
                for _, args in jobs:
                    run(tree, args, work)
            for rep in range(opts.repeats):
                order = list(trees) if rep % 2 == 0 else list(reversed(trees))
                for side in order:
                    work = fresh_dir(base, f"run-{side}")
                    for label, args in jobs:
                        wall, used = run(trees[side], args, work)
                        times[side][label].append(wall)
                        cpu_times[side][label].append(used)
                print(f"repeat {rep + 1}/{opts.repeats} done", flush=True)
            cpu: dict[str, dict[str, list[float]]] = {k: {} for k in trees}
            for rep in range(opts.repeats):
                for side in (list(trees) if rep % 2 == 0 else list(reversed(trees))):
                    for name, t in in_process(trees[side], opts.quick).items():
                        cpu[side].setdefault(name, []).append(t)
                print(f"in-process repeat {rep + 1}/{opts.repeats} done", flush=True)
            load1 = os.getloadavg()
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(ref_tree)], cwd=ROOT, check=False)
    rows = []
    for label, _ in jobs:
        a = statistics.median(times["reference"][label])
        b = statistics.median(times["this tree"][label])
        ca = statistics.median(cpu_times["reference"][label])
        cb = statistics.median(cpu_times["this tree"][label])
        rows.append({"workload": label, "reference_s": a, "this_s": b, "ratio": b / a,
                     "reference_cpu_s": ca, "this_cpu_s": cb, "cpu_ratio": cb / ca,
                     "reference_all": times["reference"][label], "this_all": times["this tree"][label]})
    cpu_rows = []
    for name in cpu["reference"]:
        a, b = statistics.median(cpu["reference"][name]), statistics.median(cpu["this tree"][name])
        cpu_rows.append({"workload": name, "reference_s": a, "this_s": b, "ratio": b / a,
                         "reference_all": cpu["reference"][name], "this_all": cpu["this tree"][name]})
    env = {"python": platform.python_version(), "cpus": os.cpu_count(), "loadavg_start": load0, "loadavg_end": load1,
           "reference": rev, "this": head, "repeats": opts.repeats, "quick": opts.quick}
    RESULTS.mkdir(exist_ok=True)
    suffix = "-quick" if opts.quick else ""
    (RESULTS / f"layout{suffix}.json").write_text(json.dumps({"env": env, "rows": rows, "in_process": cpu_rows}, indent=2) + "\n")
    lines = [
        f"# This tree ({head}) against {rev}, command for command",
        "",
        f"Medians of {opts.repeats} interleaved repeats, wall seconds of a fresh `python -m accessrl` process "
        f"(start-up included); {os.cpu_count()} CPUs, Python {env['python']}; load average (1, 5, 15 min) "
        f"{load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} at the start, {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} "
        "at the end.",
        "",
        f"| workload | {rev} wall (s) | {head} wall (s) | wall ratio | {rev} CPU (s) | {head} CPU (s) | CPU ratio |",
        "|---|---|---|---|---|---|---|",
        *[f"| {r['workload']} | {r['reference_s']:.3f} | {r['this_s']:.3f} | {r['ratio']:.3f} | "
          f"{r['reference_cpu_s']:.3f} | {r['this_cpu_s']:.3f} | {r['cpu_ratio']:.3f} |" for r in rows],
        "",
        "In-process CPU seconds of the work alone (least of 3 calls per process, median over the repeats):",
        "",
        f"| call | {rev} (s) | {head} (s) | ratio |",
        "|---|---|---|---|",
        *[f"| {r['workload']} | {r['reference_s']:.3f} | {r['this_s']:.3f} | {r['ratio']:.3f} |" for r in cpu_rows],
        "",
    ]
    (RESULTS / f"layout{suffix}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
