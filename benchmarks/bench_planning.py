"""Planning at the limit: accessrl vs QuantEcon's DiscreteDP vs pymdptoolbox, and the floors, in one run.

    python benchmarks/bench_planning.py              # the S = 1e6 goal rows, about 5 minutes
    python benchmarks/bench_planning.py --quick      # S = 1e5 instead of 1e6 (a smoke run)
    python benchmarks/bench_planning.py --repeats 5

Rows (each the issue's goal):

1. random sparse S = 1e6, A = 4, k = 10, gamma 0.99, max|V - V*| <= 1e-6: accessrl's compiled
   MPI on one thread and on every allowed core vs QuantEcon's ``modified_policy_iteration``
   (goal: >= 3x on one thread, >= 5x with both cores); pymdptoolbox where it applies (S = 500:
   its ``PolicyIterationModified`` / ``ValueIteration`` loop in Python and build O(A S^2) bounds).
2. the generated acyclic workflow, S = 1e6: ``solve(auto)`` vs QuantEcon's MPI (goal >= 30x),
   with the stream-read floor (np.sum over every outcome array once).
3. one full Bellman sweep on the random S = 1e6 model vs two floors defined and measured here
   (goal <= 2x the gather-aware floor):
   * read floor: ``np.sum`` over every array the sweep reads (pure bandwidth, no gather);
   * gather floor: a numba kernel doing exactly one gather ``v[out_next] * prob`` per outcome,
     summed per pair, and the max per state, with no reward, no argmax, no difference tracking.

Method: every contender of a row runs once per repeat, in turn (interleaved), in this one
process; medians of wall time (``perf_counter``) and CPU time (``process_time``, all threads)
are quoted with their ratio to accessrl.  Compilation is warmed on a small model first and
building the competitors' inputs (DiscreteDP's constructor, the (P, R) lists) is not timed.
The machine is shared, so the load average is recorded at the start and end of every row.
Error: max|V - V_ref| against accessrl's MPI at tol 1e-10 (its own bound; QuantEcon's answer
is compared too).  accessrl caches r(s, a) per model (``pair_rewards``; QuantEcon's input holds
rewards per pair already, built untimed): the plain rows reuse it, the "cold model" rows solve a
fresh copy of the model (same arrays, empty cache) and pay for summing the per-outcome rewards.

Writes benchmarks/results/planning.md and planning.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TOL = 1e-6
REF_TOL = 1e-10


def build(kind: str, n: int, gamma: float):
    from accessrl.catalog.workflows import access_review_workflow, rand, workflow_params_for

    if kind == "rand":
        return rand(n, 4, 10, gamma=gamma, rng=np.random.default_rng(n))
    return access_review_workflow(workflow_params_for(n, cyclic=(kind == "workflow-cyclic")), gamma=gamma)


def qe_problem(mdp):
    """QuantEcon's DiscreteDP in state-action-pair form; terminal states get a zero-reward self-loop."""
    import quantecon as qe
    import scipy.sparse as sp

    from accessrl.planning.kernels import pair_rewards

    r = pair_rewards(mdp).copy()  # accessrl's cache is read-only; QuantEcon gets its own array
    term = np.flatnonzero(mdp.terminal)
    q = sp.csr_matrix((mdp.out_prob, mdp.out_next, mdp.out_ptr), shape=(mdp.n_pairs, mdp.n_states), copy=True)
    if term.size:
        q = sp.vstack([q, sp.csr_matrix((np.ones(term.size), (np.arange(term.size), term)),
                                        shape=(term.size, mdp.n_states))], format="csr")
        r = np.concatenate([r, np.zeros(term.size)])
        s_idx = np.concatenate([mdp.sa_state, term])
        a_idx = np.concatenate([mdp.sa_action, np.zeros(term.size, dtype=np.int64)])
    else:
        s_idx, a_idx = mdp.sa_state, mdp.sa_action
    return qe.markov.DiscreteDP(r, q, mdp.gamma, s_idx, a_idx)


