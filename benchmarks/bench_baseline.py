"""The issue's starting point, reproduced: any tree's ``solve`` vs QuantEcon's MPI at S = 1e6.

    PYTHONPATH=/work/main/src python benchmarks/bench_baseline.py     # the tree before this work
    PYTHONPATH=src python benchmarks/bench_baseline.py                 # this tree

Uses only APIs every tree has (``rand``, ``access_review_workflow``, ``solve``, ``pair_rewards``),
so it runs on the old code too.  Random sparse S = 1e6 (A = 4, k = 10, gamma 0.99) with
``compiled-mpi`` and the acyclic workflow with ``auto``, tol 1e-6; QuantEcon's DiscreteDP built
untimed from the same arrays; 3 interleaved repeats, medians of wall time; load average printed.
Prints its table (copied by hand into benchmarks/results/planning.md).
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
import quantecon as qe
import scipy.sparse as sp

from accessrl.catalog.workflows import access_review_workflow, rand, workflow_params_for
from accessrl.planning.kernels import pair_rewards
from accessrl.planning.solver import solve


def qe_problem(mdp):
    r = np.array(pair_rewards(mdp))
    term = np.flatnonzero(mdp.terminal)
    q = sp.csr_matrix((mdp.out_prob, mdp.out_next, mdp.out_ptr), shape=(mdp.n_pairs, mdp.n_states), copy=True)
    s_idx, a_idx = mdp.sa_state, mdp.sa_action
    if term.size:
        q = sp.vstack([q, sp.csr_matrix((np.ones(term.size), (np.arange(term.size), term)),
                                        shape=(term.size, mdp.n_states))], format="csr")
        r = np.concatenate([r, np.zeros(term.size)])
        s_idx = np.concatenate([s_idx, term])
        a_idx = np.concatenate([a_idx, np.zeros(term.size, dtype=np.int64)])
    return qe.markov.DiscreteDP(r, q, mdp.gamma, s_idx, a_idx)


def main() -> None:
    solve(rand(3000, 4, 10, gamma=0.99, rng=np.random.default_rng(1)), "compiled-mpi")  # compile
    solve(access_review_workflow(workflow_params_for(3000)))
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("| instance | accessrl (s) | QuantEcon MPI (s) | ratio | next-state dtype |")
    print("|---|---:|---:|---:|---|")
    for name, mdp, method in (
        ("random sparse S=1e6", rand(1_000_000, 4, 10, gamma=0.99, rng=np.random.default_rng(1_000_000)), "compiled-mpi"),
        ("acyclic workflow S=1e6", access_review_workflow(workflow_params_for(1_000_000)), "auto"),
    ):
        dp = qe_problem(mdp)
        times: dict[str, list[float]] = {"accessrl": [], "qe": []}
        for _ in range(3):
            t = time.perf_counter()
            solve(mdp, method, tol=1e-6)
            times["accessrl"].append(time.perf_counter() - t)
            t = time.perf_counter()
            dp.solve("modified_policy_iteration", epsilon=1e-6, max_iter=100_000)
            times["qe"].append(time.perf_counter() - t)
        a, q = statistics.median(times["accessrl"]), statistics.median(times["qe"])
        print(f"| {name} | {a:.3f} | {q:.3f} | {q / a:.2f}x | {mdp.out_next.dtype} |")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
