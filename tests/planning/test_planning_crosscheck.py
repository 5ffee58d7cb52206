"""Cross-checks: value iteration, policy iteration, modified PI and the exact solve agree;
invariants over random sparse models (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accessrl import (
    bellman_backup,
    greedy_policy,
    modified_policy_iteration,
    policy_evaluation,
    policy_iteration,
    q_values,
    solve,
    value_iteration,
)
from accessrl.catalog import CATALOG
from accessrl.planning.exact import state_max
from gridworlds import random_sparse


def _reference(mdp):
    """V* by policy iteration, then polished by exact evaluation of its policy."""
    return policy_evaluation(mdp, policy_iteration(mdp).policy).values


@pytest.mark.parametrize("name", ["access-review", "access-review-abandonment"])
def test_methods_agree_on_catalog(name):
    mdp = CATALOG[name]()
    ref = _reference(mdp)
    for res in (
        value_iteration(mdp, tol=1e-10),
        policy_iteration(mdp),
        modified_policy_iteration(mdp, tol=1e-10),
        solve(mdp, tol=1e-10),
    ):
        assert np.max(np.abs(res.values - ref)) <= 1e-8, res.method


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.99])
def test_methods_agree_on_random_models(seed, gamma):
    rng = np.random.default_rng(seed)
    mdp = random_sparse(rng, S=int(rng.integers(5, 60)), A=int(rng.integers(1, 5)), k=4, gamma=gamma)
    ref = _reference(mdp)
    for method in ("value-iteration", "policy-iteration", "modified-policy-iteration", "auto"):
        res = solve(mdp, method, tol=1e-10)
        assert np.max(np.abs(res.values - ref)) <= 1e-8, method


@pytest.mark.parametrize("tol", [1e-2, 1e-4, 1e-6])
@pytest.mark.parametrize("gamma", [0.9, 0.99])
def test_error_bound_holds(tol, gamma):
    rng = np.random.default_rng(7)
    mdp = random_sparse(rng, S=200, A=3, k=5, gamma=gamma)
    ref = _reference(mdp)
    for fn in (value_iteration, modified_policy_iteration):
        res = fn(mdp, tol=tol)
        err = np.max(np.abs(res.values - ref))
        assert err <= tol, (fn.__name__, err)
        assert res.error_bound <= tol + 1e-15


def test_value_iteration_trace_is_a_contraction():
    mdp = random_sparse(np.random.default_rng(3), S=50, A=3, k=4, gamma=0.9)
    res = value_iteration(mdp, tol=1e-8)
    trace = np.array(res.trace)
    # ||T^{k+1}V - T^k V|| <= gamma ||T^k V - T^{k-1} V|| (Puterman Thm 6.2.3)
    assert np.all(trace[1:] <= 0.9 * trace[:-1] + 1e-12)


@st.composite
def models(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    S = draw(st.integers(1, 25))
    A = draw(st.integers(1, 4))
    k = draw(st.integers(1, 5))
    gamma = draw(st.sampled_from([0.3, 0.8, 0.95]))
    return random_sparse(np.random.default_rng(seed), S=S, A=A, k=k, gamma=gamma)


@settings(max_examples=40, deadline=None)
@given(models())
def test_invariants_on_random_models(mdp):
    res = policy_iteration(mdp)
    v = res.values
    # Bellman optimality: V* = T V*
    np.testing.assert_allclose(bellman_backup(mdp, v).values, v, atol=1e-8)
    # V* dominates every policy's value, including the greedy policy's (equal) and a random one
    rng = np.random.default_rng(0)
    pol = np.array([rng.choice(mdp.actions_of(s)) for s in range(mdp.n_states)])
    assert np.all(policy_evaluation(mdp, pol).values <= v + 1e-8)
    np.testing.assert_allclose(policy_evaluation(mdp, res.policy).values, v, atol=1e-8)
    # the greedy policy breaks ties toward the first declared action
    q = q_values(mdp, v)
    vmax, first = state_max(mdp, q)
    np.testing.assert_allclose(vmax, v, atol=1e-8)
    assert np.array_equal(greedy_policy(mdp, v), mdp.sa_action[first])
    # T is monotone: V <= W implies TV <= TW
    w = v + np.abs(rng.normal(size=v.size))
    assert np.all(bellman_backup(mdp, v).values <= bellman_backup(mdp, w).values + 1e-12)
    # values are bounded by max|r| / (1 - gamma)
    assert np.max(np.abs(v)) <= np.max(np.abs(mdp.out_reward)) / (1 - mdp.gamma) + 1e-8


def test_ties_break_toward_first_declared_action():
    from accessrl import compile_spec

    spec = {"gamma": 0.9, "terminal": ["done"], "transitions": {
        "s": {"b": {"next": "done", "reward": 1}, "a": {"next": "done", "reward": 1}}}}
    mdp = compile_spec(spec)
    for res in (value_iteration(mdp), policy_iteration(mdp), modified_policy_iteration(mdp)):
        assert mdp.action_names[res.policy[0]] == "b"


def _as_int64(mdp):
    from dataclasses import replace

    return replace(mdp, out_next=mdp.out_next.astype(np.int64))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("gamma", [0.9, 0.99])
@pytest.mark.parametrize("terminal", [0, 3])
def test_compiled_methods_agree_with_the_readable_ones(seed, gamma, terminal, monkeypatch):
    """Every compiled method, on one thread and on the parallel kernels, with 32- and 64-bit
    next-state indices, within 1e-8 of exact policy iteration; the error bound holds."""
    from accessrl.planning import kernels

    monkeypatch.setattr(kernels, "PARALLEL_MIN_NNZ", 0)  # tiny models: run the parallel builds too
    rng = np.random.default_rng(100 + seed)
    base = random_sparse(rng, S=int(rng.integers(20, 90)), A=int(rng.integers(1, 5)), k=4, gamma=gamma,
                         terminal=terminal)
    assert base.out_next.dtype == np.int32  # scipy's indices are kept, not upcast
    ref = _reference(base)
    for mdp in (base, _as_int64(base)):
        for method in ("compiled-mpi", "topological", "gauss-seidel", "krylov-policy-iteration", "krylov-mpi"):
            for threads in (1, 2):
                res = solve(mdp, method, tol=1e-10, threads=threads)
                err = np.max(np.abs(res.values - ref))
                assert err <= 1e-8, (method, threads, err)
                assert err <= res.error_bound + 1e-12 or res.error_bound == 0.0 and err <= 1e-9
                used = res.extra["threads"]
                assert used == threads if method == "compiled-mpi" else 1 <= used <= threads
                np.testing.assert_allclose(res.q_values, q_values(mdp, res.values), atol=1e-12)


@pytest.mark.parametrize("m", [1, 2, 4, 9])
def test_compiled_mpi_error_bound_and_patched_policy_matrix(m):
    """MPI's P_sigma copy is patched where sigma changes (rebuilt when a row's length
    changes): the answer matches the readable solver and the bound is a guarantee."""
    from accessrl.planning.scalable import compiled_modified_policy_iteration

    rng = np.random.default_rng(m)
    mdp = random_sparse(rng, S=150, A=3, k=5, gamma=0.95)
    # ragged rows: drop the last outcome of every third pair and renormalise
    keep = np.ones(mdp.n_outcomes, dtype=bool)
    keep[(mdp.out_ptr[1:] - 1)[::3]] = False
    counts = np.add.reduceat(keep.astype(np.int64), mdp.out_ptr[:-1])
    p = mdp.out_prob[keep]
    pair = np.repeat(np.arange(mdp.n_pairs), counts)
    p = p / np.bincount(pair, weights=p)[pair]
    from dataclasses import replace

    ragged = replace(mdp, out_ptr=np.concatenate(([0], np.cumsum(counts))), out_next=mdp.out_next[keep],
                     out_prob=p, out_reward=mdp.out_reward[keep])
    ref = _reference(ragged)
    for tol in (1e-3, 1e-6, 1e-10):
        res = compiled_modified_policy_iteration(ragged, tol=tol, m=m)
        assert np.max(np.abs(res.values - ref)) <= tol
        assert res.error_bound <= tol
        assert res.extra["p_sigma_rebuilds"] >= 1


def test_mpi_first_sweep_from_zero_is_the_generic_sweep():
    """From v = 0 the first Bellman sweep reads no outcome (Q = r); bit for bit the same run."""
    from accessrl.planning.scalable import compiled_modified_policy_iteration

    mdp = random_sparse(np.random.default_rng(5), S=120, A=3, k=4, gamma=0.97)
    a = compiled_modified_policy_iteration(mdp, tol=1e-9)
    b = compiled_modified_policy_iteration(mdp, tol=1e-9, v0=np.zeros(mdp.n_states))  # the generic kernel
    assert np.array_equal(a.values, b.values) and a.trace == b.trace and np.array_equal(a.q_values, b.q_values)
