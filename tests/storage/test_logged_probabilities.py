"""The decision log hands the estimators every action's logged probability (support is judged from
them), on SQLite and PostgreSQL; pending decisions keep their decision times (periods count them)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from accessrl.catalog.lesson import access_review_abandonment
from accessrl.errors import DataError
from accessrl.model.policies import uniform_policy
from accessrl.offline.logged import check_logged_steps
from accessrl.offline.logsim import simulate_logs
from accessrl.storage import DecisionLog
from accessrl.storage.generated import write_generated
from accessrl.storage.times import to_us


def _decision(eid, probs, action, *, episode="r1", step=0, at="2026-01-05T09:00:00Z"):
    return {"event_id": eid, "episode_id": episode, "step_index": step, "requester_id": "u1", "decided_at": at,
            "state": "new_request", "allowed_actions": list(probs), "action": action, "action_probabilities": probs,
            "propensity": probs[action], "policy_id": "p", "policy_version": "1", "exploration": 0.0,
            "mode": "historical"}


def _outcome(eid, at="2026-01-05T10:00:00Z"):
    return {"event_id": eid, "kind": "closed", "occurred_at": at, "next_state": "closed", "reward": 1.0,
            "terminated": True}


def test_loaded_probabilities_are_the_generators(db_url):
    mdp = access_review_abandonment()
    gen = simulate_logs(mdp, uniform_policy(mdp), n_requests=200, start_us=to_us("2026-01-05"),
                        rng=np.random.default_rng(0), epsilon=0.1)
    log = DecisionLog(db_url)
    write_generated(log, gen, mdp)
    steps = log.load_steps(state_names=mdp.state_names, action_names=mdp.action_names).steps
    log.close()
    probs = steps.action_probabilities
    assert probs is not None and probs.shape == (steps.n_steps, len(mdp.action_names))
    want = gen.steps.behavior_table[gen.steps.behavior_index]
    order = np.lexsort((gen.steps.step, gen.steps.episode))  # the store sorts by episode id then step
    assert np.allclose(np.sort(probs, axis=0), np.sort(want[order], axis=0))
    assert np.allclose(probs[np.arange(steps.n_steps), steps.action], steps.propensity)
    assert steps.behavior_table.shape[0] <= mdp.n_states  # one stored distribution per state, not per row


def test_an_action_offered_but_never_taken_is_a_name_of_the_log(db_url):
    log = DecisionLog(db_url)
    probs = {"human_review": 0.999, "fast_track": 0.001}
    log.write([_decision("e1", probs, "human_review"), _decision("e2", probs, "human_review", episode="r2")],
              [_outcome("e1"), _outcome("e2")])
    loaded = log.load_steps()
    log.close()
    steps = loaded.steps
    assert steps.action_names == ("human_review", "fast_track")  # taken first, then offered
    assert np.allclose(steps.action_probabilities, [[0.999, 0.001], [0.999, 0.001]])


def test_pending_decisions_keep_their_times(db_url):
    log = DecisionLog(db_url)
    probs = {"human_review": 1.0}
    log.write([_decision("e1", probs, "human_review"),
               _decision("e2", probs, "human_review", episode="r2", at="2026-01-06T09:00:00Z")], [_outcome("e1")])
    loaded = log.load_steps()
    log.close()
    assert loaded.pending == 1 and loaded.pending_at.tolist() == [to_us("2026-01-06T09:00:00Z")]


def test_analyze_is_a_no_op_on_sqlite(tmp_path):
    log = DecisionLog(str(tmp_path / "a.db"))
    assert log.analyze() is False and log.ensure_statistics() is False
    log.close()


def test_behavior_columns_are_validated():
    mdp = access_review_abandonment()
    steps = simulate_logs(mdp, uniform_policy(mdp), n_requests=20, start_us=0, rng=np.random.default_rng(0)).steps
    check_logged_steps(steps)
    with pytest.raises(DataError, match="come together"):
        check_logged_steps(dataclasses.replace(steps, behavior_index=None))
    with pytest.raises(DataError, match="behavior_index"):
        check_logged_steps(dataclasses.replace(steps, behavior_index=steps.behavior_index + 100))
    bad = steps.behavior_table.copy()
    bad[0, 0] = 1.5
    with pytest.raises(DataError, match="probabilities in"):
        check_logged_steps(dataclasses.replace(steps, behavior_table=bad))
