"""`accessrl scale ...`: the distributed workloads from the command line, locally and on Ray."""

import json

import yaml
from typer.testing import CliRunner

from accessrl.cli import app
from cli_checks import one_error_line

runner = CliRunner()
MODEL = "catalog:access-review-abandonment"


def _json(args):
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_scale_simulate_reports_rates_per_million():
    out = _json(["scale", "simulate", MODEL, "--episodes", "20000", "--chunk", "5000", "--seed", "3",
                 "--first-action", "request_evidence"])
    assert out["chunks"] == 4 and out["backend"]["backend"] == "local"
    lo, hi = out["events_per_million_ci"]["abandoned"]
    assert lo < 250_000 < hi  # p = 0.25 in the lesson's abandonment model
    assert out == _json(["scale", "simulate", MODEL, "--episodes", "20000", "--chunk", "5000", "--seed", "3",
                         "--first-action", "request_evidence"])


def test_scale_sweep_finds_the_breakeven_on_a_grid():
    out = _json(["scale", "sweep", MODEL, "--grid", "new_request.request_evidence.closed=0,0.04,0.05"])
    assert [p["start_action"] for p in out["points"]] == ["request_evidence", "request_evidence", "human_review"]


def test_scale_learn_writes_a_policy_that_evaluate_accepts(tmp_path):
    path = tmp_path / "best.yaml"
    out = _json(["scale", "learn", MODEL, "--episodes", "3000", "--seed", "13", "--seed", "14",
                 "--algorithm", "q-learning", "--algorithm", "expected-sarsa", "--out", str(path)])
    assert len(out["configs"]) == 2 and len(out["runs"]) == 4
    assert yaml.safe_load(path.read_text()) == out["best_policy"]
    ev = _json(["evaluate", MODEL, "--policy", str(path)])
    assert ev["policy"]["new_request"] == out["best_policy"]["new_request"]


def test_scale_constrain_reports_infeasible_settings_as_rows():
    out = _json(["scale", "constrain", "catalog:access-review-deny", "--weight", "resolved=100",
                 "--weight", "delay_days=-10", "--setting", "policy_violation<=0",
                 "--setting", "policy_violation<=0;delay_days<=0"])
    rows = out["settings"]
    assert rows[0]["error"] is None and rows[0]["value"] is not None
    assert all((r["value"] is None) == (r["error"] is not None) for r in rows)


def test_scale_bad_input_is_one_line():
    one_error_line(runner.invoke(app, ["scale", "sweep", MODEL, "--grid", "new_request.request_evidence.closed=0:1:x"]),
                   "--grid", code=2)
    one_error_line(runner.invoke(app, ["scale", "sweep", MODEL, "--grid", "nowhere"]), "--grid", code=2)
    one_error_line(runner.invoke(app, ["scale", "simulate", MODEL, "--episodes", "0"]), "--episodes", code=2)
    one_error_line(runner.invoke(app, ["scale", "evaluate", MODEL, "--policy", "uniform"]), "--partition", code=2)
    one_error_line(runner.invoke(app, ["scale", "learn", MODEL, "--seed", "-1"]), "--seed", code=2)


def test_scale_commands_on_a_two_node_cluster_print_the_local_numbers(ray_cluster):
    args = ["scale", "simulate", MODEL, "--episodes", "20000", "--chunk", "4000", "--seed", "5"]
    local, remote = _json(args), _json([*args, "--ray", ray_cluster])
    assert remote["backend"]["nodes"] == 2
    local.pop("backend"), remote.pop("backend")
    assert local == remote
