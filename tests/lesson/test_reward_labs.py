"""Lab 8 (reward-design), exercise 2 (deny_request), and the `audit` / `constrain` commands."""

import json

import pytest
from typer.testing import CliRunner

from accessrl.cli import app
from accessrl.lesson import EXERCISES, LABS
from cli_checks import one_error_line
from lab_lines import assert_lab_prints

runner = CliRunner()

# The lesson's printed output for lab 8 (seed/lab_outputs.txt, [reward-design]).
EXPECTED_LAB8 = [
    "speed_only    chooses auto_approve  reward= 100",
    "outcome_aware chooses human_review  reward=  54",
]


def test_lab8_prints_the_lesson_lines():
    assert "reward-design" in LABS
    assert_lab_prints("reward-design", EXPECTED_LAB8)


def test_lab8_follows_the_model():
    # honesty check: the lab is computed, so a different abandonment rate changes outcome_aware's score
    from accessrl.catalog.components import access_review_components
    from accessrl.lesson.reward_labs import reward_design_audit

    aware = reward_design_audit(access_review_components(p_abandon=0.0)).report("outcome_aware")
    assert aware.start_action == "request_evidence" and aware.start_q["request_evidence"] == pytest.approx(59.0)


def test_exercise2_shows_both_designs_and_every_term():
    lines = EXERCISES[2]()
    text = "\n".join(lines)
    for component in ("user_outcome", "policy_violation", "abuse_risk", "unfair_denial", "delay_days",
                      "reviewer_minutes", "resolved"):
        assert f"    {component}" in text
    assert "neither shortcut is optimal" in text
    assert any(x.startswith("  audit speed_only") and "FLAGGED" in x for x in lines)
    assert any(x.startswith("  audit outcome_aware") and "not flagged" in x for x in lines)
    assert ("outcome_aware auto_approve=-120.00 request_evidence=30.75 human_review=54.00 deny_request=-105.00 "
            "-> human_review") in text
    assert ("speed_only    auto_approve=100.00 request_evidence=45.00 human_review=15.00 deny_request=100.00 "
            "-> auto_approve") in text
    assert "rare high-harm outcome: illegitimate_access after new_request:auto_approve, 300 per 1,000" in text


def test_lesson_exercises_command_includes_exercise_2():
    r = runner.invoke(app, ["lesson", "exercises"])
    assert r.exit_code == 0, r.output
    assert "exercise 2: add deny_request" in r.stdout


def test_audit_json(root):
    r = runner.invoke(app, ["audit", str(root / "examples/access_review_deny.yaml"),
                            "--designs", str(root / "examples/designs.yaml"), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    reps = {x["design"]: x for x in out["reports"]}
    assert reps["speed_only"]["flagged"] and not reps["outcome_aware"]["flagged"]
    assert reps["speed_only"]["violations_per_1000"] == pytest.approx(1000)
    assert reps["outcome_aware"]["returns"]["outcome_aware"] == pytest.approx(54)
    assert reps["speed_within_policy"]["constrained"]
    assert reps["speed_only"]["policy"]["new_request"] == "auto_approve"
    assert {f["event"] for f in reps["speed_only"]["rare_failures"]} == {"approved", "illegitimate_access"}


def test_audit_table_and_plot(root, tmp_path):
    png = tmp_path / "audit.png"
    r = runner.invoke(app, ["audit", "catalog:access-review-components",
                            "--designs", str(root / "examples/designs.yaml"), "--plot", str(png)])
    assert r.exit_code == 0, r.output
    assert "wins for the wrong reason" in r.stdout and "FLAGGED" in r.stdout
    assert png.exists() and png.stat().st_size > 1000


def write(tmp_path, text, name="designs.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_audit_unknown_component(tmp_path):
    d = write(tmp_path, "designs:\n  fast:\n    weights: {speed: 1}\n")
    line = one_error_line(runner.invoke(app, ["audit", "catalog:access-review-deny", "--designs", d]))
    assert "design 'fast', weights, component 'speed': unknown component; expected one of" in line


def test_audit_weight_not_a_number(tmp_path):
    d = write(tmp_path, "designs:\n  fast:\n    weights: {delay_days: quick}\n")
    line = one_error_line(runner.invoke(app, ["audit", "catalog:access-review-deny", "--designs", d]))
    assert "component 'delay_days': expected a number, got the string 'quick'" in line


def test_audit_missing_designs_file(tmp_path):
    line = one_error_line(runner.invoke(app, ["audit", "catalog:access-review-deny", "--designs", str(tmp_path / "no.yaml")]))
    assert "no such designs file" in line


def test_constrain_json(root):
    r = runner.invoke(app, ["constrain", str(root / "examples/access_review_deny.yaml"),
                            "--weight", "resolved=100", "--weight", "delay_days=-10",
                            "--limit", "policy_violation<=0", "--limit", "unfair_denial<=0.05", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["start_policy"]["deny_request"] == pytest.approx(0.05 / 0.7)
    assert [c["shadow_price"] for c in out["constraints"]] == pytest.approx([55, 55 / 0.7])
    assert out["randomised_states"] == ["new_request"]


def test_constrain_with_a_design_from_the_file(root):
    r = runner.invoke(app, ["constrain", "catalog:access-review-deny", "--designs", str(root / "examples/designs.yaml"),
                            "--design", "speed_within_policy", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["start_policy"] == {"request_evidence": 1.0}


def test_constrain_table():
    r = runner.invoke(app, ["constrain", "catalog:access-review-deny", "--limit", "reviewer_minutes<=10"])
    assert r.exit_code == 0, r.output
    assert "shadow price" in r.stdout and "binding" in r.stdout


def test_constrain_infeasible_is_one_line():
    # without violations or unfair denials, the quickest route (request_evidence) waits 2.25 days
    r = runner.invoke(app, ["constrain", "catalog:access-review-deny", "--limit", "delay_days<=1",
                            "--limit", "policy_violation<=0", "--limit", "unfair_denial<=0"])
    line = one_error_line(r)
    assert "limit delay_days<=1: infeasible; the tightest achievable value given the other limits is 2.25" in line


def test_constrain_bad_limit_and_weight_are_usage_errors():
    line = one_error_line(runner.invoke(app, ["constrain", "catalog:access-review-deny", "--limit", "delay_days<one"]), code=2)
    assert "--limit" in line
    line = one_error_line(runner.invoke(app, ["constrain", "catalog:access-review-deny", "--weight", "delay_days=slow",
                                              "--limit", "policy_violation<=0"]), code=2)
    assert "--weight delay_days: expected a number, got 'slow'" in line
    line = one_error_line(runner.invoke(app, ["constrain", "catalog:access-review-deny"]), code=2)
    assert "expected at least one limit" in line


def test_constrain_unknown_limit_component():
    line = one_error_line(runner.invoke(app, ["constrain", "catalog:access-review-deny", "--limit", "speed<=1"]))
    assert "limit 'speed': unknown component" in line


def test_audit_simulate_option(root):
    r = runner.invoke(app, ["audit", "catalog:access-review-deny", "--designs", str(root / "examples/designs.yaml"),
                            "--simulate", "500", "--seed", "1", "--json"])
    assert r.exit_code == 0, r.output
    sims = {x["design"]: x["simulated"] for x in json.loads(r.stdout)["reports"]}
    assert sims["speed_only"]["episodes"] == 500 and sims["speed_only"]["violations_per_1000"] == 1000
    line = one_error_line(runner.invoke(app, ["audit", "catalog:access-review-deny", "--designs",
                                              str(root / "examples/designs.yaml"), "--simulate", "-1"]), code=2)
    assert "--simulate" in line
