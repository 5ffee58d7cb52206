"""What the planners return, and the arguments they share (layer 1).

Results are frozen dataclasses; a variant of one is made with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Concatenate, ParamSpec, cast

import numpy as np

from accessrl._types import FloatArray, IntArray
from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP

TIE_RTOL = 1e-12
"""Q-values this close (relative to their scale) count as tied in a solver's policy."""

Progress = Callable[[float, str], None]
"""A progress callback: (fraction done in [0, 1], or nan when unknown; a short message)."""


@dataclass(frozen=True, eq=False)
class Backup:
    """One application of the Bellman optimality operator."""

    values: FloatArray
    q_values: FloatArray
    policy: IntArray


@dataclass(frozen=True, eq=False)
class PolicyEvaluation:
    """V^pi and Q^pi of one policy."""

    values: FloatArray
    q_values: FloatArray
    iterations: int
    method: str
    residual: float


@dataclass(frozen=True, eq=False)
class SolveResult:
    """An (approximately) optimal solution.

    ``error_bound`` is the guaranteed bound on max|values - V*| given by the method's
    stopping rule (0 for an exact method, ``nan`` where no bound is known).
    ``converged`` is False when ``max_iter`` stopped the method before its stopping rule
    did; ``error_bound`` is then still a bound (from the last Bellman residual) or ``nan``.
    ``trace`` holds the sup-norm change of each sweep; ``sweeps`` the values after
    each sweep when they were recorded.
    """

    values: FloatArray
    policy: IntArray
    q_values: FloatArray
    iterations: int
    method: str
    residual: float
    error_bound: float
    trace: tuple[float, ...] = ()
    sweeps: tuple[FloatArray, ...] = ()
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    converged: bool = True


def check_tol(tol: Any) -> float:
    """A positive, finite tolerance, or a ParameterError."""
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol > 0 or not np.isfinite(tol):
        raise ParameterError(f"tol: expected a positive number, got {tol!r}")
    return float(tol)


P = ParamSpec("P")


def on_allowed_pairs(solver: Callable[Concatenate[MDP, P], SolveResult]) -> Callable[Concatenate[MDP, P], SolveResult]:
    """Make ``solver`` plan over the allowed actions only.

    A ``forbidden`` pair is not an action of its state: the solver runs on
    :attr:`~accessrl.model.MDP.without_forbidden` and its result is returned in the pairs of
    the model it was given, with Q = -inf at the forbidden pairs (as for an unavailable
    action).  The policy is then the optimum among allowed actions.  A model without
    forbidden pairs is passed through untouched.
    """

    @functools.wraps(solver)
    def run(mdp: MDP, *args: P.args, **kwargs: P.kwargs) -> SolveResult:
        sub = mdp.without_forbidden
        if sub is mdp:
            return solver(mdp, *args, **kwargs)
        return on_full_model(mdp, solver(sub, *args, **kwargs))

    return cast(Callable[Concatenate[MDP, P], SolveResult], run)  # mdp stays a keyword argument too


def on_full_model(mdp: MDP, res: SolveResult) -> SolveResult:
    """A result computed on ``mdp.without_forbidden`` in ``mdp``'s pairs (Q = -inf where forbidden)."""
    if res.q_values.shape == (mdp.n_pairs,):
        return res
    q = np.full(mdp.n_pairs, -np.inf)
    q[mdp.allowed_pairs] = res.q_values
    return replace(res, q_values=q)


def check_max_iter(max_iter: Any, name: str = "max_iter") -> int:
    """A positive whole number of iterations, or a ParameterError (0 would return V = 0 unsolved)."""
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ParameterError(f"{name}: expected a positive whole number of iterations, got {max_iter!r}")
    return int(max_iter)


__all__ = [
    "TIE_RTOL",
    "Backup",
    "PolicyEvaluation",
    "Progress",
    "SolveResult",
    "check_max_iter",
    "check_tol",
    "on_allowed_pairs",
    "on_full_model",
]
