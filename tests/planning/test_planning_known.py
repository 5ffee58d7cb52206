"""Known answers from published sources, each cited beside its numbers."""

import numpy as np
import pytest

from accessrl import (
    MDP,
    bellman_backup,
    compile_spec,
    modified_policy_iteration,
    policy_evaluation,
    policy_iteration,
    solve,
    uniform_policy,
    value_iteration,
)
from accessrl.catalog.lesson import access_review, access_review_abandonment
from gridworlds import forest, sb_example_3_5, sb_example_4_1, small


def test_lesson_values_deterministic():
    # The lesson: V*(review_queue) = 80, V*(evidence_ready) = max(70, -10 + 0.9*80) = 70,
    # V*(new_request) = max(-120, -4 + 0.9*70, -18 + 0.9*80) = 59.
    mdp = access_review()
    for res in (value_iteration(mdp), policy_iteration(mdp), modified_policy_iteration(mdp)):
        np.testing.assert_allclose(res.values, [59.0, 70.0, 80.0, 0.0], atol=1e-6)
        assert [mdp.action_names[a] for a in res.policy[:3]] == ["request_evidence", "auto_approve", "approve_rotation"]


def test_lesson_abandonment_flip():
    # The lesson: Q(new_request, request_evidence) = 0.75(-4 + 0.9*70) + 0.25(-54) = 30.75 < 54.
    mdp = access_review_abandonment()
    res = policy_iteration(mdp)
    q = res.q_values[mdp.sa_ptr[0] : mdp.sa_ptr[1]]
    np.testing.assert_allclose(q, [-120.0, 30.75, 54.0])
    assert mdp.action_names[res.policy[0]] == "human_review"


def test_sb_example_4_1_random_policy():
    # Sutton & Barto (2018), Figure 4.1, k = infinity: v_pi of the equiprobable random policy.
    expected = np.array([
        [0, -14, -20, -22],
        [-14, -18, -20, -20],
        [-20, -20, -18, -14],
        [-22, -20, -14, 0],
    ], dtype=float).ravel()
    mdp = compile_spec(sb_example_4_1())
    for method in ("direct", "krylov"):
        ev = policy_evaluation(mdp, uniform_policy(mdp), method=method)
        np.testing.assert_allclose(ev.values, expected, atol=1e-8)
    it = policy_evaluation(mdp, uniform_policy(mdp), method="iterative", tol=1e-10)
    np.testing.assert_allclose(it.values, expected, atol=1e-6)


def test_sb_example_4_1_optimal_gamma_one():
    # Same grid, optimal values: minus the number of moves to the nearest corner (Figure 4.1, right).
    mdp = compile_spec(sb_example_4_1())
    expected = -np.array([[0, 1, 2, 3], [1, 2, 3, 2], [2, 3, 2, 1], [3, 2, 1, 0]], dtype=float).ravel()
    for res in (value_iteration(mdp), policy_iteration(mdp), solve(mdp)):
        np.testing.assert_allclose(res.values, expected, atol=1e-9)


def test_sb_example_3_5_random_and_optimal():
    # Sutton & Barto (2018), Figure 3.2 (random policy) and Figure 3.5 (v*), one decimal.
    random_v = np.array([
        [3.3, 8.8, 4.4, 5.3, 1.5],
        [1.5, 3.0, 2.3, 1.9, 0.5],
        [0.1, 0.7, 0.7, 0.4, -0.4],
        [-1.0, -0.4, -0.4, -0.6, -1.2],
        [-1.9, -1.3, -1.2, -1.4, -2.0],
    ]).ravel()
    optimal_v = np.array([
        [22.0, 24.4, 22.0, 19.4, 17.5],
        [19.8, 22.0, 19.8, 17.8, 16.0],
        [17.8, 19.8, 17.8, 16.0, 14.4],
        [16.0, 17.8, 16.0, 14.4, 13.0],
        [14.4, 16.0, 14.4, 13.0, 11.7],
    ]).ravel()
    mdp = compile_spec(sb_example_3_5())
    assert mdp.state_names[:3] == ("c00", "c01", "c02")
    ev = policy_evaluation(mdp, uniform_policy(mdp))
    np.testing.assert_allclose(np.round(ev.values, 1), random_v, atol=1e-9)
    for res in (value_iteration(mdp, tol=1e-8), policy_iteration(mdp), modified_policy_iteration(mdp, tol=1e-8)):
        np.testing.assert_allclose(np.round(res.values, 1), optimal_v, atol=1e-9)


