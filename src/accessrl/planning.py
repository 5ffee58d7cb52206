r"""Exact planning: Bellman backups, policy evaluation, value and policy iteration.

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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import NDArray

from accessrl.errors import ParameterError
from accessrl.model import MDP
from accessrl.policies import pair_probabilities, pairs_of
from accessrl.structure import check_ssp, require_proper

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

TIE_RTOL = 1e-12
"""Q-values this close (relative to their scale) count as tied in a solver's policy."""


# ------------------------------------------------------------------ results
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


# ------------------------------------------------------------- primitives
def _check_values(mdp: MDP, values: Any) -> FloatArray:
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (mdp.n_states,):
        raise ParameterError(f"values: expected {mdp.n_states} entries (one per state), got shape {v.shape}")
    return v


def q_values(mdp: MDP, values: Any) -> FloatArray:
    """Q(s, a) = r(s, a) + gamma * sum_s' p(s'|s, a) V(s') for every pair (L,)."""
    v = _check_values(mdp, values)
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


def _policy_from_pairs(mdp: MDP, best_pair: IntArray) -> IntArray:
    pol = np.full(mdp.n_states, -1, dtype=np.int64)
    ds = best_pair >= 0
    pol[ds] = mdp.sa_action[best_pair[ds]]
    return pol


def greedy_policy(mdp: MDP, values: Any, *, tie_rtol: float = 0.0) -> IntArray:
    """The greedy policy for ``values``: argmax_a Q(s, a), first declared action among ties.

    Returns global action indices (S,), ``-1`` for terminal states.
    """
    _, best = state_max(mdp, q_values(mdp, values), tie_rtol=tie_rtol)
    return _policy_from_pairs(mdp, best)


def bellman_backup(mdp: MDP, values: Any) -> Backup:
    """Apply the Bellman optimality operator once: (TV, Q, greedy policy)."""
    q = q_values(mdp, values)
    v, best = state_max(mdp, q)
    return Backup(values=v, q_values=q, policy=_policy_from_pairs(mdp, best))


# ----------------------------------------------------------- evaluation
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


# ------------------------------------------------------------- solvers
def _check_tol(tol: float) -> float:
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol > 0 or not np.isfinite(tol):
        raise ParameterError(f"tol: expected a positive number, got {tol!r}")
    return float(tol)


def _finish(mdp: MDP, v: FloatArray, **kw: Any) -> SolveResult:
    q = q_values(mdp, v)
    _, best = state_max(mdp, q, tie_rtol=TIE_RTOL)
    return SolveResult(values=v, policy=_policy_from_pairs(mdp, best), q_values=q, **kw)


