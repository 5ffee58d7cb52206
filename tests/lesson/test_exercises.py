"""The exercise graders: right answers pass, wrong ones fail with the reason, bad input is feedback."""

from __future__ import annotations

import pytest

from accessrl.catalog.components import OUTCOME_AWARE, SPEED_ONLY
from accessrl.errors import ParameterError
from accessrl.lesson.exercises import STARTERS, grade


@pytest.mark.parametrize("answer", ["5/113", "0.0442", "4.42%", " 0.044248 "])
def test_breakeven_right(answer):
    g = grade(1, answer)
    assert g.passed and "5/113" in g.feedback[0]


@pytest.mark.parametrize("answer, why", [
    ("0.25", "the lesson's abandonment rate"),  # lesson.txt: p = 0.25 is the modelled rate, not the breakeven
    ("0.01", "crossing is at a larger p"),
    ("0.2", "crossing is at a smaller p"),
    ("1.5", "not a probability"),
    ("half", "expected a probability"),
])
def test_breakeven_wrong_says_why(answer, why):
    g = grade(1, answer)
    assert not g.passed and any(why in line for line in g.feedback), g.feedback


def _yaml(weights):
    return "".join(f"{k}: {v}\n" for k, v in weights.items())


def test_deny_design_documented_weights_pass():
    assert grade(2, _yaml(OUTCOME_AWARE)).passed


def test_deny_design_speed_only_fails_for_the_shortcut():
    g = grade(2, _yaml(SPEED_ONLY))
    assert not g.passed
    assert any("policy_violation has weight 0" in f for f in g.feedback)
    assert any("flags your design" in f for f in g.feedback)


def test_deny_design_that_rewards_denials_fails_for_unfair_denials():
    # A tiny unfair-denial penalty and a heavy cost per day waited: denying at once becomes the best
    # "score" even though the penalty is negative; the audit's rates catch it.
    weights = dict(OUTCOME_AWARE, unfair_denial=-1, delay_days=-30)
    g = grade(2, _yaml(weights))
    assert not g.passed
    assert any("denies 700 legitimate requests per 1,000" in f for f in g.feedback), g.feedback
    assert any("chooses deny_request" in f for f in g.feedback)


@pytest.mark.parametrize("text, why", [("speed: 1\n", "unknown component 'speed'"), ("[1, 2]", "expected a mapping"),
                                       ("user_outcome: x\n", "must be a number")])
def test_deny_design_bad_input_is_feedback(text, why):
    g = grade(2, text)
    assert not g.passed and why in g.feedback[0]


def test_log_schema_right_and_wrong():
    right = ("decision_snapshot: [event_id, episode_id, decided_at, state, features, action, propensity]\n"
             "outcome_events: [event_id, occurred_at, evidence_received_at, kind, reward, next_state]\n")
    assert grade(3, right).passed
    g = grade(3, STARTERS[3])
    assert not g.passed and any("review_outcome" in f and "leak" in f for f in g.feedback)
    g = grade(3, "decision_snapshot: [event_id, decided_at, state, action]\noutcome_events: [event_id, occurred_at]\n")
    assert any("propensity" in f for f in g.feedback) and any("evidence_received_at" in f for f in g.feedback)


def test_every_starter_fails_so_the_learner_sees_feedback():
    assert not any(grade(n, STARTERS[n]).passed for n in STARTERS)


def test_unknown_exercise():
    with pytest.raises(ParameterError, match="expected 1, 2 or 3"):
        grade(4, "x")
