"""What the planners return, and the arguments they share (layer 1).

Results are frozen dataclasses; a variant of one is made with :func:`dataclasses.replace`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from accessrl._types import FloatArray, IntArray
from accessrl.errors import ParameterError

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


def check_max_iter(max_iter: Any, name: str = "max_iter") -> int:
    """A positive whole number of iterations, or a ParameterError (0 would return V = 0 unsolved)."""
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ParameterError(f"{name}: expected a positive whole number of iterations, got {max_iter!r}")
    return int(max_iter)


__all__ = ["TIE_RTOL", "Backup", "PolicyEvaluation", "Progress", "SolveResult", "check_max_iter", "check_tol"]
