"""Q-learning with its estimates recorded along the way, for pictures of Q converging to Q*.

:func:`q_learning_trajectory` runs one of the engines :func:`accessrl.learning.learn` runs
(``reference`` or the numba ``fast`` one: the same random stream, the same numbers) in equal
slices and copies the Q table after each slice.

>>> import numpy as np
>>> from accessrl.catalog import access_review_abandonment
>>> t = q_learning_trajectory(access_review_abandonment(), episodes=20_000, epsilon=0.15,
...                           rng=np.random.default_rng(13))
>>> round(float(t.q[1]), 1), t.history.shape
(30.5, (100, 6))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from accessrl._types import BoolArray, FloatArray, IntArray
from accessrl.errors import ParameterError
from accessrl.learning.config import ENGINES, prepare
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
    truncated: int
    """Episodes cut at ``max_steps``."""


def q_learning_trajectory(mdp: MDP, *, episodes: int, epsilon: float, rng: np.random.Generator,
                          omega: float = 0.6, points: int = 100, max_steps: int = 10_000,
                          engine: str = "reference") -> QTrajectory:
    """Tabular Q-learning (step size visits^-omega), Q recorded at ``points`` equal slices.

    ``max_steps`` truncates an episode as in ``learn`` (``truncated`` counts them); the fast
    engine reserves random draws per slice in proportion to it, so a model whose episodes are
    short runs faster with a small ``max_steps``, with the same numbers while nothing is truncated.
    """
    if engine not in ENGINES:
        raise ParameterError(f"engine: expected one of {list(ENGINES)}, got {engine!r}")
    prep = prepare(mdp, episodes=episodes, algorithm="q-learning", epsilon=epsilon, step_size="visits", omega=omega,
                   max_steps=max_steps, start=None, never_explore=None, safe=True, initial_q=0.0)
    n = int(prep.epsilons.size)
    runner: Any
    if engine == "fast":
        from accessrl.learning.fast import FastEngine  # numba loads on first use

        runner = FastEngine(mdp, prep, rng)
    else:
        runner = ReferenceEngine(mdp, prep, rng)
    returns, lengths = np.zeros(n), np.zeros(n, dtype=np.int64)
    bounds = np.unique(np.linspace(0, n, max(1, min(points, n)) + 1).astype(np.int64))
    history = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        runner.run(int(a), int(b), returns, lengths)
        history.append(np.asarray(runner.q, dtype=np.float64).copy())
    q = history[-1]
    return QTrajectory(episodes=bounds[1:], history=np.array(history), q=q, q_star=exact_q(mdp, prep.allowed),
                       visits=np.asarray(runner.visits, dtype=np.int64),
                       policy=greedy_allowed_policy(mdp, q, prep.allowed), allowed=prep.allowed,
                       truncated=int(runner.truncated))


__all__ = ["QTrajectory", "q_learning_trajectory"]
