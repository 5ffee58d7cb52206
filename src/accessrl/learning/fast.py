"""The compiled (numba) learning engine (layer 1).

The same episode loop as the reference engine, statement for statement, over the
model's CSR arrays, consuming the same random stream in the same order, so that given
the same seed both engines produce the same Q tables, visit counts and learning curves
(the tests check this bit for bit).  Use it through ``learn(..., engine="fast")``.

How the stream is shared.  Calling ``Generator`` methods from numba costs tens of
nanoseconds per draw (``integers`` allocates).  For numpy's default bit generator,
PCG64 (and PCG64DXSM), the kernel instead reads a block of raw 64-bit outputs
(``bit_generator.random_raw``) and re-derives numpy's draws from them exactly:

* ``random()`` = (raw >> 11) * 2^-53 (numpy's ``next_double``);
* ``integers(0, n)`` = Lemire's bounded draw on 32-bit halves, the low half first and
  the high half kept for the next 32-bit request (numpy's ``next_uint32`` buffer and
  ``buffered_bounded_lemire_uint32``); ``n = 1`` draws nothing.

Afterwards the generator is put exactly where numpy's own calls would have left it
(rewound, advanced by the raw outputs used, the 32-bit buffer restored).  Other bit
generators run the same kernel through numba's ``Generator`` support (slower, same
numbers).

The kernel is private; :class:`FastEngine` holds the tables between chunks so a long
run can report progress without changing its numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from accessrl.learning.config import Prepared
from accessrl.learning.reference import ReferenceEngine
from accessrl.model.mdp import MDP
from accessrl.simulation.fast import pick_outcome, sole_outcome_compiled, uniform01

Q_LEARNING, SARSA, EXPECTED_SARSA, DOUBLE_Q = 0, 1, 2, 3


@njit(cache=True, inline="always")
def _greedy(table, allow_ptr, allow_pair, state):  # type: ignore[no-untyped-def]
    lo, hi = allow_ptr[state], allow_ptr[state + 1]
    best = allow_pair[lo]
    for j in range(lo + 1, hi):
        p = allow_pair[j]
        if table[p] > table[best]:
            best = p
    return best


@njit(cache=True, inline="always")
def _exploit(alg, q, q2, allow_ptr, allow_pair, state):  # type: ignore[no-untyped-def]
    if alg != DOUBLE_Q:
        return _greedy(q, allow_ptr, allow_pair, state)
    lo, hi = allow_ptr[state], allow_ptr[state + 1]
    best = allow_pair[lo]
    for j in range(lo + 1, hi):
        p = allow_pair[j]
        if q[p] + q2[p] > q[best] + q2[best]:
            best = p
    return best


_LOW32 = np.uint64(0xFFFFFFFF)


@njit(cache=True, inline="always")
def _u32(raw, ctl):  # type: ignore[no-untyped-def]
    """numpy's ``next_uint32`` for PCG64: the low half of a raw output, the high half buffered."""
    if ctl[1] != 0:
        ctl[1] = 0
        return np.uint64(ctl[2])
    v = raw[ctl[0]]
    ctl[0] += 1
    ctl[1] = 1
    ctl[2] = np.int64(v >> np.uint64(32))
    return v & _LOW32


@njit(cache=True, inline="always")
def _below(raw, ctl, n):  # type: ignore[no-untyped-def]
    """numpy's ``integers(0, n)`` for 1 <= n < 2**32 (Lemire's method, as numpy does it)."""
    if n <= 1:
        return 0
    excl = np.uint64(n)
    m = _u32(raw, ctl) * excl
    leftover = m & _LOW32
    if leftover < excl:
        threshold = (_LOW32 - np.uint64(n - 1)) % excl
        while leftover < threshold:
            m = _u32(raw, ctl) * excl
            leftover = m & _LOW32
    return np.int64(m >> np.uint64(32))


