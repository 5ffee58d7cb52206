"""Memory of `accessrl sweep --json` on a 1e5-state workflow, by number of grid points.

    python benchmarks/bench_sweep.py [--states 100000] [--before /work/main/src]

Each run is a fresh process under ``/usr/bin/time -v`` (peak resident set size).  The sweep
varies p(approved | start, human_review); runs with 3 and 11 grid points give the memory
per extra grid point, ``(peak(11) - peak(3)) / 8``.  With ``--before`` another tree's CLI
runs the same commands, interleaved.  Goal: flat memory per grid point.
Writes benchmarks/results/sweep.md and sweep.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def peak(cmd: list[str], src: str) -> tuple[int, float]:
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": src})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    json.loads(out.stdout)  # the output is one valid JSON document
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (.+)", out.stderr).group(1).split(":")
    return kb * 1024, float(wall[-1]) + 60 * float(wall[-2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--states", type=int, default=100_000)
    ap.add_argument("--before", default=None)
    a = ap.parse_args()
    trees = {"this tree": str(ROOT / "src")} | ({"before": a.before} if a.before else {})
    tmp = Path(tempfile.mkdtemp(prefix="accessrl-bench-sweep-"))
    model = tmp / "w.npz"
    subprocess.run([sys.executable, "-m", "accessrl", "generate", str(model), "--states", str(a.states)], check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": trees["this tree"]})
    load0 = os.getloadavg()[0]
    res: dict[str, dict[int, tuple[int, float]]] = {t: {} for t in trees}
    for steps in (3, 11):
        for label, src in trees.items():
            path = model
            if label != "this tree":  # the other tree numbers states its own way: its own file
                path = tmp / "w-before.npz"
                if not path.exists():
                    subprocess.run([sys.executable, "-m", "accessrl", "generate", str(path), "--states", str(a.states)],
                                   check=True, capture_output=True, env={**os.environ, "PYTHONPATH": src})
            vary = "medium|review|none|d0|r0|q0|x0.human_review.approved"
            res[label][steps] = peak([sys.executable, "-m", "accessrl", "sweep", str(path), "--vary", vary,
                                      "--from", "0.1", "--to", "0.9", "--steps", str(steps), "--json"], src)
            print(label, steps, res[label][steps], flush=True)
    load1 = os.getloadavg()[0]
    rows = []
    for label, r in res.items():
        per = (r[11][0] - r[3][0]) / 8
        rows.append({"tree": label, "peak_3": r[3][0], "peak_11": r[11][0], "per_point": per,
                     "wall_3": r[3][1], "wall_11": r[11][1]})
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sweep.json").write_text(json.dumps({"states": a.states, "load": [load0, load1], "rows": rows}, indent=1))
    lines = ["# `accessrl sweep --json` memory by grid points", "",
             f"`python benchmarks/bench_sweep.py`: a generated workflow of {a.states} states; peak RSS of fresh processes "
             f"(`/usr/bin/time -v`), 3 and 11 grid points; load average {load0:.2f} -> {load1:.2f}.", "",
             "| tree | peak, 3 points (MB) | peak, 11 points (MB) | per extra point (MB) | wall 3 / 11 (s) |",
             "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['tree']} | {r['peak_3'] / 1e6:.0f} | {r['peak_11'] / 1e6:.0f} | {r['per_point'] / 1e6:.1f} | "
                     f"{r['wall_3']:.1f} / {r['wall_11']:.1f} |")
    ours = rows[0]["per_point"] / 1e6
    lines += ["", f"Goal: flat memory per grid point: {'MET' if ours < 2 else 'MISSED'} ({ours:.1f} MB per extra point).", ""]
    (RESULTS / "sweep.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
