"""Q-learning with its estimates recorded along the way, for pictures of Q converging to Q*.

:func:`q_learning_trajectory` runs the library's reference engine (the engine
:func:`accessrl.learning.learn` runs with ``engine="reference"``, same random stream, same
numbers) in equal slices and copies the Q table after each slice.

>>> import numpy as np
>>> from accessrl.catalog import access_review_abandonment
>>> t = q_learning_trajectory(access_review_abandonment(), episodes=20_000, epsilon=0.15,
...                           rng=np.random.default_rng(13))
>>> round(float(t.q[1]), 1), t.history.shape
(30.5, (100, 6))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accessrl._types import BoolArray, FloatArray, IntArray
from accessrl.learning.config import prepare
from accessrl.learning.reference import ReferenceEngine
from accessrl.learning.tabular import exact_q, greedy_allowed_policy
from accessrl.model.mdp import MDP


@dataclass(frozen=True, eq=False)
class QTrajectory:
    """Q after each slice: ``history[i]`` is the (L,) table after ``episodes[i]`` episodes."""

    episodes: IntArray
    history: FloatArray
    q: FloatArray
    q_star: FloatArray | None
    visits: IntArray
    policy: IntArray
    allowed: BoolArray


def q_learning_trajectory(mdp: MDP, *, episodes: int, epsilon: float, rng: np.random.Generator,
                          omega: float = 0.6, points: int = 100) -> QTrajectory:
    """Tabular Q-learning (step size visits^-omega), Q recorded at ``points`` equal slices."""
    prep = prepare(mdp, episodes=episodes, algorithm="q-learning", epsilon=epsilon, step_size="visits", omega=omega,
                   max_steps=10_000, start=None, never_explore=None, safe=True, initial_q=0.0)
    n = int(prep.epsilons.size)
    engine = ReferenceEngine(mdp, prep, rng)
    returns, lengths = np.zeros(n), np.zeros(n, dtype=np.int64)
    bounds = np.unique(np.linspace(0, n, max(1, min(points, n)) + 1).astype(np.int64))
    history = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        engine.run(int(a), int(b), returns, lengths)
        history.append(np.asarray(engine.q, dtype=np.float64).copy())
    q = history[-1]
    return QTrajectory(episodes=bounds[1:], history=np.array(history), q=q, q_star=exact_q(mdp, prep.allowed),
                       visits=np.asarray(engine.visits, dtype=np.int64),
                       policy=greedy_allowed_policy(mdp, q, prep.allowed), allowed=prep.allowed)


__all__ = ["QTrajectory", "q_learning_trajectory"]
