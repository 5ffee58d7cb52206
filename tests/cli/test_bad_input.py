"""Every bad input gets one clear line naming the place, exit status 1 or 2, no traceback."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from accessrl import compile_spec
from accessrl.cli import app
from accessrl.errors import AccessRLError, SpecError, SpecTypeError, SpecValueError
from cli_checks import one_error_line

runner = CliRunner()

GOOD = """name: t
gamma: 0.9
start: a
terminal: [end]
transitions:
  a:
    go: [{next: b, p: 0.5, reward: 1}, {next: end, p: 0.5, reward: 0}]
    stop: {next: end, reward: 2}
  b:
    go: {next: end, reward: 3}
"""


def run(*args):
    return runner.invoke(app, list(args))


def write(tmp_path, text, name="spec.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_good_spec_solves(tmp_path):
    r = run("solve", write(tmp_path, GOOD), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["policy"]["a"] in {"go", "stop"}


@pytest.mark.parametrize(
    "text, needles",
    [
        ("", ["empty"]),
        ("   \n\n", ["empty"]),
        ("gamma: [0.9\n", ["not valid YAML"]),
        ("- just\n- a list\n", ["expected a mapping"]),
        (GOOD.replace("p: 0.5, reward: 1", "p: '0.5', reward: 1"), ["state 'a'", "action 'go'", "'p'", "expected a number"]),
        (GOOD.replace("  b:\n    go: {next: end, reward: 3}", "  b: [go]"), ["state 'b'", "expected a mapping"]),
        (GOOD.replace("p: 0.5, reward: 1", "p: -0.5, reward: 1"), ["state 'a'", "action 'go'", "[0, 1]"]),
        (GOOD.replace("p: 0.5, reward: 1", "p: .nan, reward: 1"), ["state 'a'", "'p'", "finite"]),
        (GOOD.replace("p: 0.5, reward: 1", "p: 0.4, reward: 1"), ["state 'a'", "action 'go'", "sum to 0.9", "off by -0.1"]),
        (GOOD.replace("{next: b, p: 0.5", "{next: nowhere, p: 0.5"), ["state 'a'", "'next'", "unknown state 'nowhere'"]),
        (GOOD.replace("terminal: [end]", "terminal: [end, b]"), ["state 'b'", "terminal state has no actions"]),
        (GOOD.replace("    go: {next: end, reward: 3}", "    {}"), ["state 'b'", "at least one action"]),
        (GOOD + "  a:\n    x: {next: end, reward: 1}\n", ["duplicate key 'a'", "line"]),
        (GOOD.replace("    stop:", "    go:"), ["duplicate key 'go'"]),
        (GOOD.replace("terminal: [end]", "states: [a, a]\nterminal: [end]"), ["duplicate state name 'a'"]),
        (GOOD.replace("reward: 3", "reward: .nan"), ["state 'b'", "'reward'", "finite"]),
        (GOOD.replace("reward: 3", "reward: .inf"), ["state 'b'", "'reward'", "finite"]),
        (GOOD.replace("reward: 3", "reward: x"), ["state 'b'", "'reward'", "expected a number"]),
        (GOOD.replace("gamma: 0.9", "gamma: 1.5"), ["gamma", "(0, 1]"]),
        (GOOD.replace("gamma: 0.9", "gamma: 0"), ["gamma", "(0, 1]"]),
        (GOOD.replace("gamma: 0.9\n", ""), ["gamma", "missing"]),
        (GOOD.replace("start: a", "start: zz"), ["start", "unknown state 'zz'"]),
        (GOOD.replace("gamma: 0.9", "gamma: 0.9\ncolour: red"), ["unknown field"]),
    ],
)
def test_spec_errors(tmp_path, text, needles):
    path = write(tmp_path, text)
    err = one_error_line(run("solve", path), *needles, code=(1,))
    assert path in err


def test_missing_file(tmp_path):
    one_error_line(run("solve", str(tmp_path / "nope.yaml")), "nope.yaml", "no such spec file", code=(1,))


def test_json_spec_errors(tmp_path):
    p = write(tmp_path, '{"gamma": 0.9, "gamma": 0.8, "transitions": {}}', "s.json")
    one_error_line(run("solve", p), "duplicate key 'gamma'", code=(1, 2))
    p = write(tmp_path, '{"gamma": 0.9,', "t.json")
    one_error_line(run("solve", p), "line 1", "not valid JSON", code=(1, 2))
    spec = {"gamma": 0.9, "terminal": ["e"], "transitions": {"s": {"a": [{"next": "e", "p": float("nan"), "reward": 0}]}}}
    p = write(tmp_path, json.dumps(spec), "n.json")
    one_error_line(run("solve", p), "'p'", "finite", code=(1, 2))


GAMMA1_LOOP = """gamma: 1
terminal: [end]
transitions:
  a:
    loop: {next: a, reward: %s}
    leave: {next: end, reward: -1}
