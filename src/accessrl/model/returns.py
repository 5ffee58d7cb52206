r"""Discounted returns (layer 0).

The return of a reward sequence R_1, R_2, ... (Sutton & Barto 2018, eq. 3.8):

.. math:: G_0 = \sum_{k \ge 0} \gamma^k R_{k+1}

>>> discounted_return([-4, 70], 0.9)
59.0
>>> rewards_to_go([-18, 80], 0.9).tolist()
[54.0, 80.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from accessrl.errors import ParameterError
from accessrl.model.checks import check_gamma
from accessrl.model.mdp import MDP


def discounted_return(rewards: Sequence[float] | NDArray[np.float64], gamma: float) -> float:
    """G_0 = sum_k gamma^k R_{k+1} of one reward sequence (Horner's rule, exact for the lesson)."""
    g = check_gamma(gamma, allow_zero=True)
    total = 0.0
    for r in reversed(list(rewards)):
        total = float(r) + g * total
    return total


def rewards_to_go(rewards: Sequence[float] | NDArray[np.float64], gamma: float) -> NDArray[np.float64]:
    """G_t = R_{t+1} + gamma G_{t+1} for every step t of one episode."""
    g = check_gamma(gamma, allow_zero=True)
    r = np.asarray(rewards, dtype=np.float64)
    out = np.empty_like(r)
    acc = 0.0
    for t in range(r.size - 1, -1, -1):
        acc = r[t] + g * acc
        out[t] = acc
    return out




def route_rewards(mdp: MDP, state: int, first_action: int, policy: NDArray[np.int64], max_steps: int = 10_000) -> list[float]:
    """Rewards along the route that takes ``first_action`` in ``state`` and then follows
    ``policy`` (S,) until a terminal state, in a model whose steps are deterministic.

    >>> from accessrl.catalog import access_review
    >>> from accessrl.planning import policy_iteration
    >>> mdp = access_review()
    >>> route_rewards(mdp, 0, mdp.action_index("request_evidence"), policy_iteration(mdp).policy)
    [-4.0, 70.0]
    """
    rewards: list[float] = []
    s, a = int(state), int(first_action)
    for _ in range(max_steps):
        pair = mdp.pair_index(s, a)
        lo, hi = int(mdp.out_ptr[pair]), int(mdp.out_ptr[pair + 1])
        live = [k for k in range(lo, hi) if mdp.out_prob[k] > 0]
        if len(live) != 1:
            raise ParameterError(
                f"route: state {mdp.state_names[s]!r}, action {mdp.action_names[a]!r} is stochastic; "
                "a route is defined only where every step is deterministic (simulate instead)"
            )
        rewards.append(float(mdp.out_reward[live[0]]))
        s = int(mdp.out_next[live[0]])
        if mdp.terminal[s] or mdp.n_actions_of[s] == 0:
            return rewards
        a = int(policy[s])
    raise ParameterError(f"route: no terminal state within {max_steps} steps")


__all__ = ["discounted_return", "rewards_to_go", "route_rewards"]
