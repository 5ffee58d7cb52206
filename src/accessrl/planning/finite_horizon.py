r"""Finite-horizon planning by backward induction (layer 1).

With T decisions left, V_T = v_term and for t = T-1, ..., 0

.. math:: V_t(s) = \max_a \Big[ r(s, a) + \gamma \sum_{s'} p(s' \mid s, a) V_{t+1}(s') \Big]

(Puterman 1994, §4.5, the backward induction algorithm).  Unlike the infinite-horizon
solvers it works for any gamma in (0, 1], because T is finite.

>>> from accessrl.catalog import access_review
>>> res = backward_induction(access_review(), 1)
>>> res.values[0].tolist()
[-4.0, 70.0, 80.0, 0.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP
from accessrl.planning.exact import state_max


@dataclass(frozen=True, eq=False)
class FiniteHorizonResult:
    """``values[t]`` is V_t (t = 0..T, ``values[T]`` the terminal value); ``policies[t]`` the
    decision rule with T - t steps left (global action indices, -1 at terminal states)."""

    values: NDArray[np.float64]
    policies: NDArray[np.int64]


def backward_induction(mdp: MDP, horizon: int, *, v_term: Any = None) -> FiniteHorizonResult:
    """Optimal values and decision rules for ``horizon`` decisions (QuantEcon's ``backward_induction``),
    over the allowed actions (forbidden pairs are not actions)."""
    mdp = mdp.without_forbidden
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 0:
        raise ParameterError(f"horizon: expected a non-negative whole number, got {horizon!r}")
    s = mdp.n_states
    values = np.zeros((horizon + 1, s))
    if v_term is not None:
        vt = np.asarray(v_term, dtype=np.float64)
        if vt.shape != (s,):
            raise ParameterError(f"v_term: expected {s} values, got shape {vt.shape}")
        values[horizon] = vt
        values[horizon, mdp.terminal] = 0.0
    policies = np.full((horizon, s), -1, dtype=np.int64)
    p, r = mdp.transition_matrix, mdp.expected_reward
    for t in range(horizon - 1, -1, -1):
        q = r + mdp.gamma * (p @ values[t + 1])
        v, best = state_max(mdp, q)
        values[t] = v
        ok = best >= 0
        policies[t, ok] = mdp.sa_action[best[ok]]
    return FiniteHorizonResult(values=values, policies=policies)


__all__ = ["FiniteHorizonResult", "backward_induction"]
