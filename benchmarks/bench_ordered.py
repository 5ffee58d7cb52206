"""Timing: accessrl's ordered one-pass fast path vs QuantEcon MPI on the S = 1e6 acyclic workflow.

    python benchmarks/bench_ordered.py

The generated workflow is not in topological index order (``request_evidence`` turns
'partial' evidence back into 'requested', a more significant digit than the day), so
the workflow is also relabelled into the order of its strongly connected components
(every successor a larger index) and both solvers are timed on that instance too.
QuantEcon's problem is built as in bench_planning.py.  Medians of 3 runs, compile warmed.
"""

from __future__ import annotations

import time

import numpy as np
from bench_planning import TOL, build, qe_problem

from accessrl.model.mdp import MDP
from accessrl.planning.kernels import strong_components
from accessrl.planning.solver import solve


def relabel(mdp: MDP, new_of_old: np.ndarray) -> MDP:
    old_of_new = np.argsort(new_of_old)
    counts = np.diff(mdp.sa_ptr)[old_of_new]
    sa_ptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    pairs = np.repeat(mdp.sa_ptr[:-1][old_of_new] - sa_ptr[:-1], counts) + np.arange(sa_ptr[-1])
    per = np.diff(mdp.out_ptr)[pairs]
    out_ptr = np.concatenate(([0], np.cumsum(per))).astype(np.int64)
    outs = np.repeat(mdp.out_ptr[:-1][pairs] - out_ptr[:-1], per) + np.arange(out_ptr[-1])
    return MDP(gamma=mdp.gamma, state_names=tuple(f"s{i}" for i in range(mdp.n_states)),
               action_names=mdp.action_names, terminal=mdp.terminal[old_of_new], sa_ptr=sa_ptr,
               sa_action=mdp.sa_action[pairs], out_ptr=out_ptr, out_next=new_of_old[mdp.out_next[outs]],
               out_prob=mdp.out_prob[outs], out_reward=mdp.out_reward[outs], name=mdp.name + "-ordered")


def median_time(f, n=3):
    times, out = [], None
    for _ in range(n):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def main() -> None:
    tiny = build("workflow", 300, 0.99)
    solve(tiny, tol=TOL)
    comp = strong_components(tiny)[0]
    solve(relabel(tiny, tiny.n_states - 1 - comp), tol=TOL)
    mdp = build("workflow", 1_000_000, 0.99)
    comp = strong_components(mdp)[0]
    ordered = relabel(mdp, mdp.n_states - 1 - comp)
    for label, m in (("as generated", mdp), ("relabelled into topological order", ordered)):
        ta, res = median_time(lambda m=m: solve(m, tol=TOL))
        prob = qe_problem(m)
        tq, qres = median_time(lambda prob=prob: prob.solve("modified_policy_iteration", epsilon=TOL,
                                                            max_iter=1_000_000))
        err = float(np.max(np.abs(np.asarray(qres.v) - res.values)))
        print(f"| workflow S={m.n_states} g=0.99, {label} | {ta:.3f} | {tq:.3f} | {tq / ta:.1f}x | {err:.1e} | "
              f"{res.method}: {res.note} |")


if __name__ == "__main__":
    main()
