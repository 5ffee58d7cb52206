"""The compiled simulate engine against the readable one: the same numbers for the same seed."""

import dataclasses

import numpy as np
import pytest

from accessrl.catalog import CATALOG
from accessrl.catalog.workflows import access_review_workflow
from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.policies import uniform_policy
from accessrl.planning.exact import policy_iteration
from accessrl.simulation import simulate


def same(mdp, policy, seed, **kw):
    rng_a, rng_b = np.random.default_rng(seed), np.random.default_rng(seed)
    a = simulate(mdp, policy, rng=rng_a, engine="reference", **kw)
    b = simulate(mdp, policy, rng=rng_b, engine="fast", **kw)
    np.testing.assert_array_equal(a.returns, b.returns)
    np.testing.assert_array_equal(a.lengths, b.lengths)
    np.testing.assert_array_equal(a.terminated, b.terminated)
    np.testing.assert_array_equal(a.severe, b.severe)
    assert a.event_counts == b.event_counts
    np.testing.assert_equal(dataclasses.asdict(a.stats), dataclasses.asdict(b.stats))  # nan == nan here
    if kw.get("record", True):
        for f in ("ptr", "state", "action", "pair", "action_prob", "reward", "next_state", "outcome"):
            np.testing.assert_array_equal(getattr(a.episodes, f), getattr(b.episodes, f), err_msg=f)
    assert rng_a.bit_generator.state == rng_b.bit_generator.state  # the generator ends in the same place
    assert rng_a.random() == rng_b.random()
    return a


def test_lesson_figures_from_both_engines():
    mdp = CATALOG["access-review-abandonment"]()
    a = same(mdp, np.array([2, 0, 3, -1]), 7, episodes=10_000, first_action="request_evidence")
    assert round(a.stats.mean, 2) == 30.33 and a.event_counts["abandoned"] == 2537  # the lesson's numbers


@pytest.mark.parametrize("name", sorted(CATALOG))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_engines_agree_on_catalog_models(name, seed):
    mdp = CATALOG[name]()
    for policy in (policy_iteration(mdp).policy, uniform_policy(mdp)):
        same(mdp, policy, seed, episodes=300, severe_threshold=-50.0, max_steps=40)
        same(mdp, policy, seed, episodes=300, record=False, max_steps=3)  # truncation


@pytest.mark.parametrize("seed", range(4))
def test_engines_agree_with_start_distributions_and_forced_actions(seed):
    g = np.random.default_rng(seed)
    mdp = access_review_workflow(max_days=3, max_reminders=1, queue_capacity=2, max_escalation=1)
    start = g.random(mdp.n_states) * (g.random(mdp.n_states) < 0.3) * ~mdp.terminal
    start /= start.sum()
    pol = uniform_policy(mdp)
    same(mdp, pol, seed, episodes=500, start=start)
    same(mdp, pol, seed, episodes=500, start=start, record=False, max_steps=2)
    s0 = int(np.flatnonzero(start)[0])
    same(mdp, pol, seed, episodes=200, start=s0, first_action="deny_request")


def test_random_dense_models_and_long_runs():
    for seed in range(3):
        g = np.random.default_rng(seed)
        P = g.dirichlet(np.ones(6), size=(3, 6))
        mdp = MDP.from_arrays(P, g.normal(size=(6, 3)), 0.9)
        same(mdp, uniform_policy(mdp), seed, episodes=50, max_steps=2000)  # record buffers refill
        same(mdp, uniform_policy(mdp), seed, episodes=3000, max_steps=30, record=False)  # raw blocks refill


def test_other_bit_generators_and_errors():
    mdp = CATALOG["access-review-abandonment"]()
    best = np.array([2, 0, 3, -1])
    a = simulate(mdp, best, 500, rng=np.random.Generator(np.random.MT19937(3)), engine="reference")
    b = simulate(mdp, best, 500, rng=np.random.Generator(np.random.MT19937(3)), engine="fast")  # readable loop
    np.testing.assert_array_equal(a.returns, b.returns)
    with pytest.raises(ParameterError):
        simulate(mdp, best, 5, rng=np.random.default_rng(0), engine="turbo")
    for engine in ("reference", "fast"):  # a forced action the start state lacks: the same error
        with pytest.raises(Exception, match="has no action") as exc:
            simulate(mdp, best, 5, rng=np.random.default_rng(0), first_action="approve_rotation", engine=engine)
        assert type(exc.value).__name__ == "SpecValueError"


def test_compiled_sole_outcome_matches_the_vectorised_one():
    from dataclasses import replace

    from accessrl.simulation import sole_outcome
    from accessrl.simulation.fast import sole_outcome_compiled

    g = np.random.default_rng(0)
    for name in sorted(CATALOG):
        mdp = CATALOG[name]()
        p = mdp.out_prob.copy()
        p[g.random(p.size) < 0.3] = 0.0  # pairs with one or several positive outcomes
        sums = np.add.reduceat(p, mdp.out_ptr[:-1]) if p.size else p
        per_outcome = np.repeat(sums, np.diff(mdp.out_ptr))
        p = np.where(per_outcome > 0, p / np.where(per_outcome > 0, per_outcome, 1.0), mdp.out_prob)  # still a model
        for m in (mdp, replace(mdp, out_prob=p)):
            np.testing.assert_array_equal(sole_outcome_compiled(m), sole_outcome(m))
