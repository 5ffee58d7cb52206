"""How long a learner waits for a check of a correct solution, sandbox included (target: <= 1 s).

For every coding exercise, each repeat times, interleaved so drift in the machine's load hits them alike:

* **check (file)** — :func:`accessrl.lesson.coding.grade_source` on the worked solution: the cases and
  their library references built in this process while a fresh ``python -I`` child starts, the
  solution run in that child with its limits, the results judged here (what the studio's Check
  and ``accessrl exercise check`` do, minus the CLI's own start-up);
* **check (function)** — :func:`accessrl.lesson.coding.grade_function`: the same, the function run
  in a forked child (``accessrl.exercises.check`` in a notebook);
* **no sandbox** — the competitor a grader without isolation would be: the same cases, the solution
  executed and judged in this process (no limits: a loop would hang it), so the difference is the
  price of the separate process.

Then the command line end to end (``accessrl exercise check NAME FILE`` as a new process, Python's
start-up and imports included) for value-iteration.

Usage: ``python benchmarks/bench_exercises.py [--repeats 7]``.  Writes ``benchmarks/results/exercises.md``
and ``exercises.json`` with medians, the slowest repeat, ratios and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from accessrl.lesson.coding import EXERCISES, grade_function, grade_source, runner, solution  # noqa: E402


def no_sandbox(name: str, code: str, seed: int) -> bool:
    """Build the cases, run the solution here, judge: the grader without the separate process."""
    ex = EXERCISES[name]
    cases = ex.cases(np.random.default_rng(seed))
    ns: dict[str, Any] = {"__name__": "learner"}
    exec(compile(code, f"{ex.function}.py", "exec"), ns)  # noqa: S102 - our own worked solution
    job = {"tasks": [{**c.task, "args": runner.encode(c.task.get("args", []))} for c in cases]}
    raw = json.loads(json.dumps(runner.run_job(lambda: ns, job, None), allow_nan=True))
    ok = True
    for case, res in zip(cases, raw["results"], strict=True):
        res = {k: runner.decode(v) if k in ("ok", "partial") else [runner.decode(r) for r in v] if k == "records" else v
               for k, v in res.items()}
        ok = ok and "error" not in res and case.judge(res) is None
    return ok


def timed(fn: Any, *args: Any, **kw: Any) -> float:
    t0 = time.perf_counter()
    result = fn(*args, **kw)
    assert getattr(result, "passed", result), "a worked solution failed its check"
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    load_before = os.getloadavg()
    rows: dict[str, dict[str, list[float]]] = {n: {"file": [], "function": [], "none": []} for n in EXERCISES}
    functions = {}
    for name, ex in EXERCISES.items():
        ns: dict[str, Any] = {}
        exec(solution(name), ns)  # noqa: S102 - our own worked solution
        functions[name] = ns[ex.function]
    for name in EXERCISES:  # warm up: imports, first compilations
        grade_source(name, solution(name), seed=0)
    for r in range(args.repeats):
        for name in EXERCISES:
            code = solution(name)
            rows[name]["file"].append(timed(grade_source, name, code, seed=r))
            rows[name]["function"].append(timed(grade_function, name, functions[name], seed=r))
            rows[name]["none"].append(timed(no_sandbox, name, code, r))
    cli: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "value_iteration.py"
        f.write_text(solution("value-iteration"), encoding="utf-8")
        env = {**os.environ, "ACCESSRL_DATA_DIR": tmp}
        for r in range(args.repeats):
            t0 = time.perf_counter()
            argv = [sys.executable, "-m", "accessrl", "exercise", "check", "value-iteration", str(f), "--seed", str(r)]
            p = subprocess.run(argv, capture_output=True, text=True, env=env)
            cli.append(time.perf_counter() - t0)
            assert p.returncode == 0, p.stdout + p.stderr
    load_after = os.getloadavg()

    med = statistics.median
    lines = [
        "# Coding exercises: the time to check a correct solution",
        "",
        f"`python benchmarks/bench_exercises.py --repeats {args.repeats}` on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; load average {load_before[0]:.1f} before and "
        f"{load_after[0]:.1f} after (a shared, noisy machine: re-run on a quiet one for cleaner figures). "
        "Seconds per check, median of the repeats (slowest in brackets); all repeats interleaved.",
        "",
        "| exercise | cases | check (file, fresh child) | check (function, fork) | no sandbox | sandbox cost (file / none) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    out: dict[str, Any] = {"repeats": args.repeats, "load": [load_before[0], load_after[0]], "exercises": {}}
    for name, t in rows.items():
        n = len(EXERCISES[name].cases(np.random.default_rng(0)))
        f, g, z = med(t["file"]), med(t["function"]), med(t["none"])
        lines.append(f"| {name} | {n} | {f:.3f} ({max(t['file']):.3f}) | {g:.3f} ({max(t['function']):.3f}) | "
                     f"{z:.3f} ({max(t['none']):.3f}) | {f / z:.1f}x |")
        out["exercises"][name] = {"file": t["file"], "function": t["function"], "none": t["none"]}
    worst = max(med(t["file"]) for t in rows.values())
    lines += ["", f"Slowest median check of a correct solution (file route): {worst:.3f} s (target: 1 s).",
              f"`accessrl exercise check value-iteration FILE` as a new process (interpreter start and imports "
              f"included): median {med(cli):.3f} s, slowest {max(cli):.3f} s.", ""]
    out["cli_value_iteration"] = cli
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "exercises.md").write_text("\n".join(lines), encoding="utf-8")
    (RESULTS / "exercises.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
