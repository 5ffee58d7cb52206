"""One model, three libraries: accessrl, QuantEcon and pymdptoolbox solve the same model to
the same values and policies, and each library's array conventions go in and out."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from accessrl.catalog import CATALOG, rand
from accessrl.errors import SpecValueError
from accessrl.model.arrays import DENSE_LIMIT
from accessrl.model.mdp import MDP
from accessrl.planning.exact import policy_iteration

qe = pytest.importorskip("quantecon", reason='needs quantecon: pip install "accessrl[quantecon]"')
pytest.importorskip("mdptoolbox", reason='needs pymdptoolbox: pip install "accessrl[test]"')
import mdptoolbox.example  # noqa: E402
import mdptoolbox.mdp  # noqa: E402

# QuantEcon's tests/test_ddp.py (TestDiscreteDP): two states, pair (1, 1) unavailable
# (R = -inf); beta = 0.95 solves to v* = (-8.5714..., -20) with sigma* = (0, 0).
QE_R = [5.0, 10.0, -1.0, -np.inf]
QE_Q = [[0.5, 0.5], [0.0, 1.0], [0.0, 1.0], [0.5, 0.5]]
QE_S, QE_A = [0, 0, 1, 1], [0, 1, 0, 1]
QE_V = [-60 / 7, -20.0]  # -4.5 / 0.525 and -1 / 0.05


def pymdptoolbox_pi(P, R, gamma):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymdptoolbox's own numpy deprecation warnings
        pi = mdptoolbox.mdp.PolicyIteration(P, R, gamma)
        pi.run()
    return np.asarray(pi.V), np.asarray(pi.policy)


def models():
    yield from (CATALOG[name]() for name in ("access-review", "access-review-abandonment", "access-review-deny"))
    for seed in range(3):
        yield rand(30, 3, 4, gamma=0.9, rng=np.random.default_rng(seed))


def test_quantecon_minus_inf_pair_is_dropped_and_solves_as_quantecon_does():
    mdp = MDP.from_state_action_pairs(QE_R, QE_Q, 0.95, QE_S, QE_A)
    assert mdp.n_pairs == 3 and mdp.actions_of(1).tolist() == [0]
    ours = policy_iteration(mdp)
    theirs = qe.markov.DiscreteDP(np.array(QE_R), np.array(QE_Q), 0.95, np.array(QE_S), np.array(QE_A)).solve()
    assert np.allclose(ours.values, QE_V) and np.allclose(theirs.v, QE_V)
    assert ours.policy.tolist() == theirs.sigma.tolist() == [0, 0]
    # the same model in the product form, through from_arrays and from_quantecon
    R2, Q2 = np.array(QE_R).reshape(2, 2), np.array(QE_Q).reshape(2, 2, 2)
    P = Q2.transpose(1, 0, 2)
    assert np.allclose(policy_iteration(MDP.from_arrays(P, R2, 0.95)).values, QE_V)
    product = qe.markov.DiscreteDP(R2, Q2, 0.95)
    assert np.allclose(policy_iteration(MDP.from_quantecon(product)).values, QE_V)
    pairs = qe.markov.DiscreteDP(np.array(QE_R), np.array(QE_Q), 0.95, np.array(QE_S), np.array(QE_A))
    assert np.allclose(policy_iteration(MDP.from_quantecon(pairs)).values, QE_V)


def test_pymdptoolbox_object_array_and_dict_P():
    P, R = mdptoolbox.example.forest(S=3)
    # pymdptoolbox's P_sparse fixture style: a 1-d object array of sparse matrices
    P_sparse = np.empty(2, dtype=object)
    P_sparse[:] = [sp.csr_matrix(P[0]), sp.csr_matrix(P[1])]
    # pymdptoolbox docs, PolicyIteration(forest(), 0.9): V = (26.244, 29.484, 33.484)
    expected = [26.244, 29.484, 33.484]
    for form in (P, P_sparse, {0: P[0], 1: sp.csr_matrix(P[1])}, {1: P[1], 0: P[0]}):
        assert np.allclose(policy_iteration(MDP.from_arrays(form, R, 0.9)).values, expected)
    # R per transition in an object array too
    R3 = np.empty(2, dtype=object)
    R3[:] = [sp.csr_matrix((P[a] > 0) * R[:, a][:, None]) for a in range(2)]  # the reward on each transition
    assert np.allclose(policy_iteration(MDP.from_arrays(P_sparse, R3, 0.9)).values, expected)
    assert np.allclose(pymdptoolbox_pi(P_sparse, R, 0.9)[0], expected)


def test_bad_containers_are_named():
    P, R = mdptoolbox.example.forest(S=3)
    with pytest.raises(SpecValueError, match=r"P: expected a dict keyed by the actions 0..1"):
        MDP.from_arrays({0: P[0], 2: P[1]}, R, 0.9)
    with pytest.raises(SpecValueError, match=r"P: expected a 1-d object array"):
        MDP.from_arrays(np.empty((2, 1), dtype=object), R, 0.9)
    with pytest.raises(SpecValueError, match="state 1 has no available action"):
        MDP.from_state_action_pairs([1.0, -np.inf], [[1, 0], [0, 1]], 0.9, [0, 1], [0, 0])
    with pytest.raises(SpecValueError, match="R: expected finite rewards"):
        MDP.from_state_action_pairs([1.0, np.nan], [[1, 0], [0, 1]], 0.9, [0, 1], [0, 0])


@pytest.mark.parametrize("mdp", list(models()), ids=lambda m: f"{m.name}-{m.n_states}")
def test_three_libraries_agree(mdp):
    ours = policy_iteration(mdp)
    live = ~mdp.terminal
    qd = mdp.to_quantecon().solve(method="policy_iteration")
    assert np.allclose(qd.v, ours.values, atol=1e-9)
    assert (qd.sigma[live] == ours.policy[live]).all()
    P, R = mdp.to_arrays()
    v, pol = pymdptoolbox_pi(P, R, mdp.gamma)
    assert np.allclose(v, ours.values, atol=1e-6)
    assert (pol[live] == ours.policy[live]).all()
    # and back: from_arrays and from_quantecon read what to_* wrote
    assert np.allclose(policy_iteration(MDP.from_arrays(P, R, mdp.gamma)).values, ours.values, atol=1e-9)
    assert np.allclose(policy_iteration(MDP.from_quantecon(mdp.to_quantecon())).values, ours.values, atol=1e-9)


def test_to_arrays_rules():
    mdp = CATALOG["access-review"]()
    P, R = mdp.to_arrays()
    assert P.shape == (mdp.n_actions, mdp.n_states, mdp.n_states) and R.shape == (mdp.n_states, mdp.n_actions)
    assert np.allclose(P.sum(axis=2), 1.0)
    closed = mdp.state_index("closed")
    assert (P[:, closed, closed] == 1).all() and (R[closed] == 0).all()  # terminal: zero-reward loop
    s, a = mdp.state_index("new_request"), mdp.action_index("approve_rotation")
    assert R[s, a] == -np.inf and P[a, s, s] == 1.0  # not offered: a loop marked unavailable
    assert mdp.to_arrays(unavailable=-1e9).R[s, a] == -1e9
    # the readable definition: R[s, a] = sum over outcomes of p * r
    k = mdp.pair_index("new_request", "request_evidence")
    assert R[s, mdp.action_index("request_evidence")] == pytest.approx(sum(p * r for _, p, r in mdp.outcomes(k)))
    Ps, Rs = mdp.to_arrays(sparse=True)
    assert all(sp.issparse(m) for m in Ps) and np.array_equal(np.stack([m.toarray() for m in Ps]), P)
    assert np.array_equal(Rs, R)
    big = CATALOG["access-review-workflow"]()
    assert big.n_actions * big.n_states**2 > DENSE_LIMIT and isinstance(big.to_arrays().P, list)