def mdptoolbox_problem(mdp):
    """pymdptoolbox's (P, R): A sparse (S, S) matrices; every state here has every action."""
    import scipy.sparse as sp

    from accessrl.planning.kernels import pair_rewards

    assert not mdp.terminal.any() and np.all(np.diff(mdp.sa_ptr) == mdp.n_actions)
    r = pair_rewards(mdp).reshape(mdp.n_states, mdp.n_actions).copy()
    mats = []
    for a in range(mdp.n_actions):
        rows = np.arange(mdp.n_states) * mdp.n_actions + a
        lo, hi = mdp.out_ptr[rows], mdp.out_ptr[rows + 1]
        idx = np.concatenate([np.arange(x, y) for x, y in zip(lo, hi, strict=True)])
        indptr = np.concatenate(([0], np.cumsum(hi - lo)))
        mats.append(sp.csr_matrix((mdp.out_prob[idx], mdp.out_next[idx], indptr), shape=(mdp.n_states,) * 2))
    return mats, r


def _load() -> float:
    return os.getloadavg()[0]


def interleaved(contenders: dict[str, Callable[[], Any]], repeats: int) -> dict[str, dict[str, Any]]:
    """Run every contender once per repeat, in turn; wall and CPU seconds and the last return value."""
    out: dict[str, dict[str, Any]] = {k: {"wall": [], "cpu": []} for k in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            c0, t0 = time.process_time(), time.perf_counter()
            val = fn()
            out[name]["wall"].append(time.perf_counter() - t0)
            out[name]["cpu"].append(time.process_time() - c0)
            out[name]["value"] = val
    for rec in out.values():
        rec["wall_median"] = statistics.median(rec["wall"])
        rec["cpu_median"] = statistics.median(rec["cpu"])
    return out


@nb.njit(cache=True)
def _gather_floor(sa_ptr, out_ptr, out_next, out_prob, v, u):  # pragma: no cover - compiled
    # Exactly one gather v[out_next] * prob per outcome, summed per pair, max per state; nothing else.
    for s in range(v.size):
        top = -np.inf
        for k in range(sa_ptr[s], sa_ptr[s + 1]):
            acc = 0.0
            for j in range(np.uint64(out_ptr[k]), np.uint64(out_ptr[k + 1])):
                acc += out_prob[j] * v[np.uint64(out_next[j])]
            if acc > top:
                top = acc
        u[s] = top


@nb.njit(parallel=True, cache=True)
def _gather_floor_par(sa_ptr, out_ptr, out_next, out_prob, v, u):  # pragma: no cover - compiled
    n = v.size
    for b in nb.prange(256):
        for s in range(b * n // 256, (b + 1) * n // 256):
            top = -np.inf
            for k in range(sa_ptr[s], sa_ptr[s + 1]):
                acc = 0.0
                for j in range(np.uint64(out_ptr[k]), np.uint64(out_ptr[k + 1])):
                    acc += out_prob[j] * v[np.uint64(out_next[j])]
                if acc > top:
                    top = acc
            u[s] = top


def read_floor(arrays: list[np.ndarray]) -> float:
    return float(sum(float(np.sum(a)) for a in arrays))


def warm(threads: int) -> None:
    """Compile (or load from numba's cache) every kernel the rows time, on small models."""
    from accessrl.planning import kernels as K
    from accessrl.planning.solver import solve

    small = build("rand", 80_000, 0.99)  # above PARALLEL_MIN_NNZ, so the parallel builds compile too
    for t in {1, threads}:
        solve(small, "compiled-mpi", tol=1e-3, threads=t)
    solve(build("workflow", 3000, 0.99), tol=1e-3)
    r = K.pair_rewards(small)
    v, u = np.zeros(small.n_states), np.zeros(small.n_states)
    best = np.zeros(small.n_states, dtype=np.int64)
    K.bellman_sweep(small, r, v, u, best, threads=threads)
    _gather_floor(small.sa_ptr, small.out_ptr, small.out_next, small.out_prob, v, u)
    _gather_floor_par(small.sa_ptr, small.out_ptr, small.out_next, small.out_prob, v, u)


def row_random(n: int, repeats: int, threads: int) -> dict[str, Any]:
    from accessrl.planning.solver import solve

    load0 = _load()
    mdp = build("rand", n, 0.99)
    ref = solve(mdp, "compiled-mpi", tol=REF_TOL)
    qe = qe_problem(mdp)
    colds = iter([replace(mdp) for _ in range(repeats)])  # copies made untimed (same arrays, empty cache)
    contenders: dict[str, Callable[[], Any]] = {
        "accessrl compiled-mpi, 1 thread": lambda: solve(mdp, "compiled-mpi", tol=TOL, threads=1),
        "accessrl compiled-mpi, 1 thread, cold model (r per pair not cached)":
            lambda: solve(next(colds), "compiled-mpi", tol=TOL, threads=1),
        f"accessrl compiled-mpi, {threads} threads": lambda: solve(mdp, "compiled-mpi", tol=TOL, threads=threads),
        "QuantEcon DiscreteDP MPI": lambda: qe.solve("modified_policy_iteration", epsilon=TOL, max_iter=100_000),
    }
    if threads == 1:
        del contenders[f"accessrl compiled-mpi, {threads} threads"]
    res = interleaved(contenders, repeats)
    out = _summarise(res, ref.values, "accessrl compiled-mpi, 1 thread")
    for k, rec in res.items():
        val = rec["value"]
        if not isinstance(val, dict):
            out[k].update(error_bound=val.error_bound, iterations=val.iterations, threads=val.extra.get("threads"),
                          sweeps=val.extra.get("sweeps"))
        else:
            out[k].update(iterations=int(val.num_iter))
    breakdown = mpi_breakdown(mdp)
    return {"row": f"random sparse S={mdp.n_states:.0e} A=4 k=10 gamma 0.99, err <= 1e-6", "n_states": mdp.n_states,
            "breakdown": breakdown,
            "nnz": mdp.n_outcomes, "model_bytes": mdp.nbytes, "contenders": out, "load": [load0, _load()],
            "reference": {"bound": ref.error_bound, "qe_vs_ref": out["QuantEcon DiscreteDP MPI"]["error"]}}


def mpi_breakdown(mdp) -> dict[str, float]:
    """CPU seconds of each phase of one compiled-MPI solve (one thread), by wrapping the kernels."""
    from accessrl.planning import kernels as K
    from accessrl.planning.scalable import compiled_modified_policy_iteration

    spent: dict[str, float] = {}
    saved = {}

    def wrap(owner, name, label):
        f = getattr(owner, name)
        saved[(owner, name)] = f

        def g(*a, **k):
            c = time.process_time()
            out = f(*a, **k)
            spent[label] = spent.get(label, 0.0) + time.process_time() - c
            return out
        setattr(owner, name, g)

    for name, label in (("bellman_sweep_from_zero", "first Bellman sweep (from v = 0, no outcome read)"),
                        ("bellman_sweep_active", "Bellman sweeps (active pairs)"),
                        ("eliminate_actions", "action elimination"), ("greedy_pairs", "final Q and policy sweep")):
        wrap(K, name, label)
    wrap(K.PolicyMatrix, "apply", "evaluation sweeps on P_sigma")
    wrap(K.PolicyMatrix, "_build", "P_sigma build")
    wrap(K.PolicyMatrix, "update", "P_sigma patches")
    c = time.process_time()
    res = compiled_modified_policy_iteration(mdp, tol=TOL)
    spent["total"] = time.process_time() - c
    for (owner, name), f in saved.items():
        setattr(owner, name, f)
    spent["iterations"] = res.iterations
    spent["sweeps"] = res.extra["sweeps"]
    return spent


def row_toolbox(repeats: int) -> dict[str, Any]:
    """pymdptoolbox where it applies: a random model small enough for its Python loops."""
    import mdptoolbox.mdp as mt

    from accessrl.planning.solver import solve

    load0 = _load()
    mdp = build("rand", 500, 0.99)
    ref = solve(mdp, "compiled-mpi", tol=REF_TOL)
    qe = qe_problem(mdp)
    P, R = mdptoolbox_problem(mdp)

    def toolbox(cls):
        def run():
            m = cls(P, R, mdp.gamma, epsilon=TOL, max_iter=1_000_000)
            m.max_iter = 1_000_000  # ValueIteration's constructor lowers it to its own bound
            m.run()
            return np.asarray(m.V, dtype=np.float64)
        return run

    contenders = {
        "accessrl compiled-mpi, 1 thread": lambda: solve(mdp, "compiled-mpi", tol=TOL, threads=1).values,
        "QuantEcon DiscreteDP MPI": lambda: qe.solve("modified_policy_iteration", epsilon=TOL, max_iter=100_000).v,
        "pymdptoolbox PolicyIterationModified": toolbox(mt.PolicyIterationModified),
        "pymdptoolbox ValueIteration": toolbox(mt.ValueIteration),
    }
    res = interleaved(contenders, repeats)
    out = _summarise(res, ref.values, "accessrl compiled-mpi, 1 thread")
    return {"row": f"random sparse S={mdp.n_states} A=4 k=10 gamma 0.99, err <= 1e-6 (pymdptoolbox's range)",
            "n_states": mdp.n_states, "nnz": mdp.n_outcomes, "model_bytes": mdp.nbytes, "contenders": out,
            "load": [load0, _load()]}


def row_workflow(n: int, repeats: int) -> dict[str, Any]:
    from accessrl.planning.solver import solve

    load0 = _load()
    mdp = build("workflow", n, 0.99)
    from accessrl.planning.kernels import strong_components
    from accessrl.planning.scalable import topological_value_iteration

    ref = topological_value_iteration(mdp, tol=REF_TOL, scc=strong_components(mdp))
    qe = qe_problem(mdp)
    arrays = [mdp.out_next, mdp.out_prob, mdp.out_reward]
    colds = iter([replace(mdp) for _ in range(repeats)])  # copies made untimed (same arrays, empty cache)
    contenders: dict[str, Callable[[], Any]] = {
        "accessrl solve(auto)": lambda: solve(mdp, tol=TOL),
        "accessrl solve(auto), cold model (r per pair not cached)": lambda: solve(next(colds), tol=TOL),
        "QuantEcon DiscreteDP MPI": lambda: qe.solve("modified_policy_iteration", epsilon=TOL, max_iter=100_000),
        "floor: one stream read of out_next, out_prob, out_reward (np.sum)": lambda: read_floor(arrays),
    }
    res = interleaved(contenders, repeats)
    out = _summarise(res, ref.values, "accessrl solve(auto)")
    auto = res["accessrl solve(auto)"]["value"]
    out["accessrl solve(auto)"].update(note=auto.note, error_bound=auto.error_bound)
    return {"row": f"acyclic generated workflow S={mdp.n_states:.0e}", "n_states": mdp.n_states, "nnz": mdp.n_outcomes,
            "model_bytes": mdp.nbytes, "contenders": out, "load": [load0, _load()],
            "bytes_streamed": int(sum(a.nbytes for a in arrays)),
            "reference": "Tarjan + topological value iteration (exact), a different code path"}


def row_sweep(n: int, repeats: int, threads: int) -> dict[str, Any]:
    from accessrl.planning import kernels as K

    load0 = _load()
    mdp = build("rand", n, 0.99)
    r = K.pair_rewards(mdp)
    v = np.random.default_rng(0).random(mdp.n_states)
    u = np.empty_like(v)
    best = np.empty(mdp.n_states, dtype=np.int64)
    read = [mdp.sa_ptr, mdp.out_ptr, r, mdp.out_next, mdp.out_prob, v]
    args = (mdp.sa_ptr, mdp.out_ptr, mdp.out_next, mdp.out_prob, v, u)
    contenders: dict[str, Callable[[], Any]] = {
        "accessrl bellman_sweep, 1 thread": lambda: K.bellman_sweep(mdp, r, v, u, best, threads=1),
        f"accessrl bellman_sweep, {threads} threads": lambda: K.bellman_sweep(mdp, r, v, u, best, threads=threads),
        "gather floor (numba: v[next] * p, per-pair sum, per-state max), 1 thread": lambda: _gather_floor(*args),
        f"gather floor, {threads} threads": lambda: _gather_floor_par(*args),
        "read floor (np.sum over every array the sweep reads)": lambda: read_floor(read),
    }
    if threads == 1:
        for k in [k for k in contenders if f"{threads} threads" in k]:
            del contenders[k]
    nb.set_num_threads(threads)
    res = interleaved(contenders, repeats)
    out = {k: {"wall_s": rec["wall_median"], "cpu_s": rec["cpu_median"], "walls": rec["wall"]} for k, rec in res.items()}
    return {"row": f"one full Bellman sweep, random S={mdp.n_states:.0e} (A=4, k=10)", "n_states": mdp.n_states,
            "nnz": mdp.n_outcomes, "bytes_read": int(sum(a.nbytes for a in read)),
            "out_next_dtype": str(mdp.out_next.dtype), "contenders": out, "load": [load0, _load()]}


def _summarise(res: dict[str, dict[str, Any]], ref: np.ndarray, ours: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for k, rec in res.items():
        val = rec["value"]
        from accessrl.planning.results import SolveResult

        vals = val.values if isinstance(val, SolveResult) else val["v"] if isinstance(val, dict) else val
        err = float(np.max(np.abs(np.asarray(vals, dtype=np.float64) - ref))) if np.ndim(vals) else float("nan")
        out[k] = {"wall_s": rec["wall_median"], "cpu_s": rec["cpu_median"], "walls": rec["wall"], "error": err}
    base = out[ours]
    for rec in out.values():
        rec["x_vs_accessrl_wall"] = rec["wall_s"] / base["wall_s"]
        rec["x_vs_accessrl_cpu"] = rec["cpu_s"] / base["cpu_s"]
    return out


def report(meta: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    out = ["# Planning at the limit: accessrl vs QuantEcon DiscreteDP vs pymdptoolbox, with floors", "",
           f"One run of `python benchmarks/bench_planning.py` ({meta['repeats']} interleaved repeats per row, medians) "
           f"on {meta['cores']} allowed CPUs shared with other work: load average {meta['load_start']:.2f} at the start, "
           f"{meta['load_end']:.2f} at the end (per row below). numba {meta['numba']}, NumPy {meta['numpy']}, "
           f"QuantEcon {meta['quantecon']}. Thread probe (`accessrl.machine`): {meta['probe']}. "
           "Ratios are the contender's median over accessrl's (above 1: accessrl is faster).", ""]
    for row in rows:
        out += [f"## {row['row']}", "", f"Load average {row['load'][0]:.2f} -> {row['load'][1]:.2f}; "
                f"{row['n_states']} states, {row['nnz']} transitions.", ""]
        if "error" in next(iter(row["contenders"].values())):
            out += ["| contender | wall (s) | CPU (s) | wall / accessrl | CPU / accessrl | max abs error | notes |",
                    "|---|---:|---:|---:|---:|---:|---|"]
            for k, c in row["contenders"].items():
                notes = ", ".join(f"{n} {c[n]}" for n in ("iterations", "sweeps", "threads") if c.get(n) is not None)
                if c.get("note"):
                    notes += c["note"]
                out.append(f"| {k} | {c['wall_s']:.3f} | {c['cpu_s']:.3f} | {c['x_vs_accessrl_wall']:.2f}x | "
                           f"{c['x_vs_accessrl_cpu']:.2f}x | {c['error']:.1e} | {notes} |")
            if row.get("breakdown"):
                bd = row["breakdown"]
                out += ["", f"Where accessrl's CPU time goes (one more solve, kernels wrapped; {bd['iterations']} iterations, "
                        f"{bd['sweeps']} sweeps):", "", "| phase | CPU (s) |", "|---|---:|"]
                out += [f"| {k} | {v:.3f} |" for k, v in bd.items() if k not in ("iterations", "sweeps")]
            if "toolbox" in row["row"]:
                out += ["", "pymdptoolbox's ValueIteration stops when span(V_k - V_k-1) is small (a rule for the "
                        "policy): its values can be off by a constant, hence the large error; its "
                        "PolicyIterationModified meets the target."]
        else:
            out += ["| contender | wall (ms) | CPU (ms) |", "|---|---:|---:|"]
            for k, c in row["contenders"].items():
                out.append(f"| {k} | {1e3 * c['wall_s']:.1f} | {1e3 * c['cpu_s']:.1f} |")
            out += ["", f"Bytes the sweep reads: {row['bytes_read'] / 1e6:.0f} MB (next states {row['out_next_dtype']})."]
        out.append("")
    out += ["## Goals", ""] + [f"- {g}" for g in meta["goals"]] + [""]
    out += ["Reading the numbers: with the load average above the 2 cores, every contender waits for a CPU",
            "part of the time, so wall times are inflated (by a different amount for each run); CPU time",
            "(`process_time`, summed over threads) counts only the time spent running and is the fairer",
            "single-thread comparison. A second thread helps only when a second core is free: the probe in",
            "`accessrl.machine` (one thread vs all, interleaved) decides `--threads auto`. Where a goal is",
            "missed, the breakdown under the random row says where accessrl's time goes; the last table says",
            "how close one sweep is to the floors.", ""]
    return "\n".join(out)


def goals(rows: list[dict[str, Any]], threads: int) -> list[str]:
    lines = []
    for row in rows:
        c = row["contenders"]
        if row["row"].startswith("random sparse") and "QuantEcon DiscreteDP MPI" in c and "toolbox" not in row["row"]:
            qe = c["QuantEcon DiscreteDP MPI"]
            one = c["accessrl compiled-mpi, 1 thread"]
            x1 = qe["wall_s"] / one["wall_s"]
            lines.append(f"random sparse, one thread: {x1:.2f}x QuantEcon's MPI (wall; CPU {qe['cpu_s'] / one['cpu_s']:.2f}x); "
                         f"goal >= 3x: {'MET' if x1 >= 3 else 'MISSED'}")
            key = f"accessrl compiled-mpi, {threads} threads"
            if key in c:
                xn = qe["wall_s"] / c[key]["wall_s"]
                lines.append(f"random sparse, {threads} threads: {xn:.2f}x QuantEcon's MPI (wall; the run used "
                             f"{c[key]['cpu_s']:.2f} s CPU vs {one['cpu_s']:.2f} s on one thread); goal >= 5x: "
                             f"{'MET' if xn >= 5 else 'MISSED'}")
        if row["row"].startswith("acyclic"):
            x = c["QuantEcon DiscreteDP MPI"]["wall_s"] / c["accessrl solve(auto)"]["wall_s"]
            fl = [v for k, v in c.items() if k.startswith("floor")][0]
            xc = c["QuantEcon DiscreteDP MPI"]["cpu_s"] / c["accessrl solve(auto)"]["cpu_s"]
            lines.append(f"acyclic workflow: {x:.1f}x QuantEcon's MPI (wall; CPU {xc:.1f}x); accessrl at "
                         f"{c['accessrl solve(auto)']['wall_s'] / fl['wall_s']:.2f}x the stream-read floor; goal >= 30x: "
                         f"{'MET' if x >= 30 else 'MISSED'}")
        if row["row"].startswith("one full Bellman"):
            ours = c["accessrl bellman_sweep, 1 thread"]["wall_s"]
            gf = c["gather floor (numba: v[next] * p, per-pair sum, per-state max), 1 thread"]["wall_s"]
            rf = c["read floor (np.sum over every array the sweep reads)"]["wall_s"]
            lines.append(f"Bellman sweep (1 thread): {ours / gf:.2f}x the gather floor, {ours / rf:.2f}x the read floor; "
                         f"goal <= 2x the gather floor: {'MET' if ours / gf <= 2 else 'MISSED'}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="S = 1e5 instead of 1e6")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="the multi-thread contender (default: allowed CPUs)")
    ap.add_argument("--rows", default="random,toolbox,workflow,sweep")
    a = ap.parse_args()
    import quantecon

    from accessrl.machine import available_cores, probe_report

    n = 100_000 if a.quick else 1_000_000
    threads = a.threads or min(available_cores(), int(nb.config.NUMBA_NUM_THREADS))
    load0 = _load()
    probe = probe_report()
    warm(threads)
    rows = []
    wanted = a.rows.split(",")
    for name, fn in (("random", lambda: row_random(n, a.repeats, threads)), ("toolbox", lambda: row_toolbox(a.repeats)),
                     ("workflow", lambda: row_workflow(n, max(a.repeats, 5))),
                     ("sweep", lambda: row_sweep(n, max(a.repeats, 5), threads))):
        if name in wanted:
            rows.append(fn())
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "contenders"}), flush=True)
            for k, c in rows[-1]["contenders"].items():
                print(f"   {k}: wall {c['wall_s']:.4f} s, cpu {c['cpu_s']:.4f} s", flush=True)
    meta = {"repeats": a.repeats, "cores": available_cores(), "threads": threads, "load_start": load0, "load_end": _load(),
            "numba": nb.__version__, "numpy": np.__version__, "quantecon": quantecon.__version__,
            "python": platform.python_version(), "probe": probe, "goals": goals(rows, threads)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "planning.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, default=float) + "\n")
    (RESULTS / "planning.md").write_text(report(meta, rows))
    print("\n".join(meta["goals"]))
    print(f"wrote {RESULTS / 'planning.md'}")


if __name__ == "__main__":
    main()
