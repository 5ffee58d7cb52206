"""Held-out evaluation: estimator identities, interval coverage across seeds, leakage, no support,
batch learning, and lab 10."""

import numpy as np
import pytest

from accessrl.catalog.lesson import access_review_abandonment
from accessrl.errors import DataError
from accessrl.lesson import run_lab
from accessrl.model.policies import pair_probabilities, uniform_policy
from accessrl.offline.batch import fitted_q_iteration, spibb
from accessrl.offline.logged import LoggedSteps
from accessrl.offline.logsim import simulate_logs
from accessrl.offline.ope import _segment_cumprod, bootstrap_ratio, effective_sample_size, episode_terms, evaluate_policy
from accessrl.offline.splits import temporal_split
from accessrl.planning.exact import policy_evaluation, policy_iteration
from lab_lines import assert_lab_prints

MDP = access_review_abandonment()
GAMMA = MDP.gamma


def dense(mdp, probs):
    pi = np.zeros((mdp.n_states, mdp.n_actions))
    pi[mdp.sa_state, mdp.sa_action] = probs
    return pi


def evidence_route(mdp):
    """request_evidence, then auto_approve: a policy whose return is random (abandonment)."""
    pol = policy_iteration(mdp).policy.copy()
    pol[mdp.state_index("new_request")] = mdp.action_index("request_evidence")
    return pol


def logs(n, seed, epsilon=0.0, behavior=None):
    b = uniform_policy(MDP) if behavior is None else behavior
    return simulate_logs(MDP, b, n_requests=n, start_us=0, rng=np.random.default_rng(seed), epsilon=epsilon)


def test_on_policy_importance_sampling_is_the_plain_mean():
    gen = logs(500, 1)
    target = dense(MDP, gen.behavior)  # evaluate the behaviour policy itself: every ratio is 1
    terms = episode_terms(gen.steps, target, gamma=GAMMA)
    plain = terms.returns.mean()
    x, w = terms.terms["is"]
    assert np.allclose(terms.weight, 1.0)
    assert x.sum() / w.sum() == pytest.approx(plain, rel=1e-12)
    for key in ("wis", "pdis"):
        x, w = terms.terms[key]
        assert x.sum() / w.sum() == pytest.approx(plain, rel=1e-12)


def test_segmented_cumprod_matches_a_loop(rng):
    gen = logs(300, 2)
    ratio = rng.choice([0.0, 0.5, 1.0, 3.0], size=gen.steps.n_steps)
    fast = _segment_cumprod(ratio, gen.steps)
    slow = np.empty_like(ratio)
    ptr = gen.steps.episode_ptr
    for i in range(gen.steps.n_episodes):
        acc = 1.0
        for t in range(ptr[i], ptr[i + 1]):
            acc *= ratio[t]
            slow[t] = acc
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=0)


def test_dr_with_the_true_q_equals_the_truth_on_deterministic_steps():
    # With q = Q^pi exact and a deterministic model, every DR term cancels to V^pi(s0).
    from accessrl.catalog.lesson import access_review

    det = access_review()
    gen = simulate_logs(det, uniform_policy(det), n_requests=200, start_us=0, rng=np.random.default_rng(5))
    pol = policy_iteration(det).policy
    ev = policy_evaluation(det, pol)
    q = det.dense_q(ev.q_values)
    q[~np.isfinite(q)] = 0.0
    terms = episode_terms(gen.steps, dense(det, pair_probabilities(det, pol)), gamma=GAMMA, q_hat=q)
    np.testing.assert_allclose(terms.terms["dr"][0], ev.values[det.start], rtol=1e-12)


def test_bootstrap_over_distinct_values_matches_resampling(rng):
    x = rng.choice([-54.0, 59.0, 54.0], size=400)
    w = np.ones_like(x)
    fast = bootstrap_ratio(x, w, rng=np.random.default_rng(1), n_boot=4000)
    idx = np.random.default_rng(2).integers(0, x.size, size=(4000, x.size))
    slow_lo, slow_hi = np.quantile(x[idx].mean(axis=1), [0.025, 0.975])
    assert fast.value == pytest.approx(x.mean())
    assert fast.low == pytest.approx(slow_lo, abs=0.8) and fast.high == pytest.approx(slow_hi, abs=0.8)


def test_effective_sample_size():
    assert effective_sample_size(np.ones(10)) == pytest.approx(10.0)
    assert effective_sample_size(np.array([1.0, 0.0, 0.0])) == pytest.approx(1.0)


