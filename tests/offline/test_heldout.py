"""The held-out orchestration shared by `evaluate-policy` and `promote` (accessrl.offline.heldout)."""

import numpy as np
import pytest

from accessrl.catalog.lesson import access_review_abandonment
from accessrl.errors import ParameterError
from accessrl.model.policies import uniform_policy
from accessrl.offline import (
    Estimate,
    Selection,
    choose_candidate,
    evaluate_heldout,
    heldout_split,
    learn_candidates,
    review,
)
from accessrl.offline.logsim import LogConfig, simulate_logs
from accessrl.offline.ope import evaluate_policy, target_matrix
from accessrl.offline.splits import default_cutoffs, temporal_split

MDP = access_review_abandonment()
REVIEW_FIRST = {"new_request": "human_review", "evidence_ready": "auto_approve", "review_queue": "approve_rotation"}
RECKLESS = {"new_request": "auto_approve", "evidence_ready": "auto_approve", "review_queue": "approve_rotation"}


@pytest.fixture(scope="module")
def steps():
    # one request an hour: the log (62 days) is long beside its outcome delays (abandonment: 72 h)
    # 1,500 requests: a deterministic candidate follows 1 in 6 of the uniform behaviour's episodes,
    # about 50 of the 300 test episodes (the evidence review asks for 30)
    return simulate_logs(MDP, uniform_policy(MDP), n_requests=1500, start_us=0, rng=np.random.default_rng(4),
                         epsilon=0.2, config=LogConfig(arrivals_per_hour=1.0)).steps


def _pi(steps, mapping, name="policy"):
    return target_matrix(steps.state_names, steps.action_names, mapping, source=name)


def test_split_defaults_to_the_quantile_cutoffs(steps):
    split = heldout_split(steps)
    assert split.cutoffs == default_cutoffs(steps)
    c1, c2 = default_cutoffs(steps)
    moved = heldout_split(steps, train_end=c1 - 1, prevent_leakage=True)
    assert moved.cutoffs == (c1 - 1, c2) and moved.leakage.prevented
    direct = temporal_split(steps, (c1 - 1, c2), prevent=True)
    assert moved.test.n_episodes == direct.test.n_episodes


def test_heldout_numbers_are_evaluate_policys(steps):
    split = heldout_split(steps, prevent_leakage=True)
    cands = [("review_first", _pi(steps, REVIEW_FIRST)), ("reckless", _pi(steps, RECKLESS))]
    ev = evaluate_heldout(split, cands, gamma=MDP.gamma, rng=np.random.default_rng(7), n_boot=200)
    rng = np.random.default_rng(7)
    expected = [evaluate_policy(split.test, pi, gamma=MDP.gamma, rng=rng, train=split.train, name=n, n_boot=200)
                for n, pi in cands]
    assert ev.selection is None and ev.period == "test" and ev.held is split.test
    assert [r.policy for r in ev.reports] == ["review_first", "reckless"]
    for got, want in zip(ev.reports, expected, strict=True):
        assert got == want
    good, bad = ev.estimates()
    assert good is not None and bad is not None
    assert good.severe_errors == 0 and bad.severe_errors > 0
    assert bad.value < good.low
    up, down = review(ev.reports[0], ev.reports[1]), review(ev.reports[1], ev.reports[0])
    assert up.promote and up.codes == () and up.reasons[0].startswith("lower bound")
    assert not down.promote and {"severe_errors", "lower_bound_not_above_incumbent"} <= set(down.codes)


def test_names_need_not_be_unique(steps):
    split = heldout_split(steps)
    pi = _pi(steps, REVIEW_FIRST)
    ev = evaluate_heldout(split, [("p", pi), ("p", pi)], gamma=MDP.gamma, rng=np.random.default_rng(0),
                          period="valid", n_boot=100)
    assert len(ev.reports) == 2 and ev.held is split.valid
    assert ev.reports[0].get("wis").value == ev.reports[1].get("wis").value


def test_learned_candidate_chosen_on_validation_and_scored_last(steps):
    split = heldout_split(steps)
    learned = learn_candidates(split.train, ("spibb", "fqi"), gamma=MDP.gamma, n_wedge=5)
    assert list(learned) == ["fqi", "spibb"]  # LEARNERS order
    sel = choose_candidate(split, learned, gamma=MDP.gamma, rng=np.random.default_rng(1), n_boot=100)
    assert isinstance(sel, Selection) and set(sel.scores) == set(learned)
    trusted = {a.policy: a.trusted for a in sel.assessments}
    assert all((sel.scores[k] is None) == (not trusted[k]) for k in learned)
    assert sel.chosen is not None and sel.scores[sel.chosen] == max(v for v in sel.scores.values() if v is not None)
    assert sel.note.endswith(f"passed the review: {sel.chosen}")
    assert [r.policy for r in sel.reports] == ["fqi", "spibb"]
    assert sel.to_json() == {"chosen": sel.chosen, "estimator": "wis", "criterion": "lower_bound", "period": "valid",
                             "scores": dict(sel.scores), "refused": {}}
    ev = evaluate_heldout(split, [("review_first", _pi(steps, REVIEW_FIRST))], gamma=MDP.gamma,
                          rng=np.random.default_rng(1), learners=("fqi", "spibb"), n_wedge=5, n_boot=100)
    assert ev.selection == sel  # the same rng order: selection first, then the held-out scores
    assert [r.policy for r in ev.reports] == ["review_first", "fqi", "spibb"]  # every learned one is scored
    assert set(ev.learned) == {"fqi", "spibb"}


def test_unsupported_candidates(steps):
    split = heldout_split(steps)
    nothing = np.zeros((len(steps.state_names), len(steps.action_names)))
    ev = evaluate_heldout(split, [("empty", nothing)], gamma=MDP.gamma, rng=np.random.default_rng(0), n_boot=50)
    assert not ev.reports[0].supported and Estimate.from_report(ev.reports[0]) is None
    sel = choose_candidate(split, {"empty": nothing, "good": _pi(steps, REVIEW_FIRST)}, gamma=MDP.gamma,
                           rng=np.random.default_rng(0), n_boot=50)
    assert sel.scores["empty"] is None and sel.chosen == "good"
    assert sel.to_json()["refused"] == {"empty": ["candidate_unsupported"]}


def test_bad_arguments(steps):
    split = heldout_split(steps)
    with pytest.raises(ParameterError, match="period"):
        evaluate_heldout(split, [], gamma=MDP.gamma, rng=np.random.default_rng(0), period="train")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="learners"):
        learn_candidates(split.train, ("dqn",), gamma=MDP.gamma)
    with pytest.raises(ParameterError, match="at least one"):
        choose_candidate(split, {}, gamma=MDP.gamma, rng=np.random.default_rng(0))
