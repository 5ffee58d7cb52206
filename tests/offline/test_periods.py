"""One definition of a period, by decision time, read as of its end with censoring (accessrl.offline.periods)."""

import numpy as np
import pytest

from accessrl.catalog.lesson import access_review_abandonment
from accessrl.errors import ParameterError
from accessrl.model.policies import uniform_policy
from accessrl.offline.estimation import count_transitions
from accessrl.offline.logged import US_PER_HOUR
from accessrl.offline.logsim import LogConfig, simulate_logs
from accessrl.offline.monitoring import model_fit, reference_model
from accessrl.offline.periods import LATE, OBSERVED, OPEN, DecisionPeriod, outcome_status, period_decisions
from accessrl.offline.splits import default_window, temporal_split

H = US_PER_HOUR
MDP = access_review_abandonment()


def test_outcome_status_by_hand():
    # end = 100 h, window 10 h: decided at 95 h -> open; at 80 h with outcome at 85 h -> observed;
    # at 80 h with the outcome at 120 h (after the end) -> late; at 90 h exactly on the edge -> closed
    decided = np.array([95, 80, 80, 90]) * H
    outcome = np.array([96, 85, 120, 99]) * H
    assert outcome_status(decided, outcome, 100 * H, 10 * H).tolist() == [OPEN, OBSERVED, LATE, OBSERVED]


def test_period_is_by_decision_time_and_counts_everything():
    steps = simulate_logs(MDP, uniform_policy(MDP), n_requests=400, start_us=0, rng=np.random.default_rng(0),
                          config=LogConfig(arrivals_per_hour=2.0)).steps
    w = default_window(steps)
    p = DecisionPeriod(50 * H, 150 * H)
    pd = period_decisions(steps, p, as_of=10_000 * H, window=w, pending_at=np.array([60 * H, 149 * H, 151 * H]))
    inside = (steps.decided_at >= 50 * H) & (steps.decided_at < 150 * H)
    assert pd.decided == int(inside.sum()) + 2  # two pending decisions fall in the period, one after it
    assert pd.decided == pd.observed.n_steps + pd.censored_open + pd.censored_late
    assert np.all((pd.observed.decided_at >= 50 * H) & (pd.observed.decided_at <= 150 * H - w))
    assert np.all(pd.observed.outcome_at < 150 * H)
    assert pd.to_json()["by"] == "decision time"
    with pytest.raises(ParameterError, match="start < end"):
        DecisionPeriod(5, 5)


def test_the_split_uses_the_same_rule():
    """temporal_split's knowable training period is period_decisions' observed set at the cutoff."""
    steps = simulate_logs(MDP, uniform_policy(MDP), n_requests=600, start_us=0, rng=np.random.default_rng(1),
                          config=LogConfig(arrivals_per_hour=1.0)).steps
    w = default_window(steps)
    c1, c2 = 300 * H, 450 * H
    split = temporal_split(steps, (c1, c2), prevent=True, outcome_window=w)
    pd = period_decisions(steps, DecisionPeriod(None, c1), as_of=c2, window=w)
    first = steps.decided_at[steps.episode_ptr[:-1]]
    # per decision: the rows train keeps are observed rows of episodes that began before c1 (a prefix each)
    assert set(zip(split.train.decided_at.tolist(), split.train.state.tolist(), strict=True)) <= set(
        zip(pd.observed.decided_at.tolist(), pd.observed.state.tolist(), strict=True))
    assert split.leakage.censored + split.leakage.embargoed > 0 and first.size


def test_a_cut_off_period_shows_no_false_drift_with_censoring():
    """Abandonment is noticed 72 h after the decision, evidence within a day or so.  Reading a
    period as of an end that cuts the log drops the abandonments still to come: the observed
    rate falls and the G-test flags drift that is not there.  Censored by the outcome window,
    the same period fits its reference."""
    steps = simulate_logs(MDP, uniform_policy(MDP), n_requests=9600, start_us=0, rng=np.random.default_rng(2),
                          config=LogConfig(arrivals_per_hour=20.0)).steps
    w = default_window(steps)
    assert 70 * H <= w <= 120 * H
    start, end = 300 * H, 420 * H
    ref_period = period_decisions(steps, DecisionPeriod(None, start), as_of=end, window=w)
    reference = reference_model(ref_period.observed, MDP)
    cur = period_decisions(steps, DecisionPeriod(start, end), as_of=end, window=w)
    assert cur.censored_open > 0 and not model_fit(cur.observed, reference).drifted
    # what dropping did: every decision of the period whose outcome had arrived by the end
    naive = steps.select_rows((steps.decided_at >= start) & (steps.decided_at < end) & (steps.outcome_at < end))
    fit = model_fit(naive, reference)
    assert [(p.state, p.action) for p in fit.drifted] == [("new_request", "request_evidence")]
    c = count_transitions(naive)
    k = next(i for i in range(c.pair_count.size) if (MDP.state_names[c.pair_state[i]],
                                                      MDP.action_names[c.pair_action[i]]) == ("new_request",
                                                                                                  "request_evidence"))
    closed = MDP.state_index("closed")
    p_naive = float(c.out_count[(c.out_pair == k) & (c.out_next == closed)].sum() / c.pair_count[k])
    assert p_naive < 0.2  # the true abandonment probability is 0.25
