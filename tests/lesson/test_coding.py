"""The coding exercises' grader: reference solutions pass, starters fail helpfully, every planted
wrong implementation fails with its intended hint, and the sandbox turns loops and crashes into one line."""

from __future__ import annotations

import pytest
from wrong_solutions import WRONG

from accessrl.lesson.coding import EXERCISES, grade_function, grade_source, solution, starter
from accessrl.lesson.coding.sandbox import Limits

SEEDS = (0, 7)


@pytest.mark.parametrize("name", list(EXERCISES))
@pytest.mark.parametrize("seed", SEEDS)
def test_the_reference_solution_passes(name, seed):
    report = grade_source(name, solution(name), seed=seed)
    assert report.passed, report.text()
    assert report.cases >= 3 and report.seed == seed


@pytest.mark.parametrize("name", list(EXERCISES))
def test_the_starter_fails_helpfully(name):
    report = grade_source(name, starter(name), seed=1)
    assert not report.passed
    text = report.text()
    if name == "reward-design":  # its starter is the lesson's speed_only score: it runs, and the audit says why it fails
        assert report.hint == "violation" and "auto_approve" in text
    else:
        assert "not written yet" in text and report.error_line is not None


CASES = [(name, what, hint, code) for name, rows in WRONG.items() for what, hint, code in rows]


def test_at_least_three_wrong_implementations_per_exercise():
    assert set(WRONG) == set(EXERCISES)
    assert all(len(rows) >= 3 for rows in WRONG.values())


@pytest.mark.parametrize(("name", "what", "hint", "code"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_a_wrong_implementation_fails_with_its_hint(name, what, hint, code):
    for seed in SEEDS:
        report = grade_source(name, code, seed=seed)
        assert not report.passed, f"{what} passed with seed {seed}"
        assert report.hint == hint, f"{what} (seed {seed}): expected hint {hint!r}, got {report.hint!r}\n{report.text()}"
        assert "hint: " in report.text()


def test_the_feedback_names_the_first_wrong_sweep_and_state():
    code = dict((w, c) for w, _, c in WRONG["value-iteration"])["in-place updates"]
    report = grade_source("value-iteration", code, seed=0)
    f = report.finding
    assert f is not None and f.sweep is not None and f.state is not None
    assert f"sweep {f.sweep}, state {f.state}: expected" in report.text()
    assert f.diagram is not None and f.diagram["state"] == f.state and f.diagram["sweep"] == f.sweep
    assert f.diagram["expected"][f.state] == f.expected and f.diagram["given"][f.state] == f.given


def test_the_lesson_model_alone_cannot_catch_in_place_updates_but_the_generated_ones_do():
    # on the lesson's model in-place and synchronous sweeps agree (its states are listed start-first), so the
    # failing case must be a generated one: the point of grading on workflows the learner has not seen
    code = dict((w, c) for w, _, c in WRONG["value-iteration"])["in-place updates"]
    report = grade_source("value-iteration", code, seed=0)
    assert "generated" in report.lines[0] or "perturbed" in report.lines[0]


def test_hard_coding_the_lessons_numbers_fails():
    code = '''
def value_iteration(states, actions, transitions, gamma, sweeps):
    h = [{"new_request": -4.0, "evidence_ready": 70.0, "review_queue": 80.0, "closed": 0.0},
         {"new_request": 59.0, "evidence_ready": 70.0, "review_queue": 80.0, "closed": 0.0},
         {"new_request": 59.0, "evidence_ready": 70.0, "review_queue": 80.0, "closed": 0.0}]
    return h, {"new_request": "request_evidence", "evidence_ready": "auto_approve", "review_queue": "approve_rotation"}
'''
    report = grade_source("value-iteration", code, seed=3)
    assert not report.passed and "abandonment" in report.lines[0]


def test_the_python_route_grades_function_objects_in_a_child():
    ns: dict = {}
    exec(solution("value-iteration"), ns)
    assert grade_function("value-iteration", ns["value_iteration"], seed=2).passed
    exec(dict((w, c) for w, _, c in WRONG["value-iteration"])["no discount"], ns)
    report = grade_function("value-iteration", ns["value_iteration"], seed=2)
    assert not report.passed and report.hint == "missing-gamma"


def test_a_helper_from_the_notebook_resolves_in_the_child():
    gamma = 0.9

    def discounted_return(rewards, g):
        return helper(rewards, g)

    def helper(rewards, g):
        return sum(g**k * r for k, r in enumerate(rewards))

    assert gamma and grade_function("discounted-return", discounted_return, seed=1).passed


@pytest.mark.parametrize(("code", "words"), [
    ("def discounted_return(rewards, gamma):\n    while True:\n        pass\n", "did not finish within 3 s"),
    ("def discounted_return(rewards, gamma):\n    return discounted_return(rewards, gamma)\n", "RecursionError"),
    ("def discounted_return(rewards, gamma):\n    return len(bytearray(2**34))\n", "MemoryError"),
    ("import os\n\ndef discounted_return(rewards, gamma):\n    os.abort()\n", "crashed"),
    ("def discounted_return(rewards, gamma:\n    return 0\n", "line 1"),
    ("x = 1 / 0\n", "ZeroDivisionError"),
    ("def discount(rewards, gamma):\n    return 0\n", "no function named discounted_return"),
])
def test_loops_and_crashes_are_one_clear_message(code, words):
    report = grade_source("discounted-return", code, seed=0, limits=Limits(seconds=3, memory_mb=1024))
    assert not report.passed
    assert words in report.text(), report.text()
    assert "Traceback" not in report.text()


def test_the_learners_output_comes_back():
    code = solution("discounted-return") + "\nprint('hello from the learner')\n"
    report = grade_source("discounted-return", code, seed=0)
    assert report.passed and "hello from the learner" in report.output and "your code printed" in report.text()


def test_an_infinite_loop_in_a_function_object_is_stopped():
    def discounted_return(rewards, gamma):
        while True:
            pass

    report = grade_function("discounted-return", discounted_return, seed=0, limits=Limits(seconds=1))
    assert not report.passed and "did not finish" in report.text()


def test_the_breakeven_reference_agrees_with_the_library_sweep():
    """The grader's breakeven (the library's backups at p = 0 and 1) equals probability_sweep's bisection,
    and on the lesson's numbers it is 5/113 (the lesson's own answer to its exercise 1)."""
    import numpy as np

    from accessrl.catalog import access_review_abandonment
    from accessrl.lesson.coding.planning import breakeven_inputs, reference_breakeven
    from accessrl.planning.sensitivity import probability_sweep

    inputs = breakeven_inputs(np.random.default_rng(5))
    assert abs(reference_breakeven(*inputs[0][1:]) - 5 / 113) < 1e-12
    found = probability_sweep(access_review_abandonment(), "new_request", "request_evidence", "closed", [0.0, 1.0])
    assert abs(found.breakevens[0].value - 5 / 113) < 1e-9
    assert reference_breakeven(*inputs[-1][1:]) is None  # human_review always wins there


@pytest.mark.parametrize("name", list(EXERCISES))
def test_a_solution_written_from_the_docstring_alone_passes(name):
    """The docstring says enough: a second solution, in another style, passes too (tests/lesson/docstring_solutions.py)."""
    from docstring_solutions import ALTERNATIVES

    assert set(ALTERNATIVES) == set(EXERCISES)
    for seed in SEEDS:
        report = grade_source(name, ALTERNATIVES[name], seed=seed)
        assert report.passed, report.text()