def _exact_check(mdp: MDP, v: FloatArray) -> tuple[bool, FloatArray]:
    """Evaluate the greedy policy of ``v`` exactly; stable means it is optimal."""
    pol = greedy_policy(mdp, v, tie_rtol=TIE_RTOL)
    try:
        ev = policy_evaluation(mdp, pol).values
    except Exception:  # an improper greedy policy: keep sweeping
        return False, v
    stable = np.array_equal(greedy_policy(mdp, ev, tie_rtol=TIE_RTOL), pol) or bool(
        np.max(np.abs(state_max(mdp, q_values(mdp, ev))[0] - ev), initial=0.0) <= 1e-12 * max(1.0, float(np.max(np.abs(ev), initial=0.0)))
    )
    return stable, ev


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

    gamma = 1 (stochastic shortest path; :func:`~accessrl.structure.check_ssp` first):
    sweep until the change is at most ``tol``, then evaluate the greedy policy exactly;
    if it is stable under one more improvement its exact values are returned
    (error bound 0), otherwise sweeping continues.

    ``record=True`` keeps the values after every sweep (for teaching; memory S per sweep).
    """
    tol = _check_tol(tol)
    g = mdp.gamma
    check_ssp(mdp)
    v = np.zeros(mdp.n_states) if v0 is None else _check_values(mdp, v0).copy()
    thresh = tol * (1 - g) / g if g < 1 else tol
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
                bound = g / (1 - g) * delta
                break
            stable, ev = _exact_check(mdp, v)
            if stable:
                if delta > 0:
                    v = ev
                bound = 0.0  # T has a unique fixed point for a proper SSP
                break
            thresh /= 10
    return _finish(
        mdp, v, iterations=it, method="value-iteration", residual=trace[-1] if trace else 0.0,
        error_bound=bound, trace=tuple(trace), sweeps=tuple(sweeps),
    )


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
    """
    check_ssp(mdp)
    v = np.zeros(mdp.n_states) if v0 is None else _check_values(mdp, v0)
    pol = greedy_policy(mdp, v)
    if mdp.gamma >= 1.0:
        from accessrl.structure import improper_states

        if improper_states(mdp, pair_probabilities(mdp, pol)).size:
            pol = value_iteration(mdp, tol=1e-3).policy
    trace: list[float] = []
    it = 0
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
        trace.append(float(np.max(best_v - ev.values, initial=0.0)))
        if not improve.any():
            v = ev.values
            break
        new = pol.copy()
        new[improve] = mdp.sa_action[best_pair[improve]]
        pol = new
        v = ev.values
    return _finish(
        mdp, v, iterations=it, method="policy-iteration", residual=trace[-1] if trace else 0.0,
        error_bound=0.0, trace=tuple(trace),
    )


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
    tol = _check_tol(tol)
    if m < 0:
        raise ParameterError(f"m: expected a non-negative number of evaluation sweeps, got {m}")
    g = mdp.gamma
    if g >= 1.0:
        res = policy_iteration(mdp, v0=v0)
        return SolveResult(**{**res.__dict__, "method": "modified-policy-iteration", "note": "gamma = 1: exact policy iteration"})
    has_terminal = bool(mdp.terminal.any())
    v = np.zeros(mdp.n_states) if v0 is None else _check_values(mdp, v0).copy()
    # Start from a value that T maps upward (Puterman's condition for monotone convergence).
    trace: list[float] = []
    it = 0
    p = mdp.transition_matrix
    r = mdp.expected_reward
    bound = float("nan")
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
                bound = g / (1 - g) * delta
                break
        else:
            hi, lo = float(diff.max()), float(diff.min())
            trace.append(hi - lo)
            if g / (1 - g) * (hi - lo) <= 2 * tol:
                v = u + g / (1 - g) * (hi + lo) / 2
                bound = g / (1 - g) * (hi - lo) / 2
                break
        # partial evaluation of the greedy policy
        # partial evaluation of the greedy policy; terminal states stay at 0
        ds = mdp.decision_states
        p_ds, r_ds = p[best[ds]], r[best[ds]]
        v = u
        for _ in range(m):
            nv = np.zeros(mdp.n_states)
            nv[ds] = r_ds + g * (p_ds @ v)
            v = nv
    return _finish(
        mdp, v, iterations=it, method="modified-policy-iteration", residual=trace[-1] if trace else 0.0,
        error_bound=bound, trace=tuple(trace),
    )


# ------------------------------------------------- solvers that scale (compiled kernels)
Progress = Callable[[float, str], None]
"""A progress callback: (fraction done in [0, 1], or nan when unknown; a short message)."""


def finish_compiled(mdp: MDP, v: FloatArray, r_pair: FloatArray | None = None, **kw: Any) -> SolveResult:
    """A :class:`SolveResult` for values ``v``: Q by the parallel kernel, greedy policy with ties."""
    from accessrl.kernels import greedy_pairs, pair_rewards

    q, best = greedy_pairs(mdp, pair_rewards(mdp) if r_pair is None else r_pair, v, TIE_RTOL)
    return SolveResult(values=v, policy=_policy_from_pairs(mdp, best), q_values=q, **kw)


def _progress_fraction(first: float, now: float, target: float) -> float:
    """How far a geometric decrease from ``first`` to ``target`` has got (log scale)."""
    if not (first > target > 0) or not now > 0:
        return float("nan") if now > target else 1.0
    return float(min(1.0, max(0.0, np.log(first / now) / np.log(first / target))))


def _mpi_stop(diff_hi: float, diff_lo: float, sup: float, g: float, tol: float, has_terminal: bool) -> tuple[bool, float, float]:
    """MPI/VI stopping rule on d = T v - v: (stop?, shift to add to T v, error bound).

    Without terminal states, MacQueen's bounds (Puterman 1994, Thm 6.6.6): T v + c with
    c = gamma/(1-gamma) (max d + min d)/2 is within gamma/(1-gamma) span(d)/2 of V*.
    With terminal states (pinned at 0) the sup-norm bound gamma/(1-gamma) ||d|| is used.
    """
    if has_terminal:
        bound = g / (1 - g) * sup
        return bound <= tol, 0.0, bound
    bound = g / (1 - g) * (diff_hi - diff_lo) / 2
    return bound <= tol, g / (1 - g) * (diff_hi + diff_lo) / 2, bound


