"""Lab 9 (policy-gradient): one REINFORCE step on the start decision, from library code."""

from __future__ import annotations

import numpy as np

from accessrl.catalog.lesson import access_review_abandonment
from accessrl.learning.policy_gradient import bandit_gradient, softmax
from accessrl.planning.exact import policy_iteration

STEP_SIZE = 0.03
"""The lesson's learning rate for the single gradient step."""


def policy_gradient_lab() -> list[str]:
    """Zero logits over the start actions; one completed route per action whose return is
    the abandonment model's Q*(new_request, a); batch-mean baseline; one ascent step."""
    mdp = access_review_abandonment()
    s0 = mdp.start if mdp.start is not None else 0
    lo, hi = int(mdp.sa_ptr[s0]), int(mdp.sa_ptr[s0 + 1])
    returns = policy_iteration(mdp).q_values[lo:hi]
    actions = np.arange(hi - lo)
    logits = np.zeros(hi - lo)
    estimate = bandit_gradient(logits, actions, returns, baseline="mean")
    before, after = softmax(logits), softmax(logits + STEP_SIZE * estimate.mean)
    return [
        f"{mdp.action_names[int(mdp.sa_action[lo + i])]:13} before={before[i]:.3f} after={after[i]:.3f}"
        for i in actions
    ]
