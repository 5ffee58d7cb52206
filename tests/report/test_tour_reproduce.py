"""Every "Reproduce:" line of the tour reproduces what its section shows, and the tour is true
to the lesson: with the full budget it prints the lesson's Q(new_request, request_evidence) =
30.5 (lesson.txt, Q-learning lab, seed 13) and the one-step REINFORCE numbers 0.089 / 0.403 /
0.508 (lesson.txt, policy-gradient lab)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accessrl.cli import app
from accessrl.report import tour

NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def printed_as(shown: str, output: str) -> bool:
    """Whether ``output`` prints a number that reads ``shown`` at ``shown``'s precision."""
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    for tok in NUMBER.findall(output):
        value = float(tok)
        if f"{value:.{decimals}f}" == shown or (decimals == 0 and f"{round(value)}" == shown):
            return True
    return False


@pytest.fixture(scope="module")
def quick_tour(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tour.TourResult]:
    cwd = tmp_path_factory.mktemp("cwd")
    return cwd, tour.run_tour(cwd / "tour", quick=True)


def test_every_reproduce_line_prints_what_its_section_shows(quick_tour, monkeypatch: pytest.MonkeyPatch) -> None:
    cwd, result = quick_tour
    monkeypatch.chdir(cwd)
    runner = CliRunner(env={"COLUMNS": "200"})
    sections = [s for s in result.sections if s.status == "done"]
    assert len(sections) == len(tour.STEPS)
    rel = {s.key: s.command.replace(str(cwd) + "/", "") for s in sections}
    for s in sections:  # in order: logs before estimate and evaluate
        assert s.command and s.reproduced, s.key
        text = "\n".join(s.lines)
        output = ""
        for cmd in rel[s.key].splitlines():
            words = shlex.split(cmd)
            assert words[0] == "accessrl"
            res = runner.invoke(app, words[1:])
            assert res.exit_code == 0, (s.key, cmd, res.output)
            output += res.output
        for shown in s.reproduced:
            assert shown in text, (s.key, shown, "not on the page")
            assert printed_as(shown, output), (s.key, shown, output)


def test_a_reproduce_line_that_runs_something_else_is_caught(quick_tour, monkeypatch) -> None:
    """The comparison can fail: another seed prints other Q-values."""
    cwd, result = quick_tour
    monkeypatch.chdir(cwd)
    learn = next(s for s in result.sections if s.key == "learn")
    res = CliRunner(env={"COLUMNS": "200"}).invoke(app, shlex.split(learn.command.replace("--seed 13", "--seed 0"))[1:])
    assert res.exit_code == 0
    assert not all(printed_as(x, res.output) for x in learn.reproduced)


def test_the_tour_is_true_to_the_lesson(tmp_path: Path) -> None:
    ctx = tour.Context(out=tmp_path, budget=tour.Budget(), seed=None)
    tour.step_define(ctx)
    tour.step_abandonment(ctx)
    learn = tour.step_learn(ctx)
    assert any(re.search(r"Q\(new_request, request_evidence *\) = +30\.5 ", line) for line in learn.lines)
    assert "seed 13, as in the lesson" in learn.note
    gradient = tour.step_gradient(ctx)
    assert gradient.reproduced[:3] == ("0.089", "0.403", "0.508")
    assert "accessrl lesson policy-gradient" in ctx.commands["gradient"]


def test_another_seed_says_so(tmp_path: Path) -> None:
    ctx = tour.Context(out=tmp_path, budget=tour.Budget.quick(), seed=3)
    tour.step_define(ctx)
    tour.step_abandonment(ctx)
    note = tour.step_learn(ctx).note
    assert "seed 3" in note and "differs because of seed 3 and the --quick budget" in note


def test_learn_defaults_to_the_lessons_seed() -> None:
    res = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["learn", "catalog:access-review-abandonment"])
    assert res.exit_code == 0, res.output
    assert "seed 13" in res.output
    assert re.search(r"request_evidence\s*│\s*30\.5", res.output), res.output
