r"""Planners that scale: compiled (numba) sweeps with memory linear in the transitions (layer 1).

* :func:`compiled_modified_policy_iteration` — MPI on parallel CSR sweep kernels, MacQueen's
  span stopping rule and action elimination;
* :func:`gauss_seidel_value_iteration` — in-place sweeps, sinks first;
* :func:`krylov_policy_iteration` — policy iteration (or inexact MPI) with GMRES evaluation;
* :func:`topological_value_iteration` — strongly connected components solved sinks first.

Each returns a :class:`~accessrl.planning.results.SolveResult` whose ``error_bound`` bounds
max|V - V*|.  The kernels are imported inside each solver: loading numba takes a fifth of a
second, which every command (``accessrl --help`` included) would otherwise pay at start-up.

Topological value iteration. Dai, Mausam, Weld & Goldsmith (2011), "Topological value iteration algorithms", JAIR 42:
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
index, or every one to a smaller, self-loops and terminal states aside), Tarjan's pass is
skipped and one sweep in the opposite index order solves every state exactly and computes
r(s, a), Q and the greedy policy as it goes (:func:`~accessrl.planning.kernels.ordered_pass`).
The descending order (the generator's: day first, terminals last) is checked inside that
same pass, so such a model is read once; the ascending order needs a separate check
(:func:`~accessrl.planning.kernels.order_direction`) after the first pass gave up.

Memory: the model plus about nine integer or float vectors of S.

>>> from accessrl.catalog import access_review_abandonment
>>> res = topological_value_iteration(access_review_abandonment())
>>> res.values.round(4).tolist(), res.error_bound
([54.0, 70.0, 80.0, 0.0], 0.0)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from accessrl._types import FloatArray, IntArray
from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP
from accessrl.planning.exact import check_values, policy_from_pairs, policy_iteration, value_iteration
from accessrl.planning.results import TIE_RTOL, Progress, SolveResult, check_max_iter, check_tol, on_allowed_pairs
from accessrl.planning.structure import check_ssp


def finish_compiled(mdp: MDP, v: FloatArray, r_pair: FloatArray | None = None, *, threads: int = 1,
                    **kw: Any) -> SolveResult:
    """A :class:`SolveResult` for values ``v``: Q by the compiled kernel, greedy policy with ties.

    ``extra["threads"]`` records how many threads the kernels ran on."""
    from accessrl.planning.kernels import greedy_pairs, pair_rewards, threads_used

    r = pair_rewards(mdp, threads=threads) if r_pair is None else r_pair
    q, best = greedy_pairs(mdp, r, v, TIE_RTOL, threads=threads)
    extra = {**kw.pop("extra", {}), "threads": threads_used(mdp, threads)}
    return SolveResult(values=v, policy=policy_from_pairs(mdp, best), q_values=q, extra=extra, **kw)


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


@on_allowed_pairs
def compiled_modified_policy_iteration(
    mdp: MDP,
    *,
    tol: float = 1e-6,
    m: int = 3,
    v0: Any = None,
    max_iter: int = 100_000,
    eliminate: bool = True,
    progress: Progress | None = None,
    threads: int = 1,
) -> SolveResult:
    r"""Modified policy iteration on the compiled parallel sweep kernels (gamma < 1).

    Each iteration: u = T v (one full Bellman sweep, greedy pairs sigma), the stopping
    rule of :func:`_mpi_stop` (error bound ``tol``), then ``m`` sweeps v <- T_sigma v on a
    contiguous copy of the chosen pairs, P_sigma (Puterman 1994, §6.5;
    :class:`~accessrl.planning.kernels.PolicyMatrix`, patched where sigma changes).  ``eliminate``: after each
    improvement, drop pairs MacQueen's test proves suboptimal
    (:func:`~accessrl.planning.kernels.eliminate_actions`), so later full sweeps read fewer
    transitions.  ``threads``: how many threads the kernels run on (see
    :data:`~accessrl.planning.kernels.PARALLEL_MIN_NNZ`).  Memory: three vectors of S, one
    float and one flag per pair and P_sigma (about nnz / A) on top of the model.  gamma = 1
    falls back to :func:`value_iteration`.
    """
    from accessrl.planning.kernels import (
        PolicyMatrix,
        bellman_sweep_active,
        bellman_sweep_from_zero,
        eliminate_actions,
        pair_rewards,
    )

    tol = check_tol(tol)
    max_iter = check_max_iter(max_iter)
    if m < 0:
        raise ParameterError(f"m: expected a non-negative number of evaluation sweeps, got {m}")
    g = mdp.gamma
    if g >= 1.0:
        res = value_iteration(mdp, tol=tol)
        return replace(res, method="compiled-mpi", note="gamma = 1: value iteration")
    r = pair_rewards(mdp, threads=threads)
    v = np.zeros(mdp.n_states) if v0 is None else check_values(mdp, v0).copy()
    p_sigma: PolicyMatrix | None = None
    u = np.empty_like(v)
    best = np.empty(mdp.n_states, dtype=np.int64)
    has_terminal = bool(mdp.terminal.any())
    active = np.ones(mdp.n_pairs, dtype=bool)
    q = np.empty(mdp.n_pairs)
    trace: list[float] = []
    bound = float("nan")
    it = sweeps = eliminated = 0
    while it < max_iter:
        if it == 0 and v0 is None:  # T 0 = max r: the first sweep reads no outcome
            hi, lo, sup = bellman_sweep_from_zero(mdp, r, u, best, q, threads=threads)
        else:
            hi, lo, sup = bellman_sweep_active(mdp, r, v, u, best, active, q, threads=threads)
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
            eliminated += eliminate_actions(mdp, active, q, u, gap, threads=threads)
        if m:
            if p_sigma is None:
                p_sigma = PolicyMatrix(mdp, r, best, threads=threads)
            else:
                p_sigma.update(best)
        for _ in range(m):
            p_sigma.apply(u, v)  # type: ignore[union-attr]
            u, v = v, u
        sweeps += m
        u, v = v, u  # v holds T_sigma^m T v
    else:  # max_iter reached: v went through partial evaluation after the last bound
        bound = float("nan")
    held = {} if p_sigma is None else {"p_sigma_rebuilds": p_sigma.rebuilds, "p_sigma_rows_patched": p_sigma.patched}
    return finish_compiled(
        mdp, v, r, threads=threads, iterations=it, method="compiled-mpi", residual=trace[-1] if trace else 0.0,
        error_bound=bound, trace=tuple(trace),
        extra={"sweeps": sweeps, "m": m, "eliminated_pairs": eliminated, **held},
        converged=not np.isnan(bound),
    )


@on_allowed_pairs
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
    from accessrl.planning.kernels import gauss_seidel_sweep, pair_rewards, strong_components

    tol = check_tol(tol)
    max_iter = check_max_iter(max_iter)
    g = mdp.gamma
    if g >= 1.0:
        res = value_iteration(mdp, tol=tol)
        return replace(res, method="gauss-seidel", note="gamma = 1: value iteration")
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
        converged=bool(trace) and trace[-1] <= thresh,
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


@on_allowed_pairs
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
    from accessrl.planning.kernels import bellman_sweep, pair_rewards

    tol = check_tol(tol)
    max_iter = check_max_iter(max_iter)
    name = "krylov-mpi" if inexact else "krylov-policy-iteration"
    g = mdp.gamma
    if g >= 1.0:
        res = policy_iteration(mdp, evaluation="krylov")
        return replace(res, method=name, note="gamma = 1: policy iteration, GMRES evaluation")
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
    else:  # max_iter reached: v was evaluated after the last bound
        bound = float("nan")
    return finish_compiled(
        mdp, v, r, iterations=it, method=name, residual=trace[-1] if trace else 0.0,
        error_bound=bound, trace=tuple(trace), converged=not np.isnan(bound),
    )


BATCH_STATES = 1 << 17
"""Roughly how many states one kernel call solves between progress reports."""


@on_allowed_pairs
def topological_value_iteration(
    mdp: MDP,
    *,
    tol: float = 1e-6,
    scc: Any = None,
    max_sweeps: int = 1_000_000,
    progress: Progress | None = None,
    threads: int = 1,
) -> SolveResult:
    """Topological value iteration (see the module docstring); ``scc`` reuses a decomposition.

    Without ``scc`` the states are first tried in descending index order in one pass that
    checks the order as it goes (:func:`~accessrl.planning.kernels.ordered_pass` with
    ``check``); at the first successor on the wrong side it falls back to the ascending
    check and then to Tarjan's components.  ``threads`` applies to the component route's
    final Q pass (the ordered pass and the component kernel are sequential by nature).

    ``scc`` may instead be an int direction from :func:`~accessrl.planning.kernels.order_direction`
    already computed (nonzero: the one-pass fast path without checking again).

    With gamma = 1 (a proper stochastic shortest path, checked first) acyclic models are
    solved exactly; cyclic components are swept to a small change and the result is then
    finished by :func:`~accessrl.planning.value_iteration`'s exact check.
    """
    from accessrl.planning.kernels import order_direction, pair_rewards, strong_components, topological_block

    tol = check_tol(tol)
    g = mdp.gamma
    if g >= 1.0:
        check_ssp(mdp)
    if scc is None:  # try the one-pass path, checking the order inside the pass
        fused = _ordered(mdp, 1, progress, check=True, threads=threads)
        if fused is not None:
            return fused
        direction = order_direction(mdp)
    else:
        direction = scc if isinstance(scc, int) else 0
    if direction:
        return _ordered(mdp, direction, progress, threads=threads)  # type: ignore[return-value]
    comp, order, comp_ptr = strong_components(mdp) if scc is None or isinstance(scc, int) else scc
    n_comp = comp_ptr.size - 1
    sizes = np.diff(comp_ptr)
    r = pair_rewards(mdp, threads=threads)
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
        return replace(res, method="topological", extra=extra,
                       note="gamma = 1: finished by value iteration's exact check")
    return finish_compiled(mdp, v, r, threads=threads, iterations=1, method="topological", residual=bound,
                           error_bound=bound, extra=extra)


def try_ordered_pass(mdp: MDP, *, progress: Progress | None = None) -> SolveResult | None:
    """Topological value iteration's one-pass path if the states are in descending order
    (every successor a larger index, self-loops and terminals aside), checked inside the
    pass; None at the first successor that breaks it.  gamma = 1 checks the stochastic
    shortest path conditions first (:func:`~accessrl.planning.structure.check_ssp`)."""
    if mdp.gamma >= 1.0:
        check_ssp(mdp)
    return _ordered(mdp, 1, progress, check=True)


def _ordered(mdp: MDP, direction: int, progress: Progress | None, *, check: bool = False,
             threads: int = 1) -> SolveResult | None:
    """The one-pass solve of a model whose indices order its state graph (exact); with
    ``check``, None as soon as a successor breaks the order."""
    from accessrl.planning.kernels import ordered_pass

    out = ordered_pass(mdp, direction, TIE_RTOL, check=check)
    if out is None:
        return None
    v, q, policy = out
    if progress is not None:
        progress(1.0, f"{mdp.n_states} states in one ordered pass")
    extra = {"components": mdp.n_states, "cyclic_components": 0, "largest_component": min(1, mdp.n_states),
             "sweeps": 0, "ordered_pass": "descending" if direction > 0 else "ascending",
             "order_checked_in_pass": check, "threads": 1}
    return SolveResult(values=v, policy=policy, q_values=q, iterations=1,
                       method="topological", residual=0.0, error_bound=0.0, extra=extra)


__all__ = [
    "compiled_modified_policy_iteration",
    "finish_compiled",
    "gauss_seidel_value_iteration",
    "krylov_policy_iteration",
    "topological_value_iteration",
    "try_ordered_pass",
]