@njit(cache=True)
def _fill_powers(out, start, omega):  # type: ignore[no-untyped-def]
    """out[k] = k^-omega for k >= start, with the same pow the kernel (and Python) calls."""
    for k in range(max(start, 1), out.size):
        out[k] = np.float64(k) ** -omega
    if start == 0:
        out[0] = 1.0


_POWERS: dict[float, np.ndarray] = {}
"""Memo of n^-omega tables by omega: a pure function's values, grown on demand."""


def _powers(omega: float, n: int) -> np.ndarray:
    """A table of k^-omega with at least ``n`` entries (shared between runs)."""
    old = _POWERS.get(omega)
    if old is not None and old.size >= n:
        return old
    size = max(n, 2 * (old.size if old is not None else 0), 1 << 12)
    table = np.empty(size)
    start = 0
    if old is not None:
        table[: old.size] = old
        start = old.size
    _fill_powers(table, start, omega)
    _POWERS[omega] = table
    return table


def _make_kernel(alg: int):  # type: ignore[no-untyped-def]
    """The episode loop for one algorithm; ``alg`` is a compile-time constant, so the
    other targets' branches vanish (one generic kernel measured ~2x slower)."""

    @njit(cache=True)
    def _run(  # type: ignore[no-untyped-def]  # noqa: PLR0913
        first, last, epsilons, step_kind, omega, alpha, max_steps, gamma,
        start_states, start_cum, allow_ptr, allow_pair, unsafe,
        only, out_ptr, out_next, out_prob, out_reward, ends,
        q, q2, visits, visits2, returns, lengths, counters, raw, ctl, margin, powtab,
    ):
        steps = counters[0]
        truncated = counters[1]
        unsafe_taken = counters[2]
        top_visit = counters[3]
        ep = first
        while ep < last:
            if raw.size - ctl[0] < margin:
                break  # the caller refills the raw block and resumes at episode ``ep``
            eps = epsilons[ep]
            if start_states.size == 1:
                s = start_states[0]
            else:
                # the first positive-probability state whose running total exceeds u (the
                # reference's linear scan, by binary search over the same running totals)
                u = uniform01(raw, ctl)
                i = np.searchsorted(start_cum, u, side="right")
                s = start_states[min(i, start_cum.size - 1)]
            pair = -1
            total = 0.0
            disc = 1.0
            t = 0
            while not ends[s]:
                if t >= max_steps:
                    truncated += 1
                    break
                if pair < 0:
                    if uniform01(raw, ctl) < eps:
                        pair = allow_pair[allow_ptr[s] + _below(raw, ctl, allow_ptr[s + 1] - allow_ptr[s])]
                    else:
                        pair = _exploit(alg, q, q2, allow_ptr, allow_pair, s)
                if unsafe[pair]:
                    unsafe_taken += 1
                k = only[pair]
                if k < 0:
                    k = pick_outcome(pair, out_ptr, out_prob, uniform01(raw, ctl))
                nxt = out_next[k]
                r = out_reward[k]
                total += disc * r
                disc *= gamma
                t += 1
                done = ends[nxt]
                # the target: the only place the four algorithms differ
                next_pair = -1
                which = 0
                if alg == Q_LEARNING:
                    target = r if done else r + gamma * q[_greedy(q, allow_ptr, allow_pair, nxt)]
                elif alg == SARSA:
                    if done:
                        target = r
                    else:
                        if uniform01(raw, ctl) < eps:
                            next_pair = allow_pair[allow_ptr[nxt] + _below(raw, ctl, allow_ptr[nxt + 1] - allow_ptr[nxt])]
                        else:
                            next_pair = _exploit(alg, q, q2, allow_ptr, allow_pair, nxt)
                        target = r + gamma * q[next_pair]
                elif alg == EXPECTED_SARSA:
                    if done:
                        target = r
                    else:
                        lo, hi = allow_ptr[nxt], allow_ptr[nxt + 1]
                        acc = 0.0
                        for j in range(lo, hi):
                            acc += q[allow_pair[j]]
                        mean = acc / (hi - lo)
                        best = q[_greedy(q, allow_ptr, allow_pair, nxt)]
                        target = r + gamma * ((1.0 - eps) * best + eps * mean)
                else:
                    which = 0 if uniform01(raw, ctl) < 0.5 else 1
                    if done:
                        target = r
                    elif which == 0:
                        target = r + gamma * q2[_greedy(q, allow_ptr, allow_pair, nxt)]
                    else:
                        target = r + gamma * q[_greedy(q2, allow_ptr, allow_pair, nxt)]
                # The two tables' updates are written out twice on purpose: one inlined helper
                # for both measured 0.176 s against 0.117 s for 2e6 episodes (the hot loop).
                if which == 0:
                    visits[pair] += 1
                    n = visits[pair]
                    if n > top_visit:
                        top_visit = n
                    if step_kind == 1:
                        q[pair] += (target - q[pair]) / n
                    else:
                        if step_kind == 2:
                            a = alpha
                        elif n < powtab.size:
                            a = powtab[n]
                        else:
                            a = np.float64(n) ** -omega
                        q[pair] += a * (target - q[pair])
                else:
                    visits2[pair] += 1
                    n = visits2[pair]
                    if n > top_visit:
                        top_visit = n
                    if step_kind == 1:
                        q2[pair] += (target - q2[pair]) / n
                    else:
                        if step_kind == 2:
                            a = alpha
                        elif n < powtab.size:
                            a = powtab[n]
                        else:
                            a = np.float64(n) ** -omega
                        q2[pair] += a * (target - q2[pair])
                steps += 1
                s = nxt
                pair = next_pair
            returns[ep] = total
            lengths[ep] = t
            ep += 1
        counters[0] = steps
        counters[1] = truncated
        counters[2] = unsafe_taken
        counters[3] = top_visit
        return ep

    return _run


