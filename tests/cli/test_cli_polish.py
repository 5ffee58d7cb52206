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


JSON_COMMANDS = [
    ["solve", "catalog:access-review-abandonment", "--json"],
    ["evaluate", "catalog:access-review-deny", "--policy", "uniform", "--json"],
    ["check", "catalog:access-review", "--json"],
    ["sweep", "examples/access_review_abandonment.yaml", "--vary", "new_request.request_evidence.closed", "--from", "0",
     "--to", "0.2", "--steps", "5", "--json"],
    ["simulate", "catalog:access-review-deny", "--episodes", "50", "--json"],
    ["simulate", "catalog:access-review", "--episodes", "50", "--first-action", "auto_approve", "--json"],
    ["learn", "catalog:access-review-abandonment", "--episodes", "300", "--json"],
    ["learn", "catalog:access-review-abandonment", "--algorithm", "reinforce", "--episodes", "240", "--json"],
    ["reinforce", "catalog:access-review-abandonment", "--episodes", "240", "--json"],
    ["audit", "examples/access_review_deny.yaml", "--designs", "examples/designs.yaml", "--json"],
    ["constrain", "catalog:access-review-deny", "--weight", "resolved=100", "--limit", "policy_violation<=0", "--json"],
]


@pytest.mark.parametrize("args", JSON_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_json_is_strict_and_one_type_per_field(args, root, monkeypatch):
    """Every --json parses as strict JSON (no NaN/Infinity tokens, no "nan" strings), and a
    field that holds numbers in one place never holds a string in another of its kind."""
    monkeypatch.chdir(root)
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output

    def refuse(token):
        raise AssertionError(f"non-standard JSON number {token}")

    data = json.loads(r.stdout, parse_constant=refuse)
    kinds: dict[str, set[str]] = {}

    def walk(x, path):
        kind = ("number" if isinstance(x, (int, float)) and not isinstance(x, bool) else type(x).__name__)
        if x is not None:
            kinds.setdefault(path, set()).add(kind)
        if isinstance(x, dict):
            for k, v in x.items():  # a state or action name is a map key, not a field
                walk(v, f"{path}.{'*' if k in NAMES else k}")
        elif isinstance(x, list):
            for v in x:
                walk(v, f"{path}[]")
        else:
            assert not (isinstance(x, str) and x.lower() in {"nan", "inf", "-inf", "infinity"}), (path, x)

    walk(data, "")
    mixed = {k: v for k, v in kinds.items() if len(v) > 1}
    assert not mixed, mixed


def _names() -> set[str]:
    from accessrl.catalog import CATALOG

    out: set[str] = set()
    for name in ("access-review", "access-review-abandonment", "access-review-deny", "access-review-components"):
        m = CATALOG[name]()
        out |= set(m.state_names) | set(m.action_names)
    return out


NAMES = _names()
