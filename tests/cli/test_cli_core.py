"""In-process CLI tests for solve, evaluate, sweep and lesson."""

import json

import pytest
from typer.testing import CliRunner

from accessrl.cli import app

runner = CliRunner()


def run_json(*args):
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.mark.parametrize("method", ["auto", "value-iteration", "policy-iteration", "modified-policy-iteration"])
def test_solve_json_shape(root, method):
    out = run_json("solve", str(root / "examples/access_review_abandonment.yaml"), "--method", method, "--json")
    assert set(out) >= {"values", "policy", "q_values", "iterations", "method", "residual"}
    assert out["values"] == pytest.approx({"new_request": 54, "evidence_ready": 70, "review_queue": 80, "closed": 0}, abs=1e-6)
    assert "closed" not in out["policy"]  # terminal states have no action
    assert out["policy"] == {"new_request": "human_review", "evidence_ready": "auto_approve", "review_queue": "approve_rotation"}
    assert out["q_values"]["new_request"]["request_evidence"] == pytest.approx(30.75, abs=1e-6)
    assert isinstance(out["iterations"], int)
    if method != "auto":
        assert out["method"] == method


def test_solve_table(root):
    r = runner.invoke(app, ["solve", str(root / "examples/access_review.yaml")])
    assert r.exit_code == 0
    assert "request_evidence" in r.stdout and "59" in r.stdout


def test_evaluate_uniform_and_file(root):
    spec = str(root / "examples/access_review_abandonment.yaml")
    out = run_json("evaluate", spec, "--policy", "uniform", "--json")
    # uniform at evidence_ready: (70 + (-10 + 0.9*80)) / 2 = 66
    assert out["values"]["evidence_ready"] == pytest.approx(66.0)
    out = run_json("evaluate", spec, "--policy", str(root / "examples/policy_always_review.yaml"), "--json")
    assert out["values"]["new_request"] == pytest.approx(54.0)
    assert out["policy"]["evidence_ready"] == "human_review"


def test_catalog_spec_argument():
    out = run_json("solve", "catalog:access-review", "--json")
    assert out["values"]["new_request"] == pytest.approx(59.0)


def test_sweep_json(root):
    out = run_json("sweep", str(root / "examples/access_review_abandonment.yaml"),
                   "--vary", "new_request.request_evidence.closed", "--from", "0", "--to", "0.2", "--steps", "5", "--json")
    assert [p["value"] for p in out["points"]] == pytest.approx([0, 0.05, 0.1, 0.15, 0.2])
    assert out["points"][0]["policy"]["new_request"] == "request_evidence"
    assert out["points"][-1]["policy"]["new_request"] == "human_review"
    (b,) = out["breakevens"]
    # the lesson's exercise answer: 59 - 113 p = 54  =>  p = 5/113
    assert b["value"] == pytest.approx(5 / 113, abs=1e-9)
    assert (b["state"], b["from"], b["to"]) == ("new_request", "request_evidence", "human_review")


def test_sweep_finds_several_breakevens_in_one_interval():
    from accessrl import compile_spec
    from accessrl.planning.sensitivity import probability_sweep

    # Q(a) = 10 p(win) ; Q(safe) = 4 ; Q(b) = 7 + 6 (p - 0.5)... two changes inside [0, 1]
    spec = {"gamma": 0.5, "terminal": ["end"], "transitions": {
        "s": {
            "safe": {"next": "end", "reward": 4},
            "bet": [{"next": "win", "p": 0.5, "reward": 0}, {"next": "end", "p": 0.5, "reward": 0}],
        },
        "win": {"take": {"next": "end", "reward": 16}},
    }}
    mdp = compile_spec(spec)
    res = probability_sweep(mdp, "s", "bet", "win", [0.0, 1.0])
    # bet is worth 0.5 * 16 p = 8 p: it overtakes safe (4) at p = 0.5
    assert [round(b.value, 9) for b in res.breakevens] == [0.5]
    res = probability_sweep(mdp, "s", "bet", "end", [0.0, 1.0])
    # varying p(end) = 1 - p(win): bet loses to safe above 0.5
    assert [round(b.value, 9) for b in res.breakevens] == [0.5]


def test_help_lists_commands():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for cmd in ("solve", "evaluate", "sweep", "lesson"):
        assert cmd in r.stdout


def test_check_summarises(root):
    out = run_json("check", str(root / "examples/access_review_abandonment.yaml"), "--json")
    assert (out["states"], out["state_actions"], out["transitions"]) == (4, 6, 7)
    assert out["terminal"] == ["closed"] and out["start"] == "new_request" and not out["deterministic"]


def test_learn_reinforce_takes_a_baseline():
    out = run_json("learn", "catalog:access-review-abandonment", "--algorithm", "reinforce",
                   "--baseline", "value", "--episodes", "1000", "--seed", "3", "--json")
    assert out["baseline"] == "value"
    r = runner.invoke(app, ["learn", "catalog:access-review", "--algorithm", "sarsa", "--baseline", "loo"])
    assert r.exit_code == 2 and "--baseline" in r.stderr
