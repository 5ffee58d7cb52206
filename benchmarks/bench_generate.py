"""Peak memory of generating and solving a large workflow: `accessrl generate` then `accessrl solve`.

    python benchmarks/bench_generate.py                      # 1e6 and 5e6 states, about 3 minutes
    python benchmarks/bench_generate.py --sizes 10000000     # the 1e7 end-to-end run (~5 GB model)
    python benchmarks/bench_generate.py --before /work/main/src   # also time another tree's generator

Each command runs in a fresh process under ``/usr/bin/time -v`` (peak resident set size,
wall and CPU time).  The floor is the model itself: ``MDP.nbytes`` (the CSR arrays) as the
generator reports it; the goal is a generate peak <= 1.3x the model.  A second figure,
"library peak", builds the model in-process (``access_review_workflow``) and reads
``resource.getrusage`` before and after, so the interpreter and NumPy's own ~60 MB are
not charged to the generator.  With ``--before`` another source tree's generator runs the
same sizes, interleaved, as the comparison.  Load averages are recorded per run.

Writes benchmarks/results/generate.md and generate.json.
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

LIBRARY = r"""
import json, resource, sys, time
import numpy as np
from accessrl.catalog.workflows import access_review_workflow, workflow_params_for
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t = time.perf_counter()
mdp = access_review_workflow(workflow_params_for(int(sys.argv[1])))
secs = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"states": mdp.n_states, "model_bytes": mdp.nbytes, "baseline_bytes": before,
                  "peak_bytes": peak, "seconds": secs, "out_next": str(mdp.out_next.dtype)}))
"""


def timed(cmd: list[str], env: dict[str, str]) -> dict[str, object]:
    load = os.getloadavg()[0]
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{cmd}: {out.stderr[-2000:]}")
    err = out.stderr

    def field(name: str) -> str:
        m = re.search(rf"{re.escape(name)}: (.+)", err)
        return m.group(1).strip() if m else ""

    wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)")
    parts = [float(x) for x in wall.split(":")]
    secs = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) == 3 else 0)
    return {"peak_bytes": int(field("Maximum resident set size (kbytes)")) * 1024, "wall_s": secs,
            "cpu_s": float(field("User time (seconds)")) + float(field("System time (seconds)")),
            "stdout": out.stdout, "load": load}


def env_for(src: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": src}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000,5000000")
    ap.add_argument("--before", default=None, help="another tree's src/ to compare the generator with")
    ap.add_argument("--no-solve", action="store_true")
    a = ap.parse_args()
    src = str(ROOT / "src")
    trees = {"this tree": src} | ({"before": a.before} if a.before else {})
    tmp = Path(tempfile.mkdtemp(prefix="accessrl-bench-generate-"))
    rows = []
    for n in [int(float(x)) for x in a.sizes.split(",")]:
        for label, tree in trees.items():
            path = tmp / f"w{n}.npz"
            lib = timed([sys.executable, "-c", LIBRARY, str(n)], env_for(tree))
            libinfo = json.loads(str(lib["stdout"]).strip().splitlines()[-1])
            gen = timed([sys.executable, "-m", "accessrl", "generate", str(path), "--states", str(n)], env_for(tree))
            row = {"tree": label, "requested": n, "library": {**libinfo, "wall_s": lib["wall_s"], "load": lib["load"]},
                   "generate": {k: v for k, v in gen.items() if k != "stdout"}, "file_bytes": path.stat().st_size}
            if not a.no_solve and label == "this tree":
                sol = timed([sys.executable, "-m", "accessrl", "solve", str(path)], env_for(tree))
                row["solve"] = {k: v for k, v in sol.items() if k != "stdout"}
                row["solve"]["method_line"] = " ".join(str(sol["stdout"]).split("\n")[1:3])[:300]
            path.unlink()
            rows.append(row)
            m = libinfo["model_bytes"]
            print(f"{label} S={libinfo['states']}: model {m / 1e9:.2f} GB, generate peak "
                  f"{row['generate']['peak_bytes'] / 1e9:.2f} GB ({row['generate']['peak_bytes'] / m:.2f}x), "
                  f"library peak {(libinfo['peak_bytes'] - libinfo['baseline_bytes']) / m:.2f}x, "
                  f"{row['generate']['wall_s']:.1f} s" + (f"; solve peak {row['solve']['peak_bytes'] / 1e9:.2f} GB, "
                                                          f"{row['solve']['wall_s']:.1f} s" if "solve" in row else ""),
                  flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    old = json.loads((RESULTS / "generate.json").read_text()) if (RESULTS / "generate.json").exists() else {"rows": []}
    keep = [r for r in old["rows"] if (r["requested"], r["tree"]) not in {(x["requested"], x["tree"]) for x in rows}]
    allrows = sorted(keep + rows, key=lambda r: (r["requested"], r["tree"]))
    (RESULTS / "generate.json").write_text(json.dumps({"rows": allrows}, indent=1) + "\n")
    (RESULTS / "generate.md").write_text(report(allrows))
    print(f"wrote {RESULTS / 'generate.md'}")


def report(rows: list[dict]) -> str:
    out = ["# Generating and solving large workflows: peak memory vs the model", "",
           "`python benchmarks/bench_generate.py` (each command a fresh process under `/usr/bin/time -v`; "
           "rows from several runs are merged, each with the load average at its start). Model = `MDP.nbytes` "
           "(the CSR arrays). Library peak = `ru_maxrss` after `access_review_workflow` minus before it "
           "(the interpreter and NumPy excluded). Goal: generate peak <= 1.3x the model.", "",
           "| tree | states | model (GB) | generate peak (GB) | peak / model | library peak / model | generate wall (s) "
           "| generate CPU (s) | solve peak (GB) | solve wall (s) | load |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lib, gen = r["library"], r["generate"]
        m = lib["model_bytes"]
        sol = r.get("solve")
        out.append(f"| {r['tree']} | {lib['states']} | {m / 1e9:.2f} | {gen['peak_bytes'] / 1e9:.2f} | "
                   f"{gen['peak_bytes'] / m:.2f}x | {(lib['peak_bytes'] - lib['baseline_bytes']) / m:.2f}x | "
                   f"{gen['wall_s']:.1f} | {gen['cpu_s']:.1f} | "
                   f"{sol['peak_bytes'] / 1e9:.2f} | {sol['wall_s']:.1f} | " if sol else
                   f"| {r['tree']} | {lib['states']} | {m / 1e9:.2f} | {gen['peak_bytes'] / 1e9:.2f} | "
                   f"{gen['peak_bytes'] / m:.2f}x | {(lib['peak_bytes'] - lib['baseline_bytes']) / m:.2f}x | "
                   f"{gen['wall_s']:.1f} | {gen['cpu_s']:.1f} | - | - | ")
        out[-1] += f"{gen['load']:.2f} |"
    solved = [r for r in rows if r.get("solve")]
    if solved:
        out += ["", "Solve method lines:", ""] + [f"- S={r['library']['states']}: {r['solve']['method_line']}"
                                                  for r in solved]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
