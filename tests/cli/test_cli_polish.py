"""The command line's surface: --version, one error prefix, help that reads like click's,
JSON with null for missing numbers and one type per field."""

import json
import re

import pytest
from typer.testing import CliRunner

from accessrl.cli import app
from cli_checks import one_error_line

runner = CliRunner()


def command_paths():
    """Every command path of the app (``["solve"]``, ``["logs", "generate"]``, ...)."""
    import typer.main

    group = typer.main.get_command(app)
    out = []
    for name, cmd in group.commands.items():
        sub = getattr(cmd, "commands", None)
        out += [[name, s] for s in sub] if sub else [[name]]
    return out


def test_version_is_one_line():
    from importlib.metadata import version

    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout == f"accessrl {version('accessrl')}\n"


def test_no_doubled_program_prefix():
    line = one_error_line(runner.invoke(app, ["--bogus"]), code=2)
    assert line.count("accessrl:") == 1
    line = one_error_line(runner.invoke(app, ["solve", "--bogus", "catalog:access-review"]), "solve: ", code=2)
    assert "accessrl: error: solve: No such option: --bogus" in line and line.count("accessrl") == 1


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_help_renders_like_click(path):
    r = runner.invoke(app, [*path, "--help"], prog_name="accessrl")
    assert r.exit_code == 0, r.output
    assert "<bool>" not in r.output, "a flag takes no value"
    usage = r.output.splitlines()[0]
    assert usage.startswith(f"Usage: accessrl {' '.join(path)} [OPTIONS]"), usage
    assert not re.search(r"\{\w+\}", usage), usage  # arguments as SPEC / [SPEC], not {spec}


def test_solve_usage_names_the_argument():
    r = runner.invoke(app, ["solve", "--help"], prog_name="accessrl")
    assert r.output.splitlines()[0] == "Usage: accessrl solve [OPTIONS] SPEC"
    assert "  SPEC  " in r.output and "--json " in r.output


def test_json_missing_numbers_are_null():
    r = runner.invoke(app, ["simulate", "catalog:access-review", "--episodes", "20", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["severe_rate"] is None  # the model marks no outcome severe: the rate is not defined
    assert '"nan"' not in r.stdout and "NaN" not in r.stdout


@pytest.mark.parametrize("policy", ["uniform", "optimal"])
def test_evaluate_policy_field_has_one_type(policy):
    r = runner.invoke(app, ["evaluate", "catalog:access-review", "--policy", policy, "--json"])
    assert r.exit_code == 0, r.output
    kinds = {type(v) for v in json.loads(r.stdout)["policy"].values()}
    assert kinds == ({dict} if policy == "uniform" else {str})


def test_to_plain_rules():
    import numpy as np

    from accessrl.cli._common import to_plain

    assert to_plain({"a": np.float64("nan"), "b": [np.inf, -np.inf, np.int64(3)], "c": np.array([1.5])}) == \
        {"a": None, "b": [None, None, 3], "c": [1.5]}
