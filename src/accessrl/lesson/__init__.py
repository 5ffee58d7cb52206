"""The lesson's labs, each computed by the library's general code (layer 2).

Each lab is a function returning the lines the lesson prints.  Lab modules register
themselves with :func:`lab`; :data:`LAB_ORDER` is the lesson's order.  Exercises
register with :func:`exercise`.
"""

from __future__ import annotations

from collections.abc import Callable

from accessrl.errors import ParameterError

LAB_ORDER = (
    "returns",
    "bellman-backup",
    "value-iteration",
    "abandonment",
    "monte-carlo",
    "q-learning",
    "exploration",
    "reward-design",
    "policy-gradient",
    "held-out",
)

LABS: dict[str, Callable[[], list[str]]] = {}
EXERCISES: dict[int, Callable[[], list[str]]] = {}


def lab(name: str) -> Callable[[Callable[[], list[str]]], Callable[[], list[str]]]:
    """Register a lab under its lesson name."""
    if name not in LAB_ORDER:
        raise ParameterError(f"lab: unknown lab {name!r}; expected one of {list(LAB_ORDER)}")

    def register(fn: Callable[[], list[str]]) -> Callable[[], list[str]]:
        LABS[name] = fn
        return fn

    return register


def exercise(number: int) -> Callable[[Callable[[], list[str]]], Callable[[], list[str]]]:
    """Register the worked answer to one of the lesson's exercises."""

    def register(fn: Callable[[], list[str]]) -> Callable[[], list[str]]:
        EXERCISES[number] = fn
        return fn

    return register


def available_labs() -> list[str]:
    """The labs that exist, in the lesson's order."""
    return [name for name in LAB_ORDER if name in LABS]


def run_lab(name: str) -> list[str]:
    """The lines one lab prints."""
    return LABS[name]()


EXTRA_COMMANDS: dict[str, Callable[[], list[str]]] = {}
"""Lesson sub-commands that are not labs (``exercises``, later ``quiz``)."""


def run_exercises() -> list[str]:
    """The worked answers to every exercise that exists."""
    lines: list[str] = []
    for n in sorted(EXERCISES):
        lines.extend(EXERCISES[n]())
    return lines


EXTRA_COMMANDS["exercises"] = run_exercises

# Lab modules register on import.
from accessrl.lesson import (  # noqa: E402,F401
    heldout_lab,
    learning_labs,
    pg_lab,
    planning_labs,
    reward_labs,
)
from accessrl.lesson import quiz as _quiz  # noqa: E402

EXTRA_COMMANDS["quiz"] = _quiz.quiz_sheet

__all__ = ["EXERCISES", "EXTRA_COMMANDS", "LABS", "LAB_ORDER", "available_labs", "exercise", "lab", "run_exercises", "run_lab"]