PUTERMAN_BETA = 0.95
# Puterman (2005) §3.1 / Example 6.2.1, as in QuantEcon's test_ddp.py: for beta > 10/11,
# v* = [(5 - 5.5 beta) / ((1 - 0.5 beta)(1 - beta)), -1 / (1 - beta)], sigma* = [0, 0].
PUTERMAN_V = [(5 - 5.5 * PUTERMAN_BETA) / ((1 - 0.5 * PUTERMAN_BETA) * (1 - PUTERMAN_BETA)), -1 / (1 - PUTERMAN_BETA)]


def _puterman_models():
    import scipy.sparse as sp

    Q = np.empty((2, 2, 2))
    Q[0, 0] = 0.5, 0.5
    Q[0, 1] = 0, 1
    Q[1, :] = 0, 1
    R = np.array([[5.0, 10.0], [-1.0, -np.inf]])
    product = MDP.from_arrays(np.transpose(Q, (1, 0, 2)), R, PUTERMAN_BETA)
    q_sa = np.array([Q[0, 0], Q[0, 1], Q[1, 0]])
    pairs_dense = MDP.from_state_action_pairs([5, 10, -1], q_sa, PUTERMAN_BETA, [0, 0, 1], [0, 1, 0])
    pairs_sparse = MDP.from_state_action_pairs([5, 10, -1], sp.lil_matrix(q_sa), PUTERMAN_BETA, [0, 0, 1], [0, 1, 0])
    shuffled = MDP.from_state_action_pairs([-1, 10, 5], q_sa[[2, 1, 0]], PUTERMAN_BETA, [1, 0, 0], [0, 1, 0])
    return [product, pairs_dense, pairs_sparse, shuffled]


@pytest.mark.parametrize("index", range(4))
def test_puterman_two_state(index):
    mdp = _puterman_models()[index]
    assert mdp.n_pairs == 3
    for res in (policy_iteration(mdp), value_iteration(mdp, tol=1e-3), modified_policy_iteration(mdp, tol=1e-3)):
        np.testing.assert_allclose(res.values, PUTERMAN_V, atol=1e-3)
        assert res.policy.tolist() == [0, 0]
    np.testing.assert_allclose(policy_iteration(mdp).values, PUTERMAN_V, rtol=1e-12)


def test_pymdptoolbox_forest_policy_iteration():
    # pymdptoolbox docs, PolicyIteration(forest(), 0.9): V = (26.244, 29.484, 33.484), policy (0, 0, 0).
    P, R = forest()
    mdp = MDP.from_arrays(P, R, 0.9)
    res = policy_iteration(mdp)
    np.testing.assert_allclose(res.values, [26.244, 29.484, 33.484], atol=1e-9)
    assert res.policy.tolist() == [0, 0, 0]


def test_pymdptoolbox_value_iteration_iterates():
    # pymdptoolbox docs: ValueIteration(small(), 0.9) stops after 26 sweeps from zero at
    # V = (40.048625392716815, 33.65371175967546), policy (1, 0); ValueIteration(forest(), 0.96)
    # stops after 4 sweeps at V = (5.93215488, 9.38815488, 13.38815488).  Our sweeps are the
    # same Bellman iterates, so capping the sweep count reproduces them.
    P, R = small()
    res = value_iteration(MDP.from_arrays(P, R, 0.9), max_iter=26)
    np.testing.assert_allclose(res.values, [40.048625392716815, 33.65371175967546], atol=1e-12)
    assert res.policy.tolist() == [1, 0]
    P, R = forest()
    res = value_iteration(MDP.from_arrays(P, R, 0.96), max_iter=4)
    np.testing.assert_allclose(res.values, [5.93215488, 9.38815488, 13.38815488], atol=1e-8)


def test_sparse_list_input_matches_dense():
    import scipy.sparse as sp

    P, R = forest(S=20)
    dense = MDP.from_arrays(P, R, 0.9)
    sparse = MDP.from_arrays([sp.csr_matrix(P[a]) for a in range(2)], R, 0.9)
    r3 = [sp.csr_matrix(np.repeat(R[:, a][:, None], 20, axis=1)) for a in range(2)]
    sparse_r3 = MDP.from_arrays([sp.csr_matrix(P[a]) for a in range(2)], r3, 0.9)
    for m in (sparse, sparse_r3):
        np.testing.assert_allclose(policy_iteration(m).values, policy_iteration(dense).values, atol=1e-10)
    # storage grows with the non-zero transitions, never S x A x S
    assert dense.n_outcomes == np.count_nonzero(P)


def test_bellman_backup_is_one_sweep():
    mdp = access_review()
    b = bellman_backup(mdp, np.zeros(4))
    np.testing.assert_allclose(b.values, [-4.0, 70.0, 80.0, 0.0])
    np.testing.assert_allclose(value_iteration(mdp, max_iter=1).values, b.values)
