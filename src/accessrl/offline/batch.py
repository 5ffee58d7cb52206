r"""Batch reinforcement learning from logs: fitted Q-iteration and SPIBB (layer 1).

**Fitted Q-iteration** (Ernst, Geurts & Wehenkel 2005, JMLR 6) repeats a regression of
the targets r + gamma max_{a'} Q_k(s', a') on (s, a) over the logged transitions.  With a
lookup-table regressor the least-squares fit is the per-pair mean of the targets, so one
iteration is exactly one Bellman optimality backup of the count-based empirical model:

.. math:: Q_{k+1}(s, a) = \bar r(s, a) + \gamma \sum_{s'} \hat p(s' \mid s, a) \max_{a' \in L(s')} Q_k(s', a')

where L(s') are the actions logged in s' (terminal next states contribute 0).  We
iterate on the counts, not the rows, so each sweep costs the number of distinct
transitions.  This is also the fixed point batch Q-learning converges to on the
same data.

**SPIBB** (Laroche, Trichelair & Tachet des Combes 2019, ICML, Pi_b-SPIBB): the new
policy keeps the behaviour's probabilities on *bootstrapped* pairs — those logged fewer
than ``n_wedge`` times — and moves the rest of each state's mass to the best
well-supported action under Q of the current policy in the empirical model; policy
iteration repeats this projection until the policy is stable.

**The estimated model's optimum** (:func:`model_optimum`) solves the spec
:func:`~accessrl.offline.estimation.estimate_model` fits, with the exact planner — the
same answer as fitted Q-iteration by another route (the tests check they agree).

**Pessimistic Q-iteration** (:func:`pessimistic_q_iteration`) plans against the worst
model the data allow: each observed outcome keeps at least its Wilson lower bound
p_lo(s'|s,a), and the mass those bounds leave free goes to the worst outcome value seen
anywhere in the log,

.. math:: Q_{k+1}(s, a) = \sum_{s'} p_{lo}(s' \mid s, a)\,[\bar r + \gamma V_k(s')]
          + \Big(1 - \sum_{s'} p_{lo}(s' \mid s, a)\Big) \min_{(s_2, a_2, s_2')} [\bar r + \gamma V_k(s_2')]

so an action tried a handful of times (wide interval, much free mass) is valued near the
worst case and is not trusted — the lower-confidence-bound principle of pessimistic
offline RL (Jin, Yang & Wang 2021, "Is pessimism provably efficient for offline RL?";
Petrik, Ghavamzadeh & Chow 2016 for the interval-model form).

>>> from accessrl.catalog import access_review_abandonment
>>> from accessrl.offline import simulate_logs
>>> from accessrl.model import uniform_policy
>>> import numpy as np
>>> mdp = access_review_abandonment()
>>> log = simulate_logs(mdp, uniform_policy(mdp), n_requests=2000, start_us=0, rng=np.random.default_rng(3))
>>> fqi = fitted_q_iteration(log.steps, gamma=0.9)
>>> [log.steps.action_names[a] for a in fqi.policy[:3]]
['human_review', 'auto_approve', 'approve_rotation']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from accessrl._types import FloatArray, IntArray
from accessrl.errors import ParameterError
from accessrl.model.checks import check_gamma
from accessrl.offline.estimation import count_transitions, estimate_model, wilson_interval
from accessrl.offline.logged import LoggedSteps
from accessrl.planning.exact import policy_iteration
from accessrl.simulation import Z95


@dataclass(frozen=True, eq=False)
class BatchQResult:
    """Q (S, A) over the log's names (NaN where a pair was never logged), the greedy policy
    (S,) (-1 where a state was never decided), per-pair counts, and the sweeps used."""

    q: FloatArray
    policy: IntArray
    counts: FloatArray
    iterations: int
    residual: float

    def target(self) -> FloatArray:
        """The greedy policy as a (S, A) probability matrix."""
        pi = np.zeros_like(self.q)
        rows = np.flatnonzero(self.policy >= 0)
        pi[rows, self.policy[rows]] = 1.0
        return pi


def _empirical(steps: LoggedSteps) -> tuple[FloatArray, FloatArray, IntArray, IntArray, FloatArray, FloatArray]:
    c = count_transitions(steps)
    s_n, a_n = len(steps.state_names), len(steps.action_names)
    counts = np.zeros((s_n, a_n))
    counts[c.pair_state, c.pair_action] = c.pair_count
    r_bar = np.zeros((s_n, a_n))
    np.add.at(r_bar, (c.pair_state[c.out_pair], c.pair_action[c.out_pair]), c.reward_sum)
    r_bar = np.divide(r_bar, counts, out=np.zeros_like(r_bar), where=counts > 0)
    prob = c.out_count / c.pair_count[c.out_pair]
    return counts, r_bar, c.out_pair, c.out_next, prob, np.column_stack([c.pair_state, c.pair_action]).astype(float)


def _backup(q_next_state: FloatArray, counts: FloatArray, r_bar: FloatArray, out_pair: IntArray, out_next: IntArray,
            prob: FloatArray, pairs: FloatArray, gamma: float) -> FloatArray:
    ps, pa = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    ev = np.bincount(out_pair, weights=prob * q_next_state[out_next], minlength=ps.size)
    q = np.full(counts.shape, np.nan)
    q[ps, pa] = r_bar[ps, pa] + gamma * ev
    return q


def fitted_q_iteration(steps: LoggedSteps, *, gamma: float, tol: float = 1e-10, max_iter: int = 10_000) -> BatchQResult:
    """Tabular fitted Q-iteration (see the module docstring), stopped when the sup-norm
    change falls below ``tol``."""
    gamma = check_gamma(gamma)
    counts, r_bar, out_pair, out_next, prob, pairs = _empirical(steps)
    q = np.where(counts > 0, 0.0, np.nan)
    residual = float("inf")
    it = 0
    while it < max_iter:
        v = np.nan_to_num(np.nanmax(np.where(counts > 0, q, -np.inf), axis=1), neginf=0.0)
        new = _backup(v, counts, r_bar, out_pair, out_next, prob, pairs, gamma)
        residual = float(np.nanmax(np.abs(new - q))) if np.any(counts > 0) else 0.0
        q = new
        it += 1
        if residual <= tol:
            break
    return greedy_result(q, counts, iterations=it, residual=residual)


@dataclass(frozen=True, eq=False)
class SafePolicy:
    """A SPIBB policy pi (S, A), the behaviour estimate it started from, and which pairs
    were bootstrapped (logged fewer than ``n_wedge`` times)."""

    pi: FloatArray
    behavior: FloatArray
    bootstrapped: NDArray[np.bool_]
    n_wedge: int
    iterations: int


def _evaluate(pi: FloatArray, counts: FloatArray, r_bar: FloatArray, out_pair: IntArray, out_next: IntArray,
              prob: FloatArray, pairs: FloatArray, gamma: float, tol: float = 1e-10, max_iter: int = 100_000) -> FloatArray:
    q = np.where(counts > 0, 0.0, np.nan)
    for _ in range(max_iter):
        v = np.sum(np.nan_to_num(q) * pi, axis=1)
        new = _backup(v, counts, r_bar, out_pair, out_next, prob, pairs, gamma)
        delta = float(np.nanmax(np.abs(new - q)))
        q = new
        if delta <= tol:
            break
    return q


def spibb(steps: LoggedSteps, *, gamma: float, n_wedge: int, max_iter: int = 100) -> SafePolicy:
    """Pi_b-SPIBB policy iteration on the empirical model of ``steps`` (module docstring)."""
    if isinstance(n_wedge, bool) or not isinstance(n_wedge, int) or n_wedge < 0:
        raise ParameterError(f"n_wedge: expected a non-negative integer, got {n_wedge!r}")
    gamma = check_gamma(gamma)
    counts, r_bar, out_pair, out_next, prob, pairs = _empirical(steps)
    n_s = counts.sum(axis=1, keepdims=True)
    behavior = np.divide(counts, n_s, out=np.zeros_like(counts), where=n_s > 0)
    boot = (counts > 0) & (counts < n_wedge)
    free = (counts >= n_wedge) & (counts > 0)
    pi = behavior.copy()
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is reported after the loop
        q = _evaluate(pi, counts, r_bar, out_pair, out_next, prob, pairs, gamma)
        new = np.where(boot, behavior, 0.0)
        mass = np.sum(np.where(free, behavior, 0.0), axis=1)
        best = np.argmax(np.where(free, q, -np.inf), axis=1)
        rows = np.flatnonzero(free.any(axis=1))
        new[rows, best[rows]] += mass[rows]
        if np.allclose(new, pi, atol=1e-12):
            break
        pi = new
    return SafePolicy(pi=pi, behavior=behavior, bootstrapped=boot, n_wedge=n_wedge, iterations=it)


def model_optimum(steps: LoggedSteps, *, gamma: float) -> FloatArray:
    """The optimal policy of the model estimated from ``steps`` (exact policy iteration), as an
    (S, A) matrix over the log's names (all-zero rows where a state was never decided)."""
    gamma = check_gamma(gamma)
    mdp = estimate_model(steps, gamma=gamma, min_support=0).mdp
    greedy = policy_iteration(mdp).policy
    pi = np.zeros((len(steps.state_names), len(steps.action_names)))
    for s in mdp.decision_states:
        a = int(greedy[s])
        pi[steps.state_names.index(mdp.state_names[s]), steps.action_names.index(mdp.action_names[a])] = 1.0
    return pi


