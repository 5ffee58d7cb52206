"""One comparison for every lab test: the lesson's lines, padding and runs of spaces aside."""

import re

from typer.testing import CliRunner

from accessrl.cli import app
from accessrl.lesson import run_lab


def norm(line: str) -> str:
    """Padding and runs of spaces aside (also inside the lesson's padded ``Q(state, action )``)."""
    return re.sub(r"\s+", " ", line.replace("( ", "(").replace(" )", ")")).strip()


def assert_same_lines(got: list[str], expected: list[str]) -> None:
    assert [norm(x) for x in got] == [norm(x) for x in expected]


def assert_lab_prints(lab: str, expected: list[str]) -> None:
    """The library's lab and ``accessrl lesson LAB`` both print the lesson's lines."""
    assert_same_lines(run_lab(lab), expected)
    r = CliRunner().invoke(app, ["lesson", lab])
    assert r.exit_code == 0, r.output
    assert_same_lines(r.stdout.splitlines(), expected)
