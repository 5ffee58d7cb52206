"""The synthetic log generator: determinism, its time model, true propensities, drift, records."""

import numpy as np
import pytest

from accessrl.catalog.lesson import access_review, access_review_abandonment
from accessrl.errors import ParameterError
from accessrl.model.policies import pair_probabilities, uniform_policy
from accessrl.offline.logged import US_PER_HOUR, check_logged_steps
from accessrl.offline.logsim import LogConfig, exploring_policy, simulate_logs, with_abandonment
from accessrl.planning.exact import policy_iteration
from accessrl.storage.generated import generated_records
from accessrl.storage.records import decision_row, outcome_row
from accessrl.storage.times import to_us

MDP = access_review_abandonment()
T0 = to_us("2026-01-05")


def gen(n=2000, seed=0, **kw):
    kw.setdefault("epsilon", 0.2)
    return simulate_logs(MDP, policy_iteration(MDP).policy, n_requests=n, start_us=T0,
                         rng=np.random.default_rng(seed), **kw)


def test_same_seed_same_log_and_no_clock():
    a, b, c = gen(seed=1), gen(seed=1), gen(seed=2)
    for col in ("state", "action", "decided_at", "outcome_at", "requester", "reward"):
        assert np.array_equal(getattr(a.steps, col), getattr(b.steps, col))
    assert not np.array_equal(a.steps.decided_at, c.steps.decided_at)
    shifted = simulate_logs(MDP, policy_iteration(MDP).policy, n_requests=2000, start_us=T0 + 10**9,
                            rng=np.random.default_rng(1), epsilon=0.2)
    assert np.array_equal(shifted.steps.decided_at - a.steps.decided_at, np.full(a.steps.n_steps, 10**9))


def test_time_model():
    s = gen().steps
    check_logged_steps(s)
    assert s.decided_at.min() > T0
    assert np.all(s.outcome_at >= s.decided_at)
    same_ep = s.episode[1:] == s.episode[:-1]
    assert np.array_equal(s.decided_at[1:][same_ep], s.outcome_at[:-1][same_ep])  # next decision when the outcome lands
    ab = np.array(s.kind_names)[s.kind] == "abandoned"
    assert np.all(s.outcome_at[ab] - s.decided_at[ab] == 72 * US_PER_HOUR)
    first = s.decided_at[s.episode_ptr[:-1]]
    rate = (len(first) - 1) / ((first[-1] - first[0]) / US_PER_HOUR)
    assert rate == pytest.approx(2.0, rel=0.1)  # LogConfig.arrivals_per_hour
    ev = np.array(s.kind_names)[s.kind] == "evidence_received"
    assert np.mean((s.outcome_at - s.decided_at)[ev]) / US_PER_HOUR == pytest.approx(24.0, rel=0.15)


def test_returning_requesters():
    s = gen(n=5000).steps
    req = s.requester[s.episode_ptr[:-1]]
    returning = 1 - np.unique(req).size / req.size
    assert returning == pytest.approx(0.3, abs=0.03)
    assert np.all(req[1:] <= np.maximum.accumulate(req)[:-1] + 1)  # new ids are handed out in order


def test_true_propensities_are_logged():
    g = gen(n=6000, epsilon=0.3)
    b = exploring_policy(MDP, policy_iteration(MDP).policy, 0.3)
    s = g.steps
    for k in range(MDP.n_pairs):
        st, a = MDP.sa_state[k], MDP.sa_action[k]
        rows = (s.state == st) & (s.action == a)
        if b[k] > 0:
            assert np.all(s.propensity[rows] == b[k])
        freq = rows.sum() / max((s.state == st).sum(), 1)
        assert freq == pytest.approx(b[k], abs=0.03)


def test_exploration_skips_never_explore_pairs():
    spec_mdp = access_review()
    unsafe = np.zeros(spec_mdp.n_pairs, dtype=bool)
    unsafe[spec_mdp.pair_index("new_request", "auto_approve")] = True
    from dataclasses import replace

    guarded = replace(spec_mdp, unsafe=unsafe)
    b = exploring_policy(guarded, pair_probabilities(guarded, policy_iteration(guarded).policy), 1.0)
    assert b[guarded.pair_index("new_request", "auto_approve")] == 0.0
    with pytest.raises(ParameterError, match="epsilon"):
        exploring_policy(guarded, uniform_policy(guarded), 1.5)


def test_drift_changes_the_abandonment_rate_part_way():
    g = gen(n=8000, epsilon=1.0, drift_model=with_abandonment(MDP, 0.6), drift_at=4000)
    s = g.steps
    asked = s.action == MDP.action_index("request_evidence")
    left = s.next_state == MDP.state_index("closed")
    early, late = asked & (s.episode < 4000), asked & (s.episode >= 4000)
    assert left[early].mean() == pytest.approx(0.25, abs=0.04)
    assert left[late].mean() == pytest.approx(0.6, abs=0.04)
    assert with_abandonment(MDP, 0.6).out_prob.tolist() == pytest.approx([1.0, 0.4, 0.6, 1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ParameterError, match="no outcome with event 'abandoned'"):
        with_abandonment(access_review(), 0.3)


def test_truncation():
    s = gen(n=300, config=LogConfig(max_steps=1)).steps
    assert np.all(s.step == 0)
    assert np.array_equal(s.truncated, ~s.terminated)


def test_records_validate_and_name_outcomes():
    g = gen(n=200)
    recs = list(generated_records(g, MDP))
    kinds = {r["kind"] for r in recs if r["record"] == "outcome"}
    assert kinds <= {"closed", "evidence_received", "abandoned", "review_outcome", "transition"}
    for r in recs:
        (decision_row if r["record"] == "decision" else outcome_row)(r)
    ev = [r for r in recs if r.get("kind") == "evidence_received"]
    assert ev and all(r["evidence_received_at"] == r["occurred_at"] for r in ev)


def test_bad_arguments():
    with pytest.raises(ParameterError, match="n_requests"):
        gen(n=0)
    with pytest.raises(ParameterError, match="start date"):
        to_us("next tuesday", "start date")
    with pytest.raises(ParameterError, match="drift_at"):
        gen(n=10, drift_model=MDP, drift_at=20)