def compiled_modified_policy_iteration(
    mdp: MDP,
    *,
    tol: float = 1e-6,
    m: int = 2,
    v0: Any = None,
    max_iter: int = 100_000,
    eliminate: bool = True,
    progress: Progress | None = None,
) -> SolveResult:
    r"""Modified policy iteration on the compiled parallel sweep kernels (gamma < 1).

    Each iteration: u = T v (one full Bellman sweep, greedy pairs sigma), the stopping
    rule of :func:`_mpi_stop` (error bound ``tol``), then ``m`` sweeps v <- T_sigma v that
    read only the chosen pairs (Puterman 1994, §6.5).  ``eliminate``: after each
    improvement, drop pairs MacQueen's test proves suboptimal
    (:func:`~accessrl.kernels.eliminate_actions`), so later full sweeps read fewer
    transitions.  Memory: three vectors of S and one float and one flag per pair on top
    of the model.  gamma = 1 falls back to :func:`value_iteration`.
    """
    from accessrl.kernels import bellman_sweep_active, eliminate_actions, pair_rewards, policy_sweep

    tol = _check_tol(tol)
    if m < 0:
        raise ParameterError(f"m: expected a non-negative number of evaluation sweeps, got {m}")
    g = mdp.gamma
    if g >= 1.0:
        res = value_iteration(mdp, tol=tol)
        return SolveResult(**{**res.__dict__, "method": "compiled-mpi", "note": "gamma = 1: value iteration"})
    r = pair_rewards(mdp)
    v = np.zeros(mdp.n_states) if v0 is None else _check_values(mdp, v0).copy()
    u = np.empty_like(v)
    best = np.empty(mdp.n_states, dtype=np.int64)
    has_terminal = bool(mdp.terminal.any())
    active = np.ones(mdp.n_pairs, dtype=bool)
    q = np.empty(mdp.n_pairs)
    trace: list[float] = []
    bound = float("nan")
    it = sweeps = eliminated = 0
    while it < max_iter:
        hi, lo, sup = bellman_sweep_active(mdp, r, v, u, best, active, q)
        it += 1
        sweeps += 1
        stop, shift, bound = _mpi_stop(hi, lo, sup, g, tol, has_terminal)
        trace.append(bound)
        if progress is not None:
            progress(_progress_fraction(trace[0], bound, tol), f"iteration {it}: error bound {bound:.3g}")
        if stop:
            if shift:
                u += shift
            v = u
            break
        if eliminate:
            gap = 2 * g / (1 - g) * sup if has_terminal else g / (1 - g) * (hi - lo)
            eliminated += eliminate_actions(mdp, active, q, u, gap)
        for _ in range(m):
            policy_sweep(mdp, r, best, u, v)
            u, v = v, u
        sweeps += m
        u, v = v, u  # v holds T_sigma^m T v
    return finish_compiled(
        mdp, v, r, iterations=it, method="compiled-mpi", residual=trace[-1] if trace else 0.0,
        error_bound=bound, trace=tuple(trace), extra={"sweeps": sweeps, "m": m, "eliminated_pairs": eliminated},
    )


def gauss_seidel_value_iteration(
    mdp: MDP,
    *,
    tol: float = 1e-6,
    order: Any = None,
    max_iter: int = 1_000_000,
    progress: Progress | None = None,
) -> SolveResult:
    r"""Gauss–Seidel (in-place) value iteration on the compiled kernel, gamma < 1.

    Each sweep updates V(s) in ``order`` (default: sinks of the transition graph first,
    so values flow downstream within one sweep) using the newest values.  The
    Gauss–Seidel operator is a gamma-contraction in the sup norm (Bertsekas 2012, §2.6;
    Puterman 1994, §6.3.3), so stopping at ||V_{k+1} - V_k|| <= tol (1-gamma)/gamma bounds
    the error by ``tol``.  Unlike :func:`value_iteration` the sweeps are not Jacobi
    sweeps: the iterates differ from the textbook's (the lesson prints Jacobi sweeps).
    """
    from accessrl.kernels import gauss_seidel_sweep, pair_rewards, strong_components

    tol = _check_tol(tol)
    g = mdp.gamma
    if g >= 1.0:
        res = value_iteration(mdp, tol=tol)
        return SolveResult(**{**res.__dict__, "method": "gauss-seidel", "note": "gamma = 1: value iteration"})
    ordr = strong_components(mdp)[1] if order is None else np.asarray(order, dtype=np.int64)
    if ordr.shape != (mdp.n_states,):
        raise ParameterError(f"order: expected a permutation of the {mdp.n_states} states, got shape {ordr.shape}")
    r = pair_rewards(mdp)
    v = np.zeros(mdp.n_states)
    best = np.full(mdp.n_states, -1, dtype=np.int64)
    thresh = tol * (1 - g) / g
    trace: list[float] = []
    it = 0
    while it < max_iter:
        delta = gauss_seidel_sweep(mdp, r, ordr, v, best)
        it += 1
        trace.append(delta)
        if progress is not None:
            progress(_progress_fraction(trace[0], delta, thresh), f"sweep {it}: change {delta:.3g}")
        if delta <= thresh:
            break
    return finish_compiled(
        mdp, v, r, iterations=it, method="gauss-seidel", residual=trace[-1] if trace else 0.0,
        error_bound=g / (1 - g) * trace[-1] if trace else 0.0, trace=tuple(trace),
    )


