"""Q-learning with recorded estimates gives exactly ``learn``'s numbers (same engine, same stream)."""

from __future__ import annotations

import numpy as np

from accessrl.catalog import access_review_abandonment
from accessrl.learning import learn
from accessrl.lesson.trajectory import q_learning_trajectory


def test_trajectory_ends_where_learn_ends():
    mdp = access_review_abandonment()
    for eps, omega in ((0.15, 0.6), (0.3, 0.8)):
        t = q_learning_trajectory(mdp, episodes=3000, epsilon=eps, omega=omega, rng=np.random.default_rng(2), points=7)
        res = learn(mdp, episodes=3000, epsilon=eps, omega=omega, rng=np.random.default_rng(2))
        assert np.array_equal(t.q, res.q) and np.array_equal(t.visits, res.visits)
        assert np.array_equal(t.policy, res.policy)
        assert t.episodes.tolist() == np.unique(np.linspace(0, 3000, 8).astype(int))[1:].tolist()
        assert np.array_equal(t.history[-1], t.q)
        fast = q_learning_trajectory(mdp, episodes=3000, epsilon=eps, omega=omega, rng=np.random.default_rng(2),
                                     points=7, engine="fast", max_steps=50)
        assert np.array_equal(fast.history, t.history) and fast.truncated == 0
