"""What a coding exercise is and what its check reports (layer 2).

A check runs the learner's function on :class:`Case` inputs in the sandbox, then each case's
``judge`` compares what came back with the library's answer.  The first disagreement is a
:class:`Finding`: where (case, sweep, state, action), the expected and the given value, and the
key of the hint for the mistake that explains it (found by comparing the learner's answer with
what each common mistake would have returned).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

TOLERANCE = 1e-6
"""Numbers agree when ``|given - expected| <= TOLERANCE * max(1, |expected|)``."""


def close(given: Any, expected: float, tol: float = TOLERANCE) -> bool:
    """``given`` is a finite number within the tolerance of ``expected`` (booleans are not numbers)."""
    if isinstance(given, bool) or not isinstance(given, (int, float)):
        return False
    g = float(given)
    if math.isnan(expected):
        return math.isnan(g)
    return math.isfinite(g) and abs(g - expected) <= tol * max(1.0, abs(expected))


def show(x: Any) -> str:
    """A value as feedback writes it (numbers to 8 significant digits, at most 160 characters)."""
    if isinstance(x, (int, float, np.floating, np.integer)) and not isinstance(x, bool):
        return f"{float(x):.8g}"
    text = repr(x)
    return text if len(text) <= 160 else text[:157] + "..."


@dataclass(frozen=True)
class Finding:
    """The first place the learner's answer differs from the reference."""

    where: str
    """E.g. ``sweep 2, state new_request``."""
    expected: Any
    given: Any
    hint: str | None = None
    """A key of the exercise's ``hints`` (or None: no known mistake explains it)."""
    sweep: int | None = None
    state: str | None = None
    action: str | None = None
    note: str = ""
    """More context in one line (e.g. the Q-values behind the expected value)."""
    diagram: Mapping[str, Any] | None = None
    """For the studio: the model and both value tables at the first wrong sweep."""


@dataclass(frozen=True)
class Case:
    """One input the learner's function is run on, and how to judge its answer."""

    label: str
    """What the input is, e.g. ``the lesson's access-review workflow``."""
    task: Mapping[str, Any]
    """The sandbox task (:mod:`~accessrl.lesson.coding.runner`): driver and arguments."""
    judge: Callable[[Mapping[str, Any]], Finding | None]
    """The runner's result for this task -> the first disagreement, or None."""
    crash_hint: Callable[[Mapping[str, Any]], str | None] | None = None
    """The error the learner's code raised -> a hint key, when a common mistake explains it."""


@dataclass(frozen=True)
class CodingExercise:
    """One function the learner writes, the lesson section it follows, and its check."""

    name: str
    title: str
    function: str
    lab: str
    """The lesson lab this exercise follows (``accessrl lesson LAB``)."""
    summary: str
    hints: Mapping[str, str]
    cases: Callable[[np.random.Generator], list[Case]]
    """The cases of one check, built from a generator (the lesson's models and unseen ones)."""
    tolerance: str = f"numbers within {TOLERANCE:g} x max(1, |expected|)"
    statistics: str = ""
    """The error rate of the statistical checks, when the exercise has any."""


@dataclass(frozen=True)
class Report:
    """The verdict of one check: passed or not, and why, in lines a learner reads top to bottom."""

    exercise: str
    passed: bool
    lines: tuple[str, ...]
    finding: Finding | None = None
    hint: str | None = None
    error_line: int | None = None
    """The learner's line where their code raised (for the editor's mark), when it did."""
    output: str = ""
    seconds: float = 0.0
    seed: int | None = None
    cases: int = 0

    def text(self) -> str:
        """The report as the CLI and ``check`` print it."""
        out = [f"{self.exercise}: {'passed' if self.passed else 'not yet'}", *(f"  {ln}" for ln in self.lines)]
        if self.output.strip():
            out.append("  your code printed:")
            out.extend(f"    {ln}" for ln in self.output.rstrip().splitlines()[:40])
        return "\n".join(out)


__all__ = ["TOLERANCE", "Case", "CodingExercise", "Finding", "Report", "close", "show"]