def pessimistic_q_iteration(steps: LoggedSteps, *, gamma: float, z: float = Z95, tol: float = 1e-10,
                            max_iter: int = 10_000) -> BatchQResult:
    """Q-iteration against the worst model within the Wilson lower bounds (module docstring);
    the greedy policy of the lower-bound Q."""
    gamma = check_gamma(gamma)
    if not (isinstance(z, (int, float)) and z >= 0 and np.isfinite(z)):
        raise ParameterError(f"z: expected a non-negative number, got {z!r}")
    c = count_transitions(steps)
    s_n, a_n = len(steps.state_names), len(steps.action_names)
    counts = np.zeros((s_n, a_n))
    counts[c.pair_state, c.pair_action] = c.pair_count
    p_lo, _ = wilson_interval(c.out_count, c.pair_count[c.out_pair], z)
    free = np.maximum(1.0 - np.bincount(c.out_pair, weights=p_lo, minlength=c.pair_count.size), 0.0)
    r_bar = c.reward_sum / c.out_count
    q = np.where(counts > 0, 0.0, np.nan)
    residual, it = float("inf"), 0
    while it < max_iter:
        v = np.nan_to_num(np.nanmax(np.where(counts > 0, q, -np.inf), axis=1), neginf=0.0)
        value = r_bar + gamma * v[c.out_next]
        worst = float(value.min()) if value.size else 0.0
        pair_q = np.bincount(c.out_pair, weights=p_lo * value, minlength=c.pair_count.size) + free * worst
        new = np.full(counts.shape, np.nan)
        new[c.pair_state, c.pair_action] = pair_q
        residual = float(np.nanmax(np.abs(new - q))) if c.pair_count.size else 0.0
        q = new
        it += 1
        if residual <= tol:
            break
    return greedy_result(q, counts, iterations=it, residual=residual)


def greedy_result(q: FloatArray, counts: FloatArray, *, iterations: int, residual: float) -> BatchQResult:
    """The :class:`BatchQResult` of a (S, A) ``q``: greedy over the logged pairs, -1 where no action was logged."""
    masked = np.where(counts > 0, q, -np.inf)
    policy = np.where(counts.sum(axis=1) > 0, np.argmax(masked, axis=1), -1).astype(np.int64)
    return BatchQResult(q=q, policy=policy, counts=counts, iterations=iterations, residual=residual)


__all__ = ["BatchQResult", "SafePolicy", "fitted_q_iteration", "greedy_result", "model_optimum", "pessimistic_q_iteration",
           "spibb"]
