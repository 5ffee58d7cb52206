"""Planning at scale: accessrl vs QuantEcon's DiscreteDP vs pymdptoolbox, side by side in one run.

    python benchmarks/bench_planning.py            # S = 1e3 .. 1e6, about 10 minutes
    python benchmarks/bench_planning.py --quick    # S = 1e3, 1e4 (a smoke run)

Instances: random sparse models (accessrl.catalog.workflows.rand: A = 4, 10 successors, gamma 0.9
and 0.99) and generated access-review workflows (acyclic and cyclic, gamma 0.99).  Every
solver is asked for max|V - V*| <= 1e-6 through its own tolerance; the achieved error is
measured against a reference (accessrl's compiled MPI at tol 1e-10, cross-checked against
topological VI / Krylov PI), and a solver that misses is re-run with its tolerance divided
by 10 (up to three times; the time reported is that of the run that met the target).

Each (instance, solver) runs in a fresh worker process that memory-maps the model, so peak
memory is measured per run: the worker resets the kernel's high-water mark
(/proc/self/clear_refs) just before the timed call and reports VmHWM - VmRSS ("extra").
Times exclude building the solver's input (QuantEcon's DiscreteDP constructor, the (P, R)
lists for pymdptoolbox), except pymdptoolbox's constructor, which computes its iteration
bound (part of its algorithm).  Medians of 3 runs where a run takes under 5 s.

Writes benchmarks/results/planning.md and planning.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TOL = 1e-6
REF_TOL = 1e-10
SOLVERS = ["accessrl", "qe-mpi", "qe-vi", "mdptoolbox-vi", "mdptoolbox-pim"]


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def build(kind: str, n: int, gamma: float):
    from accessrl.catalog.workflows import access_review_workflow, rand, workflow_params_for

    if kind == "rand":
        return rand(n, 4, 10, gamma=gamma, rng=np.random.default_rng(n))
    return access_review_workflow(workflow_params_for(n, cyclic=(kind == "workflow-cyclic")), gamma=gamma)


def _competitor_form(mdp):
    """Every state gets every action: terminals a zero-reward self-loop, unavailable actions
    a copy of the state's first available action (which changes no optimal value)."""

    s, a = mdp.n_states, mdp.n_actions
    from accessrl.planning.kernels import pair_rewards

    r = pair_rewards(mdp)
    pair_of = np.full((s, a), -1, dtype=np.int64)
    pair_of[mdp.sa_state, mdp.sa_action] = np.arange(mdp.n_pairs)
    first = np.where(mdp.n_actions_of > 0, mdp.sa_ptr[:-1], -1)
    filled = np.where(pair_of >= 0, pair_of, first[:, None])  # -1 only for terminals
    return r, filled


def qe_problem(mdp):
    import quantecon as qe
    import scipy.sparse as sp

    r, _ = _competitor_form(mdp)
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
    import scipy.sparse as sp

    r, filled = _competitor_form(mdp)
    s = mdp.n_states
    mats, rew = [], np.zeros((s, mdp.n_actions))
    lens = np.diff(mdp.out_ptr)
    for act in range(mdp.n_actions):
        k = filled[:, act]
        ok = k >= 0
        kk = np.where(ok, k, 0)
        counts = np.where(ok, lens[kk], 1)
        indptr = np.concatenate(([0], np.cumsum(counts)))
        src = np.repeat(mdp.out_ptr[kk] - indptr[:-1], counts) + np.arange(indptr[-1])
        idx = np.where(np.repeat(ok, counts), mdp.out_next[np.minimum(src, mdp.n_outcomes - 1)],
                       np.repeat(np.arange(s), counts))
        dat = np.where(np.repeat(ok, counts), mdp.out_prob[np.minimum(src, mdp.n_outcomes - 1)], 1.0)
        mats.append(sp.csr_matrix((dat, idx, indptr), shape=(s, s)))
        rew[:, act] = np.where(ok, r[kk], 0.0)
    return mats, rew


