"""Policy gradients: softmax, score function, REINFORCE and its baselines, exact gradient."""

import numpy as np
import pytest

from accessrl.catalog.lesson import access_review, access_review_abandonment
from accessrl.errors import ParameterError
from accessrl.learning.policy_gradient import (
    SHORT_CORRIDOR_OPTIMUM,
    bandit_gradient,
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
from accessrl.model.policies import pair_probabilities
from accessrl.planning.exact import policy_evaluation, policy_iteration


def _value(policy, theta):
    mdp = policy.mdp
    return policy_evaluation(mdp, policy.probabilities(theta)).values[mdp.start]


def test_softmax_is_stable_and_matches_the_naive_formula():
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(softmax(x), np.exp(x) / np.exp(x).sum())
    big = softmax(np.array([1000.0, 999.0, -np.inf]))
    assert np.all(np.isfinite(big)) and big[2] == 0.0
    np.testing.assert_allclose(big[:2], softmax(np.array([1.0, 0.0])))
    with pytest.raises(ParameterError):
        softmax(np.array([-np.inf, -np.inf]))


def test_segment_softmax_normalises_each_state():
    mdp = access_review_abandonment()
    p = segment_softmax(mdp, np.random.default_rng(0).normal(size=mdp.n_pairs) * 50)
    pair_probabilities(mdp, p)  # raises unless every state sums to 1


@pytest.mark.parametrize("kind", ["tabular", "linear"])
def test_score_matches_finite_differences_of_log_pi(kind):
    mdp = access_review_abandonment()
    rng = np.random.default_rng(1)
    pol = tabular_policy(mdp) if kind == "tabular" else linear_policy(mdp, rng.normal(size=(mdp.n_pairs, 3)))
    theta = rng.normal(size=pol.n_params)
    pairs = np.arange(mdp.n_pairs)
    scores = pol.scores(pol.probabilities(theta), pairs)
    eps = 1e-6
    for j in range(pol.n_params):
        d = np.zeros(pol.n_params)
        d[j] = eps
        fd = (np.log(pol.probabilities(theta + d)) - np.log(pol.probabilities(theta - d))) / (2 * eps)
        np.testing.assert_allclose(scores[:, j], fd, atol=1e-6)


def test_bandit_score_is_the_lesson_formula():
    p = softmax(np.zeros(3))
    np.testing.assert_allclose(score_function(p, np.arange(3)), np.eye(3) - p)


@pytest.mark.parametrize("model", ["abandonment", "corridor"])
def test_exact_gradient_matches_finite_differences_of_the_value(model):
    if model == "abandonment":
        pol = tabular_policy(access_review_abandonment())
        theta = np.random.default_rng(2).normal(size=pol.n_params)
    else:
        mdp = short_corridor()
        pol = linear_policy(mdp, short_corridor_features(mdp))
        theta = np.array([0.3, -0.2])
    ex = exact_policy_gradient(pol, theta)
    eps = 1e-6
    fd = np.array([(_value(pol, theta + eps * e) - _value(pol, theta - eps * e)) / (2 * eps)
                   for e in np.eye(pol.n_params)])
    np.testing.assert_allclose(ex.gradient, fd, atol=1e-5)
    assert ex.value == pytest.approx(_value(pol, theta))


@pytest.fixture(scope="module", params=["abandonment", "corridor"])
def batch(request):
    if request.param == "abandonment":
        mdp = access_review_abandonment()
        pol = tabular_policy(mdp)
        theta = np.zeros(pol.n_params)  # the uniform policy
        n, cut = 6000, 0.9
    else:
        mdp = short_corridor()
        pol = linear_policy(mdp, short_corridor_features(mdp))
        theta = np.array([np.log(0.3 / 0.7), 0.0])  # right with probability 0.3
        n, cut = 3000, 0.6
    eps = sample_episodes(mdp, pol.probabilities(theta), n, np.random.default_rng(3))
    return request.param, pol, theta, eps, cut


def test_sampled_gradient_mean_matches_exact_gradient(batch):
    _, pol, theta, eps, _ = batch
    exact = exact_policy_gradient(pol, theta).gradient
    v_pi = policy_evaluation(pol.mdp, pol.probabilities(theta)).values
    for baseline in ("none", "loo", "value"):
        est = reinforce_gradient(pol, theta, eps, baseline=baseline, values=v_pi)
        live = est.std_error > 0
        z = (est.mean[live] - exact[live]) / est.std_error[live]
        assert np.max(np.abs(z)) < 4.0, (baseline, z)
        np.testing.assert_array_equal(est.mean[~live], exact[~live])  # single-action states: both 0


def test_baseline_lowers_variance_and_keeps_the_mean(batch):
    # The abandonment model's variance comes mostly from the spread between actions
    # (-120 vs 54), which no state baseline removes; the corridor's from the level of
    # its all-negative returns, which a baseline removes.
    name, pol, theta, eps, cut = batch
    v_pi = policy_evaluation(pol.mdp, pol.probabilities(theta)).values
    none = reinforce_gradient(pol, theta, eps, baseline="none")
    loo = reinforce_gradient(pol, theta, eps, baseline="loo")
    value = reinforce_gradient(pol, theta, eps, baseline="value", values=v_pi)
    print(f"\n{name}: variance of one episode's gradient: none={none.variance:.1f} "
          f"loo={loo.variance:.1f} value(V^pi)={value.variance:.1f}")
    assert loo.variance < cut * none.variance
    assert value.variance < cut * none.variance
    # Same expectation: the paired difference is within its standard error.
    for other in (loo, value):
        diff = other.samples - none.samples
        se = diff.std(axis=0, ddof=1) / np.sqrt(len(eps))
        live = se > 0
        assert np.max(np.abs(diff.mean(axis=0)[live] / se[live])) < 4.0


def test_batch_mean_baseline_shrinks_the_expectation_by_n_minus_1_over_n():
    # Including G_i in its own baseline: E[(G_i - mean) score_i] = (N-1)/N E[G_i score_i].
    rng = np.random.default_rng(4)
    q = np.array([-120.0, 30.75, 54.0])
    p = softmax(np.zeros(3))
    exact = p * (q - p @ q)
    n, reps = 4, 3000
    acts = rng.choice(3, size=(reps, n), p=p)
    means = np.array([bandit_gradient(np.zeros(3), a, q[a], baseline="mean").mean for a in acts])
    loos = np.array([bandit_gradient(np.zeros(3), a, q[a], baseline="loo").mean for a in acts])
    for est, target in ((means, exact * (n - 1) / n), (loos, exact)):
        z = (est.mean(axis=0) - target) / (est.std(axis=0, ddof=1) / np.sqrt(reps))
        assert np.max(np.abs(z)) < 4.0


def test_reinforce_converges_to_the_optimal_policy_on_the_abandonment_model():
    mdp = access_review_abandonment()
    pol = tabular_policy(mdp)
    res = reinforce(pol, np.random.default_rng(5), iterations=300, batch_size=16, step_size=0.01, baseline="loo")
    best = policy_iteration(mdp)
    np.testing.assert_array_equal(most_probable_actions(mdp, res.probabilities), best.policy)
    assert res.probabilities[mdp.pair_index("new_request", "human_review")] > 0.95
    # 54 = V*(new_request), the lesson's risk-aware value.
    assert _value(pol, res.theta) > 54.0 - 2.0


@pytest.mark.parametrize("baseline", ["loo", "value"])
def test_reinforce_on_short_corridor_moves_toward_2_minus_sqrt2(baseline):
    mdp = short_corridor()
    pol = linear_policy(mdp, short_corridor_features(mdp))
    p0 = 0.1
    theta0 = np.array([np.log(p0 / (1 - p0)), 0.0])
    res = reinforce(pol, np.random.default_rng(6), iterations=300, batch_size=8, step_size=0.002,
                    baseline=baseline, theta0=theta0)
    p_right = res.probabilities[mdp.pair_index("s1", "right")]
    assert abs(p_right - SHORT_CORRIDOR_OPTIMUM) < 0.1 < abs(p0 - SHORT_CORRIDOR_OPTIMUM)
    # Sutton & Barto (2018), Example 13.1: epsilon-greedy (eps = 0.1) policies are worth
    # about -44 (mostly right) and -82 (mostly left); the best stochastic one about -11.6.
    eps_greedy = [_value(pol, np.array([np.log(p / (1 - p)), 0.0])) for p in (0.95, 0.05)]
    np.testing.assert_allclose(eps_greedy, [-44.2, -82.1], atol=0.1)
    assert _value(pol, res.theta) > max(eps_greedy) + 25


def test_short_corridor_optimum_is_2_minus_sqrt2():
    # Sutton & Barto (2018), Example 13.1: optimal right-probability ~0.59, value ~ -11.6.
    mdp = short_corridor()
    pol = linear_policy(mdp, short_corridor_features(mdp))
    from scipy.optimize import minimize_scalar

    best = minimize_scalar(lambda p: -_value(pol, np.array([np.log(p / (1 - p)), 0.0])),
                           bounds=(0.01, 0.99), method="bounded", options={"xatol": 1e-7})
    assert best.x == pytest.approx(SHORT_CORRIDOR_OPTIMUM, abs=1e-4)
    assert -best.fun == pytest.approx(-(6 + 4 * np.sqrt(2)), abs=1e-6)
    p = SHORT_CORRIDOR_OPTIMUM
    g = exact_policy_gradient(pol, np.array([np.log(p / (1 - p)), 0.0])).gradient
    np.testing.assert_allclose(g, 0.0, atol=1e-9)


def test_deterministic_steps_draw_nothing():
    mdp = access_review()
    probs = pair_probabilities(mdp, policy_iteration(mdp).policy)
    rng = np.random.default_rng(7)
    state = rng.bit_generator.state
    ep = sample_episode(mdp, probs, rng)
    assert rng.bit_generator.state == state
    assert ep.rewards.tolist() == [-4.0, 70.0]  # the lesson: request evidence, then approve


def test_stochastic_step_draws_one_uniform_in_declared_order():
    mdp = access_review_abandonment()
    probs = pair_probabilities(mdp, np.array([mdp.action_index("request_evidence"),
                                              mdp.action_index("auto_approve"),
                                              mdp.action_index("approve_rotation"), -1]))
    for seed in range(20):
        u = np.random.default_rng(seed).random()
        ep = sample_episode(mdp, probs, np.random.default_rng(seed))
        # declared order: evidence_ready (p = 0.75) first, then abandonment (0.25)
        assert ep.rewards.tolist() == ([-4.0, 70.0] if u < 0.75 else [-54.0])


def test_truncation_is_marked():
    mdp = short_corridor()
    pol = linear_policy(mdp, short_corridor_features(mdp))
    ep = sample_episode(mdp, pol.probabilities(np.array([-30.0, 0.0])), np.random.default_rng(0), max_steps=5)
    assert ep.truncated and ep.rewards.size == 5


def test_bad_input_is_one_clear_error():
    mdp = access_review_abandonment()
    pol = tabular_policy(mdp)
    rng = np.random.default_rng(0)
    with pytest.raises(ParameterError, match="baseline"):
        reinforce(pol, rng, baseline="median")
    with pytest.raises(ParameterError, match="theta"):
        pol.probabilities(np.zeros(2))
    with pytest.raises(ParameterError, match="features"):
        linear_policy(mdp, np.zeros((2, 2)))
    with pytest.raises(ParameterError, match="batch_size"):
        reinforce(pol, rng, batch_size=0)
    with pytest.raises(ParameterError, match="values"):
        reinforce_gradient(pol, np.zeros(pol.n_params), sample_episodes(mdp, pol.probabilities(np.zeros(6)), 2, rng),
                           baseline="value")


def test_learn_reinforce_cli_finds_the_optimal_start_action():
    import json

    from typer.testing import CliRunner

    from accessrl.cli import app

    res = CliRunner().invoke(app, ["learn", "catalog:access-review-abandonment", "--algorithm", "reinforce",
                                   "-n", "3200", "--seed", "1", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["policy"]["new_request"] == "human_review"  # the lesson's risk-aware action
    assert out["baseline"] == "loo" and out["learned_value"] > 50


@pytest.mark.parametrize("baseline", ["none", "mean", "loo", "value"])
def test_reinforce_cli_runs_every_baseline(baseline):
    from typer.testing import CliRunner

    from accessrl.cli import app

    res = CliRunner().invoke(app, ["reinforce", "catalog:access-review-abandonment", "--baseline", baseline,
                                   "-n", "320"])
    assert res.exit_code == 0, res.output
    assert "learned policy" in res.output and "exact value" in res.output


@pytest.mark.parametrize("args, needle", [
    (["--baseline", "median"], "--baseline"),
    (["--step-size", "0"], "--step-size"),
    (["--batch-size", "0"], "--batch-size"),
    (["--episodes", "0"], "--episodes"),
])
def test_reinforce_cli_bad_input_is_one_line(args, needle):
    from typer.testing import CliRunner

    from accessrl.cli import app

    res = CliRunner().invoke(app, ["reinforce", "catalog:access-review-abandonment", *args])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], res.output
