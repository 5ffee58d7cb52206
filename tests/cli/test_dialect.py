"""One CLI dialect: the same flag name means the same thing, with the same type, in every command.

The test reads every command's parameters from the typer application itself, so a new
command that reuses a name with another meaning fails here.  Older spellings kept for
compatibility are hidden options and are not part of the dialect.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path

import pytest
from typer.main import get_command

from accessrl.cli import app
from accessrl.cli._common import DEFAULT_DB

MEANINGS = {
    "--start": ("start state", "state"),
    "--since": ("a date (ISO)", "date"),
    "--until": ("a date (ISO)", "date"),
    "--drift-at": ("a date (ISO)", "date"),
    "--db": ("the decision-log database", "database"),
    "--seed": ("a seed", "seed"),
    "--episodes": ("a number of episodes", "episode"),
    "--policy": ("a policy", "polic"),
    "--out": ("a file or folder written", ""),
}
"""Flag -> (what it means, a word its help must contain)."""

OPTIONAL_DB = {"studio", "pilot", "scale evaluate"}
"""Commands that work without a decision log: there ``--db`` is optional (no default file)."""


def commands():
    out = []

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            out.append((" ".join(path), cmd))

    walk(get_command(app), [])
    return out


def _type(param):
    """The value type of one occurrence: Optional and repeatable (list) unwrapped, paths as text."""
    ann = param.type_descriptor.annotation
    args = [a for a in typing.get_args(ann) if a is not type(None)]
    if typing.get_origin(ann) in (typing.Union, types.UnionType) and len(args) == 1:
        ann = args[0]
    if typing.get_origin(ann) is list:
        ann = typing.get_args(ann)[0]
    return str if ann is Path else ann


def visible_options():
    for path, cmd in commands():
        for p in cmd.params:
            if p.param_type_name == "option" and not p.hidden:
                for o in p.opts:
                    yield path, o, p


def test_every_flag_name_has_one_type():
    types: dict[str, set] = {}
    where: dict[str, list[str]] = {}
    for path, opt, p in visible_options():
        types.setdefault(opt, set()).add(_type(p))
        where.setdefault(opt, []).append(f"{path}: {_type(p)}")
    mixed = {o: where[o] for o, t in types.items() if len(t) > 1 and o not in ("--out",)}
    assert not mixed, f"one flag name, several types: {mixed}"


@pytest.mark.parametrize("flag", sorted(MEANINGS))
def test_a_flag_means_the_same_in_every_command(flag):
    meaning, word = MEANINGS[flag]
    uses = [(path, p) for path, opt, p in visible_options() if opt == flag]
    assert uses, flag
    wrong = [path for path, p in uses if word.lower() not in (p.help or "").lower()]
    assert not wrong, f"{flag} should be {meaning}; its help does not say so in: {wrong}"


def test_the_model_is_the_spec_argument_everywhere():
    for path, cmd in commands():
        assert "--model" not in [o for p in cmd.params if p.param_type_name == "option" and not p.hidden
                                 for o in p.opts], f"{path}: the model is the SPEC argument, not --model"
        for p in cmd.params:
            if p.param_type_name == "argument" and "catalog:NAME" in (p.help or ""):
                assert p.name == "spec", f"{path}: the model argument is called {p.name!r}, not SPEC"


def test_db_has_one_default():
    for path, opt, p in visible_options():
        if opt != "--db":
            continue
        if path in OPTIONAL_DB:
            assert p.default is None, path
        else:
            assert p.default == DEFAULT_DB, f"{path}: --db defaults to {p.default!r}, not {DEFAULT_DB!r}"


def test_the_help_says_behavior():
    for path, cmd in commands():
        texts = [cmd.help or ""] + [p.help or "" for p in cmd.params if hasattr(p, "help")]
        assert not any("behaviour" in t for t in texts), f"{path}: 'behaviour' (the dialect says behavior)"


def test_older_spellings_still_work_and_clash_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from cli_checks import one_error_line

    runner = CliRunner()
    base = ["logs", "generate", "--requests", "30", "--db", str(tmp_path / "a.db")]
    new = runner.invoke(app, [*base, "catalog:access-review-abandonment", "--since", "2026-02-02", "--seed", "1",
                              "--drift", "0.4", "--drift-share", "0.3"])
    old = runner.invoke(app, [*base, "--model", "catalog:access-review-abandonment", "--start", "2026-02-02", "--seed",
                              "1", "--drift", "0.4", "--drift-at", "0.3"])
    assert new.exit_code == 0 and old.exit_code == 0, (new.output, old.output)
    # the same log under either spelling: the same run id, so the second run stores nothing new
    assert new.output.split(":")[0] == old.output.split(":")[0]
    assert "(0 decisions and 0 outcomes already stored)" in " ".join(new.output.split())
    assert "0 new decisions and 0 outcomes" in " ".join(old.output.split())
    one_error_line(runner.invoke(app, [*base, "catalog:access-review", "--model", "catalog:access-review-deny"]),
                   "SPEC and --model", code=2)
    one_error_line(runner.invoke(app, [*base, "catalog:access-review", "--since", "2026-01-01", "--start",
                                       "2026-01-01"]), "--since", code=2)
    one_error_line(runner.invoke(app, [*base]), "SPEC", code=2)
