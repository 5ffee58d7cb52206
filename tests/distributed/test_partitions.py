"""Off-policy evaluation over a partitioned log equals one process reading the whole log."""

import numpy as np
import pytest

from accessrl.catalog.lesson import access_review_abandonment
from accessrl.distributed.partitions import LogFile, TimeRange, evaluate_partitions, export_partitions
from accessrl.errors import DataError
from accessrl.model.policies import uniform_policy
from accessrl.offline.estimation import estimate_model
from accessrl.offline.logsim import simulate_logs
from accessrl.offline.ope import effective_sample_size, episode_terms, target_matrix
from accessrl.storage.generated import write_generated
from accessrl.storage.store import DecisionLog
from accessrl.storage.times import us_to_iso

MDP = access_review_abandonment()
REVIEW_FIRST = {"new_request": "human_review", "evidence_ready": "auto_approve", "review_queue": "approve_rotation"}
EVIDENCE_FIRST = {"new_request": "request_evidence", "evidence_ready": "auto_approve", "review_queue": "approve_rotation"}
DAY = 86_400_000_000
START = 1_767_571_200_000_000  # 2026-01-05T00:00:00Z


@pytest.fixture(scope="module")
def logdb(tmp_path_factory):
    path = tmp_path_factory.mktemp("parts") / "logs.db"
    log = simulate_logs(MDP, uniform_policy(MDP), n_requests=1_500, start_us=START, rng=np.random.default_rng(3),
                        epsilon=0.2)
    dl = DecisionLog(f"sqlite:///{path}")
    write_generated(dl, log, MDP)
    dl.close()
    return f"sqlite:///{path}"


def _targets():
    names = (MDP.state_names, MDP.action_names)
    return {"review_first": target_matrix(*names, REVIEW_FIRST), "evidence_first": target_matrix(*names, EVIDENCE_FIRST)}


def _whole(url, lo, hi):
    """The one-process reference: every episode whose first decision is in [lo, hi)."""
    dl = DecisionLog(url)
    loaded = dl.load_steps(since=us_to_iso(lo), state_names=MDP.state_names, action_names=MDP.action_names)
    dl.close()
    s = loaded.steps
    first = s.episode_ptr[:-1]
    return s.select_episodes((s.step[first] == 0) & (s.decided_at[first] < hi))


def _bounds(days):
    return [START + d * DAY for d in days]


def test_time_ranges_give_the_one_process_estimates(logdb):
    edges = _bounds([0, 3, 6, 9, 40])
    parts = [TimeRange(logdb, us_to_iso(a), us_to_iso(b)) for a, b in zip(edges, edges[1:], strict=False)]
    got = evaluate_partitions(parts, _targets(), state_names=MDP.state_names, action_names=MDP.action_names,
                              gamma=MDP.gamma, seed=5, n_boot=300)
    whole = _whole(logdb, edges[0], edges[-1])
    assert got.episodes == whole.n_episodes and got.decisions == whole.n_steps
    for cand, (name, target) in zip(got.candidates, _targets().items(), strict=True):
        t = episode_terms(whole, target, gamma=MDP.gamma)
        assert cand.supported and cand.policy == name
        for key in ("is", "wis", "pdis"):
            x, w = t.terms[key]
            assert cand.estimates[key].value == pytest.approx(float(x.sum() / w.sum()), rel=1e-12)
            assert cand.estimates[key].low <= cand.estimates[key].value <= cand.estimates[key].high
        assert cand.effective_sample_size == pytest.approx(effective_sample_size(t.weight), rel=1e-12)
    ref = estimate_model(whole, gamma=MDP.gamma)
    assert [(o.state, o.action, o.next_state, o.count, o.p) for o in got.model.outcomes] == \
        [(o.state, o.action, o.next_state, o.count, pytest.approx(o.p, rel=1e-12)) for o in ref.outcomes]
    # The truth is known: evidence_first is worth Q(new_request, request_evidence) = 0.75 (-4 + 0.9 * 70)
    # + 0.25 (-54) = 30.75 at p = 0.25 (the lesson's numbers); its episodes are random, its interval proper.
    wis = got.candidates[1].estimates["wis"]
    assert wis.low < 30.75 < wis.high


def test_files_of_whole_episodes_equal_the_time_ranges(logdb, tmp_path):
    edges = _bounds([0, 5, 40])
    files = export_partitions(logdb, tmp_path, [us_to_iso(e) for e in edges])
    assert [p.path.endswith(".parquet") for p in files] == [True, True]
    ranges = [TimeRange(logdb, us_to_iso(a), us_to_iso(b)) for a, b in zip(edges, edges[1:], strict=False)]
    kw = {"state_names": MDP.state_names, "action_names": MDP.action_names, "gamma": MDP.gamma, "seed": 2,
          "n_boot": 250}
    a, b = evaluate_partitions(files, _targets(), **kw), evaluate_partitions(ranges, _targets(), **kw)
    assert a.episodes == b.episodes
    assert [c.estimates for c in a.candidates] == [c.estimates for c in b.candidates]


def test_an_episode_in_two_partitions_is_refused(logdb, tmp_path):
    files = export_partitions(logdb, tmp_path, [us_to_iso(e) for e in _bounds([0, 40])])
    with pytest.raises(DataError, match="whole episodes"):
        evaluate_partitions([files[0], LogFile(files[0].path)], _targets(), state_names=MDP.state_names,
                            action_names=MDP.action_names, gamma=MDP.gamma, n_boot=10)


def test_partitioned_logs_on_a_cluster_equal_local(logdb, ray_cluster, tmp_path):
    edges = _bounds([0, 4, 8, 40])
    files = export_partitions(logdb, tmp_path, [us_to_iso(e) for e in edges])
    kw = {"state_names": MDP.state_names, "action_names": MDP.action_names, "gamma": MDP.gamma, "seed": 9,
          "n_boot": 600}
    local = evaluate_partitions(files, _targets(), **kw)
    remote = evaluate_partitions(files, _targets(), backend=ray_cluster, **kw)
    assert remote.backend["nodes"] == 2
    assert [(c.estimates, c.effective_sample_size, c.severe_rate) for c in remote.candidates] == \
        [(c.estimates, c.effective_sample_size, c.severe_rate) for c in local.candidates]
    assert remote.model.spec == local.model.spec
