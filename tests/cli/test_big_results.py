"""Big results: solve and learn print a summary (by action, by factor, value range, visited
share) instead of rows, --json carries the summary above FULL_JSON_STATES, and --out writes
the full result as .npz, .parquet or .json, each read back and checked against the solver."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from accessrl.cli import app, results
from accessrl.model.summary import summarise_policy
from accessrl.planning.solver import solve
from accessrl.specfile import load_model_ref
from cli_checks import one_error_line

runner = CliRunner()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "wf.npz"
    r = runner.invoke(app, ["generate", str(path), "--states", "2000"])
    assert r.exit_code == 0, r.output
    return path


def test_solve_prints_a_summary_not_rows(model):
    mdp = load_model_ref(model)
    res = solve(mdp)
    r = runner.invoke(app, ["solve", str(model)])
    assert r.exit_code == 0, r.output
    assert "policy by action" in r.stdout and "by factor" in r.stdout and "--out FILE" in r.stdout
    assert mdp.state_names[0] not in r.stdout  # no per-state rows
    # the counts printed are the policy's own (readable recount here)
    top = np.bincount(res.policy[res.policy >= 0]).argmax()
    assert f"{mdp.action_names[top]}" in r.stdout.split("policy by action")[1].splitlines()[1]
    assert f"max {res.values.max():.6g}" in r.stdout


def test_summary_counts_match_a_readable_recount(model):
    mdp = load_model_ref(model)
    res = solve(mdp)
    s = summarise_policy(mdp, res.policy, res.values)
    decided = [int(a) for a in res.policy if a >= 0]
    assert {a.action: a.states for a in s.by_action} == {
        mdp.action_names[a]: decided.count(a) for a in set(decided)}
    # by factor: split each name by hand and count
    tier0 = [int(res.policy[i]) for i in range(mdp.n_states)
             if res.policy[i] >= 0 and mdp.state_names[i].split("|")[0] == "low"]
    low = next(f for f in s.by_factor if f.factor == 0 and f.level == "low")
    assert low.states == len(tier0)
    assert {a.action: a.states for a in low.actions} == {mdp.action_names[a]: tier0.count(a) for a in set(tier0)}


@pytest.mark.parametrize("suffix", [".npz", ".parquet", ".json"])
def test_solve_out_files_hold_the_full_result(model, tmp_path, suffix):
    mdp = load_model_ref(model)
    res = solve(mdp)
    out = tmp_path / f"full{suffix}"
    r = runner.invoke(app, ["solve", str(model), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert f"full result written to {out}" in r.stdout
    if suffix == ".npz":
        z = np.load(out)
        assert np.allclose(z["values"], res.values) and np.array_equal(z["policy"], res.policy)
        assert np.allclose(z["q_values"], res.q_values) and list(z["action_names"]) == list(mdp.action_names)
    elif suffix == ".parquet":
        pq = pytest.importorskip("pyarrow.parquet")
        t = pq.read_table(out).to_pydict()
        assert len(t["q"]) == mdp.n_pairs and np.allclose(t["q"], res.q_values)
        k = 5
        s = int(mdp.sa_state[k])
        assert t["state"][k] == mdp.state_names[s] and t["value"][k] == pytest.approx(res.values[s])
        assert t["greedy"][k] == (res.policy[s] == mdp.sa_action[k])
    else:
        data = json.loads(out.read_text())
        assert len(data["values"]) == mdp.n_states
        name = mdp.state_names[int(mdp.decision_states[0])]
        assert data["policy"][name] == mdp.action_names[int(res.policy[mdp.decision_states[0]])]


def test_json_above_the_limit_is_a_summary(model, monkeypatch):
    monkeypatch.setattr(results, "FULL_JSON_STATES", 100)
    r = runner.invoke(app, ["solve", str(model), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert "values" not in data and data["summary"]["states"] == load_model_ref(model).n_states
    assert data["out"] is None


def test_learn_on_a_big_model_summarises_with_visits(model, tmp_path):
    out = tmp_path / "q.npz"
    r = runner.invoke(app, ["learn", str(model), "--episodes", "200", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "visited:" in r.stdout and "policy by action" in r.stdout
    z = np.load(out)
    mdp = load_model_ref(model)
    assert z["q_values"].shape == (mdp.n_pairs,) and z["visits"].shape == (mdp.n_pairs,)
    share = float((z["visits"] > 0).mean())
    assert f"{share:.1%} of state-action pairs" in r.stdout


def test_small_models_keep_their_table():
    r = runner.invoke(app, ["solve", "catalog:access-review"])
    assert "new_request" in r.stdout and "policy by action" not in r.stdout


def test_out_with_an_unknown_suffix_is_refused_before_work(model):
    one_error_line(runner.invoke(app, ["solve", str(model), "--out", "x.csv"]), "--out", ".npz", code=2)
