"""Estimating the workflow from logs: Wilson intervals, recovery of the generating model, low support, drift."""

import numpy as np
import pytest
from scipy.stats import binomtest

from accessrl.catalog.lesson import access_review_abandonment
from accessrl.errors import DataError, ParameterError
from accessrl.model.policies import uniform_policy
from accessrl.model.spec import compile_spec
from accessrl.offline.estimation import drift_report, estimate_model, wilson_interval
from accessrl.offline.logsim import simulate_logs, with_abandonment
from accessrl.planning.exact import policy_iteration

MDP = access_review_abandonment()


def generate(n, seed, mdp=MDP, **kw):
    return simulate_logs(mdp, uniform_policy(mdp), n_requests=n, start_us=0, rng=np.random.default_rng(seed), **kw)


def test_wilson_known_answer_and_scipy():
    # Newcombe (1998), Statistics in Medicine 17:857, example 81/263: Wilson 0.2553 to 0.3662
    lo, hi = wilson_interval(81, 263)
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.2553, 0.3662)
    for k, n in [(0, 10), (10, 10), (3, 7), (500, 1000)]:
        ci = binomtest(k, n).proportion_ci(method="wilson")
        lo, hi = wilson_interval(k, n)
        assert (float(lo), float(hi)) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_estimates_recover_the_generating_model_within_their_intervals():
    est = estimate_model(generate(4000, 1).steps, gamma=0.9)
    truth = {}
    for k in range(MDP.n_pairs):
        for nxt, p, r in MDP.outcomes(k):
            truth[(MDP.state_names[int(MDP.sa_state[k])], MDP.action_names[int(MDP.sa_action[k])],
                   MDP.state_names[nxt])] = (p, r)
    assert {(o.state, o.action, o.next_state) for o in est.outcomes} == set(truth)
    for o in est.outcomes:
        p, r = truth[(o.state, o.action, o.next_state)]
        assert o.p_low <= p <= o.p_high, o
        assert o.reward == r
    # the estimated spec compiles and gives the same optimal policy
    mdp = compile_spec(est.spec)
    assert mdp.state_names == MDP.state_names
    pi_est, pi_true = policy_iteration(mdp).policy, policy_iteration(MDP).policy
    assert [mdp.action_names[a] for a in pi_est[:3]] == [MDP.action_names[a] for a in pi_true[:3]]


def test_interval_coverage_of_the_abandonment_probability_across_seeds():
    hits = 0
    for seed in range(100):
        est = estimate_model(generate(150, seed).steps, gamma=0.9)
        o = next(o for o in est.outcomes if o.action == "request_evidence" and o.next_state == "closed")
        hits += o.p_low <= 0.25 <= o.p_high
    assert hits >= 88  # nominal 95 of 100


def test_low_support_is_marked_or_dropped():
    b = uniform_policy(MDP).copy()
    k = MDP.pair_index("evidence_ready", "human_review")
    b[k - 1], b[k] = 0.995, 0.005
    steps = simulate_logs(MDP, b, n_requests=600, start_us=0, rng=np.random.default_rng(2)).steps
    marked = estimate_model(steps, gamma=0.9, min_support=20)
    assert [(s, a) for s, a, _ in marked.low_support] == [("evidence_ready", "human_review")]
    assert marked.spec["never_explore"] == ["evidence_ready:human_review"]
    assert "human_review" in marked.spec["transitions"]["evidence_ready"]
    dropped = estimate_model(steps, gamma=0.9, min_support=20, low_support="drop")
    assert "human_review" not in dropped.spec["transitions"]["evidence_ready"]
    compile_spec(dropped.spec)
    with pytest.raises(ParameterError, match="low_support"):
        estimate_model(steps, gamma=0.9, low_support="hide")


def test_drift_report_finds_the_changed_abandonment_rate_only():
    gen = generate(6000, 3, drift_model=with_abandonment(MDP, 0.5), drift_at=3000)
    s = gen.steps
    first = s.decided_at[s.episode_ptr[:-1]]
    cut = first[3000]
    rep = drift_report(s.select_episodes(first < cut), s.select_episodes(first >= cut))
    assert [(p.state, p.action) for p in rep.drifted] == [("new_request", "request_evidence")]
    changed = rep.drifted[0]
    assert changed.p_before["closed"] == pytest.approx(0.25, abs=0.05)
    assert changed.p_after["closed"] == pytest.approx(0.5, abs=0.05)
    same = generate(6000, 4).steps
    first = same.decided_at[same.episode_ptr[:-1]]
    cut = first[3000]
    assert drift_report(same.select_episodes(first < cut), same.select_episodes(first >= cut)).drifted == ()


def test_empty_log_is_a_clear_error():
    steps = generate(10, 5).steps
    with pytest.raises(DataError, match="no decisions"):
        estimate_model(steps.select_episodes(np.zeros(steps.n_episodes, dtype=bool)), gamma=0.9)
