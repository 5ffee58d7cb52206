"""Reading a large YAML spec: the old loader against the new one (goal: >= 10x faster, memory <= 3x the file).

The file: a generated chain workflow of ``--states`` states (default 100,000; two actions
each, one with two outcomes), written in flow style: 12.7 MB, larger than the 7.3 MB spec that
took 89 s and 1.2 GB in the issue.

Contenders, each parsing the same text in a fresh child process (so peak memory is its own):

* ``old``: what ``specfile`` used before, a pure-Python ``yaml.SafeLoader`` subclass whose
  mapping constructor refuses duplicate keys (reproduced here, as it was);
* ``new``: :func:`accessrl.model.parse.parse_yaml` (libyaml's event stream, an explicit
  stack, the duplicate-key check and the depth limit);
* ``csafe``: plain ``yaml.load(text, Loader=yaml.CSafeLoader)``, the floor for libyaml with
  PyYAML's constructor (no duplicate-key check, no depth limit: it segfaults on deep nesting).

Every child also checks that its result equals the others' (the same mapping).  Repeats are
interleaved (old, new, csafe, old, ...); medians of wall time, CPU time and the growth of peak
resident memory over the child's baseline after imports (``ru_maxrss``).  Load average is
recorded before and after.

Usage: ``python benchmarks/bench_yaml.py [--states 100000] [--repeats 3]``.
Writes ``benchmarks/results/yaml.md`` and ``yaml.json``.
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
from pathlib import Path

CHILD = r"""
import hashlib, json, resource, sys, time
import yaml
kind, path = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()

class OldLoader(yaml.SafeLoader):
    pass

def construct_mapping(loader, node, deep=False):
    out = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in out:
            raise ValueError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
        out[key] = loader.construct_object(value_node, deep=deep)
    return out

import re
OldLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
OldLoader.add_implicit_resolver("tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))
from accessrl.model.parse import parse_yaml
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
w0, c0 = time.perf_counter(), time.process_time()
if kind == "old":
    data = yaml.load(text, Loader=OldLoader)
elif kind == "new":
    data = parse_yaml(text)
else:
    data = yaml.load(text, Loader=yaml.CSafeLoader)
wall, cpu = time.perf_counter() - w0, time.process_time() - c0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
print(json.dumps({"wall": wall, "cpu": cpu, "grow_kb": peak - base, "digest": digest}))
"""


def write_spec(path: Path, n: int) -> int:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"name: chain-{n}\ngamma: 0.99\nstart: s0\nterminal: [done]\ntransitions:\n")
        for i in range(n):
            nxt = f"s{i + 1}" if i + 1 < n else "done"
            fh.write(f"  s{i}: {{wait: {{next: {nxt}, reward: -1}}, "
                     f"review: [{{next: done, p: 0.25, reward: 40}}, {{next: {nxt}, p: 0.75, reward: -3}}]}}\n")
    return path.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--states", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    out_dir = Path(__file__).resolve().parent / "results"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, float]]] = {"old": [], "new": [], "csafe": []}
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.yaml"
        size = write_spec(spec, args.states)
        for r in range(args.repeats):
            for kind in runs:
                res = subprocess.run([sys.executable, "-c", CHILD, kind, str(spec)], env=env,
                                     capture_output=True, text=True, check=True)
                runs[kind].append(json.loads(res.stdout))
                print(f"repeat {r + 1} {kind}: {runs[kind][-1]}", flush=True)
    load_after = os.getloadavg()
    digests = {row["digest"] for rows in runs.values() for row in rows}
    med = {k: {m: statistics.median(row[m] for row in rows) for m in ("wall", "cpu", "grow_kb")} for k, rows in runs.items()}
    mb = size / 1e6
    lines = [
        "# Reading a large YAML spec",
        "",
        f"File: a {args.states:,}-state chain spec, {mb:.1f} MB. {args.repeats} interleaved repeats, medians, "
        f"each in a fresh process. Python {platform.python_version()}, {platform.machine()}. "
        f"Load average before {load_before[0]:.2f}, after {load_after[0]:.2f}. "
        f"Same mapping from every loader: {'yes' if len(digests) == 1 else 'NO'}.",
        "",
        "| loader | wall s | CPU s | peak memory growth MB | memory / file size | speed-up vs old (CPU) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    names = {"old": "old: SafeLoader subclass (pure Python)", "new": "new: parse_yaml (libyaml events)",
             "csafe": "floor: yaml.load CSafeLoader (no checks)"}
    for k, m in med.items():
        grow = m["grow_kb"] / 1024
        lines.append(f"| {names[k]} | {m['wall']:.2f} | {m['cpu']:.2f} | {grow:.0f} | {grow / mb:.1f}x | "
                     f"{med['old']['cpu'] / m['cpu']:.1f}x |")
    lines += ["", "Memory growth is the child's peak resident set after parsing minus its peak after imports "
              "and reading the text (the text itself is not counted)."]
    (out_dir / "yaml.md").write_text("\n".join(lines) + "\n")
    (out_dir / "yaml.json").write_text(json.dumps({"states": args.states, "bytes": size, "runs": runs,
                                                    "load": [load_before, load_after]}, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