def _policy_system(mdp: MDP, best: IntArray, r_pair: FloatArray) -> tuple[sp.csr_matrix, FloatArray]:
    """P_sigma (S, S) and r_sigma (S,) of one pair per state (``-1``: terminal, empty row)."""
    ok = best >= 0
    k = np.where(ok, best, 0)
    counts = np.where(ok, mdp.out_ptr[k + 1] - mdp.out_ptr[k], 0)
    indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    src = np.repeat(mdp.out_ptr[k] - indptr[:-1], counts) + np.arange(int(indptr[-1]))
    p = sp.csr_matrix((mdp.out_prob[src], mdp.out_next[src], indptr), shape=(mdp.n_states, mdp.n_states))
    r_sigma = np.where(ok, r_pair[k], 0.0)
    return p, r_sigma


def krylov_policy_iteration(
    mdp: MDP,
    *,
    tol: float = 1e-6,
    inexact: bool = False,
    m: int = 20,
    max_iter: int = 10_000,
    progress: Progress | None = None,
) -> SolveResult:
    r"""Policy iteration whose evaluation is a Krylov solve (GMRES, scipy.sparse.linalg).

    Improvement: u = T v and the greedy pairs sigma (compiled sweep).  Evaluation: solve
    (I - gamma P_sigma) v = r_sigma by restarted GMRES started from u, to a relative
    residual of 1e-12 (``inexact=False``: Howard's policy iteration, Puterman 1994, §6.4)
    or for one cycle of ``m`` Krylov steps (``inexact=True``: a modified policy iteration
    whose partial evaluation is a Krylov step instead of ``m`` fixed-point sweeps;
    Gargiani et al. 2024, "Inexact policy iteration methods").  Memory: P_sigma holds
    the chosen pairs' transitions (nnz / A) plus m Krylov vectors.  Either way the result
    is returned only when the stopping rule of :func:`_mpi_stop` bounds its error by ``tol``.
    gamma = 1 falls back to :func:`policy_iteration` with Krylov evaluation.
    """
    from accessrl.kernels import bellman_sweep, pair_rewards

    tol = _check_tol(tol)
    name = "krylov-mpi" if inexact else "krylov-policy-iteration"
    g = mdp.gamma
    if g >= 1.0:
        res = policy_iteration(mdp, evaluation="krylov")
        return SolveResult(**{**res.__dict__, "method": name, "note": "gamma = 1: policy iteration, GMRES evaluation"})
    r = pair_rewards(mdp)
    n = mdp.n_states
    v = np.zeros(n)
    u = np.empty(n)
    best = np.empty(n, dtype=np.int64)
    has_terminal = bool(mdp.terminal.any())
    trace: list[float] = []
    bound = float("nan")
    it = 0
    while it < max_iter:
        hi, lo, sup = bellman_sweep(mdp, r, v, u, best)
        it += 1
        stop, shift, bound = _mpi_stop(hi, lo, sup, g, tol, has_terminal)
        trace.append(bound)
        if progress is not None:
            progress(_progress_fraction(trace[0], bound, tol), f"iteration {it}: error bound {bound:.3g}")
        if stop:
            v = u + shift if shift else u
            break
        p_sig, r_sig = _policy_system(mdp, best, r)
        op = spla.LinearOperator((n, n), matvec=lambda x, p=p_sig: x - g * (p @ x), dtype=np.float64)
        if inexact:
            v, _ = spla.gmres(op, r_sig, x0=u, rtol=1e-14, atol=0.0, restart=max(1, m), maxiter=1)
        else:
            v, _ = spla.gmres(op, r_sig, x0=u, rtol=1e-12, atol=0.0, restart=50, maxiter=10_000)
        v = np.asarray(v, dtype=np.float64)
        v[mdp.terminal] = 0.0
    return finish_compiled(
        mdp, v, r, iterations=it, method=name, residual=trace[-1] if trace else 0.0,
        error_bound=bound, trace=tuple(trace),
    )


