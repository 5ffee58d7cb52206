"""Sensitivity of the optimal policy to one transition probability (layer 1).

Vary ``p(next | state, action)`` over a range, moving the mass to or from the pair's
other outcomes in proportion to their current probabilities, and report the optimal
policy at each point plus the exact breakeven points where an optimal action changes.

On the lesson's abandonment model the breakeven is where
``59 - 113 p = 54``, i.e. p = 5/113:

>>> from accessrl.catalog import access_review_abandonment
>>> mdp = access_review_abandonment()
>>> res = probability_sweep(mdp, "new_request", "request_evidence", "closed", [0.0, 0.25])
>>> round(res.breakevens[0].value, 9), round(5 / 113, 9)
(0.044247788, 0.044247788)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from accessrl._types import FloatArray, IntArray
from accessrl.errors import ParameterError, SpecValueError
from accessrl.model.mdp import MDP
from accessrl.planning.exact import policy_iteration
from accessrl.planning.results import SolveResult
from accessrl.planning.solver import solve


@dataclass(frozen=True, eq=False)
class SweepPoint:
    """The optimal policy and values at one probability."""

    value: float
    policy: IntArray
    values: FloatArray


@dataclass(frozen=True)
class Breakeven:
    """A probability where the optimal action of ``state`` changes."""

    value: float
    state: int
    from_action: int
    to_action: int


@dataclass(frozen=True, eq=False)
class SweepResult:
    """Points of a probability sweep and the breakevens between them."""

    state: int
    action: int
    next_state: int
    points: tuple[SweepPoint, ...]
    breakevens: tuple[Breakeven, ...]


def locate_outcome(mdp: MDP, state: str, action: str, next_state: str) -> tuple[int, int]:
    """(pair, outcome index) of ``next_state`` under (state, action); clear errors otherwise."""
    pair = mdp.pair_index(state, action)
    n = mdp.state_index(next_state)
    lo, hi = int(mdp.out_ptr[pair]), int(mdp.out_ptr[pair + 1])
    hits = [k for k in range(lo, hi) if int(mdp.out_next[k]) == n]
    if not hits:
        nexts = [mdp.state_names[int(mdp.out_next[k])] for k in range(lo, hi)]
        raise SpecValueError(
            f"state {state!r}, action {action!r}: no outcome leads to {next_state!r}; expected one of {nexts}"
        )
    if len(hits) > 1:
        raise SpecValueError(f"state {state!r}, action {action!r}: several outcomes lead to {next_state!r}")
    if hi - lo < 2:
        raise SpecValueError(
            f"state {state!r}, action {action!r}: {next_state!r} is the only outcome; there is no other "
            "outcome to take the probability mass"
        )
    return pair, hits[0]


def parse_target(mdp: MDP, text: str) -> tuple[str, str, str]:
    """Split ``STATE.ACTION.NEXT`` into names that exist (names may contain dots)."""
    parts = text.split(".")
    for i in range(1, len(parts) - 1):
        for j in range(i + 1, len(parts)):
            s, a, n = ".".join(parts[:i]), ".".join(parts[i:j]), ".".join(parts[j:])
            if s in mdp._state_lookup and a in mdp._action_lookup and n in mdp._state_lookup:
                return s, a, n
    raise ParameterError(
        f"outcome {text!r}: expected STATE.ACTION.NEXT naming a state, one of its actions and an outcome's "
        f"next state (states: {list(mdp.state_names)})"
    )


def with_probability(mdp: MDP, pair: int, outcome: int, p: float) -> MDP:
    """A copy of ``mdp`` with ``p`` on one outcome, the rest rescaled proportionally."""
    if not 0.0 <= p <= 1.0:
        raise ParameterError(f"probability: expected a value in [0, 1], got {p!r}")
    lo, hi = int(mdp.out_ptr[pair]), int(mdp.out_ptr[pair + 1])
    prob = mdp.out_prob.copy()
    others = [k for k in range(lo, hi) if k != outcome]
    rest = float(prob[others].sum())
    if rest > 0:
        prob[others] *= (1.0 - p) / rest
    else:
        prob[others] = (1.0 - p) / len(others)
    prob[outcome] = p
    return replace(mdp, out_prob=prob)


def _solve(mdp: MDP) -> SolveResult:
    if mdp.n_states <= 20_000:
        return policy_iteration(mdp)
    return solve(mdp, tol=1e-10)


def probability_sweep(
    mdp: MDP,
    state: str,
    action: str,
    next_state: str,
    grid: Sequence[float] | FloatArray,
    *,
    tol: float = 1e-12,
) -> SweepResult:
    """Solve at each grid point; bisect every interval whose endpoints' policies differ.

    Each breakeven is located to within ``tol`` (an interval of width <= tol brackets the
    change; its midpoint is reported).  At an exact tie the first declared action is
    kept, so the change happens just above the breakeven.  Several changes inside one
    grid interval are all found: the search recurses on both sides of each one.
    """
    pair, outcome = locate_outcome(mdp, state, action, next_state)
    xs = np.asarray(grid, dtype=np.float64)
    if xs.ndim != 1 or xs.size == 0 or np.any(~np.isfinite(xs)) or xs.min() < 0 or xs.max() > 1:
        raise ParameterError("grid: expected one or more probabilities in [0, 1]")
    xs = np.unique(xs)

    def policy_at(x: float) -> tuple[IntArray, FloatArray]:
        r = _solve(with_probability(mdp, pair, outcome, x))
        return r.policy, r.values

    points = []
    for x in xs:
        pol, vals = policy_at(float(x))
        points.append(SweepPoint(value=float(x), policy=pol, values=vals))
    breaks: list[Breakeven] = []

    def search(lo: float, pol_lo: IntArray, hi: float, pol_hi: IntArray) -> None:
        if np.array_equal(pol_lo, pol_hi):
            return
        a, b = lo, hi
        while b - a > tol:
            mid = 0.5 * (a + b)
            pm, _ = policy_at(mid)
            if np.array_equal(pm, pol_lo):
                a = mid
            else:
                b = mid
        pb, _ = policy_at(b)
        x = 0.5 * (a + b)
        for s in np.flatnonzero(pol_lo != pb):
            breaks.append(Breakeven(value=x, state=int(s), from_action=int(pol_lo[s]), to_action=int(pb[s])))
        if b < hi:
            search(b, pb, hi, pol_hi)

    for p0, p1 in zip(points, points[1:], strict=False):
        search(p0.value, p0.policy, p1.value, p1.policy)
    return SweepResult(
        state=mdp.state_index(state),
        action=mdp.action_index(action),
        next_state=mdp.state_index(next_state),
        points=tuple(points),
        breakevens=tuple(breaks),
    )


__all__ = [
    "Breakeven",
    "SweepPoint",
    "SweepResult",
    "locate_outcome",
    "parse_target",
    "probability_sweep",
    "with_probability",
]
