"""The drift test of live outcomes against a model (accessrl.offline.monitoring)."""

import itertools

import numpy as np
import pytest
from scipy import stats

from accessrl.catalog.lesson import access_review_abandonment
from accessrl.errors import ParameterError
from accessrl.model.policies import uniform_policy
from accessrl.offline.logsim import simulate_logs, with_abandonment
from accessrl.offline.monitoring import g_statistic, holm_adjust, model_fit

MDP = access_review_abandonment()


def logs(mdp, n, seed):
    return simulate_logs(mdp, uniform_policy(MDP), n_requests=n, start_us=0, rng=np.random.default_rng(seed)).steps


def test_g_statistic_is_scipys_log_likelihood_ratio():
    obs, p = np.array([30.0, 12.0, 8.0]), np.array([0.5, 0.3, 0.2])
    want = stats.power_divergence(obs, obs.sum() * p, lambda_="log-likelihood").statistic
    assert g_statistic(obs, p) == pytest.approx(want, rel=1e-12)
    assert g_statistic(np.array([5.0, 0.0]), np.array([0.5, 0.5])) == pytest.approx(
        stats.power_divergence([5.0, 0.0], [2.5, 2.5], lambda_="log-likelihood").statistic)
    assert g_statistic(np.array([3.0, 1.0]), np.array([1.0, 0.0])) == float("inf")  # an impossible outcome


def reference_holm(p):
    """Holm (1979) by its definition: reject H_(i) while p_(i) <= alpha / (m - i + 1); the adjusted
    p-value is the smallest alpha at which H_(i) is rejected."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def test_holm_adjustment_matches_its_definition():
    rng = np.random.default_rng(0)
    for m in (1, 2, 5, 12):
        p = rng.random(m) ** 3
        np.testing.assert_allclose(holm_adjust(p), reference_holm(list(p)), rtol=0, atol=1e-15)
    assert holm_adjust(np.array([0.01, 0.04, 0.03])).tolist() == pytest.approx([0.03, 0.06, 0.06])


def test_no_false_alarm_beyond_the_family_wise_level():
    alarms = [bool(model_fit(logs(MDP, 600, seed), MDP, alpha=0.05).drifted) for seed in range(60)]
    # family-wise level 0.05 over 60 seeds: 9 or more alarms has probability 0.01 (binomial)
    assert sum(alarms) <= 8


def test_abandonment_drift_is_found_on_the_pair_it_touches():
    fit = model_fit(logs(with_abandonment(MDP, 0.5), 600, 1), MDP, alpha=0.01)
    assert {(p.state, p.action) for p in fit.drifted} == {("new_request", "request_evidence")}
    pair = fit.drifted[0]
    assert pair.expected == {"evidence_ready": 0.75, "closed": 0.25}
    assert pair.observed["closed"] == pytest.approx(0.5, abs=0.1)
    assert fit.max_statistic == pair.statistic and fit.min_adjusted_p == pair.adjusted_p < 0.01


def test_a_transition_the_model_calls_impossible_is_drift():
    other = with_abandonment(MDP, 0.25)
    steps = logs(other, 400, 2)
    # declare the abandonment impossible: a model where request_evidence always yields evidence
    sure = with_abandonment(MDP, 0.0)
    fit = model_fit(steps, sure, alpha=0.01)
    pair = next(p for p in fit.pairs if (p.state, p.action) == ("new_request", "request_evidence"))
    assert pair.statistic == float("inf") and pair.drifted and pair.p_value == 0.0


def test_untested_pairs_and_bad_arguments():
    fit = model_fit(logs(MDP, 30, 3), MDP, min_count=10_000)
    assert fit.n_tested == 0 and not fit.drifted and fit.max_statistic == 0.0 and fit.min_adjusted_p == 1.0
    for bad in itertools.chain(({"alpha": 0.0}, {"alpha": 1.5}), ({"min_count": 0},)):
        with pytest.raises(ParameterError):
            model_fit(logs(MDP, 30, 3), MDP, **bad)