def test_intervals_cover_the_true_value_at_about_the_nominal_rate():
    """100 seeds x 300 held-out episodes: each estimator's 95% interval covers V^pi(s0) about 95% of the time.

    The logging policy explores around the candidate (epsilon = 0.5), as a cautious deployment would."""
    pol = evidence_route(MDP)
    target = dense(MDP, pair_probabilities(MDP, pol))
    truth = policy_evaluation(MDP, pol).values[MDP.start]  # (0.75)(59) + (0.25)(-54) = 30.75
    assert truth == pytest.approx(30.75)
    hits = {k: 0 for k in ("model_based", "is", "wis", "pdis", "dr")}
    seeds = range(100)
    for seed in seeds:
        train = logs(300, 1000 + seed, epsilon=0.5, behavior=pol).steps
        test = logs(300, seed, epsilon=0.5, behavior=pol).steps
        rep = evaluate_policy(test, target, gamma=GAMMA, rng=np.random.default_rng(seed), train=train, n_boot=1000)
        assert rep.supported
        for e in rep.estimates:
            iv = e.estimate
            hits[e.name] += iv.low - 1e-9 <= truth <= iv.high + 1e-9
    rates = {k: v / len(seeds) for k, v in hits.items()}
    # nominal 95%: with 100 seeds, fewer than 88 hits has probability < 0.5% for a calibrated interval
    assert all(r >= 0.88 for r in rates.values()), rates
    assert all(r <= 1.0 for r in rates.values())


def test_a_policy_absent_from_the_logs_has_no_support():
    optimal = policy_iteration(MDP).policy  # behaviour: human_review at the start, never auto_approve
    gen = logs(300, 4, behavior=optimal)
    always_auto = optimal.copy()
    always_auto[MDP.state_index("new_request")] = MDP.action_index("auto_approve")
    rep = evaluate_policy(gen.steps, dense(MDP, pair_probabilities(MDP, always_auto)), gamma=GAMMA,
                          rng=np.random.default_rng(0), train=gen.steps, name="always_auto")
    assert not rep.supported and rep.estimates == () and rep.severe_rate is None
    assert rep.reason == "no support: the behavior never gave 'auto_approve' a positive probability in state 'new_request'"
    assert rep.support.basis == "propensities" and rep.gap == ("new_request", "auto_approve")


def test_severe_errors_are_reported_apart_from_the_mean():
    gen = logs(600, 6)
    always_auto = policy_iteration(MDP).policy.copy()
    always_auto[MDP.state_index("new_request")] = MDP.action_index("auto_approve")
    rep = evaluate_policy(gen.steps, dense(MDP, pair_probabilities(MDP, always_auto)), gamma=GAMMA,
                          rng=np.random.default_rng(0), n_boot=200)
    assert rep.severe_rate.value == pytest.approx(1.0)  # every auto approval at the start returns -120
    assert rep.severe_observed == rep.matching_episodes > 0


def _tiny_log(requester, decided, outcome, features=None, episode=None):
    n = len(decided)
    ep = np.arange(n) if episode is None else np.asarray(episode)
    step = np.zeros(n, dtype=np.int64)
    if episode is not None:
        for i in range(1, n):
            step[i] = step[i - 1] + 1 if ep[i] == ep[i - 1] else 0
    z = np.zeros(n, dtype=np.int64)
    dec = np.asarray(decided, dtype=np.int64)
    return LoggedSteps(("s", "end"), ("a",), episode=ep, step=step, requester=np.asarray(requester),
                       state=z, action=z, propensity=np.ones(n), reward=np.ones(n), next_state=np.ones(n, dtype=np.int64),
                       terminated=np.ones(n, dtype=bool), truncated=np.zeros(n, dtype=bool), decided_at=dec,
                       outcome_at=np.asarray(outcome, dtype=np.int64),
                       features_at=dec if features is None else np.asarray(features, dtype=np.int64))


def test_leakage_checks_find_and_prevent_each_kind():
    # cutoffs at 100 and 200; episodes 0-2 train, 3-4 valid, 5-7 test
    log = _tiny_log(
        requester=[0, 1, 2, 3, 4, 0, 5, 6, 7],
        decided=[10, 20, 30, 110, 120, 210, 220, 230, 150],
        outcome=[11, 150, 31, 111, 121, 211, 221, 231, 260],
        features=[10, 20, 30, 110, 130, 210, 220, 230, 150],
        episode=[0, 1, 2, 3, 4, 5, 6, 7, 2],
    )
    # rows must be sorted by episode: rebuild in order
    order = np.lexsort((log.step, log.episode))
    cols = {k: getattr(log, k)[order] for k in ("episode", "step", "requester", "state", "action", "propensity",
                                                "reward", "next_state", "terminated", "truncated", "decided_at",
                                                "outcome_at", "features_at")}
    log = LoggedSteps(log.state_names, log.action_names, **cols)
    split = temporal_split(log, (100, 200))
    lk = split.leakage
    assert lk.requester_overlap == 1  # requester 0 in train (episode 0) and test (episode 5)
    assert lk.late_outcomes == 1  # episode 1's outcome at 150 is after the train cutoff
    assert lk.straddling == 1  # episode 2 decides at 30 and at 150
    assert lk.late_features == 1  # episode 4's features recorded at 130 > decision at 120
    assert (split.train.n_episodes, split.valid.n_episodes, split.test.n_episodes) == (3, 2, 3)
    clean = temporal_split(log, (100, 200), prevent=True, outcome_window=45)
    # train keeps the rows decided by 100 - 45 whose outcome came before 100: episode 0, and
    # episode 2's first decision (cut, truncated there); episode 1's outcome at 150 is censored
    assert clean.leakage.outcome_window == 45 and clean.leakage.censored == 1 and clean.leakage.embargoed == 1
    assert (clean.train.n_episodes, clean.valid.n_episodes, clean.test.n_episodes) == (2, 1, 2)
    assert clean.train.n_steps == 2 and clean.train.truncated.tolist() == [False, True]
    assert clean.leakage.prevented
    with pytest.raises(DataError, match=r"split 'train'.*outcome window .* closed before the cutoff"):
        temporal_split(log, (100, 200), prevent=True)  # the delays' 99% quantile (110) exceeds the training period


