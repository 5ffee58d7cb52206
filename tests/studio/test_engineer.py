"""The engineer's view of a decision log, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import pytest

from accessrl.errors import DataError
from accessrl.studio.engineer import engineer_view
from databases import fill_demo_log


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


def test_an_empty_log_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="no decisions logged yet"):
        engineer_view(str(tmp_path / "empty.db"))
