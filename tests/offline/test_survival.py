"""Kaplan-Meier, life-table hazards and stage visits (accessrl.offline.survival)."""

from __future__ import annotations

import numpy as np
import pytest

from accessrl.offline.survival import bucket_hazard, kaplan_meier, stage_visits

# 6-MP group of the leukaemia remission trial (Freireich et al. 1963, Blood 21, 699-716), weeks; 0 = censored.
# Known answers: Klein & Moeschberger, "Survival Analysis" (2nd ed. 2003), Table 4.1A (S and Greenwood SE).
T = [6, 6, 6, 7, 10, 13, 16, 22, 23, 6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35]
E = [1] * 9 + [0] * 12
S_KM = [0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448]
SE_KM = [0.0764, 0.0869, 0.0963, 0.1068, 0.1141, 0.1282, 0.1346]


def test_kaplan_meier_matches_the_textbook():
    km = kaplan_meier(T, E)
    assert km.times.tolist() == [6, 7, 10, 13, 16, 22, 23]
    assert km.at_risk.tolist() == [21, 17, 15, 12, 11, 7, 6]
    np.testing.assert_allclose(km.survival, S_KM, atol=6e-4)
    np.testing.assert_allclose(km.std_error, SE_KM, atol=6e-4)
    assert np.all(km.low <= km.survival) and np.all(km.survival <= km.high)
    assert np.all((km.low >= 0) & (km.high <= 1))


def test_without_censoring_kaplan_meier_is_the_empirical_survival(rng):
    t = rng.exponential(5.0, size=300).round(1)
    km = kaplan_meier(t, np.ones_like(t))
    np.testing.assert_allclose(km.survival, [(t > x).mean() for x in km.times])


def test_bucket_hazard_by_hand():
    # 10 visits: 2 abandon in [0, 7), 1 censored in [0, 7); 7 enter [7, 14): 3 abandon, 2 censored; 2 wait longer
    t = [1, 2, 3, 8, 9, 10, 11, 12, 20, 30]
    e = [1, 1, 0, 1, 1, 1, 0, 0, 0, 0]
    h = bucket_hazard(t, e, [7, 14])
    assert [(b.entering, b.events, b.censored) for b in h] == [(10, 2, 1), (7, 3, 2), (2, 0, 2)]
    assert h[0].hazard == pytest.approx(2 / 9.5) and h[1].hazard == pytest.approx(3 / 6)
    assert h[0].low < h[0].hazard < h[0].high


def test_bucket_hazard_reduces_to_kaplan_meier_without_censoring(rng):
    t = rng.uniform(0, 30, size=500)
    h = bucket_hazard(t, np.ones_like(t), [7, 14])
    km = kaplan_meier(t, np.ones_like(t))
    s7 = km.survival[km.times < 7][-1]
    assert 1 - h[0].hazard == pytest.approx(s7)


def test_stage_visits_censor_what_moved_on_ended_or_waits():
    day = 86_400_000_000
    obs = [
        ("a", "offer", 0, 2 * day, False, False),        # a decision while waiting on the offer
        ("a", "offer", 0, 30 * day, True, True),          # ... then abandonment on day 30: event
        ("b", "offer", 0, 3 * day, False, False),
        ("b", "returned", 5 * day, 6 * day, False, True),  # moved on at day 5: offer visit censored at 5
        ("c", "offer", 10 * day, 11 * day, False, False),  # still waiting at the log's end (day 40)
    ]
    v = stage_visits(obs, 40 * day)
    assert v["offer"].durations.tolist() == [30.0, 5.0, 30.0]
    assert v["offer"].events.tolist() == [1.0, 0.0, 0.0]
    assert v["returned"].durations.tolist() == [1.0] and v["returned"].events.tolist() == [0.0]