def test_an_empty_test_period_is_an_error_naming_the_split():
    log = _tiny_log(requester=[0, 1], decided=[10, 150], outcome=[11, 151])
    with pytest.raises(DataError, match=r"split 'test': no episodes decided between 200 and the end"):
        temporal_split(log, (100, 200))


def test_fitted_q_iteration_recovers_the_optimal_policy_and_values():
    gen = logs(4000, 7, epsilon=1.0)
    fqi = fitted_q_iteration(gen.steps, gamma=GAMMA)
    assert np.array_equal(fqi.policy[MDP.decision_states], policy_iteration(MDP).policy[MDP.decision_states])
    q_true = MDP.dense_q(policy_iteration(MDP).q_values)
    logged = np.isfinite(fqi.q)
    np.testing.assert_allclose(fqi.q[logged], q_true[logged], atol=3.0)


def test_spibb_reduces_to_behaviour_and_to_policy_iteration():
    gen = logs(2000, 8)
    never = spibb(gen.steps, gamma=GAMMA, n_wedge=10**9)
    np.testing.assert_allclose(never.pi, never.behavior)
    free = spibb(gen.steps, gamma=GAMMA, n_wedge=0)
    fqi = fitted_q_iteration(gen.steps, gamma=GAMMA)
    assert np.array_equal(free.pi, fqi.target())


def test_spibb_keeps_behaviour_on_rarely_logged_pairs():
    # make auto_approve at evidence_ready rare: its pair stays at the behaviour probability
    b = uniform_policy(MDP).copy()
    k = MDP.pair_index("evidence_ready", "auto_approve")
    b[k], b[k + 1] = 0.01, 0.99
    gen = logs(1500, 9, behavior=b)
    count = int(np.sum((gen.steps.state == 1) & (gen.steps.action == MDP.action_index("auto_approve"))))
    res = spibb(gen.steps, gamma=GAMMA, n_wedge=count + 1)
    s, a = MDP.state_index("evidence_ready"), MDP.action_index("auto_approve")
    assert res.bootstrapped[s, a]
    assert res.pi[s, a] == pytest.approx(res.behavior[s, a])


def test_lab_held_out_prints_the_lesson_lines():
    # seed/lab_outputs.txt, [held-out]
    expected = [
        "always_auto   mean=-25.0 severe_errors=2",
        "always_review mean= 54.0 severe_errors=0",
        "risk_aware    mean= 62.0 severe_errors=0",
    ]
    assert_lab_prints("held-out", expected)
    assert run_lab("held-out") == expected


def test_model_optimum_agrees_with_fitted_q_iteration():
    """Two routes to the estimated model's optimum: planning on the fitted spec, and FQI's backups."""
    from accessrl.offline.batch import model_optimum

    gen = logs(3000, 11, epsilon=1.0)
    pi = model_optimum(gen.steps, gamma=GAMMA)
    np.testing.assert_array_equal(pi, fitted_q_iteration(gen.steps, gamma=GAMMA).target())


def test_pessimism_distrusts_an_action_tried_a_few_times():
    from accessrl.offline.batch import pessimistic_q_iteration

    gen = logs(3000, 5, epsilon=1.0)
    s = gen.steps
    names = s.state_names, s.action_names
    ev, auto = names[0].index("evidence_ready"), names[1].index("auto_approve")
    # keep only three evidence_ready:auto_approve decisions: a tiny sample
    rows = (s.state == ev) & (s.action == auto)
    keep_ep = np.ones(s.n_episodes, dtype=bool)
    keep_ep[s.episode_of_row[rows][3:]] = False
    few = s.select_episodes(keep_ep)
    fqi, low = fitted_q_iteration(few, gamma=GAMMA), pessimistic_q_iteration(few, gamma=GAMMA)
    assert int(((few.state == ev) & (few.action == auto)).sum()) == 3
    assert fqi.policy[ev] == auto  # the point estimate trusts the three approvals (+70 each, truly best)
    assert low.policy[ev] != auto  # the lower bound does not
    assert np.all(low.q[np.isfinite(low.q)] <= fqi.q[np.isfinite(low.q)] + 1e-9)  # a lower bound everywhere
    many = pessimistic_q_iteration(s, gamma=GAMMA)  # with plenty of data pessimism costs little
    np.testing.assert_allclose(many.q[ev, auto], fitted_q_iteration(s, gamma=GAMMA).q[ev, auto], rtol=0.05)
