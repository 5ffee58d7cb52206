r"""Readable exact planning: Bellman backups, policy evaluation, value and policy iteration.

Pure functions over a compiled :class:`~accessrl.model.MDP`; results are frozen
dataclasses.  Q-values are kept per state-action *pair* (an (L,) array, rows
``mdp.sa_ptr[s]:mdp.sa_ptr[s+1]`` for state ``s``); ``mdp.dense_q`` scatters them to
(S, A) with ``-inf`` where an action is unavailable, as QuantEcon does.

The Bellman optimality operator (Sutton & Barto 2018, eq. 4.10; Puterman 1994, §6.3):

.. math:: (TV)(s) = \max_a \sum_{s'} p(s' \mid s, a)\,[r(s, a, s') + \gamma V(s')]

Terminal states have value 0 and no actions.  Ties break toward the first declared
action, as Python's ``max`` does in the lesson.

>>> from accessrl.catalog import access_review
>>> res = value_iteration(access_review())
>>> res.values.round(6).tolist()
[59.0, 70.0, 80.0, 0.0]
>>> res.iterations
3
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from accessrl._types import FloatArray, IntArray
from accessrl.errors import AccessRLError, ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.policies import pair_probabilities, pairs_of
from accessrl.planning.results import TIE_RTOL, Backup, PolicyEvaluation, SolveResult, check_max_iter, check_tol, on_allowed_pairs
from accessrl.planning.structure import check_ssp, improper_states, require_proper


def check_values(mdp: MDP, values: Any) -> FloatArray:
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (mdp.n_states,):
        raise ParameterError(f"values: expected {mdp.n_states} entries (one per state), got shape {v.shape}")
    return v


def q_values(mdp: MDP, values: Any) -> FloatArray:
    """Q(s, a) = r(s, a) + gamma * sum_s' p(s'|s, a) V(s') for every pair (L,)."""
    v = check_values(mdp, values)
    q: FloatArray = mdp.expected_reward + mdp.gamma * (mdp.transition_matrix @ v)
    return q


def _segment_starts(mdp: MDP) -> IntArray:
    return mdp.sa_ptr[mdp.decision_states]


def state_max(mdp: MDP, q: FloatArray, *, tie_rtol: float = 0.0) -> tuple[FloatArray, IntArray]:
    """Per-state max of pair values and the first pair attaining it (terminal: 0, -1)."""
    values = np.zeros(mdp.n_states)
    best_pair = np.full(mdp.n_states, -1, dtype=np.int64)
    ds = mdp.decision_states
    if ds.size == 0:
        return values, best_pair
    starts = _segment_starts(mdp)
    vmax = np.maximum.reduceat(q, starts)
    values[ds] = vmax
    top = values[mdp.sa_state]
    slack = tie_rtol * np.maximum(1.0, np.abs(top)) if tie_rtol else 0.0
    idx = np.arange(mdp.n_pairs)
    first = np.minimum.reduceat(np.where(q >= top - slack, idx, mdp.n_pairs), starts)
    best_pair[ds] = first
    return values, best_pair


def policy_from_pairs(mdp: MDP, best_pair: IntArray) -> IntArray:
    pol = np.full(mdp.n_states, -1, dtype=np.int64)
    ds = best_pair >= 0
    pol[ds] = mdp.sa_action[best_pair[ds]]
    return pol


def greedy_policy(mdp: MDP, values: Any, *, tie_rtol: float = 0.0) -> IntArray:
    """The greedy policy for ``values``: argmax_a Q(s, a), first declared action among ties.

    Returns global action indices (S,), ``-1`` for terminal states.
    """
    _, best = state_max(mdp, q_values(mdp, values), tie_rtol=tie_rtol)
    return policy_from_pairs(mdp, best)


def bellman_backup(mdp: MDP, values: Any) -> Backup:
    """Apply the Bellman optimality operator once: (TV, Q, greedy policy)."""
    q = q_values(mdp, values)
    v, best = state_max(mdp, q)
    return Backup(values=v, q_values=q, policy=policy_from_pairs(mdp, best))


def _policy_operator(mdp: MDP, probs: FloatArray) -> tuple[sp.csr_matrix, FloatArray]:
    """P_pi (S, S) and r_pi (S,) of a stochastic policy given as pair probabilities."""
    d = sp.csr_matrix((probs, (mdp.sa_state, np.arange(mdp.n_pairs))), shape=(mdp.n_states, mdp.n_pairs))
    p_pi = (d @ mdp.transition_matrix).tocsr()
    r_pi = d @ mdp.expected_reward
    return p_pi, np.asarray(r_pi, dtype=np.float64)


def policy_evaluation(
    mdp: MDP,
    policy: Any,
    *,
    method: Literal["direct", "iterative", "krylov"] = "direct",
    tol: float = 1e-10,
    max_iter: int = 1_000_000,
) -> PolicyEvaluation:
    r"""Evaluate a policy: solve V = r_pi + gamma P_pi V (Sutton & Barto 2018, eq. 4.4).

    ``policy``: (S,) action indices or (L,) pair probabilities.  ``method``:

    * ``"direct"`` — sparse LU solve of (I - gamma P_pi) V = r_pi;
    * ``"krylov"`` — GMRES on the same system (memory linear in the transitions);
    * ``"iterative"`` — repeated backups V <- r_pi + gamma P_pi V, stopped when
      ||V_{k+1} - V_k|| <= tol (1 - gamma) / gamma, which bounds the error by ``tol``
      (for gamma = 1, when the change drops below ``tol``; no bound is implied).

    With gamma = 1 the policy must terminate with probability 1 from every state
    (:class:`~accessrl.errors.NotTerminatingError` names those where it does not).
    """
    max_iter = check_max_iter(max_iter)
    probs = pair_probabilities(mdp, policy)
    require_proper(mdp, probs)
    p_pi, r_pi = _policy_operator(mdp, probs)
    g = mdp.gamma
    n = mdp.n_states
    iterations = 1
    if method == "direct":
        a = (sp.identity(n, format="csc") - g * p_pi).tocsc()
        v = np.asarray(spla.spsolve(a, r_pi), dtype=np.float64).reshape(n)
    elif method == "krylov":
        a = (sp.identity(n, format="csr") - g * p_pi).tocsr()
        v, info = spla.gmres(a, r_pi, rtol=min(1e-12, tol), atol=0.0, restart=50, maxiter=max_iter)
        iterations = max(1, int(info)) if info > 0 else 1
        v = np.asarray(v, dtype=np.float64)
    elif method == "iterative":
        if not tol > 0:
            raise ParameterError(f"tol: expected a positive number, got {tol!r}")
        thresh = tol * (1 - g) / g if g < 1 else tol
        v = np.zeros(n)
        iterations = 0
        while iterations < max_iter:
            nv = r_pi + g * (p_pi @ v)
            iterations += 1
            delta = float(np.max(np.abs(nv - v))) if n else 0.0
            v = nv
            if delta <= thresh:
                break
    else:
        raise ParameterError(f"method: expected 'direct', 'iterative' or 'krylov', got {method!r}")
    v[mdp.terminal] = 0.0
    residual = float(np.max(np.abs(r_pi + g * (p_pi @ v) - v))) if n else 0.0
    return PolicyEvaluation(
        values=v, q_values=q_values(mdp, v), iterations=iterations, method=method, residual=residual
    )


def _finish(mdp: MDP, v: FloatArray, **kw: Any) -> SolveResult:
    q = q_values(mdp, v)
    _, best = state_max(mdp, q, tie_rtol=TIE_RTOL)
    return SolveResult(values=v, policy=policy_from_pairs(mdp, best), q_values=q, **kw)


def _exact_check(mdp: MDP, v: FloatArray) -> tuple[bool, FloatArray]:
    """Evaluate the greedy policy of ``v`` exactly; stable means it is optimal."""
    pol = greedy_policy(mdp, v, tie_rtol=TIE_RTOL)
    try:
        ev = policy_evaluation(mdp, pol).values
    except AccessRLError:  # an improper greedy policy (NotTerminatingError): keep sweeping
        return False, v
    scale = max(1.0, float(np.max(np.abs(ev), initial=0.0)))
    stable = np.array_equal(greedy_policy(mdp, ev, tie_rtol=TIE_RTOL), pol) or bool(
        np.max(np.abs(state_max(mdp, q_values(mdp, ev))[0] - ev), initial=0.0) <= 1e-12 * scale
    )
    return stable, ev


@on_allowed_pairs
def value_iteration(
    mdp: MDP,
    *,
    tol: float = 1e-6,
    max_iter: int = 1_000_000,
    v0: Any = None,
    record: bool = False,
) -> SolveResult:
    r"""Synchronous (Jacobi) value iteration: V_{k+1} = T V_k from ``v0`` (zeros).

    Stopping rule, gamma < 1: stop after the first sweep with
    ||V_{k+1} - V_k||_inf <= tol (1 - gamma) / gamma.  Because T is a gamma-contraction,
    ||V_{k+1} - V*|| <= gamma / (1 - gamma) ||V_{k+1} - V_k|| <= tol (Puterman 1994,
    Thm 6.3.1; Bertsekas 2012, Prop. 1.2.1).

    gamma = 1 (stochastic shortest path; :func:`~accessrl.planning.structure.check_ssp` first):
    sweep until the change is at most ``tol``, then evaluate the greedy policy exactly;
    if it is stable under one more improvement its exact values are returned
    (error bound 0), otherwise sweeping continues.

    ``record=True`` keeps the values after every sweep (for teaching; memory S per sweep).
    """
    tol = check_tol(tol)
    max_iter = check_max_iter(max_iter)
    g = mdp.gamma
    check_ssp(mdp)
    v = np.zeros(mdp.n_states) if v0 is None else check_values(mdp, v0).copy()
    thresh = tol * (1 - g) / g if g < 1 else tol
    converged = False
    trace: list[float] = []
    sweeps: list[FloatArray] = []
    it = 0
    bound = float("nan")
    while it < max_iter:
        q = mdp.expected_reward + g * (mdp.transition_matrix @ v)
        nv, _ = state_max(mdp, q)
        it += 1
        delta = float(np.max(np.abs(nv - v))) if nv.size else 0.0
        trace.append(delta)
        v = nv
        if record:
            sweeps.append(v.copy())
        if delta <= thresh:
            if g < 1:
                bound, converged = g / (1 - g) * delta, True
                break
            stable, ev = _exact_check(mdp, v)
            if stable:
                if delta > 0:
                    v = ev
                bound, converged = 0.0, True  # T has a unique fixed point for a proper SSP
                break
            thresh /= 10
    if not converged and g < 1 and trace:  # stopped by max_iter: the contraction still bounds the error
        bound = g / (1 - g) * trace[-1]
    return _finish(
        mdp, v, iterations=it, method="value-iteration", residual=trace[-1] if trace else 0.0,
        error_bound=bound, trace=tuple(trace), sweeps=tuple(sweeps), converged=converged,
    )


@on_allowed_pairs
def policy_iteration(
    mdp: MDP,
    *,
    v0: Any = None,
    max_iter: int = 10_000,
    evaluation: Literal["direct", "krylov"] = "direct",
) -> SolveResult:
    """Howard's policy iteration (Puterman 1994, §6.4): exact evaluation, greedy improvement.

    The first policy is greedy for ``v0`` (zeros).  An action changes only when another
    is strictly better (beyond rounding), so the loop cannot cycle; it stops when the
    policy is stable, and the values are then exact.  With gamma = 1 the model must be
    a proper SSP and the initial policy proper; an improper greedy start is replaced by
    one found by value iteration.

    Stopped by ``max_iter`` before the policy is stable, it returns the values V of the
    last evaluated policy with ``converged=False`` and the bound
    ||V - V*|| <= ||TV - V|| / (1 - gamma) (Puterman 1994, Prop. 6.6.1; ``nan`` for gamma = 1).
    """
    max_iter = check_max_iter(max_iter)
    check_ssp(mdp)
    v = np.zeros(mdp.n_states) if v0 is None else check_values(mdp, v0)
    pol = greedy_policy(mdp, v)
    if mdp.gamma >= 1.0:
        if improper_states(mdp, pair_probabilities(mdp, pol)).size:
            pol = value_iteration(mdp, tol=1e-3).policy
    trace: list[float] = []
    it = 0
    converged = False
    while it < max_iter:
        ev = policy_evaluation(mdp, pol, method=evaluation)
        it += 1
        q = ev.q_values
        best_v, best_pair = state_max(mdp, q)
        cur_pair = pairs_of(mdp, pol)
        ds = mdp.decision_states
        scale = np.maximum(1.0, np.abs(ev.values))
        improve = np.zeros(mdp.n_states, dtype=bool)
        improve[ds] = best_v[ds] > q[cur_pair[ds]] + 1e-11 * scale[ds]
        trace.append(float(np.max(np.abs(best_v - ev.values), initial=0.0)))  # ||T V - V||
        v = ev.values
        if not improve.any():
            converged = True
            break
        new = pol.copy()
        new[improve] = mdp.sa_action[best_pair[improve]]
        pol = new
    if converged:
        bound = 0.0
    else:
        bound = trace[-1] / (1 - mdp.gamma) if mdp.gamma < 1 else float("nan")
    return _finish(
        mdp, v, iterations=it, method="policy-iteration", residual=trace[-1] if trace else 0.0,
        error_bound=bound, trace=tuple(trace), converged=converged,
    )


@on_allowed_pairs
def modified_policy_iteration(
    mdp: MDP,
    *,
    tol: float = 1e-6,
    m: int = 20,
    v0: Any = None,
    max_iter: int = 100_000,
) -> SolveResult:
    r"""Modified policy iteration (Puterman 1994, §6.5; QuantEcon's ``DiscreteDP``).

    Each iteration: one Bellman optimality backup u = T V (greedy policy sigma), then ``m``
    partial evaluation steps V <- T_sigma V.  Stopping rule (gamma < 1): stop when the
    span of u - V satisfies gamma/(1-gamma) * span(u - V) <= 2 tol; the returned
    u + (gamma/(1-gamma)) (max + min)/2 (u - V) is within ``tol`` of V* (Puterman Thm 6.6.6,
    MacQueen's bounds).  With terminal states the shift is not applied (their value is
    pinned at 0), and the rule falls back to the sup norm as in value iteration.
    gamma = 1 falls back to policy iteration.
    """
    tol = check_tol(tol)
    max_iter = check_max_iter(max_iter)
    if m < 0:
        raise ParameterError(f"m: expected a non-negative number of evaluation sweeps, got {m}")
    g = mdp.gamma
    if g >= 1.0:
        res = policy_iteration(mdp, v0=v0)
        return replace(res, method="modified-policy-iteration", note="gamma = 1: exact policy iteration")
    has_terminal = bool(mdp.terminal.any())
    v = np.zeros(mdp.n_states) if v0 is None else check_values(mdp, v0).copy()
    # Start from a value that T maps upward (Puterman's condition for monotone convergence).
    trace: list[float] = []
    it = 0
    p = mdp.transition_matrix
    r = mdp.expected_reward
    bound = float("nan")
    converged = False
    while it < max_iter:
        q = r + g * (p @ v)
        u, best = state_max(mdp, q)
        it += 1
        diff = u - v
        if has_terminal:
            delta = float(np.max(np.abs(diff), initial=0.0))
            trace.append(delta)
            if delta <= tol * (1 - g) / g:
                v = u
                bound, converged = g / (1 - g) * delta, True
                break
        else:
            hi, lo = float(diff.max()), float(diff.min())
            trace.append(hi - lo)
            if g / (1 - g) * (hi - lo) <= 2 * tol:
                v = u + g / (1 - g) * (hi + lo) / 2
                bound, converged = g / (1 - g) * (hi - lo) / 2, True
                break
        # partial evaluation of the greedy policy; terminal states stay at 0
        ds = mdp.decision_states
        p_ds, r_ds = p[best[ds]], r[best[ds]]
        v = u
        for _ in range(m):
            nv = np.zeros(mdp.n_states)
            nv[ds] = r_ds + g * (p_ds @ v)
            v = nv
    if not converged:  # stopped by max_iter after partial evaluation: no bound for v is known
        bound = float("nan")
    return _finish(
        mdp, v, iterations=it, method="modified-policy-iteration", residual=trace[-1] if trace else 0.0,
        error_bound=bound, trace=tuple(trace), converged=converged,
    )


__all__ = [
    "bellman_backup",
    "check_values",
    "greedy_policy",
    "modified_policy_iteration",
    "policy_evaluation",
    "policy_from_pairs",
    "policy_iteration",
    "q_values",
    "state_max",
    "value_iteration",
]
