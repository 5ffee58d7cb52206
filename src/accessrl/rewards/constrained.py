r"""Constrained MDPs by linear programming over occupancy measures (layer 1).

Maximise the expected discounted return subject to limits on other components
(Altman 1999, *Constrained Markov Decision Processes*, Thm 3.3; Puterman 1994, §6.9):

.. math::

    \max_{x \ge 0}\; \sum_{s,a} r(s,a)\, x(s,a) \quad\text{s.t.}\quad
    \sum_a x(s,a) - \gamma \sum_{s',a'} p(s \mid s',a')\, x(s',a') = \mu_0(s)
    \;\;\forall s \text{ non-terminal},\qquad
    \sum_{s,a} \bar c_i(s,a)\, x(s,a) \le B_i \;\;(\text{or} \ge).

:math:`x` is the discounted occupancy measure of a stationary policy, which is
recovered as :math:`\pi(a \mid s) = x(s,a) / \sum_{a'} x(s,a')`.  Each limit therefore
bounds the component's *expected discounted total per request* from the start (with
gamma = 1, the plain expected total per request).  The optimum may randomise, in at
most as many states as there are binding limits.  The *shadow price* of a limit is
the dual value: the change in the optimal return per unit increase of its bound
(>= 0 for a binding ``<=`` limit, <= 0 for a binding ``>=`` one, 0 when slack).

The program is sparse (one column per state-action pair, one row per non-terminal
state plus one per limit) and is solved by HiGHS through
``scipy.optimize.linprog(method="highs")``.  When no policy meets the limits,
:class:`~accessrl.errors.InfeasibleError` names the limit that cannot be met and the
tightest value any policy can reach for it (given the other limits).

>>> from accessrl.catalog import access_review_deny, SPEED_ONLY
>>> from accessrl.rewards import Limit, reweight
>>> fast = reweight(access_review_deny(), SPEED_ONLY)
>>> res = constrained_solve(fast, [Limit("policy_violation", "<=", 0)])
>>> res.start_policy
{'deny_request': 1.0}
>>> round(res.value, 6)
100.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog

from accessrl._types import FloatArray
from accessrl.errors import InfeasibleError, ModelError, SpecValueError
from accessrl.model.mdp import MDP, segment_sum
from accessrl.model.policies import start_distribution
from accessrl.planning.structure import check_ssp
from accessrl.rewards.components import Limit, component_names, occupancy, pair_component

PROB_FLOOR = 1e-9
"""Policy probabilities below this (relative to the state's occupancy) are rounding noise."""


@dataclass(frozen=True)
class ConstraintReport:
    """One limit at the optimum: the achieved value, its shadow price, whether it binds."""

    limit: Limit
    value: float
    shadow_price: float
    binding: bool


@dataclass(frozen=True, eq=False)
class ConstrainedResult:
    """The optimal constrained policy (pair probabilities, possibly randomised) and its duals."""

    policy: FloatArray
    occupancy: FloatArray
    value: float
    constraints: tuple[ConstraintReport, ...]
    randomised_states: tuple[str, ...]
    start_policy: dict[str, float]
    iterations: int
    basis: str


def flow_matrix(mdp: MDP) -> tuple[sp.csr_matrix, NDArray[np.int64]]:
    r"""The flow constraints :math:`E - \gamma P^\top` restricted to non-terminal states.

    Returns the sparse (S_live, L) matrix and the indices of its rows' states.
    """
    n, l_ = mdp.n_states, mdp.n_pairs
    e = sp.csr_matrix((np.ones(l_), (mdp.sa_state, np.arange(l_))), shape=(n, l_))
    a = (e - mdp.gamma * mdp.transition_matrix.T.tocsr()).tocsr()
    live = np.flatnonzero(~mdp.terminal)
    return a[live], live


def _bounds_rows(mdp: MDP, limits: Sequence[Limit]) -> tuple[sp.csr_matrix | None, FloatArray]:
    rows, rhs = [], []
    for lim in limits:
        c = pair_component(mdp, lim.component)
        sign = 1.0 if lim.op == "<=" else -1.0
        rows.append(sign * c)
        rhs.append(sign * float(lim.bound))
    if not rows:
        return None, np.zeros(0)
    return sp.csr_matrix(np.vstack(rows)), np.asarray(rhs, dtype=np.float64)


def _check_limits(mdp: MDP, limits: Sequence[Limit], source: str) -> list[Limit]:
    known = component_names(mdp)
    out = []
    for lim in limits:
        if lim.component not in known:
            raise SpecValueError(f"{source}, limit {lim.component!r}: unknown component; expected one of {known}")
        if lim.op not in ("<=", ">="):
            raise SpecValueError(f"{source}, limit {lim.component!r}: expected '<=' or '>=', got {lim.op!r}")
        out.append(lim)
    return out


def _lp(c: FloatArray, a_eq: sp.csr_matrix, b_eq: FloatArray, a_ub: sp.csr_matrix | None, b_ub: FloatArray,
        allowed: NDArray[np.bool_] | None = None) -> Any:
    """The occupancy LP; a pair not ``allowed`` (a forbidden one) has occupancy 0."""
    bounds: Any = (0, None)
    if allowed is not None and not allowed.all():
        bounds = np.column_stack([np.zeros(allowed.size), np.where(allowed, np.inf, 0.0)])
    return linprog(
        c, A_ub=a_ub, b_ub=b_ub if a_ub is not None else None, A_eq=a_eq, b_eq=b_eq,
        bounds=bounds, method="highs",
    )


def constrained_solve(
    mdp: MDP,
    limits: Sequence[Limit],
    *,
    mu0: FloatArray | None = None,
    start: int | str | None = None,
    source: str = "constraints",
) -> ConstrainedResult:
    """Maximise the model's expected discounted return from ``mu0`` subject to ``limits``.

    ``mu0`` defaults to all mass on ``start`` (or the model's start state; uniform over
    the decision states if it has none).  Raises :class:`InfeasibleError` when no policy
    meets the limits, naming the limit and the tightest value achievable for it.
    """
    lims = _check_limits(mdp, limits, source)
    if mdp.gamma >= 1.0:
        check_ssp(mdp)
    mu = start_distribution(mdp, start) if mu0 is None else np.asarray(mu0, dtype=np.float64)
    a_eq, live = flow_matrix(mdp)
    b_eq = mu[live]
    a_ub, b_ub = _bounds_rows(mdp, lims)
    r = mdp.expected_reward
    res = _lp(-r, a_eq, b_eq, a_ub, b_ub, mdp.allowed_pairs)
    if res.status == 2:
        _diagnose(mdp, lims, a_eq, b_eq, source)
    if res.status == 3:
        raise ModelError(f"{mdp.name}: the constrained return is unbounded (gamma = 1 with a rewarding cycle?)")
    if res.status != 0:
        raise ModelError(f"{mdp.name}: the linear program did not solve: {res.message}")
    x = np.maximum(np.asarray(res.x, dtype=np.float64), 0.0)
    probs = _policy_from_occupancy(mdp, x)
    # Re-measure the recovered policy exactly (one sparse solve) rather than trusting the LP's x.
    x_exact = occupancy(mdp, probs, mu)
    marg = np.asarray(res.ineqlin.marginals, dtype=np.float64) if a_ub is not None else np.zeros(0)
    reports = []
    for i, lim in enumerate(lims):
        value = float(x_exact @ pair_component(mdp, lim.component))
        # linprog minimises -r.x; its marginal is d(min)/d(b_ub).  For "<=" b_ub = B, for ">=" b_ub = -B.
        price = -float(marg[i]) if lim.op == "<=" else float(marg[i])
        scale = max(1.0, abs(lim.bound))
        binding = abs(value - lim.bound) <= 1e-7 * scale
        reports.append(ConstraintReport(lim, value, price if abs(price) > 1e-12 else 0.0, binding))
    nz = probs > PROB_FLOOR
    multi = segment_sum(nz.astype(np.float64), mdp.sa_ptr) > 1
    s0 = int(np.argmax(mu))
    lo, hi = int(mdp.sa_ptr[s0]), int(mdp.sa_ptr[s0 + 1])
    start_policy = {mdp.action_names[int(mdp.sa_action[k])]: float(probs[k]) for k in range(lo, hi) if probs[k] > PROB_FLOOR}
    basis = "expected discounted total per request" if mdp.gamma < 1 else "expected total per request"
    return ConstrainedResult(
        policy=probs, occupancy=x_exact, value=float(x_exact @ r), constraints=tuple(reports),
        randomised_states=tuple(mdp.state_names[int(s)] for s in np.flatnonzero(multi)),
        start_policy=start_policy, iterations=int(getattr(res, "nit", 0)), basis=basis,
    )


def _policy_from_occupancy(mdp: MDP, x: FloatArray) -> FloatArray:
    """pi(a|s) = x(s,a) / sum_a x(s,a); states the policy never visits take their first action."""
    tot = segment_sum(x, mdp.sa_ptr)
    per_pair_tot = tot[mdp.sa_state]
    probs = np.where(per_pair_tot > 0, x / np.where(per_pair_tot > 0, per_pair_tot, 1.0), 0.0)
    probs[probs < PROB_FLOOR] = 0.0
    sums = segment_sum(probs, mdp.sa_ptr)
    ds = mdp.decision_states
    empty = ds[sums[ds] <= 0]
    allowed_idx = np.flatnonzero(mdp.allowed_pairs)  # a state never visited takes its first allowed action
    probs[allowed_idx[np.searchsorted(allowed_idx, mdp.sa_ptr[empty])]] = 1.0
    sums[empty] = 1.0
    probs = probs / sums[mdp.sa_state]
    out: FloatArray = probs
    return out


def _diagnose(mdp: MDP, lims: list[Limit], a_eq: sp.csr_matrix, b_eq: FloatArray, source: str) -> None:
    """Find a limit that cannot be met and the tightest value achievable for it; raise."""
    basis = "expected discounted total per request" if mdp.gamma < 1 else "expected total per request"
    for i, lim in enumerate(lims):
        others = [m for j, m in enumerate(lims) if j != i]
        a_ub, b_ub = _bounds_rows(mdp, others)
        c = pair_component(mdp, lim.component)
        sign = 1.0 if lim.op == "<=" else -1.0
        res = _lp(sign * c, a_eq, b_eq, a_ub, b_ub, mdp.allowed_pairs)
        if res.status != 0:
            continue
        best = sign * float(res.fun)
        if (lim.op == "<=" and best > lim.bound) or (lim.op == ">=" and best < lim.bound):
            given = " given the other limits" if others else ""
            raise InfeasibleError(
                f"{source}, limit {lim}: infeasible; the tightest achievable value{given} is {best:.6g} ({basis})"
            )
    raise InfeasibleError(f"{source}: infeasible; no policy meets the limits {', '.join(map(str, lims))} together")


__all__ = [
    "ConstrainedResult",
    "ConstraintReport",
    "constrained_solve",
    "flow_matrix",
]
