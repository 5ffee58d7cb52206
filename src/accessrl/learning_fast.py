"""The compiled (numba) engine of :mod:`accessrl.learning` (layer 1).

The same episode loop as the reference engine, statement for statement, over the
model's CSR arrays, drawing from the same :class:`numpy.random.Generator` in the same
order (numba reads the generator's bit stream directly, so ``rng.random()`` and
``rng.integers(0, n)`` give numpy's numbers).  Given the same seed both engines
therefore produce the same Q tables, visit counts and learning curves; the tests
check this bit for bit.  Use it through ``learn(..., engine="fast")``.

The kernel is private; :class:`FastEngine` holds the tables between chunks so a long
run can report progress without changing its numbers.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from accessrl.learning import Prepared
from accessrl.model import MDP
from accessrl.simulation import sole_outcome

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


@njit(cache=True, inline="always")
def _pick(pair, out_ptr, out_prob, u):  # type: ignore[no-untyped-def]
    c = 0.0
    last = -1
    for j in range(out_ptr[pair], out_ptr[pair + 1]):
        p = out_prob[j]
        if p > 0.0:
            c += p
            last = j
            if u < c:
                return j
    return last


# The generator is used only in _run's own body: handing it to helper functions costs
# reference counting on every call (measured: 5x slower).
@njit(cache=True)
def _run(  # type: ignore[no-untyped-def]  # noqa: PLR0913
    alg, first, last, epsilons, step_kind, omega, alpha, max_steps, gamma,
    start_states, start_probs, allow_ptr, allow_pair, unsafe,
    only, out_ptr, out_next, out_prob, out_reward, ends,
    q, q2, visits, visits2, returns, lengths, counters, rng,
):
    steps = counters[0]
    truncated = counters[1]
    unsafe_taken = counters[2]
    for ep in range(first, last):
        eps = epsilons[ep]
        if start_states.size == 1:
            s = start_states[0]
        else:
            u = rng.random()
            c = 0.0
            s = 0
            for j in range(start_probs.size):
                if start_probs[j] > 0.0:
                    c += start_probs[j]
                    s = j
                    if u < c:
                        break
        pair = -1
        total = 0.0
        disc = 1.0
        t = 0
        while not ends[s]:
            if t >= max_steps:
                truncated += 1
                break
            if pair < 0:
                if rng.random() < eps:
                    pair = allow_pair[allow_ptr[s] + rng.integers(0, allow_ptr[s + 1] - allow_ptr[s])]
                else:
                    pair = _exploit(alg, q, q2, allow_ptr, allow_pair, s)
            if unsafe[pair]:
                unsafe_taken += 1
            k = only[pair]
            if k < 0:
                k = _pick(pair, out_ptr, out_prob, rng.random())
            nxt = out_next[k]
            r = out_reward[k]
            total += disc * r
            disc *= gamma
            t += 1
            done = ends[nxt]
            # ---- the target: the only place the four algorithms differ
            next_pair = -1
            which = 0
            if alg == Q_LEARNING:
                target = r if done else r + gamma * q[_greedy(q, allow_ptr, allow_pair, nxt)]
            elif alg == SARSA:
                if done:
                    target = r
                else:
                    if rng.random() < eps:
                        next_pair = allow_pair[allow_ptr[nxt] + rng.integers(0, allow_ptr[nxt + 1] - allow_ptr[nxt])]
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
                which = 0 if rng.random() < 0.5 else 1
                if done:
                    target = r
                elif which == 0:
                    target = r + gamma * q2[_greedy(q, allow_ptr, allow_pair, nxt)]
                else:
                    target = r + gamma * q[_greedy(q2, allow_ptr, allow_pair, nxt)]
            # ---- the update
            if which == 0:
                visits[pair] += 1
                n = visits[pair]
                if step_kind == 1:
                    q[pair] += (target - q[pair]) / n
                else:
                    a = np.float64(n) ** -omega if step_kind == 0 else alpha
                    q[pair] += a * (target - q[pair])
            else:
                visits2[pair] += 1
                n = visits2[pair]
                if step_kind == 1:
                    q2[pair] += (target - q2[pair]) / n
                else:
                    a = np.float64(n) ** -omega if step_kind == 0 else alpha
                    q2[pair] += a * (target - q2[pair])
            steps += 1
            s = nxt
            pair = next_pair
        returns[ep] = total
        lengths[ep] = t
    counters[0] = steps
    counters[1] = truncated
    counters[2] = unsafe_taken


class FastEngine:
    """Holds the arrays of one run of the compiled engine (used by ``learn``)."""

    def __init__(self, mdp: MDP, prep: Prepared, rng: np.random.Generator) -> None:
        self.mdp = mdp
        self.prep = prep
        self.rng = rng
        self.gamma = float(mdp.gamma)
        self.only = sole_outcome(mdp)
        self.ends = np.ascontiguousarray(mdp.terminal | (mdp.n_actions_of == 0))
        self.start_states = np.flatnonzero(prep.start > 0).astype(np.int64)
        self.q = np.full(mdp.n_pairs, prep.initial_q)
        self.q2 = np.full(mdp.n_pairs, prep.initial_q)
        self.visits = np.zeros(mdp.n_pairs, dtype=np.int64)
        self.visits2 = np.zeros(mdp.n_pairs, dtype=np.int64)
        self.counters = np.zeros(3, dtype=np.int64)

    @property
    def steps(self) -> int:
        return int(self.counters[0])

    @property
    def truncated(self) -> int:
        return int(self.counters[1])

    @property
    def unsafe_taken(self) -> int:
        return int(self.counters[2])

    def run(self, first: int, last: int, returns: np.ndarray, lengths: np.ndarray) -> None:
        p, m = self.prep, self.mdp
        _run(
            p.algorithm, first, last, p.epsilons, p.step.code, float(p.step.omega), float(p.step.alpha),
            p.max_steps, self.gamma, self.start_states, p.start, p.allow_ptr, p.allow_pair, p.unsafe,
            self.only, m.out_ptr, m.out_next, m.out_prob, m.out_reward, self.ends,
            self.q, self.q2, self.visits, self.visits2, returns, lengths, self.counters, self.rng,
        )


__all__ = ["FastEngine"]
