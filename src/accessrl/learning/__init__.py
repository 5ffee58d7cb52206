"""Layer 1: learning from samples.

* :mod:`~accessrl.learning.config` — what a run is given, checked once: algorithms, epsilon
  schedules, step sizes, safe-exploration masks;
* :mod:`~accessrl.learning.reference` — the readable engine (the lesson's loop) and the
  targets as pure functions;
* :mod:`~accessrl.learning.fast` — the same loop compiled with numba, bit for bit (loaded by
  ``learn(engine="fast")`` on first use, not here);
* :mod:`~accessrl.learning.tabular` — :func:`learn`: Q-learning, SARSA, Expected SARSA and Double Q;
* :mod:`~accessrl.learning.policy_gradient` — softmax policies, REINFORCE and the exact gradient.
"""

from __future__ import annotations

from accessrl.learning.config import (
    ALGORITHMS,
    ENGINES,
    EpisodeProgress,
    EpsilonSchedule,
    LearningResult,
    Prepared,
    StepSize,
    allowed_model,
    check_probability,
    epsilon_values,
    prepare,
    step_size_from,
    unsafe_mask,
)
from accessrl.learning.policy_gradient import (
    BASELINES,
    SHORT_CORRIDOR_OPTIMUM,
    Episode,
    ExactGradient,
    GradientEstimate,
    ReinforceResult,
    SoftmaxPolicy,
    action_features,
    bandit_gradient,
    discounted_occupancy,
    exact_policy_gradient,
    linear_policy,
    most_probable_actions,
    reinforce,
    reinforce_gradient,
    sample_episode,
    sample_episodes,
    score_function,
    segment_softmax,
    short_corridor,
    short_corridor_features,
    softmax,
    tabular_policy,
)
from accessrl.learning.reference import (
    ReferenceEngine,
    double_q_target,
    expected_sarsa_target,
    q_learning_target,
    sarsa_target,
)
from accessrl.learning.tabular import (
    exact_q,
    greedy_allowed_policy,
    learn,
    one_state_bandit,
)

__all__ = [
    "ALGORITHMS",
    "BASELINES",
    "ENGINES",
    "SHORT_CORRIDOR_OPTIMUM",
    "Episode",
    "EpisodeProgress",
    "EpsilonSchedule",
    "ExactGradient",
    "GradientEstimate",
    "LearningResult",
    "Prepared",
    "ReferenceEngine",
    "ReinforceResult",
    "SoftmaxPolicy",
    "StepSize",
    "action_features",
    "allowed_model",
    "bandit_gradient",
    "check_probability",
    "discounted_occupancy",
    "double_q_target",
    "epsilon_values",
    "exact_policy_gradient",
    "exact_q",
    "expected_sarsa_target",
    "greedy_allowed_policy",
    "learn",
    "linear_policy",
    "most_probable_actions",
    "one_state_bandit",
    "prepare",
    "q_learning_target",
    "reinforce",
    "reinforce_gradient",
    "sample_episode",
    "sample_episodes",
    "sarsa_target",
    "score_function",
    "segment_softmax",
    "short_corridor",
    "short_corridor_features",
    "softmax",
    "step_size_from",
    "tabular_policy",
    "unsafe_mask",
]
