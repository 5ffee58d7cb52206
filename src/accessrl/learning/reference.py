"""The readable learning engine: the lesson's loop, one statement per idea (layer 1).

The per-step target of each algorithm is a pure function of the step (:func:`q_learning_target`,
:func:`sarsa_target`, :func:`expected_sarsa_target`, :func:`double_q_target`; Sutton & Barto
2018, eqs. 6.8, 6.7, 6.9 and §6.7); :meth:`ReferenceEngine.target` reads what they need from
the tables, and the episode loop that calls it is short and separate.

:class:`~accessrl.learning.fast.FastEngine` runs the same loop compiled and is checked
against this one bit for bit.

>>> q_learning_target(-4.0, 0.9, 70.0, done=False), sarsa_target(-54.0, 0.9, 12.0, done=True)
(59.0, -54.0)
"""

from __future__ import annotations

import numpy as np

from accessrl._types import FloatArray, IntArray
from accessrl.learning.config import ALGORITHMS, Prepared
from accessrl.model.mdp import MDP
from accessrl.simulation import sample_pair, step_tables


def q_learning_target(reward: float, gamma: float, next_max: float, *, done: bool) -> float:
    """R + gamma max_a Q(S', a); R alone at a terminal S'."""
    return reward + (0.0 if done else gamma * next_max)


def sarsa_target(reward: float, gamma: float, next_q: float, *, done: bool) -> float:
    """R + gamma Q(S', A') for the next action A' actually chosen; R alone at a terminal S'."""
    return reward if done else reward + gamma * next_q


def expected_sarsa_target(reward: float, gamma: float, next_max: float, next_mean: float, epsilon: float, *,
                          done: bool) -> float:
    """R + gamma E_pi[Q(S', .)] under the epsilon-greedy policy: (1 - epsilon) max + epsilon mean."""
    return reward if done else reward + gamma * ((1.0 - epsilon) * next_max + epsilon * next_mean)


def double_q_target(reward: float, gamma: float, other_at_argmax: float, *, done: bool) -> float:
    """R + gamma Q_other(S', argmax_a Q_own(S', a)): the table updated picks, the other scores."""
    return reward if done else reward + gamma * other_at_argmax


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
            best = 0.0 if done else self.q[self.greedy(self.q, nxt)]
            return q_learning_target(reward, g, best, done=done), -1, 0
        if self.alg == "sarsa":
            if done:  # no next action is chosen (and no random number drawn) at a terminal state
                return sarsa_target(reward, g, 0.0, done=True), -1, 0
            a2 = self.choose(nxt, epsilon)
            return sarsa_target(reward, g, self.q[a2], done=False), a2, 0
        if self.alg == "expected-sarsa":
            if done:
                return expected_sarsa_target(reward, g, 0.0, 0.0, epsilon, done=True), -1, 0
            lo, hi = self.allow_ptr[nxt], self.allow_ptr[nxt + 1]
            mean = sum(self.q[self.allow_pair[j]] for j in range(lo, hi)) / (hi - lo)
            best = self.q[self.greedy(self.q, nxt)]
            return expected_sarsa_target(reward, g, best, mean, epsilon, done=False), -1, 0
        which = 0 if self.rng.random() < 0.5 else 1  # the coin is drawn even at a terminal S'
        if done:
            return double_q_target(reward, g, 0.0, done=True), -1, which
        own, other = (self.q, self.q2) if which == 0 else (self.q2, self.q)
        return double_q_target(reward, g, other[self.greedy(own, nxt)], done=False), -1, which

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


__all__ = [
    "ReferenceEngine",
    "double_q_target",
    "expected_sarsa_target",
    "q_learning_target",
    "sarsa_target",
]
