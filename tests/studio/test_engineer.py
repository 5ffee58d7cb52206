"""The engineer's view of a decision log, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import re

import numpy as np
import pytest

from accessrl.errors import DataError
from accessrl.offline.processmap import process_map
from accessrl.offline.survival import DEFAULT_BOUNDS_DAYS, bucket_hazard, kaplan_meier, stage_visits
from accessrl.storage import DecisionLog
from accessrl.storage.eventimport import stage_observations
from accessrl.studio.engineer import KIND_MEANINGS, engineer_view, human_time
from databases import fill_demo_log, import_bpic_excerpt

HUMAN = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$")


def fill(url: str, n: int = 300) -> None:
    fill_demo_log(url, requests=n)


def test_engineer_view_counts_estimates_and_history(db_url):
    fill(db_url)
    v = engineer_view(db_url)
    total = sum(sum(d[a] for a in v["actions"]) for d in v["per_day"])
    assert total == v["decisions"] == v["counts"]["decision_snapshots"]
    assert [d["day"] for d in v["per_day"]] == sorted(d["day"] for d in v["per_day"])
    kinds = {o["kind"]: o["count"] for o in v["outcomes"]}
    assert "abandoned" in kinds and sum(kinds.values()) == v["counts"]["outcome_events"]
    # The estimated abandonment probability's interval holds the true 0.25 (the log's model).
    (ab,) = [o for o in v["estimated"] if o["action"] == "request_evidence" and o["next_state"] == "closed"]
    assert ab["p_low"] <= 0.25 <= ab["p_high"]
    assert [d["policy_id"] for d in v["deployments"]] == ["always_review"]
    names = [r["policy"] for r in v["heldout"]["rows"]]
    assert names == ["deployed always_review", "optimal under the estimated model"]
    review = v["heldout"]["rows"][0]["estimate"]
    assert review is not None and review[1] <= 54.0 <= review[2]  # always_review's true value is 54


def test_times_are_shown_to_the_minute_and_every_kind_is_explained(db_url):
    fill(db_url)
    v = engineer_view(db_url)
    assert v["deployments"][0]["deployed_at_text"] == "2026-01-05 00:00 UTC"  # fill_demo_log's deployed_at
    when = re.search(r"episodes from (.*?);", v["heldout"]["note"])
    assert when is not None and HUMAN.match(when.group(1)), v["heldout"]["note"]
    meanings = {o["kind"]: o["meaning"] for o in v["outcomes"]}
    assert meanings["transition"] == KIND_MEANINGS["transition"] and all(meanings.values())
    # a generated log has no stages: the abandonment curve says what it needs instead of guessing
    assert v["abandonment"]["stages"] == [] and "logs import" in v["abandonment"]["note"]
    assert human_time(1_772_373_900_123_456) == "2026-03-01 14:05 UTC"  # 2026-03-01T14:05:00.123456Z


def test_an_imported_log_of_five_months(db_url):
    import_bpic_excerpt(db_url)
    v = engineer_view(db_url)
    days = [d["day"] for d in v["per_day"]]
    # every day of the span on the axis, quiet days included (the excerpt: 2011-09-30 to 2012-03-14)
    assert (days[0], days[-1], len(days)) == ("2011-09-30", "2012-03-14", 167)
    assert v["deployments"] == []
    log = DecisionLog(db_url)
    try:
        steps = log.load_steps().steps
        assert v["process_map"] == process_map(steps).to_json()
        assert v["map_min_count"] == max(1, steps.n_steps // 200)
        obs, last = stage_observations(log, ["abandonment"])
    finally:
        log.close()
    visits = stage_visits(obs, last)
    shown = {s["stage"]: s for s in v["abandonment"]["stages"]}
    assert set(shown) == {k for k, s in visits.items() if s.events.sum() > 0} and "send_offer" in shown
    for name, st in shown.items():
        km = kaplan_meier(visits[name].durations, visits[name].events)
        np.testing.assert_allclose(st["kaplan_meier"]["survival"], km.survival)
        np.testing.assert_allclose(st["kaplan_meier"]["low"], km.low)
        hz = bucket_hazard(visits[name].durations, visits[name].events, DEFAULT_BOUNDS_DAYS)
        assert [h["hazard"] for h in st["hazard"]] == [h.hazard for h in hz]
    # The offers expire: cancellations after an offer pile up in days 28-35 (issue 23's BPIC reading).
    offer = {h["start"]: h["hazard"] for h in shown["send_offer"]["hazard"]}
    assert offer[28.0] > 0.5 > offer[0.0]


def test_an_empty_log_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="no decisions logged yet"):
        engineer_view(str(tmp_path / "empty.db"))