_KERNELS = tuple(_make_kernel(a) for a in (Q_LEARNING, SARSA, EXPECTED_SARSA, DOUBLE_Q))


RAW_BLOCK = 1 << 20
"""Raw outputs drawn per block (8 MiB)."""

POWER_TABLE = 1 << 23
"""At most this many entries of n^-omega are tabulated (64 MiB); larger counts call pow."""

_SUPPORTED = ("PCG64", "PCG64DXSM")


class FastEngine:
    """Holds the arrays of one run of the compiled engine (used by ``learn``).

    A generator whose bit generator is not PCG64/PCG64DXSM is run by the reference
    engine instead (the same numbers, at Python speed).
    """

    def __init__(self, mdp: MDP, prep: Prepared, rng: np.random.Generator) -> None:
        self.mdp = mdp
        self.prep = prep
        self.rng = rng
        self.fallback: ReferenceEngine | None = None
        if type(rng.bit_generator).__name__ not in _SUPPORTED:
            self.fallback = ReferenceEngine(mdp, prep, rng)
        self.gamma = float(mdp.gamma)
        self.only = sole_outcome_compiled(mdp)
        self.ends = np.ascontiguousarray(mdp.terminal | (mdp.n_actions_of == 0))
        self.start_states = np.flatnonzero(prep.start > 0).astype(np.int64)
        # sequential running totals (np.cumsum adds left to right, as the reference's loop does)
        self.start_cum = np.cumsum(prep.start[self.start_states])
        self.q: Any = np.full(mdp.n_pairs, prep.initial_q)
        self.q2: Any = np.full(mdp.n_pairs, prep.initial_q)
        self.visits: Any = np.zeros(mdp.n_pairs, dtype=np.int64)
        self.visits2: Any = np.zeros(mdp.n_pairs, dtype=np.int64)
        self.counters = np.zeros(4, dtype=np.int64)  # steps, truncated, unsafe taken, largest visit count
        # Per step at most 5 raw outputs (action, explore index, outcome, SARSA's next
        # action and its index, Double Q's coin) plus one per episode for the start; the
        # spare 1024 absorbs Lemire rejections (each has probability < n / 2^32).
        self.margin = 6 * prep.max_steps + 1024
        self.block = max(RAW_BLOCK, 8 * self.margin)
        self.most = int(prep.epsilons.size) * prep.max_steps + 1
        self.powtab = np.ones(1)

    @property
    def steps(self) -> int:
        return int(self.fallback.steps if self.fallback else self.counters[0])

    @property
    def truncated(self) -> int:
        return int(self.fallback.truncated if self.fallback else self.counters[1])

    @property
    def unsafe_taken(self) -> int:
        return int(self.fallback.unsafe_taken if self.fallback else self.counters[2])

    def run(self, first: int, last: int, returns: np.ndarray, lengths: np.ndarray) -> None:
        if self.fallback is not None:
            self.fallback.run(first, last, returns, lengths)
            self.q, self.q2 = self.fallback.q, self.fallback.q2
            self.visits, self.visits2 = self.fallback.visits, self.fallback.visits2
            return
        p, m = self.prep, self.mdp
        bg: Any = self.rng.bit_generator
        ep = first
        while ep < last:
            before = bg.state
            # no more than the rest of the run could use (5 per step, 1 per episode)
            most_draws = (last - ep) * (5 * p.max_steps + 1) + self.margin
            raw = bg.random_raw(min(self.block, most_draws))
            ctl = np.array([0, int(before["has_uint32"]), int(before["uinteger"])], dtype=np.int64)
            if p.step.kind == "visits":
                # Grow the table with the counts actually reached (counts beyond it call pow).
                seen = int(self.counters[3])  # the kernel keeps the largest count (no pass over the tables)
                need = min(POWER_TABLE, self.most, max(1 << 16, 4 * seen))
                if self.powtab.size < need:
                    self.powtab = _powers(float(p.step.omega), need)
            ep = _KERNELS[p.algorithm](
                ep, last, p.epsilons, p.step.code, float(p.step.omega), float(p.step.alpha),
                p.max_steps, self.gamma, self.start_states, self.start_cum, p.allow_ptr, p.allow_pair, p.unsafe,
                self.only, m.out_ptr, m.out_next, m.out_prob, m.out_reward, self.ends,
                self.q, self.q2, self.visits, self.visits2, returns, lengths, self.counters,
                raw, ctl, self.margin, self.powtab,
            )
            # Leave the generator where numpy's own draws would have: rewind, advance by
            # the outputs used, restore the 32-bit buffer.
            bg.state = before
            bg.advance(int(ctl[0]))  # as if those raw outputs had been drawn one by one
            after = bg.state
            after["has_uint32"], after["uinteger"] = int(ctl[1]), int(ctl[2])
            bg.state = after


@njit(cache=True)
def _greedy_policy(sa_ptr, sa_action, q, allowed, pol):  # type: ignore[no-untyped-def]
    # greedy_allowed_policy_loop's rule: the first allowed pair, replaced only by a strictly larger q
    for s in range(sa_ptr.size - 1):
        best = -1
        for k in range(sa_ptr[s], sa_ptr[s + 1]):
            if allowed[k] and (best < 0 or q[k] > q[best]):
                best = k
        pol[s] = sa_action[best] if best >= 0 else -1


def greedy_policy_compiled(mdp: MDP, q: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """:func:`accessrl.learning.tabular.greedy_allowed_policy` in one compiled pass (same rule,
    NaN included): (S,) the global action of the first allowed pair with the largest ``q``."""
    pol = np.empty(mdp.n_states, dtype=np.int64)
    _greedy_policy(mdp.sa_ptr, mdp.sa_action, np.asarray(q, dtype=np.float64), np.asarray(allowed, dtype=np.bool_), pol)
    return pol


__all__ = ["FastEngine", "greedy_policy_compiled"]
