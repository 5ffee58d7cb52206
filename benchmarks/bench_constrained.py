"""Constrained policies: accessrl's sparse HiGHS LP against the alternatives a user would reach for.

Models: the generated access-review workflow (:func:`accessrl.catalog.workflows.access_review_workflow`,
gamma 0.99) at about 1,000, 5,000 and 30,000 states (about 6k, 28k and 154k state-actions),
with one extra component ``reviews`` = 1 on every outcome of ``human_review`` or ``escalate``.
The limit: expected discounted reviews per request at most half of what the unconstrained
optimal policy uses (so the limit binds).

Contenders, in the same run:

* ``accessrl LP`` — :func:`accessrl.rewards.constrained.constrained_solve` (sparse LP over occupancy
  measures, HiGHS via ``scipy.optimize.linprog``); exact, randomised policy, shadow price.
* ``Lagrangian bisection`` — what one does without an LP: solve the unconstrained MDP with
  reward ``r - lambda * reviews`` (``accessrl.solve``) and bisect lambda (40 steps) for the
  best *deterministic* policy meeting the limit.  Its value can only be <= the LP's.
* ``dense linprog`` — the same LP written with a dense constraint matrix (numpy array), as a
  first attempt often is; smallest size only (memory grows with states x state-actions).

Each timing is the median of ``--repeats`` runs (wall clock).  ``value`` is the expected
discounted return from the start, re-measured by exact policy evaluation of the returned policy.

Usage: ``python benchmarks/bench_constrained.py [--repeats 3] [--quick]``.
Writes ``benchmarks/results/constrained.md`` and ``constrained.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy
from scipy.optimize import linprog

from accessrl.catalog.workflows import access_review_workflow, workflow_params_for
from accessrl.model.mdp import MDP
from accessrl.model.policies import start_distribution
from accessrl.planning.exact import policy_evaluation
from accessrl.planning.solver import solve
from accessrl.rewards.components import Limit, reweight
from accessrl.rewards.constrained import constrained_solve, flow_matrix

RESULTS = Path(__file__).resolve().parent / "results"


def with_reviews(mdp: MDP) -> MDP:
    review = np.isin(mdp.sa_action, [mdp.action_index("human_review"), mdp.action_index("escalate")])
    return replace(mdp, components={"reviews": np.repeat(review, np.diff(mdp.out_ptr)).astype(np.float64)})


def start_value(mdp: MDP, policy: Any, weights: dict[str, float]) -> float:
    return float(policy_evaluation(reweight(mdp, weights), policy).values[mdp.start])


def lagrangian(mdp: MDP, bound: float, steps: int = 40) -> tuple[float, Any]:
    """Bisection on the multiplier; the best deterministic policy found that meets the limit."""
    lo, hi = 0.0, 1.0
    while start_value(mdp, solve(reweight(mdp, {"reward": 1, "reviews": -hi})).policy, {"reviews": 1}) > bound:
        hi *= 2
    best_pol = solve(reweight(mdp, {"reward": 1, "reviews": -hi})).policy
    for _ in range(steps):
        mid = (lo + hi) / 2
        pol = solve(reweight(mdp, {"reward": 1, "reviews": -mid})).policy
        if start_value(mdp, pol, {"reviews": 1}) <= bound:
            hi, best_pol = mid, pol
        else:
            lo = mid
    return start_value(mdp, best_pol, {"reward": 1}), best_pol


def dense_lp(mdp: MDP, bound: float) -> float:
    a_eq, live = flow_matrix(mdp)
    mu = start_distribution(mdp)
    c = reweight(mdp, {"reviews": 1}).expected_reward
    res = linprog(-mdp.expected_reward, A_ub=c[None, :], b_ub=[bound], A_eq=a_eq.toarray(), b_eq=mu[live],
                  bounds=(0, None), method="highs")
    return float(-res.fun)


def timed(fn: Any, repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sizes = [1000, 5000] if args.quick else [1000, 5000, 30000]
    rows: list[dict[str, Any]] = []
    warm = with_reviews(access_review_workflow(workflow_params_for(3000)))  # compile numba kernels first
    solve(warm)
    for n in sizes:
        mdp = with_reviews(access_review_workflow(workflow_params_for(n)))
        t_solve, best = timed(lambda m=mdp: solve(m), args.repeats)
        bound = start_value(mdp, best.policy, {"reviews": 1}) / 2
        t_lp, res = timed(lambda m=mdp, b=bound: constrained_solve(m, [Limit("reviews", "<=", b)]), args.repeats)
        lp_value = start_value(mdp, res.policy, {"reward": 1})
        lp_used = start_value(mdp, res.policy, {"reviews": 1})
        t_lag, (lag_value, _) = timed(lambda m=mdp, b=bound: lagrangian(m, b), max(1, args.repeats // 2))
        row = {
            "states": mdp.n_states, "state_actions": mdp.n_pairs, "transitions": mdp.n_outcomes,
            "bound": bound, "unconstrained_value": float(best.values[mdp.start]), "unconstrained_s": t_solve,
            "lp_s": t_lp, "lp_value": lp_value, "lp_reviews": lp_used,
            "lp_shadow_price": res.constraints[0].shadow_price, "lp_randomised_states": len(res.randomised_states),
            "lagrangian_s": t_lag, "lagrangian_value": lag_value,
        }
        if n == sizes[0]:
            t_dense, dense_value = timed(lambda m=mdp, b=bound: dense_lp(m, b), args.repeats)
            row.update(dense_s=t_dense, dense_value=dense_value)
        rows.append(row)
        print(row, flush=True)
    RESULTS.mkdir(exist_ok=True)
    meta = {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "machine": platform.machine(), "repeats": args.repeats}
    (RESULTS / "constrained.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    lines = [
        "# Constrained policies: sparse HiGHS LP vs Lagrangian bisection vs dense LP",
        "",
        "Generated access-review workflow (gamma 0.99); limit: expected discounted reviews per request "
        "<= half the unconstrained optimum's. Median wall time; values re-measured by exact policy evaluation.",
        "",
        "| states | state-actions | unconstrained solve (s) | accessrl LP (s) | LP value "
        "| Lagrangian bisection, best deterministic (s) | Lagrangian value | dense linprog (s) "
        "| LP / Lagrangian time | shadow price | randomised states |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        dense = f"{r['dense_s']:.3f}" if "dense_s" in r else "n/a (memory)"
        lines.append(
            f"| {r['states']:,} | {r['state_actions']:,} | {r['unconstrained_s']:.3f} | {r['lp_s']:.3f} | "
            f"{r['lp_value']:.6f} | {r['lagrangian_s']:.3f} | {r['lagrangian_value']:.6f} | {dense} | "
            f"{r['lp_s'] / r['lagrangian_s']:.2f} | {r['lp_shadow_price']:.4g} | {r['lp_randomised_states']} |"
        )
    lines += ["", f"Python {meta['python']}, NumPy {meta['numpy']}, SciPy {meta['scipy']} ({meta['machine']}); "
              f"{args.repeats} repeats (Lagrangian: {max(1, args.repeats // 2)})."]
    (RESULTS / "constrained.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