def run_solver(solver: str, mdp, eps: float):
    """One timed solve; returns (values, seconds, extra peak bytes, info)."""
    info: dict = {}
    if solver == "accessrl":
        from accessrl.planning.solver import solve

        prep = None
        def call():
            res = solve(mdp, "auto", tol=eps)
            info.update(method=res.method, note=res.note, iterations=res.iterations, error_bound=res.error_bound,
                        sweeps=res.extra.get("sweeps"))
            return res.values
    elif solver.startswith("qe-"):
        prep = qe_problem(mdp)
        method = {"qe-mpi": "modified_policy_iteration", "qe-vi": "value_iteration"}[solver]
        def call():
            res = prep.solve(method, epsilon=eps, max_iter=1_000_000)
            info.update(iterations=int(res.num_iter))
            return res.v
    else:
        import mdptoolbox.mdp as mt

        prep = mdptoolbox_problem(mdp)
        cls = {"mdptoolbox-vi": mt.ValueIteration, "mdptoolbox-pim": mt.PolicyIterationModified}[solver]
        def call():
            m = cls(prep[0], prep[1], mdp.gamma, epsilon=eps, max_iter=1_000_000)
            m.max_iter = 1_000_000  # ValueIteration's constructor lowers it to its own bound
            m.run()
            info.update(iterations=int(m.iter))
            return np.asarray(m.V, dtype=np.float64)
    before = _status("VmRSS")
    _reset_peak()
    t = time.perf_counter()
    v = call()
    secs = time.perf_counter() - t
    extra = max(0, _status("VmHWM") - before)
    return np.asarray(v, dtype=np.float64), secs, extra, info


def worker(args: dict) -> dict:
    from accessrl.specfile import load_binary

    mdp = load_binary(args["model"])
    for name in ("sa_ptr", "sa_action", "out_ptr", "out_next", "out_prob", "out_reward", "terminal"):
        np.asarray(getattr(mdp, name)).sum()  # page the mapped arrays in before timing
    ref = np.load(args["ref"])
    # warm up compiled code on a tiny model loaded the same way (memory-mapped arrays are
    # read-only, a separate numba specialisation), so compilation is not timed
    from accessrl.specfile import save_binary

    tiny = build("rand", 300, mdp.gamma) if "rand" in args["kind"] else build(args["kind"], 300, mdp.gamma)
    tiny_path = Path(args["model"]).with_name("tiny.npz")
    save_binary(tiny, tiny_path)
    run_solver(args["solver"], load_binary(tiny_path), 1e-3)
    eps = TOL
    runs = []
    for _attempt in range(4):
        v, secs, extra, info = run_solver(args["solver"], mdp, eps)
        err = float(np.max(np.abs(v - ref)))
        runs.append({"eps": eps, "seconds": secs, "error": err})
        if err <= TOL:
            break
        eps /= 10
    times = [secs]
    if err <= TOL and secs < 5:
        for _ in range(2):
            times.append(run_solver(args["solver"], mdp, eps)[1])
    return {"seconds": float(np.median(times)), "times": times, "error": err, "eps": eps, "met": err <= TOL,
            "extra_bytes": extra, "attempts": runs, **info}


def bandwidth() -> dict:
    import numba as nb

    @nb.njit(parallel=True)
    def psum(a):
        s = 0.0
        for i in nb.prange(a.size):
            s += a[i]
        return s

    @nb.njit
    def ssum(a):
        s = 0.0
        for i in range(a.size):
            s += a[i]
        return s

    a = np.ones(1 << 27)  # 1 GiB
    psum(a), ssum(a[:10])
    tp = min(_timed(psum, a) for _ in range(5))
    ts = min(_timed(ssum, a) for _ in range(3))
    return {"read_GBps": a.nbytes / tp / 1e9, "read_GBps_one_core": a.nbytes / ts / 1e9, "array_bytes": a.nbytes}


def _timed(f, *a) -> float:
    t = time.perf_counter()
    f(*a)
    return time.perf_counter() - t