"""


def test_gamma_one_policy_never_terminates(tmp_path):
    spec = write(tmp_path, GAMMA1_LOOP % "-1")
    pol = write(tmp_path, "a: loop\n", "pol.yaml")
    one_error_line(run("evaluate", spec, "--policy", pol), "never reaches a terminal state", "'a'", code=(1,))
    ok = run("evaluate", spec, "--policy", write(tmp_path, "a: leave\n", "p2.yaml"), "--json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["values"]["a"] == -1


def test_gamma_one_no_policy_terminates(tmp_path):
    spec = write(tmp_path, "gamma: 1\nterminal: [end]\ntransitions:\n  a: {x: {next: b, reward: -1}}\n"
                           "  b: {y: {next: a, reward: -1}}\n  c: {z: {next: end, reward: 0}}\n")
    one_error_line(run("solve", spec), "no policy reaches a terminal state", "'a'", "'b'", code=(1,))
    spec = write(tmp_path, "gamma: 1\ntransitions:\n  a: {x: {next: a, reward: -1}}\n", "n.yaml")
    one_error_line(run("solve", spec), "needs terminal states", code=(1,))


@pytest.mark.parametrize("reward", ["0", "1", "0.5"])
def test_gamma_one_nonnegative_cycle(tmp_path, reward):
    spec = write(tmp_path, GAMMA1_LOOP % reward)
    one_error_line(run("solve", spec), "cycle forever", "'a'", code=(1,))


def test_gamma_one_negative_cycle_is_fine(tmp_path):
    r = run("solve", write(tmp_path, GAMMA1_LOOP % "-1"), "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["policy"] == {"a": "leave"}


@pytest.mark.parametrize(
    "policy, needles",
    [
        ("zz: go\na: go\nb: go\n", ["state 'zz'", "unknown state"]),
        ("a: fly\nb: go\n", ["state 'a'", "unknown action 'fly'"]),
        ("a: go\n", ["missing state 'b'"]),
        ("a: {go: 0.5, stop: 0.2}\nb: go\n", ["state 'a'", "sum to 0.7"]),
        ("a: {go: 1.5}\nb: go\n", ["probability in [0, 1]"]),
        ("", ["empty"]),
        ("[a, b]\n", ["expected a mapping"]),
    ],
)
def test_policy_file_errors(tmp_path, policy, needles):
    spec = write(tmp_path, GOOD)
    pol = write(tmp_path, policy, "policy.yaml")
    one_error_line(run("evaluate", spec, "--policy", pol), *needles, code=(1,))


@pytest.mark.parametrize(
    "vary, needles",
    [
        ("a.go.nowhere", ["--vary", "STATE.ACTION.NEXT"]),
        ("zz.go.b", ["--vary"]),
        ("a.fly.b", ["--vary"]),
        ("a.stop.end", ["only outcome"]),
        ("b.go.b", ["no outcome leads to 'b'"]),
    ],
)
def test_vary_errors(tmp_path, vary, needles):
    spec = write(tmp_path, GOOD)
    one_error_line(run("sweep", spec, "--vary", vary), *needles, code=(1, 2))


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--method", "magic"], ["--method"]),
        (["--tol", "0"], ["--tol"]),
        (["--tol", "-1"], ["--tol"]),
    ],
)
def test_usage_errors_exit_2(tmp_path, args, needles):
    one_error_line(run("solve", write(tmp_path, GOOD), *args), *needles, code=(2,))


def test_sweep_range_errors(tmp_path):
    spec = write(tmp_path, GOOD)
    one_error_line(run("sweep", spec, "--vary", "a.go.b", "--from", "0.5", "--to", "0.1"), "--from", code=(2,))
    one_error_line(run("sweep", spec, "--vary", "a.go.b", "--to", "1.5"), "--to", code=(2,))
    one_error_line(run("sweep", spec, "--vary", "a.go.b", "--steps", "1"), "--steps", code=(2,))


def test_unknown_lab():
    one_error_line(run("lesson", "no-such-lab"), "unknown lab", code=(2,))


def test_api_raises_typed_errors():
    with pytest.raises(SpecTypeError):
        compile_spec({"gamma": "high", "transitions": {}})
    with pytest.raises(SpecValueError):
        compile_spec({"gamma": 2, "transitions": {"a": {"x": {"next": "a", "reward": 0}}}})
    assert issubclass(SpecTypeError, TypeError) and issubclass(SpecValueError, ValueError)


# hypothesis: malformed inputs only ever raise our errors
json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=25,
)
names = st.sampled_from(["a", "b", "end", "zz", "", 3])
outcome = st.fixed_dictionaries(
    {"next": names},
    optional={"p": st.one_of(st.floats(allow_nan=True), st.integers(-1, 2), st.text(max_size=3)),
              "reward": st.one_of(st.floats(allow_nan=True), st.text(max_size=3), st.none()),
              "severe": json_values, "event": json_values, "components": json_values},
)
spec_like = st.fixed_dictionaries(
    {"gamma": st.one_of(st.floats(allow_nan=True), st.integers(-1, 2), st.text(max_size=3)),
     "transitions": st.one_of(
         json_values,
         st.dictionaries(names, st.one_of(json_values, st.dictionaries(
             names, st.one_of(outcome, st.lists(outcome, max_size=3)), max_size=3)), max_size=3),
     )},
    optional={"terminal": st.one_of(json_values, st.lists(names, max_size=3)), "start": names,
              "states": st.lists(names, max_size=4), "weights": json_values},
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, spec_like))
def test_malformed_specs_raise_only_spec_errors(data):
    try:
        mdp = compile_spec(data)
    except SpecError:
        return
    # whatever compiled must be a valid model
    assert 0 < mdp.gamma <= 1 and all(math.isfinite(x) for x in mdp.out_reward)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_random_text_files_give_one_line(tmp_path_factory, text):
    from accessrl.specfile import load_model

    p = tmp_path_factory.mktemp("h") / "spec.yaml"
    p.write_text(text)
    try:
        load_model(p)
    except AccessRLError as exc:
        assert "\n" not in str(exc)
        assert str(p) in str(exc)


@pytest.mark.parametrize(
    "args, needles",
    [
        (["solve"], ["Missing argument"]),
        (["solve", "x.yaml", "--no-such-flag"], ["No such option"]),
        (["solve", "x.yaml", "--tol", "abc"], ["--tol"]),
        (["no-such-command"], ["No such command"]),
    ],
)
def test_click_usage_errors_are_one_line(args, needles):
    one_error_line(run(*args), *needles, code=(2,))


def test_unexpected_errors_are_not_masked(monkeypatch):
    """A bug (not bad input) keeps its own exception type through the CLI group."""
    import accessrl.cli.planning as cli_planning

    def boom(*a, **k):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli_planning, "solve", boom)
    r = runner.invoke(app, ["solve", "catalog:access-review"])
    assert isinstance(r.exception, RuntimeError) and "a bug" in str(r.exception)
