"""The engineer's view of a decision log, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import json

import numpy as np
import pytest

from accessrl.catalog import access_review_abandonment
from accessrl.errors import DataError
from accessrl.model.policies import uniform_policy
from accessrl.offline.logsim import simulate_logs
from accessrl.storage import DecisionLog
from accessrl.storage.generated import write_generated
from accessrl.storage.times import to_us
from accessrl.storage.writepath import Store, open_engine
from accessrl.studio.engineer import engineer_view


def fill(url: str, n: int = 300) -> None:
    mdp = access_review_abandonment()
    log = simulate_logs(mdp, uniform_policy(mdp), n_requests=n, start_us=to_us("2026-01-05"),
                        rng=np.random.default_rng(4), epsilon=0.1)
    dlog = DecisionLog(url)
    write_generated(dlog, log, mdp)
    dlog.close()
    store = Store(open_engine(url))
    store.deploy({"role": "deployed", "policy_id": "always_review", "policy_version": "v1",
                  "policy": json.dumps({"new_request": "human_review", "evidence_ready": "human_review",
                                        "review_queue": "approve_rotation"}),
                  "model_spec": json.dumps({"gamma": 0.9}), "deployed_at": "2026-01-05T00:00:00+00:00",
                  "reason": "test"})
    store.engine.dispose()


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
