"""The lesson's coding exercises: the learner writes the function, the library grades it (layer 2).

Each exercise is one plain-Python function over the lesson's own dicts (the shapes its listings
use), in the lesson's order (:data:`EXERCISES`).  The grader runs it in a separate process with
limits (:mod:`~accessrl.lesson.coding.sandbox`) on the lesson's models and on workflows generated
for each check, compares every sweep, state and action with the library's readable code, and
names the first difference with the hint for the mistake that explains it.

* :mod:`~accessrl.lesson.coding.models` — the workflows, as dicts and compiled;
* :mod:`~accessrl.lesson.coding.planning`, :mod:`~accessrl.lesson.coding.learning`,
  :mod:`~accessrl.lesson.coding.design` — each exercise's cases, references and hints;
* :mod:`~accessrl.lesson.coding.grader` — one grader for the CLI, Python and the studio;
* ``files/`` — each exercise's starter and worked solution (text; the starter is what
  ``accessrl exercise start`` writes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import resources
from types import MappingProxyType
from typing import Any

from accessrl.errors import ParameterError
from accessrl.lesson.coding import design, learning, planning
from accessrl.lesson.coding.base import TOLERANCE, Case, CodingExercise, Finding, Report
from accessrl.lesson.coding.grader import check_functions, check_source
from accessrl.lesson.coding.sandbox import Limits

_ALL = (
    CodingExercise("discounted-return", "Discounted return", "discounted_return", "returns",
                   "G = r0 + gamma r1 + gamma^2 r2 + ... for a list of rewards", planning.RETURN_HINTS, planning.return_cases),
    CodingExercise("q-value", "One Bellman backup: Q(s, a)", "q_value", "bellman-backup",
                   "the expected reward plus the discounted value of the next state", planning.Q_HINTS, planning.q_value_cases),
    CodingExercise("greedy-action", "The greedy action", "greedy_action", "bellman-backup",
                   "the action with the largest backed-up value, first among ties", planning.GREEDY_HINTS, planning.greedy_cases),
    CodingExercise("value-iteration", "Value iteration, sweep by sweep", "value_iteration", "value-iteration",
                   "synchronous sweeps from zero: values after every sweep and the greedy policy", planning.VI_HINTS,
                   planning.value_iteration_cases),
    CodingExercise("policy-evaluation", "Policy evaluation", "policy_evaluation", "value-iteration",
                   "what a fixed policy is worth, sweep by sweep", planning.PE_HINTS, planning.policy_evaluation_cases),
    CodingExercise("policy-improvement", "Policy improvement", "policy_improvement", "value-iteration",
                   "the greedy policy for given values", planning.PI_HINTS, planning.policy_improvement_cases),
    CodingExercise("abandonment-breakeven", "Abandonment: the breakeven probability", "breakeven_probability", "abandonment",
                   "the abandonment probability at which human_review overtakes request_evidence", planning.BREAKEVEN_HINTS,
                   planning.breakeven_cases),
    CodingExercise("q-learning-update", "The Q-learning update", "q_learning_update", "q-learning",
                   "one update towards reward + gamma max Q(next), replayed on recorded experiences", learning.UPDATE_HINTS,
                   learning.update_cases),
    CodingExercise("q-learning", "Q-learning with epsilon-greedy exploration", "q_learning", "q-learning",
                   "the lesson's episode loop with the visit-count learning rate", learning.LOOP_HINTS, learning.loop_cases,
                   statistics=f"exploration: a correct loop fails the rate check with probability about 1e-6 "
                              f"(|z| > {learning.EXPLORATION_Z})"),
    CodingExercise("reinforce", "REINFORCE with a baseline", "reinforce_step", "policy-gradient",
                   "one policy-gradient step on a batch, the batch mean as baseline", learning.REINFORCE_HINTS,
                   learning.reinforce_cases),
    CodingExercise("reward-design", "A reward no shortcut can win", "reward", "reward-design",
                   "a reward over the outcome's components that makes no shortcut pay", design.REWARD_HINTS,
                   design.reward_cases, tolerance="policies measured exactly by the library's audit"),
    CodingExercise("time-split", "Held-out evaluation: a time split without leakage", "time_split", "held-out",
                   "train, validation and test by decision time, with no future outcome or repeat requester leaking back",
                   design.SPLIT_HINTS, design.split_cases, tolerance="episode ids compared exactly"),
)

EXERCISES: Mapping[str, CodingExercise] = MappingProxyType({e.name: e for e in _ALL})
"""Name -> coding exercise, in the lesson's order (read-only)."""


def exercise(name: str) -> CodingExercise:
    """The coding exercise called ``name`` (one clear error naming the choices otherwise)."""
    if name not in EXERCISES:
        raise ParameterError(f"exercise: unknown coding exercise {name!r}; expected one of {list(EXERCISES)}")
    return EXERCISES[name]


def _text(name: str, kind: str) -> str:
    ex = exercise(name)
    return resources.files("accessrl.lesson.coding").joinpath("files", f"{ex.function}_{kind}.txt").read_text(encoding="utf-8")


def starter(name: str) -> str:
    """The starter file: the function's stub, its docstring, and an example that fails until it is written."""
    return _text(name, "starter")


def solution(name: str) -> str:
    """A worked solution (what ``accessrl exercise solution NAME --spoil`` prints)."""
    return _text(name, "solution")


def grade_source(name: str, code: str, **kw: Any) -> Report:
    """Grade ``code`` (text that defines the exercise's function)."""
    return check_source(exercise(name), code, **kw)


def grade_function(name: str, function: Callable[..., Any], **kw: Any) -> Report:
    """Grade a function object."""
    return check_functions(exercise(name), function, **kw)


__all__ = [
    "EXERCISES",
    "TOLERANCE",
    "Case",
    "CodingExercise",
    "Finding",
    "Limits",
    "Report",
    "exercise",
    "grade_function",
    "grade_source",
    "solution",
    "starter",
]