def sweep_floor(mdp, bw: float) -> list[dict]:
    """Per-sweep times of the compiled kernels and of scipy's CSR product vs the bandwidth floor."""
    import numba
    import scipy.sparse as sp

    from accessrl.planning import kernels as K

    r = K.pair_rewards(mdp)
    n = mdp.n_states
    v = np.random.default_rng(0).random(n)
    v[mdp.terminal] = 0.0
    u = np.empty(n)
    best = np.empty(n, dtype=np.int64)
    K.bellman_sweep(mdp, r, v, u, best)
    full = min(_timed(K.bellman_sweep, mdp, r, v, u, best) for _ in range(5))
    K.PARALLEL_MIN_NNZ, saved = 0, K.PARALLEL_MIN_NNZ
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    K.bellman_sweep(mdp, r, v, u, best)
    full_par = min(_timed(K.bellman_sweep, mdp, r, v, u, best) for _ in range(5))
    K.PARALLEL_MIN_NNZ = saved
    lens = np.where(best >= 0, mdp.out_ptr[np.maximum(best, 0) + 1] - mdp.out_ptr[np.maximum(best, 0)], 0)
    pol_bytes = int(8 * n + 8 * 2 * n + 16 * int(lens.sum()) + 8 * n)  # best, r+out_ptr, next+prob, v
    K.policy_sweep(mdp, r, best, v, u)
    pol = min(_timed(K.policy_sweep, mdp, r, best, v, u) for _ in range(5))
    q = sp.csr_matrix((mdp.out_prob, mdp.out_next, mdp.out_ptr), shape=(mdp.n_pairs, n), copy=True)
    q.sort_indices()
    q @ v
    sc = min(_timed(lambda: q @ v) for _ in range(5))
    sc_bytes = q.data.nbytes + q.indices.nbytes + q.indptr.nbytes + 8 * n + 8 * mdp.n_pairs
    rows = []
    for name, secs, nbytes in (("accessrl Bellman sweep (T v, all pairs; 1 thread, the default)", full, K.sweep_bytes(mdp)),
                               (f"accessrl Bellman sweep ({numba.config.NUMBA_NUM_THREADS} threads)", full_par,
                                K.sweep_bytes(mdp)),
                               ("accessrl policy sweep (T_sigma v; MPI evaluation)", pol, pol_bytes),
                               ("scipy CSR product P @ v (what QE/pymdptoolbox run)", sc, sc_bytes)):
        floor = nbytes / (bw * 1e9)
        rows.append({"what": name, "seconds": secs, "bytes": int(nbytes), "floor_seconds": floor, "x_floor": secs / floor})
    return rows


def reference(mdp) -> tuple[np.ndarray, dict]:
    from accessrl.planning.solver import solve

    t = time.perf_counter()
    ref = solve(mdp, "compiled-mpi", tol=REF_TOL)
    if mdp.terminal.any():
        other = solve(mdp, "topological", tol=REF_TOL)
    else:
        other = solve(mdp, "krylov-policy-iteration", tol=REF_TOL) if mdp.n_states <= 100_000 else None
    agree = float(np.max(np.abs(other.values - ref.values))) if other is not None else float("nan")
    return ref.values, {"bound": ref.error_bound, "seconds": time.perf_counter() - t,
                        "crosscheck": other.method if other is not None else None, "crosscheck_diff": agree}


