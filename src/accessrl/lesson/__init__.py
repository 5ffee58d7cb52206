"""The lesson's labs, each computed by the library's general code (layer 2).

Each lab is a function returning the lines the lesson prints.  The tables below are the
registry, written out: :data:`LABS` maps each lab's lesson name to its function in the
lesson's order (:data:`LAB_ORDER`), :data:`EXERCISES` each exercise number to its worked
answer.  Lab modules define functions only; nothing registers itself on import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from accessrl.lesson.heldout_lab import held_out_lab
from accessrl.lesson.learning_labs import exploration_lab, monte_carlo_lab, q_learning_lab
from accessrl.lesson.pg_lab import policy_gradient_lab
from accessrl.lesson.planning_labs import (
    abandonment_breakeven,
    abandonment_lab,
    bellman_backup_lab,
    returns_lab,
    value_iteration_lab,
)
from accessrl.lesson.quiz import quiz_sheet
from accessrl.lesson.reward_labs import deny_request_exercise, reward_design_lab

Lab = Callable[[], list[str]]

LABS: Mapping[str, Lab] = MappingProxyType({
    "returns": returns_lab,
    "bellman-backup": bellman_backup_lab,
    "value-iteration": value_iteration_lab,
    "abandonment": abandonment_lab,
    "monte-carlo": monte_carlo_lab,
    "q-learning": q_learning_lab,
    "exploration": exploration_lab,
    "reward-design": reward_design_lab,
    "policy-gradient": policy_gradient_lab,
    "held-out": held_out_lab,
})
"""Lesson name -> lab, in the lesson's order (read-only)."""

LAB_ORDER: tuple[str, ...] = tuple(LABS)
"""The labs' names in the lesson's order."""

EXERCISES: Mapping[int, Lab] = MappingProxyType({
    1: abandonment_breakeven,
    2: deny_request_exercise,
})
"""Exercise number -> its worked answer (read-only)."""


def available_labs() -> list[str]:
    """The labs, in the lesson's order."""
    return list(LAB_ORDER)


def run_lab(name: str) -> list[str]:
    """The lines one lab prints."""
    return LABS[name]()


def run_exercises() -> list[str]:
    """The worked answers to every exercise."""
    lines: list[str] = []
    for n in sorted(EXERCISES):
        lines.extend(EXERCISES[n]())
    return lines


EXTRA_COMMANDS: Mapping[str, Lab] = MappingProxyType({
    "exercises": run_exercises,
    "quiz": quiz_sheet,
})
"""Lesson sub-commands that are not labs."""

__all__ = ["EXERCISES", "EXTRA_COMMANDS", "LABS", "LAB_ORDER", "Lab", "available_labs", "run_exercises", "run_lab"]
