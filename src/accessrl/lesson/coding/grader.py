"""One grader for the coding exercises: the CLI, the Python call and the studio all end here (layer 2).

:func:`check_source` grades code as text (a file, the studio's editor) and :func:`check_functions`
grades function objects (a notebook).  Both build the exercise's cases from one seeded generator
(the lesson's models and generated ones; the seed is in the report, so a failure can be replayed),
run the learner's function in the sandbox, and judge the results in this process against the
library.  The report names the first wrong case, sweep, state and action, expected and given, and
the hint for the mistake that explains it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from accessrl.lesson.coding.base import Case, CodingExercise, Finding, Report, show
from accessrl.lesson.coding.sandbox import Limits, Run, run_functions, run_source, start_child, warm_child


def _seed(seed: int | None) -> int:
    return int(np.random.SeedSequence(seed).generate_state(1)[0]) if seed is None else int(seed)


def check_source(exercise: CodingExercise, code: str, *, filename: str = "exercise.py", seed: int | None = None,
                 limits: Limits | None = None, warm: bool = False) -> Report:
    """Grade the function ``exercise.function`` defined in ``code`` (``warm``: take a child started earlier,
    as a long-lived server such as the studio does)."""
    try:
        ast.parse(code, filename=filename)
    except SyntaxError as exc:
        line = exc.lineno
        return Report(exercise.name, False, (f"line {line}: {exc.msg} (Python cannot read the file)",
                                             _source_line(code, line)), error_line=line)
    s = _seed(seed)
    child = warm_child() if warm else start_child()  # it starts while this process builds the cases
    try:
        cases = exercise.cases(np.random.default_rng(s))
    except BaseException:
        child.close()
        raise
    run = run_source(code, [c.task for c in cases], filename=filename, limits=limits, child=child)
    return _judge(exercise, cases, run, s, code)


def check_functions(exercise: CodingExercise, function: Callable[..., Any], *,
                    helpers: Mapping[str, Callable[..., Any]] | None = None, seed: int | None = None,
                    limits: Limits | None = None) -> Report:
    """Grade a function object (in a forked child with limits)."""
    if not callable(function):
        return Report(exercise.name, False, (f"expected a function, got {type(function).__name__}: pass "
                                             f"{exercise.function} itself, not its result",))
    s = _seed(seed)
    cases = exercise.cases(np.random.default_rng(s))
    run = run_functions({**(helpers or {}), exercise.function: function}, [c.task for c in cases], limits=limits)
    return _judge(exercise, cases, run, s, None)


def _source_line(code: str | None, line: int | None) -> str:
    if code is None or not line:
        return ""
    lines = code.splitlines()
    return f"  {line} | {lines[line - 1].strip()}" if 0 < line <= len(lines) else ""


def _judge(exercise: CodingExercise, cases: Sequence[Case], run: Run, seed: int, code: str | None) -> Report:
    common: dict[str, Any] = {"output": run.output, "seconds": run.seconds, "seed": seed, "cases": len(cases)}
    if run.failure:
        lines = [run.failure]
        if run.failure_line:
            lines.append(_source_line(code, run.failure_line))
        return Report(exercise.name, False, tuple(x for x in lines if x), error_line=run.failure_line, **common)
    for case, res in zip(cases, run.results, strict=True):
        if "missing" in res:
            return Report(exercise.name, False, (f"no function named {exercise.function}: define "
                                                 f"def {exercise.function}(...) as the starter does",), **common)
        if "error" in res:
            return _crash(exercise, case, res["error"], code, common)
        finding = case.judge(res)
        if finding is not None:
            return _mismatch(exercise, case, finding, seed, common)
    lines = [f"all {len(cases)} cases agree with the library's answer ({exercise.tolerance}): the lesson's "
             "models and workflows generated for this check"]
    if exercise.statistics:
        lines.append(exercise.statistics)
    return Report(exercise.name, True, tuple(lines), **common)


def _crash(exercise: CodingExercise, case: Case, error: Mapping[str, Any], code: str | None, common: dict[str, Any]) -> Report:
    line = error.get("line")
    if error.get("type") == "NotImplementedError":
        lines = [f"{exercise.function} is not written yet (it raises NotImplementedError): replace the raise line with "
                 "your code; the docstring says what to return"]
        return Report(exercise.name, False, tuple(lines), error_line=line, **common)
    where = f"line {line}: " if line else ""
    lines = [f"your {exercise.function} raised {where}{error.get('type')}: {error.get('message')}",
             f"on {case.label}"]
    src = _source_line(code, line) if code else (f"  {line} | {error['text']}" if error.get("text") else "")
    if src:
        lines.append(src)
    hint = case.crash_hint(error) if case.crash_hint else None
    if hint:
        lines.append(f"hint: {exercise.hints[hint]}")
    return Report(exercise.name, False, tuple(lines), hint=hint, error_line=line, **common)


def _mismatch(exercise: CodingExercise, case: Case, f: Finding, seed: int, common: dict[str, Any]) -> Report:
    lines = [f"on {case.label}:", f"{f.where}: expected {show(f.expected)}, got {show(f.given)}"]
    if f.note:
        lines.append(f.note)
    if f.hint:
        lines.append(f"hint: {exercise.hints[f.hint]}")
    lines.append(f"({exercise.tolerance}; --seed {seed} rebuilds the same cases)")
    return Report(exercise.name, False, tuple(lines), finding=f, hint=f.hint, **common)


__all__ = ["check_functions", "check_source"]
