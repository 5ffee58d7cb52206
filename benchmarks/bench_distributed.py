"""Scaling of the distributed workloads: this process, then a Ray cluster with one and two workers.

One Ray cluster is started the way a user starts one (``ray start --head --num-cpus 2``);
"one worker" runs every task with 2 CPUs reserved (so one runs at a time), "two workers"
with 1 CPU (two at a time).  Each repeat runs every workload under every configuration,
in a rotated order, so the machine's drifting load hits all alike; the table quotes
medians, the speed-up of two workers over one and the parallel efficiency
(speed-up / 2), and the load average before and after.  The same call must give the
same numbers everywhere: the benchmark checks it on every run.

It then measures the per-partition cost of off-policy evaluation (seconds and bytes per
logged decision, one process) and projects what 1e9 logged decisions would need on a
cluster of N nodes, written to ``benchmarks/results/distributed.md``.

Usage: ``python benchmarks/bench_distributed.py [--repeats 3] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
RESULTS = ROOT / "benchmarks" / "results"

from accessrl.catalog import SPEED_ONLY, access_review_abandonment, access_review_components, load  # noqa: E402
from accessrl.distributed.backend import LocalBackend, RayBackend  # noqa: E402
from accessrl.distributed.grids import audit_designs, sweep_grid  # noqa: E402
from accessrl.distributed.partitions import evaluate_partitions, export_partitions, partition_stats  # noqa: E402
from accessrl.distributed.runs import learning_grid  # noqa: E402
from accessrl.distributed.simulation import simulate_at_scale  # noqa: E402
from accessrl.model.policies import uniform_policy  # noqa: E402
from accessrl.offline.logsim import simulate_logs  # noqa: E402
from accessrl.offline.ope import target_matrix  # noqa: E402
from accessrl.rewards import RewardDesign  # noqa: E402
from accessrl.storage.generated import write_generated  # noqa: E402
from accessrl.storage.store import DecisionLog  # noqa: E402
from accessrl.storage.times import us_to_iso  # noqa: E402

DAY = 86_400_000_000
START = 1_767_571_200_000_000  # 2026-01-05T00:00:00Z


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_logs(tmp: Path, requests: int, parts: int) -> tuple[list, int, int]:
    mdp = access_review_abandonment()
    log = simulate_logs(mdp, uniform_policy(mdp), n_requests=requests, start_us=START, rng=np.random.default_rng(1),
                        epsilon=0.2)
    url = f"sqlite:///{tmp / 'logs.db'}"
    dl = DecisionLog(url)
    write_generated(dl, log, mdp)
    dl.close()
    last = int(log.steps.decided_at.max()) + 1
    edges = np.linspace(START, last, parts + 1).astype(np.int64)
    files = export_partitions(url, tmp / "parts", [us_to_iso(int(e)) for e in edges])
    return files, int(log.steps.n_steps), sum(Path(f.path).stat().st_size for f in files)


def workloads(quick: bool, files: list) -> dict:
    mdp = access_review_abandonment()
    wf = load("access-review-workflow")
    comp = access_review_components()
    sn, an = mdp.state_names, mdp.action_names
    review = {"new_request": "human_review", "evidence_ready": "auto_approve", "review_queue": "approve_rotation"}
    evidence = {**review, "new_request": "request_evidence"}
    targets = {"review": target_matrix(sn, an, review), "evidence": target_matrix(sn, an, evidence)}
    designs = [RewardDesign(f"speed_w{w}", {**SPEED_ONLY, "policy_violation": -float(w)}) for w in range(0, 320, 20)]
    k = 1 if quick else 4
    return {
        f"simulate {5_000_000 * k:,} episodes (8 chunks)": lambda be: simulate_at_scale(
            mdp, "optimal", 5_000_000 * k, seed=1, chunk=625_000 * k, first_action="request_evidence",
            backend=be).mean,
        f"sweep grid, 8 points, S={wf.n_states:,}": lambda be: [p.start_value for p in sweep_grid(
            wf, {f"{wf.state_names[0]}.request_evidence.abandoned": np.linspace(0.0, 0.3, 8)}, backend=be).points],
        f"learning grid, 8 runs x {10_000 * k:,} episodes": lambda be: [r.start_value for r in learning_grid(
            mdp, algorithms=["q-learning", "sarsa"], seeds=[1, 2, 3, 4], episodes=10_000 * k, backend=be,
            exact=False).runs],
        f"audit, {len(designs)} designs": lambda be: [r.flagged for r in audit_designs(comp, designs, backend=be).reports],
        f"partitioned OPE, {len(files)} partitions": lambda be: [
            c.estimates["wis"] for c in evaluate_partitions(files, targets, state_names=sn, action_names=an,
                                                            gamma=mdp.gamma, seed=3, n_boot=1000,
                                                            backend=be).candidates],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    load0 = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dist-"))
    requests, parts = (4_000, 4) if args.quick else (40_000, 8)
    files, decisions, nbytes = make_logs(tmp, requests, parts)
    work = workloads(args.quick, files)
    port = free_port()
    raytmp = tempfile.mkdtemp(prefix="rayb", dir="/tmp")
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=str(ROOT / "src"))
    ray_cli = [shutil.which("ray") or "ray"]
    subprocess.run([*ray_cli, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
                    "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={raytmp}"],
                   env=env, check=True, capture_output=True)
    try:
        address = f"127.0.0.1:{port}"
        one = RayBackend(address, task_cpus=2.0)
        two = RayBackend(address, task_cpus=1.0)
        configs = {"local (this process)": LocalBackend(), "Ray, 1 worker": one, "Ray, 2 workers": two}
        times: dict[tuple[str, str], list[float]] = {}
        answers: dict[str, list] = {}
        for name, fn in work.items():  # warm-up: numba caches, Ray workers started, results recorded
            for be in configs.values():
                answers.setdefault(name, []).append(fn(be))
            ref = answers[name][0]
            assert all(repr(a) == repr(ref) for a in answers[name]), f"{name}: backends disagree"
        order = list(configs)
        for r in range(args.repeats):
            rot = order[r % len(order):] + order[:r % len(order)]
            for name, fn in work.items():
                for cfg in rot:
                    t0 = time.perf_counter()
                    fn(configs[cfg])
                    times.setdefault((name, cfg), []).append(time.perf_counter() - t0)
        # per-partition cost: one partition, one process
        t_part = []
        sn, an = access_review_abandonment().state_names, access_review_abandonment().action_names
        targets = {"review": target_matrix(sn, an, {"new_request": "human_review", "evidence_ready": "auto_approve",
                                                    "review_queue": "approve_rotation"})}
        for _ in range(max(3, args.repeats)):
            t0 = time.perf_counter()
            st = partition_stats((targets, sn, an, 0.9, -100.0, None), files[0])
            t_part.append(time.perf_counter() - t0)
        part_decisions = st.decisions
    finally:
        import ray

        ray.shutdown()
        subprocess.run([*ray_cli, "stop", "--force"], env=env, capture_output=True)
        shutil.rmtree(raytmp, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    load1 = os.getloadavg()
    rows = []
    for name in work:
        med = {cfg: statistics.median(times[(name, cfg)]) for cfg in configs}
        speed = med["Ray, 1 worker"] / med["Ray, 2 workers"]
        rows.append({"workload": name, **{cfg: med[cfg] for cfg in configs}, "speedup_2_over_1": speed,
                     "efficiency": speed / 2})
    per_dec = statistics.median(t_part) / part_decisions
    bytes_dec = nbytes / decisions
    eff = statistics.median(r["efficiency"] for r in rows if "OPE" in r["workload"])
    lines = [
        "# Distributed workloads: scaling on this machine and a projection",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; load average before {load0[0]:.2f} / {load0[1]:.2f} / {load0[2]:.2f}, "
        f"after {load1[0]:.2f} / {load1[1]:.2f} / {load1[2]:.2f}. Medians of {args.repeats} interleaved repeats "
        "(rotated order). A Ray cluster started with `ray start --head --num-cpus 2`; one worker = tasks reserving "
        "2 CPUs, two workers = 1 CPU each. Every configuration returned identical numbers (checked).",
        "",
        "| workload | this process (s) | Ray, 1 worker (s) | Ray, 2 workers (s) | speed-up 2/1 | efficiency |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['workload']} | {r['local (this process)']:.3f} | {r['Ray, 1 worker']:.3f} | "
                     f"{r['Ray, 2 workers']:.3f} | {r['speedup_2_over_1']:.2f}x | {r['efficiency']:.0%} |")
    lines += [
        "",
        f"Data per node: the OPE workload reads {len(files)} Parquet partitions of whole episodes, "
        f"{nbytes / len(files) / 1e6:.2f} MB and {decisions // len(files):,} decisions each on average "
        f"({bytes_dec:.0f} bytes per decision); with two workers each handles half of them.",
        "",
        "## Projection: 1e9 logged decisions",
        "",
        f"Measured per-partition cost (one process, partition of {part_decisions:,} decisions, ingest of the file "
        f"into a private SQLite store included): {per_dec * 1e6:.1f} us per decision, {bytes_dec:.0f} bytes per "
        f"decision on disk. Assumed parallel efficiency: the OPE row's {eff:.0%} measured here.",
        "",
        "| nodes x cores | CPU-hours in all | wall time | data per node |",
        "|---|---|---|---|",
    ]
    total_cpu = 1e9 * per_dec
    for nodes in (1, 4, 16, 64):
        cores = nodes * 8
        wall = total_cpu / (cores * max(eff, 1e-3))
        lines.append(f"| {nodes} x 8 | {total_cpu / 3600:.1f} | {wall / 3600:.2f} h | "
                     f"{1e9 * bytes_dec / nodes / 1e9:.1f} GB |")
    lines += [
        "",
        "The projection is linear in the measured per-decision cost: each partition is independent and the reduction "
        "sends per-episode pairs (16 bytes per episode and estimator) and per-transition counts, so the driver's "
        "share stays small (1e9 decisions at ~1.4 decisions per episode: ~0.7e9 episodes, ~11 GB of (x, w) pairs per "
        "estimator at the driver — the one part that does not shrink with more nodes; beyond that size the bootstrap "
        "should resample per partition, which this code does not yet do). The cost is dominated by reading the file "
        "into the private SQLite store; reading Parquet columns straight into arrays would cut it.",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "distributed.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / "distributed.json").write_text(json.dumps({"rows": rows, "load_before": load0, "load_after": load1,
                                                          "us_per_decision": per_dec * 1e6,
                                                          "bytes_per_decision": bytes_dec}, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
