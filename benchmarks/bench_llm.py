"""`accessrl llm demo` on the CPU: one PyTorch thread against PyTorch's default, side by side.

Part 1: time per RL step (sample a batch of 16 prompts x 4 responses, score it, update)
for RLOO, GRPO and PPO, with ``torch.set_num_threads(1)`` and with the default thread
count, interleaved in one run.  Part 2: the whole default demo (SFT, reward model, three
betas x 150 RL steps) per algorithm at one thread - the "under a minute" claim.

Wall time and CPU time (``time.process_time``, summed over threads) are both reported;
medians over ``--repeats``.  Other load on the machine inflates wall time.

Part 3 (``--engines``, run alone): the whole demo through each engine, ``accessrl llm demo
--engine builtin`` against ``--engine trl`` (TRL's SFT, RLOO and GRPO trainers on a 0.1 M-parameter
GPT-2), each in a fresh subprocess, interleaved; wall time and the subprocess's peak resident
memory (``ru_maxrss`` from ``os.wait4``), with the final true reward at beta 0 and 0.2 from the
run's own JSON.

Usage: ``python benchmarks/bench_llm.py [--repeats 3] [--quick]``; ``--engines [--repeats 2]``.
Writes ``benchmarks/results/llm.md`` and ``llm.json`` (parts 1-2) or ``llm_trl.md`` and
``llm_trl.json`` (part 3).
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

import numpy as np
import torch

from accessrl.llm import DemoConfig, RLConfig, TokenPolicy, run_demo
from accessrl.llm.optimise import rl_step
from accessrl.llm.policy import demonstrations, frozen_copy, supervised_fine_tune
from accessrl.llm.reward_model import train_reward_model
from accessrl.llm.task import comparisons

RESULTS = Path(__file__).resolve().parent / "results"


def _pipeline() -> tuple[TokenPolicy, Any]:
    rng = np.random.default_rng(0)
    prompts, tokens, mask = demonstrations(600, rng, 8)
    sft = TokenPolicy(torch.Generator().manual_seed(1))
    supervised_fine_tune(sft, prompts, tokens, mask, torch.Generator().manual_seed(2), steps=100)
    fit = train_reward_model(comparisons(200, rng), comparisons(50, rng), torch.Generator().manual_seed(3),
                             max_len=8, steps=100)
    return frozen_copy(sft), fit.model


def step_times(algorithm: str, threads: int, steps: int, ref: TokenPolicy, rm: Any) -> tuple[float, float]:
    torch.set_num_threads(threads)
    cfg = RLConfig(algorithm=algorithm, beta=0.1).resolved()
    pol = TokenPolicy(torch.Generator().manual_seed(4))
    pol.load_state_dict(ref.state_dict())
    for p in pol.parameters():
        p.requires_grad_(True)
    opt = torch.optim.Adam(pol.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(5)
    for s in range(3):  # warm-up
        rl_step(pol, ref, rm, opt, cfg, s, g)
    w0, c0 = time.perf_counter(), time.process_time()
    for s in range(steps):
        rl_step(pol, ref, rm, opt, cfg, s, g)
    return (time.perf_counter() - w0) / steps, (time.process_time() - c0) / steps


def demo_subprocess(engine: str, algorithm: str) -> dict[str, Any]:
    """One ``accessrl llm demo --json`` in a fresh process: wall time, peak RSS, the final table."""
    cmd = [sys.executable, "-m", "accessrl", "llm", "demo", "--engine", engine, "--algorithm", algorithm, "--json"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        w0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (Popen has not reaped it)
        wall = time.perf_counter() - w0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {err.decode()[-400:]}")
    data = json.loads(out)
    runs = {r["beta"]: r["final"]["true_reward"] for r in data["runs"]}
    return {"engine": engine, "algorithm": algorithm, "wall_s": wall, "n_params": data["n_params"],
            "maxrss_mb": usage.ru_maxrss / 1024,
            "true_ref": data["reference"]["true_reward"], "true_beta0": runs.get(0.0), "true_beta02": runs.get(0.2)}


def engines(repeats: int) -> None:
    """Part 3: builtin against trl, interleaved, each demo in its own process."""
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    for _ in range(repeats):
        for algorithm in ("rloo", "grpo"):
            for engine in ("builtin", "trl"):  # interleaved: background load hits both alike
                rows.append(demo_subprocess(engine, algorithm))
    load_after = os.getloadavg()
    import transformers
    import trl

    env = {"python": platform.python_version(), "torch": torch.__version__, "trl": trl.__version__,
           "transformers": transformers.__version__, "cpus": os.cpu_count(), "repeats": repeats,
           "loadavg_before": load_before, "loadavg_after": load_after}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "llm_trl.json").write_text(json.dumps({"env": env, "runs": rows}, indent=2) + "\n")
    lines = [
        "# `accessrl llm demo`: the built-in engine against `--engine trl`",
        "",
        f"Python {env['python']}, torch {env['torch']}, trl {env['trl']}, transformers {env['transformers']}, "
        f"{env['cpus']} CPUs; each demo in a fresh process (`python -m accessrl llm demo --engine E --algorithm A "
        f"--json`, defaults: seed 0, betas 0 / 0.05 / 0.2, 150 RL steps of 16 prompts x 4, one PyTorch thread), "
        f"{repeats} interleaved repeats, medians. Load average (1, 5, 15 min) "
        f"{', '.join(f'{x:.1f}' for x in load_before)} at the start and {', '.join(f'{x:.1f}' for x in load_after)} "
        "at the end: other work on this shared machine inflates wall time. Peak memory is the subprocess's "
        "`ru_maxrss` (`os.wait4`).",
        "",
        "| engine | algorithm | policy parameters | wall s (median) | wall s (runs) | peak RSS MiB | true reward: "
        "reference | beta 0 | beta 0.2 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for algorithm in ("rloo", "grpo"):
        for engine in ("builtin", "trl"):
            rs = [r for r in rows if r["engine"] == engine and r["algorithm"] == algorithm]
            walls = [r["wall_s"] for r in rs]
            last = rs[-1]
            lines.append(f"| {engine} | {algorithm} | {last['n_params']:,} | {statistics.median(walls):.1f} | "
                         f"{', '.join(f'{w:.0f}' for w in walls)} | {statistics.median(r['maxrss_mb'] for r in rs):.0f} | "
                         f"{last['true_ref']:.2f} | {last['true_beta0']:.2f} | {last['true_beta02']:.2f} |")
    lines.append("")
    (RESULTS / "llm_trl.md").write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--engines", action="store_true", help="part 3 only: builtin against trl, in subprocesses")
    args = ap.parse_args()
    if args.engines:
        engines(args.repeats)
        return
    load_before = os.getloadavg()[0]
    default_threads = torch.get_num_threads()
    steps = 10 if args.quick else 30
    ref, rm = _pipeline()
    rows: list[dict[str, Any]] = []
    for alg in ("rloo", "grpo", "ppo"):
        res: dict[int, list[tuple[float, float]]] = {1: [], default_threads: []}
        for _ in range(args.repeats):
            for th in res:  # interleaved, so background load hits both alike
                res[th].append(step_times(alg, th, steps, ref, rm))
        row: dict[str, Any] = {"algorithm": alg, "default_threads": default_threads}
        for th, vals in res.items():
            row[f"wall_ms_{th}"] = 1000 * statistics.median(v[0] for v in vals)
            row[f"cpu_ms_{th}"] = 1000 * statistics.median(v[1] for v in vals)
        rows.append(row)
    demos: list[dict[str, Any]] = []
    torch.set_num_threads(1)
    for alg in ("rloo", "grpo", "ppo"):
        walls, cpus = [], []
        for _ in range(1 if args.quick else max(1, args.repeats - 1)):
            cfg = DemoConfig(rl=RLConfig(algorithm=alg, steps=30 if args.quick else 150))
            w0, c0 = time.perf_counter(), time.process_time()
            out = run_demo(cfg, 0)
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        zero, top = out.runs[0], out.runs[-1]
        demos.append({"algorithm": alg, "wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
                      "true_beta0": zero.final.true_reward, "true_beta_max": top.final.true_reward,
                      "proxy_beta0": zero.final.proxy_reward, "beta_max": top.config.beta})
    env = {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
           "machine": platform.machine(), "quick": args.quick, "repeats": args.repeats, "steps_timed": steps,
           "loadavg_1min": [load_before, os.getloadavg()[0]]}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "llm.json").write_text(json.dumps({"env": env, "rl_step": rows, "demo": demos}, indent=2) + "\n")
    d = default_threads
    lines = [
        "# `accessrl llm demo` on the CPU",
        "",
        f"Python {env['python']}, torch {env['torch']}, {env['cpus']} CPUs ({env['machine']}); "
        f"medians of {args.repeats} interleaved repeats of {steps} RL steps (16 prompts x 4 responses, max 8 tokens). "
        f"1-minute load average {env['loadavg_1min'][0]:.1f} at the start, {env['loadavg_1min'][1]:.1f} at the end: "
        "other work on the machine inflates wall time; CPU time of the one-thread runs is what an idle CPU needs.",
        "",
        f"| algorithm | ms/step, 1 thread (wall) | ms/step, {d} threads (wall) | ratio {d}/1 (wall) "
        f"| ms/step, 1 thread (CPU) | ms/step, {d} threads (CPU) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['algorithm']} | {r['wall_ms_1']:.1f} | {r[f'wall_ms_{d}']:.1f} | "
                     f"{r[f'wall_ms_{d}'] / r['wall_ms_1']:.2f} | {r['cpu_ms_1']:.1f} | {r[f'cpu_ms_{d}']:.1f} |")
    lines += [
        "",
        "Whole default demo (SFT, reward model, betas 0 / 0.05 / 0.2 x 150 RL steps), one thread, seed 0:",
        "",
        "| algorithm | wall s | CPU s | true reward, beta 0 | true reward, beta 0.2 |",
        "|---|---|---|---|---|",
    ]
    for r in demos:
        lines.append(f"| {r['algorithm']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['true_beta0']:.2f} | "
                     f"{r['true_beta_max']:.2f} |")
    lines.append("")
    (RESULTS / "llm.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
