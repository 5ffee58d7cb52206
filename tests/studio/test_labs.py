"""The studio's lab computations: the lesson's numbers (lab_outputs.txt) by default, and each
control's effect checked against a second route through the library."""

from __future__ import annotations

import numpy as np
import pytest

from accessrl.catalog import access_review_abandonment
from accessrl.errors import ParameterError
from accessrl.lesson import run_lab
from accessrl.model.returns import discounted_return
from accessrl.planning import policy_iteration
from accessrl.studio import labs
from lab_lines import assert_same_lines


def test_returns_match_the_lab_and_follow_gamma():
    data = labs.returns_lab()
    assert_same_lines([r["line"] for r in data["routes"]], run_lab("returns"))
    assert data["best"] == "request_evidence"
    data = labs.returns_lab({"a": [1, 2, 3]}, gamma=0.5)
    assert data["routes"][0]["return"] == pytest.approx(1 + 0.5 * 2 + 0.25 * 3)
    assert data["routes"][0]["return"] == pytest.approx(discounted_return([1, 2, 3], 0.5))


@pytest.mark.parametrize("bad", [{"gamma": 2}, {"gamma": "x"}, {"sequences": {"a": ["x"]}}, {"sequences": {"a": []}}])
def test_returns_refuse_bad_controls_in_one_line(bad):
    with pytest.raises(ParameterError) as info:
        labs.returns_lab(**bad)
    assert "\n" not in str(info.value)


def test_bellman_backup_is_the_lesson_lab():
    data = labs.bellman_backup_lab()
    assert_same_lines(data["lines"], run_lab("bellman-backup"))
    chosen = {e["action"] for e in data["diagram"]["edges"] if e["chosen"] and e["source"] == "new_request"}
    assert chosen == {"request_evidence"}


def test_value_iteration_sweeps_are_the_lesson_lines_and_q_comes_from_the_previous_sweep():
    data = labs.value_iteration_lab()
    lines = [s["line"] for s in data["sweeps"][1:]]
    # lab_outputs.txt [value-iteration]: the three sweep lines.
    assert_same_lines(lines, run_lab("value-iteration")[:3])
    assert data["sweeps"][0]["values"]["new_request"] == 0.0
    # Sweep 1's Q uses V_0 = 0: Q(new_request, request_evidence) = -4; sweep 2's uses V_1: -4 + 0.9 x 70 = 59.
    assert data["sweeps"][1]["q"]["new_request"]["request_evidence"] == pytest.approx(-4.0)
    assert data["sweeps"][2]["q"]["new_request"]["request_evidence"] == pytest.approx(59.0)
    for s in data["sweeps"][1:]:
        for state, qs in s["q"].items():
            assert s["values"][state] == pytest.approx(max(qs.values()))
            assert qs[s["policy"][state]] == pytest.approx(max(qs.values()))


def test_abandonment_flips_at_5_over_113():
    below, above = labs.abandonment_lab(5 / 113 - 1e-3), labs.abandonment_lab(5 / 113 + 1e-3)
    assert below["action"] == "request_evidence" and above["action"] == "human_review"
    assert below["breakevens"][0]["fraction"] == "5/113"
    # The line 59 - 113p (lesson.txt, exercise 1's answer) at every grid point.
    data = labs.abandonment_lab(0.25)
    assert np.allclose(data["curves"]["request_evidence"], 59 - 113 * np.array(data["grid"]))
    assert data["q"]["request_evidence"] == pytest.approx(30.75)
    chosen = [e for e in data["diagram"]["edges"] if e["chosen"] and e["source"] == "new_request"]
    assert {e["action"] for e in chosen} == {"human_review"}


def test_monte_carlo_is_the_lesson_lab_and_its_interval_covers_the_exact_value():
    data = labs.monte_carlo_lab()
    assert_same_lines([r["line"] for r in data["rows"]] + [f"abandoned evidence routes = {data['abandoned']}"],
                      run_lab("monte-carlo"))
    for r in data["rows"]:
        assert r["ci95"][0] <= r["exact"] <= r["ci95"][1]
        assert sum(b["count"] for b in r["histogram"]) == data["episodes"]


@pytest.mark.parametrize("seed", [3, 11])
def test_monte_carlo_forced_start_policy_is_first_action(seed):
    """The lab forces the first action through the policy (the start is never revisited); the
    simulator's own first_action gives the same draws and so the same returns."""
    from accessrl.simulation import simulate

    mdp = access_review_abandonment()
    best = policy_iteration(mdp).policy
    rng = np.random.default_rng(seed)
    means = [simulate(mdp, best, 500, rng=rng, first_action=a, record=False).stats.mean
             for a in ("request_evidence", "human_review")]
    data = labs.monte_carlo_lab(episodes=500, seed=seed)
    assert [r["mean"] for r in data["rows"]] == means


def test_q_learning_seed_13_is_the_lesson_lab_and_the_curves_end_at_q():
    data = labs.q_learning_lab()
    assert_same_lines(data["lines"], run_lab("q-learning"))
    for a, curve in data["curves"].items():
        assert curve[-1] == pytest.approx(data["q"]["new_request"][a])
    assert data["episodes"][-1] == 20_000 and len(data["episodes"]) == 100
    star = policy_iteration(access_review_abandonment()).q_values
    assert data["q_star"]["new_request"]["request_evidence"] == pytest.approx(star[1])


def test_exploration_reproduces_both_rows():
    rows = [labs.exploration_lab(eps)["line"] for eps in (0.0, 0.1)]
    assert_same_lines(rows, run_lab("exploration"))


def test_reward_design_is_the_lesson_lab_and_your_design_is_audited():
    data = labs.reward_design_lab()
    assert_same_lines([r["line"] for r in data["reports"]], run_lab("reward-design"))
    mine = labs.reward_design_lab({"resolved": 100, "delay_days": -10, "policy_violation": -1000})["reports"][-1]
    assert mine["design"] == "yours" and mine["start_action"] != "auto_approve" and mine["violations_per_1000"] == 0
    with pytest.raises(ParameterError, match="unknown component 'speed'"):
        labs.reward_design_lab({"speed": 1})


def test_policy_gradient_is_the_lesson_lab_and_the_exact_gradient_is_the_derivative():
    data = labs.policy_gradient_lab()
    assert_same_lines(data["lines"], run_lab("policy-gradient"))
    # The exact gradient against a central finite difference of J(theta) = sum softmax(theta) * Q.
    q = np.array(data["returns"])

    def j(theta):
        p = np.exp(theta - theta.max())
        return float(p @ q / p.sum())

    theta, h = np.zeros(3), 1e-6
    numeric = [(j(theta + h * e) - j(theta - h * e)) / (2 * h) for e in np.eye(3)]
    assert np.allclose(data["history"][0]["exact"], numeric, atol=1e-5)
    several = labs.policy_gradient_lab(steps=5)
    assert several["history"][1]["before"] == pytest.approx(several["history"][0]["after"])
    assert several["final"][2] > several["history"][0]["after"][2]


def test_held_out_keeps_the_lesson_table_and_checks_leakage():
    data = labs.held_out_lab_data(requests=600, seed=2)
    assert_same_lines(data["lesson"], run_lab("held-out"))
    assert data["leakage"]["prevented"] is True
    truth = {r["policy"]: r["true"] for r in data["rows"]}
    assert truth["always_auto"] == pytest.approx(-120.0) and truth["always_review"] == pytest.approx(54.0)
    kept = labs.held_out_lab_data(requests=600, seed=2, prevent=False)
    assert kept["leakage"]["prevented"] is False
    assert kept["episodes"]["test"] >= data["episodes"]["test"]