def skip_reason(solver: str, kind: str, n: int, gamma: float, vmax: float, sweep_s: float, budget: float,
                rows: list[dict]) -> str | None:
    for r in rows:  # too slow already at a smaller size of the same instance family
        if r["solver"] == solver and r["kind"] == kind and r["gamma"] == gamma and r["n_states"] < n:
            took = r.get("seconds")
            # pymdptoolbox's ValueIteration bound is O(A S^2): its time grows with the square of S
            grow = (n / r["n_states"]) ** (2 if solver == "mdptoolbox-vi" else 1)
            if r.get("skipped") or (took is not None and took * grow > budget):
                what = "skipped" if r.get("skipped") else f"took {took:.1f} s"
                return f"{what} at S = {r['n_states']}; at least {grow:.0f}x that here > {budget:.0f} s budget"
    if solver == "mdptoolbox-vi" and n >= 100_000:
        return (f"ValueIteration's constructor computes an iteration bound with an (A, S) dense array per state, "
                f"O(A S^2) = {4 * n * n:.0e} operations")
    if solver in ("qe-vi", "mdptoolbox-vi") and kind != "workflow":
        # sup-norm value iteration needs about log(eps (1-g) / (2 g Vmax)) / log g sweeps
        sweeps = math.log(TOL * (1 - gamma) / (2 * gamma * max(vmax, 1.0))) / math.log(gamma)
        if sweeps * sweep_s > budget:
            return f"needs ~{sweeps:.0f} sweeps x {sweep_s:.2f} s = ~{sweeps * sweep_s:.0f} s > {budget:.0f} s budget"
    if solver == "mdptoolbox-pim" and n >= 1_000_000:
        return "pymdptoolbox's PolicyIterationModified re-evaluates with Python-level loops; > budget at S = 1e6 in a trial"
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="S = 1e3, 1e4 only")
    ap.add_argument("--sizes", default=None, help="comma-separated sizes, e.g. 1000,100000")
    ap.add_argument("--budget", type=float, default=40.0, help="seconds allowed per competitor run")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--report-only", action="store_true", help="rewrite planning.md from planning.json")
    a = ap.parse_args()
    if a.report_only:
        data = json.loads((RESULTS / "planning.json").read_text())
        (RESULTS / "planning.md").write_text(report(data["meta"], data["runs"], data["sweeps"]))
        return
    if a.worker:
        print(json.dumps(worker(json.loads(a.worker))))
        return
    sizes = [int(float(x)) for x in a.sizes.split(",")] if a.sizes else ([1000, 10_000] if a.quick else
                                                                           [1000, 10_000, 100_000, 1_000_000])
    instances = [("rand", g) for g in (0.9, 0.99)] + [("workflow", 0.99), ("workflow-cyclic", 0.99)]
    t_start = time.time()
    load0 = os.getloadavg()
    bw = bandwidth()
    print(f"memory read bandwidth: {bw['read_GBps']:.1f} GB/s (2 threads), {bw['read_GBps_one_core']:.1f} GB/s (1)", flush=True)
    rows, floors = [], []
    tmp = Path(tempfile.mkdtemp(prefix="accessrl-bench-planning-"))
    from accessrl.specfile import save_binary

    for n in sizes:
        for kind, gamma in instances:
            mdp = build(kind, n, gamma)
            label = f"{kind} S={mdp.n_states} g={gamma}"
            path = tmp / "model.npz"
            save_binary(mdp, path)
            ref, refinfo = reference(mdp)
            np.save(tmp / "ref.npy", ref)
            fl = sweep_floor(mdp, bw["read_GBps"])
            if n == max(sizes) or n >= 1_000_000:
                for f in fl:
                    floors.append({"instance": label, **f})
            sweep_s = fl[-1]["seconds"]
            base = {"instance": label, "kind": kind, "n_states": mdp.n_states, "gamma": gamma,
                    "n_pairs": mdp.n_pairs, "nnz": mdp.n_outcomes, "model_bytes": mdp.nbytes, "reference": refinfo}
            del mdp
            for solver in SOLVERS:
                reason = skip_reason(solver, kind, n, gamma, float(np.max(np.abs(ref))), sweep_s, a.budget, rows)
                row = {**base, "solver": solver}
                if reason:
                    row["skipped"] = reason
                else:
                    args = json.dumps({"model": str(path), "ref": str(tmp / "ref.npy"), "solver": solver, "kind": kind})
                    budget = a.budget * 4 if solver == "accessrl" else a.budget * 1.5
                    try:
                        out = subprocess.run([sys.executable, __file__, "--worker", args], capture_output=True,
                                             text=True, timeout=budget + 60)
                        if out.returncode != 0:
                            row["skipped"] = "failed: " + (out.stderr.strip().splitlines() or ["?"])[-1][:200]
                        else:
                            row.update(json.loads(out.stdout.strip().splitlines()[-1]))
                    except subprocess.TimeoutExpired:
                        row["skipped"] = f"did not finish within {budget + 60:.0f} s (load, build input, up to 4 tries)"
                rows.append(row)
                msg = row.get("skipped") or f"{row['seconds']:.3f} s, error {row['error']:.1e}"
                print(f"{label:42s} {solver:15s} {msg}", flush=True)
    cli = cli_end_to_end(tmp, max(sizes))
    print(f"accessrl solve end to end: {cli}", flush=True)
    load1 = os.getloadavg()
    meta = {"cli": cli, "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "bandwidth": bw, "loadavg_start": load0, "loadavg_end": load1, "tol": TOL,
            "wall_seconds": time.time() - t_start}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "planning.json").write_text(json.dumps({"meta": meta, "runs": rows, "sweeps": floors}, indent=1) + "\n")
    (RESULTS / "planning.md").write_text(report(meta, rows, floors))
    print(f"wrote {RESULTS / 'planning.md'}")


def cli_end_to_end(tmp: Path, n: int) -> dict:
    """Wall time of `accessrl generate` and `accessrl solve` on an acyclic workflow file, as a user runs them."""
    path = tmp / "queue.npz"
    exe = [sys.executable, "-m", "accessrl"]
    t = time.perf_counter()
    subprocess.run([*exe, "generate", str(path), "--states", str(n)], check=True, capture_output=True)
    gen = time.perf_counter() - t
    runs = []
    for _ in range(2):  # the first run may compile numba's read-only specialisations into the cache
        t = time.perf_counter()
        out = subprocess.run([*exe, "solve", str(path)], check=True, capture_output=True, text=True)
        runs.append(time.perf_counter() - t)
    head = " ".join(out.stdout.split("\n")[1:3]).split("(")[0].strip()
    return {"n_states": n, "generate_seconds": gen, "solve_seconds": runs, "method_line": head}


