"""How long one watch-mode step takes in the browser: compute and draw, on the lesson's workflow
and on generated workflows of a few hundred states.  Target: <= 16 ms (one frame at 60 fps).

The studio runs as its own process (``accessrl studio --port 0``); headless Chromium (Playwright,
``/usr/bin/chromium``) opens ``/watch`` at 1280 x 900.  For each model, in each repeat, the page
times a batch of its own steps - ``Watch.stepAgent()`` (one Q-learning step: the update, the
update's text, the diagram recoloured) and ``Watch.sweep()`` (a sweep of every state with the
arithmetic at the selected state, redrawn) - each followed by a forced layout
(``getBoundingClientRect``), so the time includes the DOM work a frame needs except painting.
Interleaved with them, side by side: the same step in the library in Python
(:class:`~accessrl.learning.reference.ReferenceEngine`, compute only) and one Bellman sweep
(:func:`~accessrl.planning.bellman_backup`), and the floor of any server-side step: one fetch from
the page to the studio on loopback (``GET /static/studio.css``).

Usage: ``python benchmarks/bench_watch.py [--repeats 5] [--batch 200]``.  Writes
``benchmarks/results/watch.md`` and ``watch.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "src"))

from accessrl.catalog import load  # noqa: E402
from accessrl.catalog.workflows import rand  # noqa: E402
from accessrl.learning.config import prepare  # noqa: E402
from accessrl.learning.reference import ReferenceEngine  # noqa: E402
from accessrl.planning import bellman_backup  # noqa: E402
from accessrl.studio.watch import GENERATED, payload  # noqa: E402

CHROMIUM = os.environ.get("ACCESSRL_CHROMIUM", "/usr/bin/chromium")

MODELS = {
    "lesson (4 states)": lambda: load("access-review-abandonment"),
    "random workflow (300 states, 3 actions, 3 successors)": lambda: rand(300, 3, 3, rng=np.random.default_rng(0)),
    "generated access-review workflow (388 states)": lambda: load("access-review-workflow", **GENERATED),
}

PAGE_BATCH = """async ([kind, n]) => {
  const W = window.AccessrlWatch.Watch, out = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    if (kind === "step") W.stepAgent(); else if (kind === "sweep") W.sweep();
    else await (await fetch("/static/studio.css", {cache: "no-store"})).text();
    document.body.getBoundingClientRect();
    out.push(performance.now() - t0);
  }
  return out;
}"""


def start_studio() -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "accessrl", "studio", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    m = re.search(r"(http://127\.0\.0\.1:\d+/)", proc.stdout.readline())
    if not m:
        proc.kill()
        raise SystemExit("the studio did not start")
    return proc, m.group(1)


def python_steps(mdp: Any, n: int) -> list[float]:
    """Per-step seconds of the library's reference engine (whole episodes, divided by their steps)."""
    prep = prepare(mdp, episodes=10_000, algorithm="q-learning", epsilon=0.15, step_size="visits", omega=0.6,
                   max_steps=10_000, start=None, never_explore=None, safe=True, initial_q=0.0)
    eng = ReferenceEngine(mdp, prep, np.random.default_rng(0))
    out: list[float] = []
    ep = 0
    while len(out) < n:
        before = eng.steps
        t0 = time.perf_counter()
        eng.run(ep, ep + 1, np.zeros(10_000), np.zeros(10_000, dtype=np.int64))
        dt = time.perf_counter() - t0
        ep += 1
        k = max(eng.steps - before, 1)
        out.extend([dt / k] * k)
    return out[:n]


def python_sweeps(mdp: Any, n: int) -> list[float]:
    v = np.zeros(mdp.n_states)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        b = bellman_backup(mdp, v)
        v = np.where(np.isfinite(b.values), b.values, 0.0)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=200)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    proc, url = start_studio()
    times: dict[tuple[str, str], list[float]] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 900}, base_url=url)
            page.goto("/watch")
            page.wait_for_selector("body[data-watch-ready='1']", state="attached")
            mdps = {name: f() for name, f in MODELS.items()}
            for _ in range(args.repeats):
                for name, mdp in mdps.items():
                    page.evaluate("(d) => { const W = window.AccessrlWatch.Watch; W.base = d; W.applyControls(true); }",
                                  payload(mdp, name))
                    for kind in ("step", "sweep", "fetch"):
                        ms = page.evaluate(PAGE_BATCH, [kind, args.batch if kind != "fetch" else 20])
                        times.setdefault((name, f"page: {kind}"), []).extend(ms)
                    times.setdefault((name, "library (Python): step"), []).extend(
                        1000 * s for s in python_steps(mdp, args.batch))
                    times.setdefault((name, "library (Python): sweep"), []).extend(
                        1000 * s for s in python_sweeps(mdp, 50))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    labels = {"page: step": "page: one Q-learning step, computed and drawn",
              "page: sweep": "page: one sweep with its arithmetic, computed and drawn",
              "page: fetch": "floor of a server-side step: one loopback fetch from the page",
              "library (Python): step": "library, Python reference engine: one step (compute only)",
              "library (Python): sweep": "library, NumPy bellman_backup: one sweep (compute only)"}
    load_avg = os.getloadavg()
    lines = ["# Watch mode: one step in the browser (compute + draw)", "",
             f"`python benchmarks/bench_watch.py --repeats {args.repeats} --batch {args.batch}`; headless Chromium "
             f"at 1280 x 900 on {platform.machine()}, {os.cpu_count()} CPUs, load average "
             f"{load_avg[0]:.2f} / {load_avg[1]:.2f} / {load_avg[2]:.2f} at the end. Target: page rows <= 16 ms "
             "(one frame at 60 fps). Page times include the DOM update and a forced layout, not painting.", "",
             "| model | what | median ms | p95 ms | max ms | n |", "|---|---|---:|---:|---:|---:|"]
    rows = []
    for (name, kind), ms in times.items():
        arr = np.asarray(ms)
        rows.append({"model": name, "what": labels[kind], "median_ms": float(np.median(arr)),
                     "p95_ms": float(np.percentile(arr, 95)), "max_ms": float(arr.max()), "n": int(arr.size)})
        lines.append(f"| {name} | {labels[kind]} | {statistics.median(ms):.3f} | {np.percentile(arr, 95):.3f} | "
                     f"{arr.max():.2f} | {arr.size} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "watch.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "watch.json").write_text(json.dumps({"rows": rows, "load_average": load_avg}, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
