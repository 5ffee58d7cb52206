"""One entry point for every planner: :func:`solve` by name, or ``"auto"`` by structure (layer 1).

>>> from accessrl.catalog import access_review_abandonment
>>> res = solve(access_review_abandonment())
>>> res.method, res.note
('policy-iteration', '4 states: small enough for exact policy iteration')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from accessrl._types import IntArray
from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP
from accessrl.planning.exact import modified_policy_iteration, policy_iteration, value_iteration
from accessrl.planning.results import Progress, SolveResult, check_tol, on_full_model
from accessrl.planning.scalable import (
    compiled_modified_policy_iteration,
    gauss_seidel_value_iteration,
    krylov_policy_iteration,
    topological_value_iteration,
    try_ordered_pass,
)


def krylov_mpi(mdp: MDP, **kw: Any) -> SolveResult:
    """Inexact policy iteration: one GMRES cycle per evaluation (``krylov_policy_iteration(inexact=True)``)."""
    return krylov_policy_iteration(mdp, inexact=True, **kw)


SOLVERS: Mapping[str, Callable[..., SolveResult]] = MappingProxyType({
    "value-iteration": value_iteration,
    "policy-iteration": policy_iteration,
    "modified-policy-iteration": modified_policy_iteration,
    "topological": topological_value_iteration,
    "compiled-mpi": compiled_modified_policy_iteration,
    "gauss-seidel": gauss_seidel_value_iteration,
    "krylov-policy-iteration": krylov_policy_iteration,
    "krylov-mpi": krylov_mpi,
})
"""Every method :func:`solve` accepts, by name."""

_TAKES_PROGRESS = {"topological", "compiled-mpi", "gauss-seidel", "krylov-policy-iteration", "krylov-mpi"}


SMALL_MODEL = 200
"""Up to this many states ``auto`` uses exact policy iteration (its sparse LU fills in beyond)."""


@dataclass(frozen=True, eq=False)
class MethodChoice:
    """What ``auto`` picked: the ``method`` name, ``why`` (a sentence for people), and the
    structure it computed on the way, for the solver to reuse: ``components`` (Tarjan's
    decomposition ``(comp, order, comp_ptr)``) or ``direction`` (the index order of
    :func:`~accessrl.planning.kernels.order_direction`, nonzero when the indices order the graph)."""

    method: str
    why: str
    components: tuple[IntArray, IntArray, IntArray] | None = None
    direction: int = 0

    def solver_arguments(self) -> dict[str, Any]:
        """The keyword arguments that hand the computed structure to the solver."""
        if self.direction:
            return {"scc": self.direction}
        if self.components is not None:
            return {"scc": self.components}
        return {}


def choose_method(mdp: MDP) -> MethodChoice:
    """The method ``auto`` picks for ``mdp``, why, and the structure it computed.

    * S <= 200: exact policy iteration (cheap, and no error at all);
    * no terminal states and gamma < 1 (every path cycles): compiled modified policy
      iteration, whose span stopping rule converges fast on mixing models;
    * the state indices already order the graph (every successor a larger index, or every
      one a smaller, self-loops and terminals aside; one compiled check): topological
      value iteration's ordered fast path, exact in one pass with no SCC pass;
    * every strongly connected component a single state (acyclic, self-loops aside):
      topological value iteration, exact in one backward pass;
    * the largest component under half the states: topological value iteration,
      Gauss–Seidel inside each cyclic component (gamma < 1);
    * gamma = 1 otherwise: value iteration with an exact final check;
    * otherwise (one big component, gamma < 1): compiled modified policy iteration.
    """
    n = mdp.n_states
    if n <= SMALL_MODEL:
        return MethodChoice("policy-iteration", f"{n} states: small enough for exact policy iteration")
    if mdp.gamma < 1.0 and not mdp.terminal.any():
        return MethodChoice("compiled-mpi", (f"{n} states, no terminal states (every path cycles), gamma {mdp.gamma}: "
                                             "compiled modified policy iteration with the span (MacQueen) stopping rule"))

    from accessrl.planning.kernels import order_direction, strong_components

    direction = order_direction(mdp)
    if direction:
        way = "descending" if direction > 0 else "ascending"
        return MethodChoice("topological", (f"states in topological order ({n} states, every successor a "
                                            f"{'larger' if direction > 0 else 'smaller'} index): exact in one {way} "
                                            "pass, no SCC pass"), direction=direction)
    scc = strong_components(mdp)
    sizes = np.diff(scc[2])
    largest = int(sizes.max()) if sizes.size else 0
    if largest <= 1:
        return MethodChoice("topological", f"acyclic ({sizes.size} components of one state): exact in one backward pass",
                            components=scc)
    if largest <= n // 2:
        why = (f"{sizes.size} components, largest {largest} of {n} states: topological value iteration, "
               f"Gauss-Seidel inside the {int(np.count_nonzero(sizes > 1))} cyclic ones")
        if mdp.gamma < 1.0:
            return MethodChoice("topological", why, components=scc)
    if mdp.gamma >= 1.0:
        return MethodChoice("value-iteration", "gamma = 1 with cycles: value iteration with an exact final check")
    return MethodChoice("compiled-mpi", (f"one component holds {largest} of {n} states: compiled modified policy "
                                         f"iteration (parallel sweeps, span stopping rule)"))


_TAKES_THREADS = {"topological", "compiled-mpi"}


def solve(mdp: MDP, method: str = "auto", *, tol: float = 1e-6, progress: Progress | None = None,
          threads: int = 1) -> SolveResult:
    """Solve ``mdp`` to within ``tol`` (max|V - V*|) with the named method or ``"auto"``.

    ``auto`` picks by structure and size (:func:`choose_method`) and records why in
    ``note``; a model with terminal states is first tried in one ordered pass that checks
    the order as it goes (:func:`~accessrl.planning.scalable.try_ordered_pass`), which
    solves a model numbered in topological order (as the generator numbers it) reading
    it once.  Forbidden pairs are not actions: the optimum is among the allowed ones
    (Q = -inf at a forbidden pair).  ``progress`` (optional) is called with (fraction done or nan, message) by
    the compiled methods.  ``threads``: threads for the compiled sweep kernels
    (``compiled-mpi``, ``topological``; the entry points pick it with
    :func:`accessrl.machine.choose_threads`); ``extra["threads"]`` says what ran.
    """
    from accessrl.planning.kernels import threads_used

    tol = check_tol(tol)
    threads_used(mdp, threads)  # validates
    full, mdp = mdp, mdp.without_forbidden  # plan over the allowed actions (choose_method too)
    if method == "auto":
        if mdp.n_states > SMALL_MODEL and (mdp.terminal.any() or mdp.gamma >= 1.0):
            fast = try_ordered_pass(mdp, progress=progress)
            if fast is not None:
                why = (f"states in topological order ({mdp.n_states} states, every successor a larger index): "
                       "exact in one descending pass that checked the order as it went, no SCC pass")
                return replace(on_full_model(full, fast), note=why)
        choice = choose_method(mdp)
    elif method in SOLVERS:
        choice = MethodChoice(method, "chosen by the caller")
    else:
        raise ParameterError(f"method: expected one of {['auto', *SOLVERS]}, got {method!r}")
    kw: dict[str, Any] = {} if choice.method == "policy-iteration" else {"tol": tol}
    if choice.method in _TAKES_PROGRESS and progress is not None:
        kw["progress"] = progress
    if choice.method in _TAKES_THREADS:
        kw["threads"] = threads
    if choice.method == "topological":
        kw.update(choice.solver_arguments())
    res = SOLVERS[choice.method](mdp, **kw)
    extra = res.extra if "threads" in res.extra else {**res.extra, "threads": 1}
    return replace(on_full_model(full, res), note=choice.why, extra=extra)


__all__ = ["SMALL_MODEL", "SOLVERS", "MethodChoice", "choose_method", "krylov_mpi", "solve"]