def _get(rows, instance, solver):
    for r in rows:
        if r["instance"] == instance and r["solver"] == solver:
            return r
    return None


def report(meta: dict, rows: list[dict], floors: list[dict]) -> str:
    bw = meta["bandwidth"]
    out = ["# Planning at scale: accessrl vs QuantEcon DiscreteDP vs pymdptoolbox", "",
           f"One run of `python benchmarks/bench_planning.py` on {meta['cpus']} CPUs "
           f"(load average {meta['loadavg_start'][0]:.1f} at start, {meta['loadavg_end'][0]:.1f} at end: "
           "other processes shared the machine), "
           f"memory read bandwidth {bw['read_GBps']:.1f} GB/s (2 threads) / {bw['read_GBps_one_core']:.1f} GB/s (1 thread). "
           f"Every solver asked for max|V - V*| <= {meta['tol']:g}; error measured against a reference solved to 1e-10. "
           "Time: median of 3 runs (1 run when a run takes over 5 s); `eps` is the tolerance the solver needed to meet "
           "the target (tightened x10 when its own stopping rule fell short). Peak: extra resident memory during the "
           "solve over the loaded model, and for accessrl (model + extra) / model arrays.", ""]
    out += ["| instance | solver | time (s) | vs accessrl | error | eps | extra peak MB | iterations | notes |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    instances = list(dict.fromkeys(r["instance"] for r in rows))
    for inst in instances:
        ours = _get(rows, inst, "accessrl")
        for r in [x for x in rows if x["instance"] == inst]:
            if r.get("skipped"):
                out.append(f"| {inst} | {r['solver']} | - | - | - | - | - | - | skipped: {r['skipped']} |")
                continue
            ratio = r["seconds"] / ours["seconds"] if ours and not ours.get("skipped") else float("nan")
            note = ""
            if r["solver"] == "accessrl":
                peak = (r["model_bytes"] + r["extra_bytes"]) / r["model_bytes"]
                note = f"{r.get('method')}: {r.get('note')}; peak {peak:.2f}x model"
            if not r["met"]:
                note += " MISSED the error target"
            out.append(f"| {inst} | {r['solver']} | {r['seconds']:.3f} | {ratio:.1f}x | {r['error']:.1e} | {r['eps']:.0e} | "
                       f"{r['extra_bytes'] / 1e6:.0f} | {r.get('iterations', '')} | {note} |")
    out += ["", "## Time per sweep against the memory-bandwidth floor", "",
            "Floor = bytes the sweep must read (CSR arrays, per-pair rewards, the value vector) / measured bandwidth.", "",
            "| instance | sweep | time (ms) | bytes (MB) | floor (ms) | x floor |", "|---|---|---:|---:|---:|---:|"]
    for f in floors:
        out.append(f"| {f['instance']} | {f['what']} | {f['seconds'] * 1e3:.1f} | {f['bytes'] / 1e6:.0f} | "
                   f"{f['floor_seconds'] * 1e3:.1f} | {f['x_floor']:.1f} |")
    cli = meta.get("cli")
    if cli:
        out += ["", "## End to end", "",
                f"`accessrl generate queue.npz --states {cli['n_states']}`: {cli['generate_seconds']:.1f} s; "
                f"`accessrl solve queue.npz` (process start, memory-mapped load, SCCs, solve, table): "
                f"{cli['solve_seconds'][0]:.1f} s first run, {cli['solve_seconds'][1]:.1f} s second run "
                f"({cli['method_line']}). Target \"finishes in seconds end to end\": "
                f"{'MET' if max(cli['solve_seconds']) < 10 else 'MISSED'}; the progress bar (stderr, terminals only) "
                "appears once a solve has run for a second."]
    out += ["", "## Targets", ""] + targets(rows, floors)
    out += ["", "## Why the missed targets are missed", "", *why(rows, floors)]
    return "\n".join(out) + "\n"


def why(rows: list[dict], floors: list[dict]) -> list[str]:
    """Why the missed targets are missed, with this run's numbers."""
    def xf(prefix: str, kind: str) -> str:
        vals = [f["x_floor"] for f in floors if f["what"].startswith(prefix) and f["instance"].startswith(kind + " ")]
        return f"{min(vals):.1f}-{max(vals):.1f}x" if vals else "?"

    return [
        "- Random sparse models: every pair has 10 successors drawn uniformly from 1e6 states, so the",
        "  40 million gathers v[s'] per sweep mostly miss the cache (v is 8 MB; the 16 MB L3 is shared with",
        "  other processes). The sweep is latency-bound rather than bandwidth-bound: accessrl's compiled",
        f"  Bellman sweep runs at {xf('accessrl Bellman', 'rand')} the floor and scipy's CSR product at",
        f"  {xf('scipy', 'rand')}, and a second thread did not help on this shared 2-core machine. The",
        "  speed-up over QuantEcon's MPI comes from fewer and cheaper sweeps (span stopping rule, MacQueen",
        "  action elimination, m = 2 evaluation sweeps that read only the chosen pairs, no P_sigma",
        "  extraction), not from a faster sweep. Closing the gap to 3x needs fewer bytes per gather (int32",
        "  indices) or a cache-blocked state order; not done.",
        "- Acyclic workflow: QuantEcon's MPI converges in about 8 iterations because requests end within",
        "  days (abandonment, reviews), so exactness alone buys a few x, not 30x. accessrl's time is one",
        "  Tarjan pass (SCCs), one backward pass and one pass for Q and the policy, each a full read of the",
        "  model. Fusing the solve into the SCC pass (solve each component as Tarjan emits it) would remove",
        "  one pass; 30x would need skipping the SCC pass with an order supplied by the generator. Not done.",
        f"- Sweep vs floor: met on the workflow models ({xf('accessrl Bellman', 'workflow')}: successors sit",
        "  near their state, so v stays in cache; below 1x means the streaming bandwidth we measured",
        "  under load understates the machine), missed on the random model for the latency reason above.",
    ]


def targets(rows: list[dict], floors: list[dict]) -> list[str]:
    lines = []

    def speedup(kind, gamma, n_min=900_000):
        for r in rows:
            if r["kind"] == kind and r["gamma"] == gamma and r["n_states"] >= n_min and r["solver"] == "accessrl":
                qe = _get(rows, r["instance"], "qe-mpi")
                if qe and not qe.get("skipped") and not r.get("skipped"):
                    return qe["seconds"] / r["seconds"], r, qe
        return None, None, None

    s, r, q = speedup("rand", 0.99)
    if s is not None:
        lines.append(f"- Random sparse, S = 1e6, gamma 0.99: {s:.1f}x faster than QuantEcon MPI "
                     f"({r['seconds']:.2f} s vs {q['seconds']:.2f} s; target 3x): {'MET' if s >= 3 else 'MISSED'}.")
    s, r, q = speedup("workflow", 0.99)
    if s is not None:
        lines.append(f"- Acyclic workflow, S = 1e6: {s:.1f}x faster than QuantEcon MPI "
                     f"({r['seconds']:.2f} s vs {q['seconds']:.2f} s; target 30x): {'MET' if s >= 30 else 'MISSED'}.")
    full = [f for f in floors if f["what"].startswith("accessrl Bellman")]
    if full:
        best = {}
        for f in full:
            best[f["instance"]] = min(best.get(f["instance"], math.inf), f["x_floor"])
        worst = max(best.values())
        sc = [f["x_floor"] for f in floors if f["what"].startswith("scipy")]
        lines.append(f"- One full Bellman sweep: {worst:.1f}x the bandwidth floor at worst over the S = 1e6 instances "
                     f"(best thread count; scipy's CSR product: {min(sc):.1f}-{max(sc):.1f}x; target 2x): "
                     f"{'MET' if worst <= 2 else 'MISSED'}.")
    peaks = [(r["model_bytes"] + r["extra_bytes"]) / r["model_bytes"] for r in rows
             if r["solver"] == "accessrl" and not r.get("skipped") and r["n_states"] >= 100_000]
    if peaks:
        lines.append(f"- Peak memory (model + solver) / model arrays, S >= 1e5: at most {max(peaks):.2f}x (target 2x): "
                     f"{'MET' if max(peaks) <= 2 else 'MISSED'}.")
    return lines


if __name__ == "__main__":
    main()
