"""Labs 5-7 (monte-carlo, q-learning, exploration), computed by the library's
simulation and learning code with the lesson's seeds (7, 13, 5)."""

from __future__ import annotations

import numpy as np

from accessrl.catalog.lesson import access_review, access_review_abandonment
from accessrl.learning.tabular import learn, one_state_bandit
from accessrl.planning.exact import policy_iteration
from accessrl.simulation import simulate

MONTE_CARLO_SEED, Q_LEARNING_SEED, EXPLORATION_SEED = 7, 13, 5
"""The lesson's seeds for labs 5, 6 and 7."""


def _compared_actions() -> list[int]:
    """The start actions the lesson compares: the deterministic model's best and the
    risk-aware best, in declared order."""
    det, risky = access_review(), access_review_abandonment()
    s0 = risky.start if risky.start is not None else 0
    chosen = {int(policy_iteration(det).policy[s0]), int(policy_iteration(risky).policy[s0])}
    return [int(a) for a in risky.actions_of(s0) if int(a) in chosen]


def monte_carlo_lab() -> list[str]:
    """10,000 simulated episodes of each compared start action, then the optimal policy."""
    mdp = access_review_abandonment()
    best = policy_iteration(mdp).policy
    rng = np.random.default_rng(MONTE_CARLO_SEED)
    lines = []
    abandoned = 0
    for a in _compared_actions():
        sim = simulate(mdp, best, 10_000, rng=rng, first_action=a, record=False)
        lines.append(f"{mdp.action_names[a]} mean={sim.stats.mean:5.2f}")
        if mdp.action_names[a] == "request_evidence":
            abandoned = sim.event_counts.get("abandoned", 0)
    lines.append(f"abandoned evidence routes = {abandoned}")
    return lines


def q_learning_lab() -> list[str]:
    """Tabular Q-learning, epsilon 0.15, step visits^-0.6, 20,000 episodes."""
    mdp = access_review_abandonment()
    res = learn(mdp, episodes=20_000, epsilon=0.15, step_size="visits", omega=0.6,
                rng=np.random.default_rng(Q_LEARNING_SEED))
    s0 = mdp.start if mdp.start is not None else 0
    lines = []
    for k in range(int(mdp.sa_ptr[s0]), int(mdp.sa_ptr[s0 + 1])):
        name = mdp.action_names[int(mdp.sa_action[k])]
        lines.append(f"Q({mdp.state_names[s0]}, {name:13}) = {res.q[k]:6.1f}")
    lines.append(f"learned start action = {mdp.action_names[int(res.policy[s0])]}")
    return lines


def exploration_lab() -> list[str]:
    """Sample-average learning on the one-state bandit of Q*(new_request, .), greedy vs epsilon 0.10."""
    mdp = access_review_abandonment()
    bandit = one_state_bandit(mdp, policy_iteration(mdp).q_values)
    lines = []
    for epsilon in (0.00, 0.10):
        res = learn(bandit, episodes=400, epsilon=epsilon, step_size="1/n",
                    rng=np.random.default_rng(EXPLORATION_SEED))
        visits = {bandit.action_names[int(a)]: int(res.visits[k]) for k, a in enumerate(bandit.sa_action)}
        selected = bandit.action_names[int(res.policy[0])]
        lines.append(f"epsilon={epsilon:.2f} visits={visits} selected={selected}")
    return lines