SOLVERS: dict[str, Callable[..., SolveResult]] = {
    "value-iteration": value_iteration,
    "policy-iteration": policy_iteration,
    "modified-policy-iteration": modified_policy_iteration,
    "topological": lambda mdp, **kw: _topological(mdp, **kw),
    "compiled-mpi": compiled_modified_policy_iteration,
    "gauss-seidel": gauss_seidel_value_iteration,
    "krylov-policy-iteration": krylov_policy_iteration,
    "krylov-mpi": lambda mdp, **kw: krylov_policy_iteration(mdp, inexact=True, **kw),
}
"""Every method :func:`solve` accepts, by name."""

_TAKES_PROGRESS = {"topological", "compiled-mpi", "gauss-seidel", "krylov-policy-iteration", "krylov-mpi"}


def _topological(mdp: MDP, **kw: Any) -> SolveResult:
    from accessrl.topological import topological_value_iteration

    return topological_value_iteration(mdp, **kw)


SMALL_MODEL = 200
"""Up to this many states ``auto`` uses exact policy iteration (its sparse LU fills in beyond)."""


def choose_method(mdp: MDP) -> tuple[str, str, Any]:
    """The method ``auto`` picks for ``mdp``, why, and the SCC decomposition if it computed one.

    (For a model in index order the third item is instead the int direction of
    :func:`~accessrl.kernels.order_direction`, which topological value iteration accepts.)

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
        return "policy-iteration", f"{n} states: small enough for exact policy iteration", None
    if mdp.gamma < 1.0 and not mdp.terminal.any():
        return "compiled-mpi", (f"{n} states, no terminal states (every path cycles), gamma {mdp.gamma}: "
                                "compiled modified policy iteration with the span (MacQueen) stopping rule"), None
    from accessrl.kernels import order_direction, strong_components

    direction = order_direction(mdp)
    if direction:
        way = "descending" if direction > 0 else "ascending"
        return "topological", (f"states in topological order ({n} states, every successor a "
                               f"{'larger' if direction > 0 else 'smaller'} index): exact in one {way} "
                               "pass, no SCC pass"), direction
    scc = strong_components(mdp)
    sizes = np.diff(scc[2])
    largest = int(sizes.max()) if sizes.size else 0
    if largest <= 1:
        return "topological", f"acyclic ({sizes.size} components of one state): exact in one backward pass", scc
    if largest <= n // 2:
        why = (f"{sizes.size} components, largest {largest} of {n} states: topological value iteration, "
               f"Gauss-Seidel inside the {int(np.count_nonzero(sizes > 1))} cyclic ones")
        if mdp.gamma < 1.0:
            return "topological", why, scc
    if mdp.gamma >= 1.0:
        return "value-iteration", "gamma = 1 with cycles: value iteration with an exact final check", None
    return "compiled-mpi", (f"one component holds {largest} of {n} states: compiled modified policy iteration "
                            f"(parallel sweeps, span stopping rule)"), None


def solve(mdp: MDP, method: str = "auto", *, tol: float = 1e-6, progress: Progress | None = None) -> SolveResult:
    """Solve ``mdp`` to within ``tol`` (max|V - V*|) with the named method or ``"auto"``.

    ``auto`` picks by structure and size (:func:`choose_method`) and records why in
    ``note``.  ``progress`` (optional) is called with (fraction done or nan, message) by
    the compiled methods.
    """
    tol = _check_tol(tol)
    scc = None
    if method == "auto":
        method, why, scc = choose_method(mdp)
    elif method in SOLVERS:
        why = "chosen by the caller"
    else:
        raise ParameterError(f"method: expected one of {['auto', *SOLVERS]}, got {method!r}")
    fn = SOLVERS[method]
    kw: dict[str, Any] = {} if method == "policy-iteration" else {"tol": tol}
    if method in _TAKES_PROGRESS and progress is not None:
        kw["progress"] = progress
    if method == "topological" and scc is not None:
        kw["scc"] = scc
    res = fn(mdp, **kw)
    return SolveResult(**{**res.__dict__, "note": why})


__all__ = [
    "Backup",
    "PolicyEvaluation",
    "SolveResult",
    "SOLVERS",
    "bellman_backup",
    "choose_method",
    "compiled_modified_policy_iteration",
    "finish_compiled",
    "gauss_seidel_value_iteration",
    "greedy_policy",
    "krylov_policy_iteration",
    "modified_policy_iteration",
    "policy_evaluation",
    "policy_iteration",
    "q_values",
    "solve",
    "state_max",
    "value_iteration",
]
