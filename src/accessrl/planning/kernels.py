r"""Compiled sweep kernels over the CSR layout of :class:`~accessrl.model.MDP` (layer 1).

Private numba kernels behind plain-NumPy functions, as QuantEcon keeps its own.  One
*sweep* reads every stored transition once: ``sa_ptr`` (S+1), ``out_ptr`` (L+1),
``r_pair`` (L, the expected reward per pair), ``out_next`` and ``out_prob`` (nnz each),
and gathers ``v[out_next]``.  :func:`sweep_bytes` counts those bytes, the floor a sweep
cannot beat on a machine of a given memory bandwidth.

* :func:`bellman_sweep` — synchronous (Jacobi) backup u = T v, greedy pairs and the
  max / min / sup of u - v; states are split into blocks run on all cores.
* :func:`policy_sweep` — u = T_sigma v for a fixed pair per state (MPI's partial
  evaluation), parallel likewise.
* :func:`gauss_seidel_sweep` — in-place backup in a given state order (Bertsekas 2012,
  §2.6: the Gauss–Seidel operator is a gamma-contraction in the sup norm too, so the
  value-iteration error bound gamma/(1-gamma) ||v_{k+1} - v_k|| still holds).
* :func:`strong_components` — Tarjan's algorithm (1972), iterative; components come
  out sinks first, i.e. in reverse topological order of the condensation.
* :func:`topological_block` — solve components in that order (Dai et al. 2011,
  "Topological value iteration algorithms", JAIR 42).

>>> from accessrl.catalog import access_review
>>> mdp = access_review()
>>> v, best = np.zeros(4), np.zeros(4, dtype=np.int64)
>>> u = np.zeros(4)
>>> hi, lo, sup = bellman_sweep(mdp, mdp.expected_reward, v, u, best)
>>> u.tolist(), sup
([-4.0, 70.0, 80.0, 0.0], 80.0)
"""

from __future__ import annotations

import types
import weakref
from typing import Any

import numba as nb
import numpy as np
from numpy.typing import NDArray

from accessrl._types import FloatArray, IntArray
from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP

_BLOCKS = 256  # parallel work units per sweep


@nb.njit(inline="always")
def _dot(out_ptr, out_next, w, v, k):  # type: ignore[no-untyped-def]
    # Unsigned indices: numba then drops its negative-index wraparound, which costs ~2x here.
    j = np.uint64(out_ptr[k])
    end = np.uint64(out_ptr[k + 1])
    acc = 0.0
    while j < end:
        acc += w[j] * v[np.uint64(out_next[j])]
        j += np.uint64(1)
    return acc


def _bellman(sa_ptr, out_ptr, out_next, out_prob, r_pair, gamma, v, u, best):  # type: ignore[no-untyped-def]
    n = v.size
    his = np.full(_BLOCKS, -np.inf)
    los = np.full(_BLOCKS, np.inf)
    for b in nb.prange(_BLOCKS):
        lo_s = b * n // _BLOCKS
        hi_s = (b + 1) * n // _BLOCKS
        hi_d = -np.inf
        lo_d = np.inf
        for s in range(lo_s, hi_s):
            a0 = sa_ptr[s]
            a1 = sa_ptr[s + 1]
            bq = 0.0
            bk = -1
            for k in range(a0, a1):
                q = r_pair[k] + gamma * _dot(out_ptr, out_next, out_prob, v, k)
                if bk < 0 or q > bq:
                    bq = q
                    bk = k
            u[s] = bq
            best[s] = bk
            d = bq - v[s]
            if d > hi_d:
                hi_d = d
            if d < lo_d:
                lo_d = d
        his[b] = hi_d
        los[b] = lo_d
    return his.max(), los.min()


