"""The readable learning engine: the lesson's loop, one statement per idea (layer 1).

The per-step target of each algorithm is a pure function of the step and the tables
(:meth:`ReferenceEngine.target`); the episode loop that calls it is short and separate.
:class:`~accessrl.learning.fast.FastEngine` runs the same loop compiled and is checked
against this one bit for bit.
"""

from __future__ import annotations

import numpy as np

from accessrl._types import FloatArray, IntArray
from accessrl.learning.config import ALGORITHMS, Prepared
from accessrl.model.mdp import MDP
from accessrl.simulation import sample_pair, step_tables


class ReferenceEngine:
    """The readable engine: one episode loop, the target chosen by ``algorithm``."""

    def __init__(self, mdp: MDP, prep: Prepared, rng: np.random.Generator) -> None:
        self.tab = step_tables(mdp)
        self.gamma = mdp.gamma
        self.prep = prep
        self.rng = rng
        self.alg = ALGORITHMS[prep.algorithm]
        self.allow_ptr: list[int] = prep.allow_ptr.tolist()
        self.allow_pair: list[int] = prep.allow_pair.tolist()
        self.unsafe: list[bool] = prep.unsafe.tolist()
        self.start_states = np.flatnonzero(prep.start > 0).tolist()
        self.start_probs: list[float] = prep.start.tolist()
        n_pairs = mdp.n_pairs
        self.q = [prep.initial_q] * n_pairs
        self.q2 = [prep.initial_q] * n_pairs  # Double Q's second table
        self.visits = [0] * n_pairs
        self.visits2 = [0] * n_pairs
        self.steps = self.truncated = self.unsafe_taken = 0

    def value(self, pair: int) -> float:
        """The behaviour's estimate of a pair (Double Q: the sum of both tables)."""
        return self.q[pair] + self.q2[pair] if self.alg == "double-q" else self.q[pair]

    def greedy(self, table: list[float], state: int) -> int:
        """First allowed pair of ``state`` with the largest value in ``table``."""
        lo, hi = self.allow_ptr[state], self.allow_ptr[state + 1]
        best = self.allow_pair[lo]
        for j in range(lo + 1, hi):
            p = self.allow_pair[j]
            if table[p] > table[best]:
                best = p
        return best

    def choose(self, state: int, epsilon: float) -> int:
        """epsilon-greedy: one uniform; explore with rng.integers, else the first best."""
        lo, hi = self.allow_ptr[state], self.allow_ptr[state + 1]
        if self.rng.random() < epsilon:
            return self.allow_pair[lo + int(self.rng.integers(0, hi - lo))]
        if self.alg == "double-q":
            lo, hi = self.allow_ptr[state], self.allow_ptr[state + 1]
            best = self.allow_pair[lo]
            for j in range(lo + 1, hi):
                p = self.allow_pair[j]
                if self.q[p] + self.q2[p] > self.q[best] + self.q2[best]:
                    best = p
            return best
        return self.greedy(self.q, state)

    def target(self, reward: float, nxt: int, done: bool, epsilon: float) -> tuple[float, int, int]:
        """(target, next pair for SARSA or -1, table to update: 0 first, 1 second)."""
        g = self.gamma
        if self.alg == "q-learning":
            return reward + (0.0 if done else g * self.q[self.greedy(self.q, nxt)]), -1, 0
        if self.alg == "sarsa":
            if done:
                return reward, -1, 0
            a2 = self.choose(nxt, epsilon)
            return reward + g * self.q[a2], a2, 0
        if self.alg == "expected-sarsa":
            if done:
                return reward, -1, 0
            lo, hi = self.allow_ptr[nxt], self.allow_ptr[nxt + 1]
            mean = sum(self.q[self.allow_pair[j]] for j in range(lo, hi)) / (hi - lo)
            best = self.q[self.greedy(self.q, nxt)]
            return reward + g * ((1.0 - epsilon) * best + epsilon * mean), -1, 0
        # double-q: the coin picks the table to update; the other one scores its argmax
        which = 0 if self.rng.random() < 0.5 else 1
        if done:
            return reward, -1, which
        own, other = (self.q, self.q2) if which == 0 else (self.q2, self.q)
        return reward + g * other[self.greedy(own, nxt)], -1, which

    def update(self, pair: int, target: float, which: int) -> None:
        table, visits = (self.q, self.visits) if which == 0 else (self.q2, self.visits2)
        visits[pair] += 1
        n = visits[pair]
        step = self.prep.step
        if step.kind == "1/n":
            table[pair] += (target - table[pair]) / n
        else:
            table[pair] += step.rate(n) * (target - table[pair])

    def run(self, first: int, last: int, returns: FloatArray, lengths: IntArray) -> None:
        tab, rng, g = self.tab, self.rng, self.gamma
        for ep in range(first, last):
            eps = float(self.prep.epsilons[ep])
            if len(self.start_states) == 1:
                s = self.start_states[0]
            else:
                s = sample_pair(self.start_probs, 0, len(self.start_probs), rng)
            pair = -1
            total, disc, t = 0.0, 1.0, 0
            while not tab.ends[s]:
                if t >= self.prep.max_steps:
                    self.truncated += 1
                    break
                if pair < 0:
                    pair = self.choose(s, eps)
                if self.unsafe[pair]:
                    self.unsafe_taken += 1
                k = tab.outcome(pair, rng)
                nxt, r = tab.out_next[k], tab.out_reward[k]
                total += disc * r
                disc *= g
                t += 1
                target, next_pair, which = self.target(r, nxt, tab.ends[nxt], eps)
                self.update(pair, target, which)
                self.steps += 1
                s, pair = nxt, next_pair
            returns[ep] = total
            lengths[ep] = t


__all__ = ["ReferenceEngine"]
