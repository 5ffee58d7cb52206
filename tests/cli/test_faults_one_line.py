"""Each fault of issue 24's probe that printed a traceback (or a wrong answer) is one line now."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

from accessrl.cli import app
from accessrl.errors import SpecValueError
from accessrl.model.mdp import MDP
from cli_checks import one_error_line

runner = CliRunner()


@pytest.mark.parametrize("args, flag", [
    (["solve", "catalog:access-review", "--tol", "nan"], "--tol"),
    (["solve", "catalog:access-review", "--tol", "inf"], "--tol"),
    (["learn", "catalog:access-review", "--episodes", "10", "--epsilon", "nan"], "--epsilon"),
    (["sweep", "catalog:access-review-abandonment", "--vary", "new_request.request_evidence.closed", "--from", "-inf",
      "--to", "0.2"], "--from"),
    (["learn", "catalog:access-review", "--episodes", "10", "--omega", "-inf"], "--omega"),
    (["reinforce", "catalog:access-review", "--learning-rate", "nan"], "--learning-rate"),
])
def test_numeric_options_refuse_nan_and_infinities(args, flag):
    one_error_line(runner.invoke(app, args), flag, "finite", code=2)


BIG = "gamma: 0.9\ntransitions:\n  a:\n    go: [{next: a, p: 1.0, reward: 1.7e308}]\n"


@pytest.mark.parametrize("command", [["check"], ["solve"], ["simulate", "--episodes", "5"], ["learn", "--episodes", "5"],
                                     ["scale", "simulate", "--episodes", "5"]])
def test_rewards_the_solvers_cannot_represent_are_refused(tmp_path, command):
    spec = tmp_path / "big.yaml"
    spec.write_text(BIG)
    args = [*command, str(spec)] if command[0] != "scale" else [*command[:2], str(spec), *command[2:]]
    one_error_line(runner.invoke(app, args), "too large", "gamma 0.9", code=1)


def test_large_rewards_that_fit_still_solve(tmp_path):
    spec = tmp_path / "ok.yaml"
    spec.write_text(BIG.replace("1.7e308", "1e140"))
    assert runner.invoke(app, ["solve", str(spec)]).exit_code == 0


def test_an_answer_file_that_is_not_utf8(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCESSRL_DATA_DIR", str(tmp_path))
    f = tmp_path / "answer.txt"
    f.write_bytes(b"\xff\xfe answer")
    one_error_line(runner.invoke(app, ["exercise", "check", "1", f"@{f}"]), "UTF-8", "0xff", code=2)


@pytest.fixture(scope="module")
def small_log(tmp_path_factory):
    d = tmp_path_factory.mktemp("log")
    r = runner.invoke(app, ["logs", "generate", "catalog:access-review-abandonment", "--requests", "200", "--seed", "2",
                            "--db", str(d / "l.db")])
    assert r.exit_code == 0, r.output
    (d / "p.yaml").write_text("new_request: human_review\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    return d


@pytest.mark.parametrize("extra, needle", [(["--outcome-window", "1e308"], "--outcome-window"),
                                            (["--n-boot", "-1"], "--n-boot"),
                                            (["--n-boot", "0"], "--n-boot")])
def test_evaluate_policy_bounds(small_log, extra, needle):
    r = runner.invoke(app, ["evaluate-policy", "--db", str(small_log / "l.db"), "--policy", str(small_log / "p.yaml"),
                            *extra])
    one_error_line(r, needle, code=2)


def test_a_sparse_scipy_reward_table():
    P = np.array([[[0.5, 0.5], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
    dense = MDP.from_arrays(P, np.array([[1.0, 2.0], [3.0, 4.0]]), 0.9)
    sparse = MDP.from_arrays(P, sp.csr_matrix(np.array([[1.0, 2.0], [3.0, 4.0]])), 0.9)
    assert np.array_equal(dense.out_reward, sparse.out_reward)
    with pytest.raises(SpecValueError, match="^R: expected an array of numbers"):
        MDP.from_arrays(P, np.array(["a", "b"]), 0.9)
