import numpy as np

from accessrl import MDP
from accessrl.planning.finite_horizon import backward_induction


def test_puterman_inventory_backward_induction():
    # Puterman (2005) §3.2 / §4.6.1, single-product stochastic inventory control, T = 3,
    # as in QuantEcon's test_ddp.py (TestFiniteHorizon): expected V_t and decision rules.
    s_indices = [0, 0, 0, 0, 1, 1, 1, 2, 2, 3]
    a_indices = [0, 1, 2, 3, 0, 1, 2, 0, 1, 0]
    R = [0.0, -1.0, -2.0, -5.0, 5.0, 0.0, -3.0, 6.0, -1.0, 5.0]
    Q = [[1.0, 0.0, 0.0, 0.0], [0.75, 0.25, 0.0, 0.0], [0.25, 0.5, 0.25, 0.0], [0.0, 0.25, 0.5, 0.25],
         [0.75, 0.25, 0.0, 0.0], [0.25, 0.5, 0.25, 0.0], [0.0, 0.25, 0.5, 0.25],
         [0.25, 0.5, 0.25, 0.0], [0.0, 0.25, 0.5, 0.25], [0.0, 0.25, 0.5, 0.25]]
    mdp = MDP.from_state_action_pairs(R, Q, 1.0, s_indices, a_indices)
    res = backward_induction(mdp, 3)
    expected_v = [[67 / 16, 129 / 16, 194 / 16, 227 / 16], [2, 25 / 4, 10, 21 / 2], [0, 5, 6, 5], [0, 0, 0, 0]]
    np.testing.assert_allclose(res.values, expected_v)
    assert res.policies.tolist() == [[3, 0, 0, 0], [2, 0, 0, 0], [0, 0, 0, 0]]


def test_long_horizon_approaches_infinite_horizon():
    from accessrl import policy_iteration
    from accessrl.catalog.lesson import access_review_abandonment

    mdp = access_review_abandonment()
    res = backward_induction(mdp, 10)
    np.testing.assert_allclose(res.values[0], policy_iteration(mdp).values)
