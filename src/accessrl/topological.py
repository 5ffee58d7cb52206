r"""Topological value iteration (layer 1): solve strongly connected components sinks first.

Dai, Mausam, Weld & Goldsmith (2011), "Topological value iteration algorithms", JAIR 42:
decompose the state graph (an edge s -> s' for every positive-probability outcome of any
action) into strongly connected components; the condensation is acyclic, so solving the
components in reverse topological order means every value a component reads from
outside is already final.

* A component of one state is solved exactly, self-loops included:
  V(s) = max_a (r(s,a) + gamma sum_{s' != s} p(s'|s,a) V(s')) / (1 - gamma p(s|s,a)).
  An acyclic model is therefore solved exactly in one backward pass.
* A cyclic component runs compiled Gauss–Seidel sweeps inside the component.  Its
  error is at most its own stopping bound plus gamma times the worst error among the
  components it leads into (the restricted operator is a gamma-contraction in the sup
  norm jointly in its own and its inputs' values), and the sweeps stop when that sum is
  at most ``tol``; so max|V - V*| <= tol overall, and the bound reported is the largest
  of them.

Fast path: if the state indices already order the graph (every outcome leads to a larger
index, or every one to a smaller, self-loops and terminal states aside; one compiled pass,
:func:`~accessrl.kernels.order_direction`), Tarjan's pass is skipped and one sweep in
the opposite index order solves every state exactly and computes Q and the greedy policy
as it goes (:func:`~accessrl.kernels.ordered_pass`): the outcome arrays are read twice
(the check reads ``out_next`` only), not five times.

Memory: the model plus about nine integer or float vectors of S.

>>> from accessrl.catalog import access_review_abandonment
>>> res = topological_value_iteration(access_review_abandonment())
>>> res.values.round(4).tolist(), res.error_bound
([54.0, 70.0, 80.0, 0.0], 0.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from accessrl.kernels import order_direction, ordered_pass, pair_rewards, strong_components, topological_block
from accessrl.model import MDP
from accessrl.planning import (
    TIE_RTOL,
    Progress,
    SolveResult,
    _check_tol,
    _policy_from_pairs,
    finish_compiled,
    value_iteration,
)
from accessrl.structure import check_ssp

BATCH_STATES = 1 << 17
"""Roughly how many states one kernel call solves between progress reports."""


def topological_value_iteration(
    mdp: MDP,
    *,
    tol: float = 1e-6,
    scc: Any = None,
    max_sweeps: int = 1_000_000,
    progress: Progress | None = None,
) -> SolveResult:
    """Topological value iteration (see the module docstring); ``scc`` reuses a decomposition.

    ``scc`` may instead be an int direction from :func:`~accessrl.kernels.order_direction`
    already computed (nonzero: the one-pass fast path without checking again).

    With gamma = 1 (a proper stochastic shortest path, checked first) acyclic models are
    solved exactly; cyclic components are swept to a small change and the result is then
    finished by :func:`~accessrl.planning.value_iteration`'s exact check.
    """
    tol = _check_tol(tol)
    g = mdp.gamma
    if g >= 1.0:
        check_ssp(mdp)
    direction = scc if isinstance(scc, int) else (order_direction(mdp) if scc is None else 0)
    if direction:
        return _ordered(mdp, direction, progress)
    comp, order, comp_ptr = strong_components(mdp) if scc is None else scc
    n_comp = comp_ptr.size - 1
    sizes = np.diff(comp_ptr)
    r = pair_rewards(mdp)
    v = np.zeros(mdp.n_states)
    best = np.full(mdp.n_states, -1, dtype=np.int64)
    err = np.zeros(n_comp)
    sweeps = 0
    c = 0
    n = max(1, mdp.n_states)
    while c < n_comp:
        c_hi = int(np.searchsorted(comp_ptr, comp_ptr[c] + BATCH_STATES, side="right")) - 1
        c_hi = min(n_comp, max(c + 1, c_hi))
        sweeps += topological_block(mdp, r, (comp, order, comp_ptr), c, c_hi, tol, v, best, err, max_sweeps)
        c = c_hi
        if progress is not None:
            progress(float(comp_ptr[c]) / n, f"{c} of {n_comp} components")
    cyclic = int(np.count_nonzero(sizes > 1))
    extra = {"components": n_comp, "cyclic_components": cyclic,
             "largest_component": int(sizes.max()) if n_comp else 0, "sweeps": sweeps}
    bound = float(err.max()) if n_comp else 0.0
    if g >= 1.0 and cyclic:
        res = value_iteration(mdp, tol=tol, v0=v)
        return SolveResult(**{**res.__dict__, "method": "topological", "extra": extra,
                              "note": "gamma = 1: finished by value iteration's exact check"})
    return finish_compiled(mdp, v, r, iterations=1, method="topological", residual=bound,
                           error_bound=bound, extra=extra)


def _ordered(mdp: MDP, direction: int, progress: Progress | None) -> SolveResult:
    """The one-pass solve of a model whose indices order its state graph (exact)."""
    v, q, best = ordered_pass(mdp, direction, TIE_RTOL)
    if progress is not None:
        progress(1.0, f"{mdp.n_states} states in one ordered pass")
    extra = {"components": mdp.n_states, "cyclic_components": 0, "largest_component": min(1, mdp.n_states),
             "sweeps": 0, "ordered_pass": "descending" if direction > 0 else "ascending"}
    return SolveResult(values=v, policy=_policy_from_pairs(mdp, best), q_values=q, iterations=1,
                       method="topological", residual=0.0, error_bound=0.0, extra=extra)


__all__ = ["topological_value_iteration"]