def _bellman_active(sa_ptr, out_ptr, out_next, out_prob, r_pair, gamma, v, u, best, active, q):  # type: ignore[no-untyped-def]
    n = v.size
    his = np.full(_BLOCKS, -np.inf)
    los = np.full(_BLOCKS, np.inf)
    for b in nb.prange(_BLOCKS):
        hi_d = -np.inf
        lo_d = np.inf
        for s in range(b * n // _BLOCKS, (b + 1) * n // _BLOCKS):
            bq = 0.0
            bk = -1
            for k in range(sa_ptr[s], sa_ptr[s + 1]):
                if not active[k]:
                    continue
                qk = r_pair[k] + gamma * _dot(out_ptr, out_next, out_prob, v, k)
                q[k] = qk
                if bk < 0 or qk > bq:
                    bq = qk
                    bk = k
            u[s] = bq
            best[s] = bk
            d = bq - v[s]
            if d > hi_d:
                hi_d = d
            if d < lo_d:
                lo_d = d
        his[b] = hi_d
        los[b] = lo_d
    return his.max(), los.min()


def _bellman_zero(sa_ptr, r_pair, u, best, q):  # type: ignore[no-untyped-def]
    # _bellman_active from v = 0 with every pair active: Q = r + gamma * 0, so no outcome is read.
    n = u.size
    his = np.full(_BLOCKS, -np.inf)
    los = np.full(_BLOCKS, np.inf)
    for b in nb.prange(_BLOCKS):
        hi_d = -np.inf
        lo_d = np.inf
        for s in range(b * n // _BLOCKS, (b + 1) * n // _BLOCKS):
            bq = 0.0
            bk = -1
            for k in range(sa_ptr[s], sa_ptr[s + 1]):
                qk = r_pair[k] + 0.0
                q[k] = qk
                if bk < 0 or qk > bq:
                    bq = qk
                    bk = k
            u[s] = bq
            best[s] = bk
            if bq > hi_d:
                hi_d = bq
            if bq < lo_d:
                lo_d = bq
        his[b] = hi_d
        los[b] = lo_d
    return his.max(), los.min()


def _eliminate(sa_ptr, active, q, u, threshold):  # type: ignore[no-untyped-def]
    n = u.size
    counts = np.zeros(_BLOCKS, dtype=np.int64)
    for b in nb.prange(_BLOCKS):
        c = 0
        for s in range(b * n // _BLOCKS, (b + 1) * n // _BLOCKS):
            slack = threshold + 1e-12 * max(1.0, abs(u[s]))
            for k in range(sa_ptr[s], sa_ptr[s + 1]):
                if active[k] and u[s] - q[k] > slack:
                    active[k] = False
                    c += 1
        counts[b] = c
    return counts.sum()


def _policy(best, out_ptr, out_next, out_prob, r_pair, gamma, v, u):  # type: ignore[no-untyped-def]
    n = v.size
    for b in nb.prange(_BLOCKS):
        for s in range(b * n // _BLOCKS, (b + 1) * n // _BLOCKS):
            k = best[s]
            if k < 0:
                u[s] = 0.0
                continue
            u[s] = r_pair[k] + gamma * _dot(out_ptr, out_next, out_prob, v, k)


def _pair_values(out_ptr, out_next, out_prob, r_pair, gamma, v, q):  # type: ignore[no-untyped-def]
    n = q.size
    for b in nb.prange(_BLOCKS):
        for k in range(b * n // _BLOCKS, (b + 1) * n // _BLOCKS):
            q[k] = r_pair[k] + gamma * _dot(out_ptr, out_next, out_prob, v, k)


def _pair_rewards(out_ptr, out_prob, out_reward, r):  # type: ignore[no-untyped-def]
    n = r.size
    for b in nb.prange(_BLOCKS):
        for k in range(b * n // _BLOCKS, (b + 1) * n // _BLOCKS):
            acc = 0.0
            j = np.uint64(out_ptr[k])  # unsigned: no wraparound checks (as in _dot)
            end = np.uint64(out_ptr[k + 1])
            while j < end:
                acc += out_prob[j] * out_reward[j]
                j += np.uint64(1)
            r[k] = acc


def _greedy(sa_ptr, out_ptr, out_next, out_prob, r_pair, gamma, v, tie_rtol, q, best):  # type: ignore[no-untyped-def]
    n = v.size
    for b in nb.prange(_BLOCKS):
        for s in range(b * n // _BLOCKS, (b + 1) * n // _BLOCKS):
            a0 = sa_ptr[s]
            a1 = sa_ptr[s + 1]
            top = -np.inf
            for k in range(a0, a1):
                qk = r_pair[k] + gamma * _dot(out_ptr, out_next, out_prob, v, k)
                q[k] = qk
                if qk > top:
                    top = qk
            best[s] = -1
            slack = tie_rtol * max(1.0, abs(top))
            for k in range(a0, a1):
                if q[k] >= top - slack:
                    best[s] = k
                    break


@nb.njit(cache=True)
def _gauss_seidel(order, sa_ptr, out_ptr, out_next, out_prob, r_pair, gamma, v, best):  # type: ignore[no-untyped-def]
    sup = 0.0
    for i in range(order.size):
        s = order[i]
        bq = 0.0
        bk = -1
        for k in range(sa_ptr[s], sa_ptr[s + 1]):
            q = r_pair[k] + gamma * _dot(out_ptr, out_next, out_prob, v, k)
            if bk < 0 or q > bq:
                bq = q
                bk = k
        d = abs(bq - v[s])
        if d > sup:
            sup = d
        v[s] = bq
        best[s] = bk
    return sup


@nb.njit(cache=True)
def _tarjan(sa_ptr, out_ptr, out_next, out_prob):  # type: ignore[no-untyped-def]
    n = sa_ptr.size - 1
    index = np.full(n, -1, dtype=np.int64)
    low = np.zeros(n, dtype=np.int64)
    onstack = np.zeros(n, dtype=np.bool_)
    stack = np.empty(n, dtype=np.int64)
    cs_node = np.empty(n, dtype=np.int64)
    cs_edge = np.empty(n, dtype=np.int64)
    comp = np.empty(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    comp_ptr = np.zeros(n + 1, dtype=np.int64)
    sp = 0
    counter = 0
    n_comp = 0
    written = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        index[root] = counter
        low[root] = counter
        counter += 1
        stack[sp] = root
        sp += 1
        onstack[root] = True
        csp = 1
        cs_node[0] = root
        cs_edge[0] = out_ptr[sa_ptr[root]]
        while csp > 0:
            x = cs_node[csp - 1]
            e = cs_edge[csp - 1]
            if e < out_ptr[sa_ptr[x + 1]]:
                cs_edge[csp - 1] = e + 1
                if out_prob[e] <= 0.0:
                    continue
                w = out_next[e]
                if index[w] < 0:
                    index[w] = counter
                    low[w] = counter
                    counter += 1
                    stack[sp] = w
                    sp += 1
                    onstack[w] = True
                    cs_node[csp] = w
                    cs_edge[csp] = out_ptr[sa_ptr[w]]
                    csp += 1
                elif onstack[w] and index[w] < low[x]:
                    low[x] = index[w]
            else:
                if low[x] == index[x]:
                    while True:
                        sp -= 1
                        y = stack[sp]
                        onstack[y] = False
                        comp[y] = n_comp
                        order[written] = y
                        written += 1
                        if y == x:
                            break
                    n_comp += 1
                    comp_ptr[n_comp] = written
                csp -= 1
                if csp > 0:
                    parent = cs_node[csp - 1]
                    if low[x] < low[parent]:
                        low[parent] = low[x]
    return comp, order, comp_ptr[: n_comp + 1].copy()


@nb.njit(cache=True)
def _topo(c_lo, c_hi, order, comp_ptr, comp, sa_ptr, out_ptr, out_next, out_prob, r_pair, gamma,  # type: ignore[no-untyped-def]
          tol, max_sweeps, v, best, err):
    sweeps = 0
    for c in range(c_lo, c_hi):
        lo = comp_ptr[c]
        hi = comp_ptr[c + 1]
        e_in = 0.0  # worst error among the components this one leads into
        for i in range(lo, hi):
            s = order[i]
            for j in range(out_ptr[sa_ptr[s]], out_ptr[sa_ptr[s + 1]]):
                cj = comp[out_next[j]]
                if cj != c and err[cj] > e_in:
                    e_in = err[cj]
        if hi - lo == 1:
            s = order[lo]
            bq = 0.0
            bk = -1
            for k in range(sa_ptr[s], sa_ptr[s + 1]):
                self_p = 0.0
                acc = 0.0
                for j in range(out_ptr[k], out_ptr[k + 1]):
                    if out_next[j] == s:
                        self_p += out_prob[j]
                    else:
                        acc += out_prob[j] * v[out_next[j]]
                den = 1.0 - gamma * self_p
                if den <= 1e-15:
                    continue  # gamma = 1 and the action loops forever: never optimal in an SSP
                q = (r_pair[k] + gamma * acc) / den
                if bk < 0 or q > bq:
                    bq = q
                    bk = k
            v[s] = bq
            best[s] = bk
            err[c] = gamma * e_in
            continue
        # a cyclic component: Gauss-Seidel sweeps until its own bound leaves room for e_in
        target = max(tol - gamma * e_in, tol * (1.0 - gamma)) if gamma < 1.0 else tol * 1e-3
        thresh = target * (1.0 - gamma) / gamma if gamma < 1.0 else target
        delta = np.inf
        n_sw = 0
        while delta > thresh and n_sw < max_sweeps:
            delta = _gauss_seidel(order[lo:hi], sa_ptr, out_ptr, out_next, out_prob, r_pair, gamma, v, best)
            n_sw += 1
        sweeps += n_sw
        if gamma < 1.0:
            err[c] = gamma / (1.0 - gamma) * delta + gamma * e_in
        else:
            err[c] = np.nan
        if delta > thresh:
            err[c] = np.inf
    return sweeps


@nb.njit(cache=True)
def _order_direction(sa_ptr, out_ptr, out_next, terminal):  # type: ignore[no-untyped-def]
    # 1: every stored successor of s is a larger index (or s itself, or terminal); -1: every
    # one is smaller (or s, or terminal); 0: neither.  Reads out_next only (a stored outcome
    # counts even with probability 0: conservative), terminal only on an out-of-order edge;
    # stops at the first state that rules out both.
    up = True
    down = True
    n = sa_ptr.size - 1
    for s in range(n):
        for j in range(out_ptr[sa_ptr[s]], out_ptr[sa_ptr[s + 1]]):
            t = out_next[j]
            if t > s:
                if down and not terminal[t]:
                    down = False
            elif t < s:
                if up and not terminal[t]:
                    up = False
        if not up and not down:
            return 0
    return 1 if up else -1


@nb.njit(cache=True)
def _ordered_pass(direction, check, terminal, sa_ptr, sa_action, out_ptr, out_next, out_prob, out_reward, gamma,  # type: ignore[no-untyped-def]
                  tie_rtol, v, q, pol, r_in, r_out, have_r):
    # r_in: the cached r(s, a) when have_r; else r_out receives them (separate arrays: a cached
    # r is read-only, which numba types apart from a writable one)
    # States whose successors all come later in the sweep: v(s) by _topo's single-state
    # formula (same operations, same rounding), then Q and the tied-first greedy pair as _greedy.
    # check: stop at the first state with a non-terminal successor on the wrong side and
    # return it (the caller falls back to the SCC route); -1 when every state was solved.
    n = v.size
    for i in range(n):
        s = n - 1 - i if direction > 0 else i
        a0 = sa_ptr[s]
        a1 = sa_ptr[s + 1]
        bq = 0.0
        bk = -1
        loops = False
        top = -np.inf
        for k in range(a0, a1):
            self_p = 0.0
            acc = 0.0
            # unsigned indices: numba then drops its negative-index wraparound (as in _dot)
            j = np.uint64(out_ptr[k])
            end = np.uint64(out_ptr[k + 1])
            if have_r:  # r(s, a) cached by pair_rewards: the per-outcome rewards are not read
                rk = r_in[k]
                while j < end:
                    t = out_next[j]
                    if t == s:
                        self_p += out_prob[j]
                    else:
                        if check and (t < s if direction > 0 else t > s) and not terminal[t]:
                            return s
                        acc += out_prob[j] * v[np.uint64(t)]
                    j += np.uint64(1)
            else:
                rk = 0.0  # r(s, a) summed as _pair_rewards does (same order, same rounding)
                while j < end:
                    t = out_next[j]
                    rk += out_prob[j] * out_reward[j]
                    if t == s:
                        self_p += out_prob[j]
                    else:
                        if check and (t < s if direction > 0 else t > s) and not terminal[t]:
                            return s
                        acc += out_prob[j] * v[np.uint64(t)]
                    j += np.uint64(1)
                r_out[k] = rk
            if self_p != 0.0:
                loops = True
            qk = rk + gamma * acc
            q[k] = qk
            if qk > top:
                top = qk
            c = qk
            if self_p != 0.0:
                den = 1.0 - gamma * self_p
                if den <= 1e-15:
                    continue
                c = qk / den
            if bk < 0 or c > bq:
                bq = c
                bk = k
        v[s] = bq
        if loops:  # Q reads v(s) itself: recompute with it, exactly as _greedy does
            top = -np.inf
            for k in range(a0, a1):
                qk = (r_in[k] if have_r else r_out[k]) + gamma * _dot(out_ptr, out_next, out_prob, v, k)
                q[k] = qk
                if qk > top:
                    top = qk
        pol[s] = -1  # the global action of the first pair within tie_rtol of the best
        slack = tie_rtol * max(1.0, abs(top))
        for k in range(a0, a1):
            if q[k] >= top - slack:
                pol[s] = sa_action[k]
                break
    return -1


def _psigma_lengths(best, out_ptr, lens):  # type: ignore[no-untyped-def]
    n = best.size
    for b in nb.prange(_BLOCKS):
        for s in range(b * n // _BLOCKS, (b + 1) * n // _BLOCKS):
            k = best[s]
            lens[s] = 0 if k < 0 else out_ptr[k + 1] - out_ptr[k]


def _psigma_fill(best, out_ptr, out_next, out_prob, r_pair, ptr, idx, dat, r_sig):  # type: ignore[no-untyped-def]
    n = best.size
    for b in nb.prange(_BLOCKS):
        for s in range(b * n // _BLOCKS, (b + 1) * n // _BLOCKS):
            k = best[s]
            if k < 0:
                r_sig[s] = 0.0
                continue
            r_sig[s] = r_pair[k]
            o = ptr[s]
            for j in range(out_ptr[k], out_ptr[k + 1]):
                idx[o] = out_next[j]
                dat[o] = out_prob[j]
                o += 1


def _psigma_patch(best, held, out_ptr, out_next, out_prob, r_pair, ptr, idx, dat, r_sig):  # type: ignore[no-untyped-def]
    # Rows whose pair changed, rewritten in place when the new pair has as many outcomes as
    # the row holds; returns (rows patched, rows that need a rebuild).
    n = best.size
    patched = np.zeros(_BLOCKS, dtype=np.int64)
    misfit = np.zeros(_BLOCKS, dtype=np.int64)
    for b in nb.prange(_BLOCKS):
        c = 0
        m = 0
        for s in range(b * n // _BLOCKS, (b + 1) * n // _BLOCKS):
            k = best[s]
            if k != held[s]:
                lo = out_ptr[k] if k >= 0 else 0
                fits = k >= 0 and out_ptr[k + 1] - lo == ptr[s + 1] - ptr[s]
                if fits:
                    r_sig[s] = r_pair[k]
                    base = ptr[s] - lo
                    for j in range(lo, out_ptr[k + 1]):
                        idx[base + j] = out_next[j]
                        dat[base + j] = out_prob[j]
                    held[s] = k
                    c += 1
                else:
                    m += 1
        patched[b] = c
        misfit[b] = m
    return patched.sum(), misfit.sum()


def _csr_eval(ptr, idx, dat, r_sig, gamma, v, u):  # type: ignore[no-untyped-def]
    n = v.size
    for b in nb.prange(_BLOCKS):
        for s in range(b * n // _BLOCKS, (b + 1) * n // _BLOCKS):
            u[s] = r_sig[s] + gamma * _dot(ptr, idx, dat, v, s)


PARALLEL_MIN_NNZ = 1 << 18
"""Below this many transitions the sweep kernels run on one thread whatever ``threads`` asks.

Above it, ``threads`` (an argument of every kernel and solver, default 1) picks the serial
build (1) or numba's parallel build on that many threads.  Which is faster depends on the
machine and its load (on a shared 2-core machine a second thread can be slower): the
entry points decide it (:mod:`accessrl.machine`) and the solvers record it in their result.
"""


def _twin(f):  # type: ignore[no-untyped-def]
    """A copy of ``f`` under another name, so the serial build gets its own numba cache entry."""
    g = types.FunctionType(f.__code__, f.__globals__, f.__name__ + "_serial")
    g.__qualname__ = f.__qualname__ + "_serial"
    return g


_KERNELS: dict[str, Any] = {}
for _f in (_bellman, _bellman_active, _bellman_zero, _eliminate, _policy, _pair_values, _pair_rewards, _greedy,
           _psigma_lengths, _psigma_fill, _psigma_patch, _csr_eval):
    _KERNELS[_f.__name__] = (nb.njit(cache=True)(_twin(_f)), nb.njit(parallel=True, cache=True)(_f))  # type: ignore[no-untyped-call]


def threads_used(mdp: MDP, threads: int) -> int:
    """How many threads the kernels run on for ``mdp`` when asked for ``threads``:
    1 below :data:`PARALLEL_MIN_NNZ` transitions, else ``threads`` capped at numba's pool."""
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ParameterError(f"threads: expected an integer >= 1, got {threads!r}")
    if threads == 1 or mdp.n_outcomes < PARALLEL_MIN_NNZ:
        return 1
    return int(min(int(threads), nb.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]


def _k(name: str, mdp: MDP, threads: int = 1):  # type: ignore[no-untyped-def]
    t = threads_used(mdp, threads)
    if t == 1:
        return _KERNELS[name][0]
    nb.set_num_threads(t)
    return _KERNELS[name][1]


def _arrays(mdp: MDP) -> tuple[IntArray, IntArray, IntArray, FloatArray]:
    return mdp.sa_ptr, mdp.out_ptr, mdp.out_next, mdp.out_prob


def bellman_sweep(mdp: MDP, r_pair: FloatArray, v: FloatArray, u: FloatArray, best: IntArray, *,
                  threads: int = 1) -> tuple[float, float, float]:
    r"""u <- T v in place (terminal states 0), ``best`` <- first greedy pair per state (-1 terminal).

    Returns (max(u - v), min(u - v), max|u - v|).
    """
    sa_ptr, out_ptr, out_next, out_prob = _arrays(mdp)
    if v.size == 0:
        return 0.0, 0.0, 0.0
    hi, lo = _k("_bellman", mdp, threads)(sa_ptr, out_ptr, out_next, out_prob, r_pair, float(mdp.gamma), v, u, best)
    return float(hi), float(lo), float(max(abs(hi), abs(lo)))


def bellman_sweep_active(mdp: MDP, r_pair: FloatArray, v: FloatArray, u: FloatArray, best: IntArray,
                         active: NDArray[np.bool_], q: FloatArray, *, threads: int = 1) -> tuple[float, float, float]:
    """:func:`bellman_sweep` over the still-active pairs only, also writing their Q into ``q``."""
    if v.size == 0:
        return 0.0, 0.0, 0.0
    hi, lo = _k("_bellman_active", mdp, threads)(mdp.sa_ptr, mdp.out_ptr, mdp.out_next, mdp.out_prob, r_pair,
                                        float(mdp.gamma), v, u, best, active, q)
    return float(hi), float(lo), float(max(abs(hi), abs(lo)))


def bellman_sweep_from_zero(mdp: MDP, r_pair: FloatArray, u: FloatArray, best: IntArray, q: FloatArray, *,
                            threads: int = 1) -> tuple[float, float, float]:
    """:func:`bellman_sweep_active` from v = 0 with every pair active, without reading the
    outcomes (Q = r exactly, as gamma * 0 adds nothing): MPI's first sweep from zero."""
    if u.size == 0:
        return 0.0, 0.0, 0.0
    hi, lo = _k("_bellman_zero", mdp, threads)(mdp.sa_ptr, r_pair, u, best, q)
    return float(hi), float(lo), float(max(abs(hi), abs(lo)))


def eliminate_actions(mdp: MDP, active: NDArray[np.bool_], q: FloatArray, u: FloatArray, threshold: float, *,
                      threads: int = 1) -> int:
    r"""Deactivate pairs with (T v)(s) - Q_v(s, a) > ``threshold``; returns how many.

    MacQueen's test (Puterman 1994, §6.7.2): with d = T v - v, Q*(s, a) <= Q_v(s, a) +
    gamma max d / (1-gamma) and V*(s) >= (T v)(s) + gamma min d / (1-gamma), so a pair whose
    gap exceeds gamma/(1-gamma) span(d) is never optimal (with terminal states pinned at
    0 the sup-norm form 2 gamma/(1-gamma) ||d|| is used).  Eliminated pairs stay out.
    """
    return int(_k("_eliminate", mdp, threads)(mdp.sa_ptr, active, q, u, float(threshold)))


_PAIR_REWARDS: weakref.WeakKeyDictionary[MDP, FloatArray] = weakref.WeakKeyDictionary()
"""r(s, a) per model, computed once (a pure function of the frozen model's arrays, like
``MDP.expected_reward``; read-only arrays)."""


def pair_rewards(mdp: MDP, *, threads: int = 1) -> FloatArray:
    """r(s, a) = sum over outcomes of p * reward, per pair (L,), summed left to right.

    The same numbers as ``mdp.expected_reward`` up to rounding order; used by the compiled
    solvers because the cumulative-sum form needs two nnz-sized temporaries.  Cached per
    model (read-only): a second solve of the same model reads 8 bytes per pair instead of
    16 per outcome, as QuantEcon's and pymdptoolbox's inputs hold rewards per pair.
    """
    r = _PAIR_REWARDS.get(mdp)
    if r is None:
        r = np.empty(mdp.n_pairs)
        if r.size:
            _k("_pair_rewards", mdp, threads)(mdp.out_ptr, mdp.out_prob, mdp.out_reward, r)
        r.flags.writeable = False
        _PAIR_REWARDS[mdp] = r
    return r


def pair_values(mdp: MDP, r_pair: FloatArray, v: FloatArray, *, threads: int = 1) -> FloatArray:
    """Q(s, a) = r(s, a) + gamma sum_s' p(s'|s, a) v(s') for every pair (L,), in parallel."""
    q = np.empty(mdp.n_pairs)
    if q.size:
        _k("_pair_values", mdp, threads)(mdp.out_ptr, mdp.out_next, mdp.out_prob, r_pair, float(mdp.gamma), v, q)
    return q


def greedy_pairs(mdp: MDP, r_pair: FloatArray, v: FloatArray, tie_rtol: float, *,
                 threads: int = 1) -> tuple[FloatArray, IntArray]:
    """Q per pair and, per state, the first pair within ``tie_rtol`` (relative) of the best (-1: terminal).

    The compiled form of ``state_max(mdp, q_values(mdp, v), tie_rtol=...)``.
    """
    q = np.empty(mdp.n_pairs)
    best = np.full(mdp.n_states, -1, dtype=np.int64)
    if v.size:
        _k("_greedy", mdp, threads)(mdp.sa_ptr, mdp.out_ptr, mdp.out_next, mdp.out_prob, r_pair, float(mdp.gamma), v,
                           float(tie_rtol), q, best)
    return q, best


def policy_sweep(mdp: MDP, r_pair: FloatArray, best: IntArray, v: FloatArray, u: FloatArray, *,
                 threads: int = 1) -> None:
    r"""u <- T_sigma v in place, sigma given as one pair per state (``-1``: terminal, value 0)."""
    if v.size:
        _k("_policy", mdp, threads)(best, mdp.out_ptr, mdp.out_next, mdp.out_prob, r_pair, float(mdp.gamma), v, u)


class PolicyMatrix:
    r"""P_sigma and r_sigma of one pair per state, held contiguously (CSR, 32-bit indices when S allows).

    MPI's partial evaluation reads only the chosen pairs; through ``best[s]`` into the full
    model each row is a separate cache miss, while this copy streams (Puterman 1994, §6.5
    evaluates T_sigma on P_sigma).  :meth:`update` rewrites only the rows whose pair changed
    (in place when the new pair has as many outcomes; otherwise the matrix is rebuilt).
    """

    def __init__(self, mdp: MDP, r_pair: FloatArray, best: IntArray, *, threads: int = 1) -> None:
        self.mdp = mdp
        self.r_pair = r_pair
        self.threads = threads
        self.rebuilds = 0
        self.patched = 0
        self._build(best)

    def _build(self, best: IntArray) -> None:
        mdp = self.mdp
        n = mdp.n_states
        lens = np.empty(n, dtype=np.int64)
        _k("_psigma_lengths", mdp, self.threads)(best, mdp.out_ptr, lens)
        self.ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lens, out=self.ptr[1:])
        nnz = int(self.ptr[-1])
        self.idx = np.empty(nnz, dtype=np.int32 if n < 2**31 else np.int64)
        self.dat = np.empty(nnz)
        self.r_sig = np.empty(n)
        _k("_psigma_fill", mdp, self.threads)(best, mdp.out_ptr, mdp.out_next, mdp.out_prob, self.r_pair,
                                               self.ptr, self.idx, self.dat, self.r_sig)
        self.held = best.copy()
        self.rebuilds += 1

    def update(self, best: IntArray) -> None:
        """Make the matrix that of ``best``, touching only the rows whose pair changed."""
        mdp = self.mdp
        done, misfit = _k("_psigma_patch", mdp, self.threads)(best, self.held, mdp.out_ptr, mdp.out_next,
                                                               mdp.out_prob, self.r_pair, self.ptr, self.idx,
                                                               self.dat, self.r_sig)
        self.patched += int(done)
        if misfit:
            self._build(best)

    def apply(self, v: FloatArray, u: FloatArray) -> None:
        """u <- r_sigma + gamma P_sigma v (terminal rows are empty: 0)."""
        if v.size:
            _k("_csr_eval", self.mdp, self.threads)(self.ptr, self.idx, self.dat, self.r_sig,
                                                     float(self.mdp.gamma), v, u)

    @property
    def nbytes(self) -> int:
        """Bytes held by the copy."""
        return int(self.ptr.nbytes + self.idx.nbytes + self.dat.nbytes + self.r_sig.nbytes + self.held.nbytes)


def gauss_seidel_sweep(mdp: MDP, r_pair: FloatArray, order: IntArray, v: FloatArray, best: IntArray) -> float:
    """One in-place Gauss–Seidel backup over ``order``; returns max |change|."""
    sa_ptr, out_ptr, out_next, out_prob = _arrays(mdp)
    return float(_gauss_seidel(order, sa_ptr, out_ptr, out_next, out_prob, r_pair, float(mdp.gamma), v, best))


def strong_components(mdp: MDP) -> tuple[IntArray, IntArray, IntArray]:
    """Strongly connected components of the state graph (an edge per positive-probability outcome).

    Returns ``(comp, order, comp_ptr)``: the component of each state; the states grouped by
    component, ``order[comp_ptr[c]:comp_ptr[c+1]]``; components numbered sinks first, so
    every edge leaves a component for one with a smaller number (or stays inside).

    >>> from accessrl.catalog import access_review
    >>> comp, order, ptr = strong_components(access_review())
    >>> comp.tolist(), ptr.size - 1
    ([3, 2, 1, 0], 4)
    """
    comp, order, ptr = _tarjan(*_arrays(mdp))
    return comp, order, ptr


def topological_block(mdp: MDP, r_pair: FloatArray, scc: tuple[IntArray, IntArray, IntArray], c_lo: int, c_hi: int,
                      tol: float, v: FloatArray, best: IntArray, err: FloatArray, max_sweeps: int = 1_000_000) -> int:
    """Solve components ``c_lo .. c_hi-1`` (all later-numbered ones already solved) in place.

    A single state is solved exactly, self-loops included (v = max_a (r + gamma sum_{s' != s}
    p v(s')) / (1 - gamma p(s|s,a))).  A cyclic component runs Gauss–Seidel sweeps until
    its error, its own stopping bound plus gamma times the worst error it inherits, is at
    most ``tol``; ``err`` records that bound per component.  Returns the sweeps run.
    """
    comp, order, comp_ptr = scc
    sa_ptr, out_ptr, out_next, out_prob = _arrays(mdp)
    return int(_topo(c_lo, c_hi, order, comp_ptr, comp, sa_ptr, out_ptr, out_next, out_prob, r_pair,
                     float(mdp.gamma), float(tol), int(max_sweeps), v, best, err))


def order_direction(mdp: MDP) -> int:
    """Whether the state indices already order the state graph, in one pass over the outcomes.

    Returns 1 if every stored outcome of every state leads to a larger index, to the
    state itself or to a terminal state; -1 if always to a smaller index (or itself, or
    a terminal); 0 otherwise (also when only a zero-probability outcome breaks the
    order).  A nonzero answer proves the model acyclic apart from self-loops (every path
    moves monotonically through the indices), so :func:`ordered_pass` solves it exactly
    without Tarjan's pass.

    >>> from accessrl.catalog import access_review
    >>> order_direction(access_review())
    1
    """
    if mdp.n_states == 0:
        return 1
    return int(_order_direction(mdp.sa_ptr, mdp.out_ptr, mdp.out_next, mdp.terminal))


def ordered_pass(mdp: MDP, direction: int, tie_rtol: float, *,
                 check: bool = False) -> tuple[FloatArray, FloatArray, IntArray] | None:
    r"""Solve a model whose indices order its state graph (:func:`order_direction` != 0) in one pass.

    States are visited so that every successor is already final (descending index for
    ``direction`` 1, ascending for -1; terminal values stay 0), each solved exactly,
    self-loops included, as a one-state component of topological value iteration (Dai et
    al. 2011): V(s) = max_a (r(s,a) + gamma sum_{s' != s} p(s'|s,a) V(s')) / (1 - gamma
    p(s|s,a)).  Q per pair and the first pair within ``tie_rtol`` of the best are computed
    in the same visit (as :func:`greedy_pairs`, but stored as that pair's global action, -1 for
    a terminal state, i.e. the policy itself), and r(s, a) too (as :func:`pair_rewards`, and
    kept in its cache; when that cache holds them already the per-outcome rewards are not
    read at all), so the model is read once.  Returns (V, Q, the policy: one global action per state, -1 terminal).

    ``check``: the order is not known; verify it inside the same pass (a successor on the
    wrong side that is not terminal) and return None at the first violation, having read
    only the states visited so far.
    """
    v = np.zeros(mdp.n_states)
    q = np.empty(mdp.n_pairs)
    pol = np.empty(mdp.n_states, dtype=np.int64)
    if v.size:
        cached = _PAIR_REWARDS.get(mdp)
        r = np.empty(mdp.n_pairs if cached is None else 0)
        bad = _ordered_pass(int(direction), bool(check), mdp.terminal, mdp.sa_ptr, mdp.sa_action, mdp.out_ptr,
                            mdp.out_next, mdp.out_prob, mdp.out_reward, float(mdp.gamma), float(tie_rtol), v, q,
                            pol, r if cached is None else cached, r, cached is not None)
        if bad >= 0:
            return None
        if cached is None:  # the pass summed every r(s, a): keep them for the next solve
            r.flags.writeable = False
            _PAIR_REWARDS[mdp] = r
    return v, q, pol


def sweep_bytes(mdp: MDP) -> int:
    """Bytes one full Bellman sweep must read: the CSR arrays, rewards per pair and the values."""
    return int(mdp.sa_ptr.nbytes + mdp.out_ptr.nbytes + 8 * mdp.n_pairs + mdp.out_next.nbytes
               + mdp.out_prob.nbytes + 8 * mdp.n_states * 2)


__all__ = [
    "PARALLEL_MIN_NNZ",
    "PolicyMatrix",
    "bellman_sweep",
    "bellman_sweep_active",
    "bellman_sweep_from_zero",
    "eliminate_actions",
    "gauss_seidel_sweep",
    "greedy_pairs",
    "order_direction",
    "ordered_pass",
    "pair_rewards",
    "pair_values",
    "policy_sweep",
    "strong_components",
    "sweep_bytes",
    "threads_used",
    "topological_block",
]
