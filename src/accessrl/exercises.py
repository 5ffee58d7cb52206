"""Check your own code against the lesson, from Python or a notebook (layer 2).

>>> from accessrl.exercises import check
>>> def discounted_return(rewards, gamma):
...     return sum(gamma**step * reward for step, reward in enumerate(rewards))
>>> report = check("discounted-return", discounted_return, record=False, quiet=True)
>>> report.passed
True

:func:`check` is the same grader as ``accessrl exercise check NAME FILE`` and the studio's code
pages (:mod:`accessrl.lesson.coding`): your function runs in a separate process with time and
memory limits, on the lesson's models and on workflows generated for this check, and the report
names the first wrong sweep, state or action with a hint.  A pass counts in the lesson's progress
store (``record=False`` leaves it alone).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from accessrl.lesson.coding import EXERCISES, Limits, Report, exercise, grade_function, grade_source, solution, starter
from accessrl.lesson.quiz import record_exercise


def check(name: str, function: Callable[..., Any] | str | Path, *, seed: int | None = None, record: bool = True,
          quiet: bool = False, limits: Limits | None = None, directory: Path | None = None) -> Report:
    """Grade ``function`` (a function object, or the path of a file that defines it) for exercise ``name``.

    Prints the feedback (unless ``quiet``) and returns the :class:`~accessrl.lesson.coding.Report`.
    ``seed`` rebuilds the same generated cases; ``directory`` is where progress is kept (default:
    the lesson's store).
    """
    ex = exercise(name)
    if isinstance(function, (str, Path)):
        path = Path(function)
        report = grade_source(ex.name, path.read_text(encoding="utf-8"), filename=str(path), seed=seed, limits=limits)
    else:
        report = grade_function(ex.name, function, seed=seed, limits=limits)
    if record:
        record_exercise(ex.name, report.passed, directory)
    if not quiet:
        print(report.text())
    return report


__all__ = ["EXERCISES", "Limits", "Report", "check", "solution", "starter"]
