"""``accessrl logs import`` of BPIC 2012 into SQLite, end to end, beside pm4py's ``read_xes`` alone.

Contenders, each in a fresh child process (so its peak memory is its own):

* **accessrl import** — ``import_event_log`` with ``examples/eventlogs/bpic2012.yaml`` into a new
  SQLite file: the streamed XES read, the mapping, propensities, validation and the inserts;
* **pm4py read_xes** — ``pm4py.read_xes`` of the same file into a DataFrame, nothing else (what an
  engineer would run before writing their own converter).

The clock runs inside the child around the work only (interpreter start and imports are left out
for both).  Repeats are interleaved (A, B, A, B, ...); the table gives medians, the ratio, and each
child's peak resident memory during the work (``VmHWM`` after resetting it through
``/proc/self/clear_refs`` once the imports are done) with its resident memory before the work.  The 1-minute
load average is recorded before and after.  With ``--scale 10`` a synthetic log of ten copies of
BPIC 2012's traces (new case ids, 2.6 M events) is imported once for its peak memory (streamed:
the peak should not grow with the log).

pm4py is not a dependency: it pins pandas below the version this project uses, so it is not in the
``bench`` extra.  Give an interpreter that has it (``--pm4py-python /path/to/venv/bin/python`` or
``ACCESSRL_PM4PY_PYTHON``); without one its rows are skipped with a message.

Usage: ``python benchmarks/bench_import.py [--log PATH] [--repeats 3] [--scale 10] [--pm4py-python PY]``
(the log defaults to ``ACCESSRL_EVENTLOGS``/bpic2012.xes.gz, else /work/shared/data/eventlogs).
Writes ``benchmarks/results/import.md`` and ``import.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
MAPPING = ROOT / "examples" / "eventlogs" / "bpic2012.yaml"
DEFAULT_LOG = Path(os.environ.get("ACCESSRL_EVENTLOGS", "/work/shared/data/eventlogs")) / "bpic2012.xes.gz"

# Both children measure memory alike: resident size now and its peak since a reset.
MEMORY = """
def _mem(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
    return 0
def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets the peak (VmHWM) to the current size: the work's own peak is measured
    except OSError:
        pass
"""

ACCESSRL_CHILD = """
import json, sys, time
""" + MEMORY + """
from accessrl.storage import DecisionLog
from accessrl.storage.eventimport import import_event_log
from accessrl.storage.eventlogs import load_mapping
log, mapping, db = sys.argv[1:4]
m = load_mapping(mapping)
_reset_peak()
before = _mem("VmRSS")
t0 = time.perf_counter()
res = import_event_log(DecisionLog(db), log, m)
wall = time.perf_counter() - t0
print(json.dumps({"wall": wall, "peak_kb": _mem("VmHWM"), "before_kb": before,
                  "cases": res.cases, "events": res.events, "decisions": res.decisions, "rejects": res.rejects}))
"""

PM4PY_CHILD = """
import json, sys, time, warnings
""" + MEMORY + """
warnings.filterwarnings("ignore")
import pm4py
_reset_peak()
before = _mem("VmRSS")
t0 = time.perf_counter()
df = pm4py.read_xes(sys.argv[1])
wall = time.perf_counter() - t0
print(json.dumps({"wall": wall, "peak_kb": _mem("VmHWM"), "before_kb": before,
                  "cases": int(df["case:concept:name"].nunique()), "events": len(df), "version": pm4py.__version__}))
"""


def load() -> float:
    return os.getloadavg()[0]


def child(python: str, code: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    r = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, timeout=3600, env=env)
    if r.returncode != 0:
        raise SystemExit(f"child failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_accessrl(log: Path, tmp: Path, i: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return child(sys.executable, ACCESSRL_CHILD, str(log), str(MAPPING), str(tmp / f"a{i}.db"), env=env)


def pm4py_python(given: str | None) -> tuple[str | None, str]:
    """An interpreter with pm4py, or None and why not."""
    for py in (given, os.environ.get("ACCESSRL_PM4PY_PYTHON"), sys.executable):
        if not py:
            continue
        r = subprocess.run([py, "-c", "import pm4py"], capture_output=True, text=True)
        if r.returncode == 0:
            return py, ""
    return None, ("pm4py is not installed here (it pins pandas below this project's version, so it is not in "
                  "the bench extra); give --pm4py-python PATH to an interpreter that has it")


def write_scaled(src: Path, out: Path, copies: int) -> int:
    """``copies`` copies of every trace of ``src`` (case ids suffixed ``-k``), gzip-compressed; read one
    trace at a time."""
    head: list[str] = []
    n = 0
    case_id = re.compile(r'(<string key="concept:name" value=")([^"]*)"')
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=1) as fh:
        for k in range(copies):
            with gzip.open(src, "rt", encoding="utf-8") as inp:
                trace: list[str] = []
                in_head = True
                for line in inp:
                    s = line.strip()
                    if s == "<trace>":
                        in_head, trace = False, [line]
                    elif trace:
                        trace.append(line)
                        if s == "</trace>":
                            text = "".join(trace)
                            cut = text.index("<event>") if "<event>" in text else len(text)
                            fh.write(case_id.sub(rf'\g<1>\g<2>-{k}"', text[:cut], count=1)
                                     + text[cut:])
                            n += text.count("<event>")
                            trace = []
                    elif in_head and k == 0 and s != "</log>":
                        head.append(line)
                        fh.write(line)
        fh.write("</log>\n")
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--log", type=Path, default=DEFAULT_LOG)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scale", type=int, default=10, help="Copies in the synthetic log (0: skip it).")
    ap.add_argument("--pm4py-python", default=None)
    args = ap.parse_args()
    if not args.log.is_file():
        raise SystemExit(f"{args.log}: no such file (BPIC 2012 is public data, not part of the repository)")
    py, why = pm4py_python(args.pm4py_python)
    if py is None:
        print(f"pm4py skipped: {why}")
    load_before = load()
    runs: dict[str, list[dict[str, Any]]] = {"accessrl": [], "pm4py": []}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for i in range(args.repeats):  # interleaved
            runs["accessrl"].append(run_accessrl(args.log, tmp, i))
            print("accessrl", runs["accessrl"][-1])
            if py is not None:
                runs["pm4py"].append(child(py, PM4PY_CHILD, str(args.log)))
                print("pm4py", runs["pm4py"][-1])
        scaled: dict[str, Any] | None = None
        if args.scale > 1:
            big = tmp / f"bpic2012x{args.scale}.xes.gz"
            n_events = write_scaled(args.log, big, args.scale)
            scaled = {**run_accessrl(big, tmp, 99), "copies": args.scale, "events_in_file": n_events}
            print("scaled", scaled)
    load_after = load()

    def med(rows: list[dict[str, Any]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    def walls(rows: list[dict[str, Any]]) -> str:
        return ", ".join(f"{r['wall']:.2f}" for r in rows)

    a = runs["accessrl"]
    lines = [
        "# Importing BPIC 2012: accessrl end to end vs pm4py's read_xes alone",
        "",
        f"`python benchmarks/bench_import.py` on {platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}); log {args.log.name} "
        f"({a[0]['cases']:,} cases, {a[0]['events']:,} events); {args.repeats} interleaved repeats, medians; "
        f"each contender in its own child process, clock around the work only.",
        f"Load average (1 min): {load_before:.2f} before, {load_after:.2f} after (a shared 2-core machine: "
        "absolute times move with the load; the ratio is measured side by side).",
        "",
        "| contender | what it does | wall s (median) | runs | peak RSS MB | RSS before work MB |",
        "|---|---|---:|---|---:|---:|",
        f"| accessrl logs import | XES read, mapping, propensities, validation, SQLite inserts "
        f"({a[0]['decisions']:,} decisions) | {med(a, 'wall'):.2f} | {walls(a)} | "
        f"{med(a, 'peak_kb') / 1024:.0f} | {med(a, 'before_kb') / 1024:.0f} |",
    ]
    p = runs["pm4py"]
    if p:
        lines.append(f"| pm4py {p[0]['version']} read_xes | XES into a DataFrame only | {med(p, 'wall'):.2f} | "
                     f"{walls(p)} | {med(p, 'peak_kb') / 1024:.0f} | "
                     f"{med(p, 'before_kb') / 1024:.0f} |")
        ratio = med(p, "wall") / med(a, "wall")
        lines += ["", f"**accessrl's whole import takes {1 / ratio:.2f}x the time of pm4py's read alone "
                      f"(pm4py / accessrl = {ratio:.2f}; the issue's target is >= 3).**"]
        if ratio < 3:
            lines += ["", f"The target is missed by a factor {3 / ratio:.2f}. Why: the XES file has 1.36 M XML "
                          "elements and every one reaches Python once (expat callbacks: about a third of the "
                          "import; expat without handlers parses the 74 MB in ~1.5 s, a no-op handler per element "
                          "adds ~2.4 s on this machine); the rest is building the case records, the pickled spool "
                          "that keeps memory bounded, and the SQLite inserts of 130 k rows with their checks. "
                          "ElementTree's C tree builder with iterparse was measured no faster here. Reaching 3x "
                          "would need a compiled XES reader (pm4py's optional rustxes, or our own) or parsing "
                          "cases in parallel processes."]
    else:
        lines += ["", f"pm4py skipped: {why}"]
    if scaled is not None:
        lines += ["", f"Synthetic log of {scaled['copies']} copies of every trace ({scaled['events']:,} events, "
                      f"{scaled['cases']:,} cases), imported once: {scaled['wall']:.1f} s, peak RSS "
                      f"{scaled['peak_kb'] / 1024:.0f} MB (before the work {scaled['before_kb'] / 1024:.0f} MB) "
                      f"against {med(a, 'peak_kb') / 1024:.0f} MB for the original."]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "import.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / "import.json").write_text(json.dumps({"runs": runs, "scaled": scaled, "load": [load_before, load_after]},
                                                    indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
