"""`accessrl exercise`: the lesson's exercises, graded by the library.

The answer exercises (1, 2, 3: a number, weights, a schema) and the coding exercises (you write the
function: ``discounted-return`` ... ``time-split``) share one command group and one progress store.
"""

from __future__ import annotations

from pathlib import Path

import typer

from accessrl.cli._common import console
from accessrl.errors import ParameterError

ANSWER_EXERCISES = ("1", "2", "3")


def register(app: typer.Typer) -> None:
    exercise = typer.Typer(help="The lesson's exercises, graded by the library: answers (1-3) and code you write.",
                           no_args_is_help=True)
    app.add_typer(exercise, name="exercise")

    @exercise.command("list")
    def list_cmd() -> None:
        """List the coding exercises in the lesson's order, with the lab each follows and whether you passed it."""
        from accessrl.lesson import quiz
        from accessrl.lesson.coding import EXERCISES

        done = quiz.load_progress().get("lesson", {}).get("exercises", {})
        for ex in EXERCISES.values():
            mark = "passed" if done.get(ex.name, {}).get("passed") else "      "
            console.print(f"{mark}  {ex.name:22} {ex.function}()  after lab {ex.lab}: {ex.summary}", markup=False, soft_wrap=True)
        console.print("start one: accessrl exercise start NAME [DIR]", markup=False)

    @exercise.command("start")
    def start_cmd(
        name: str = typer.Argument(..., help="A coding exercise (accessrl exercise list), e.g. value-iteration."),
        directory: str = typer.Argument(".", help="The folder to write the starter file into."),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing file of that name."),
    ) -> None:
        """Write a starter file: the function's stub, its docstring and an example that fails until you write it."""
        from accessrl.lesson.coding import exercise as get
        from accessrl.lesson.coding import starter

        ex = get(name)
        folder = Path(directory)
        path = folder / f"{ex.function}.py"
        if path.exists() and not force:
            raise ParameterError(f"{path}: exists already; edit it, or add --force to start over")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(starter(ex.name), encoding="utf-8")
        except OSError as exc:
            raise ParameterError(f"{path}: cannot write it ({exc.strerror or exc})") from None
        console.print(f"wrote {path}: write {ex.function}, then run  accessrl exercise check {ex.name} {path}",
                      markup=False, soft_wrap=True)

    @exercise.command("check")
    def check_cmd(
        name: str = typer.Argument(..., help="Exercise 1, 2 or 3 (an answer), or a coding exercise such as value-iteration."),
        answer: str = typer.Argument(..., help="1-3: the answer, or @FILE; a coding exercise: the Python FILE."),
        seed: int = typer.Option(None, "--seed", help="A seed that rebuilds the same generated cases (default: fresh ones)."),
    ) -> None:
        """Grade an answer or your code: exit 0 when it passes, 1 with the first difference and a hint when it does not."""
        from accessrl.lesson import quiz

        if name in ANSWER_EXERCISES:
            _answer(int(name), answer)
            return
        from accessrl.lesson.coding import EXERCISES, grade_source

        if name not in EXERCISES:
            raise ParameterError(f"exercise: expected 1, 2 or 3, or a coding exercise ({', '.join(EXERCISES)}), got {name!r}")
        path = Path(answer[1:] if answer.startswith("@") else answer)
        try:
            code = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ParameterError(f"{path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
        report = grade_source(name, code, filename=str(path), seed=seed)
        quiz.record_exercise(name, report.passed)
        console.print(report.text(), markup=False, soft_wrap=True)
        if not report.passed:
            raise typer.Exit(1)

    @exercise.command("solution")
    def solution_cmd(
        name: str = typer.Argument(..., help="A coding exercise, e.g. value-iteration."),
        spoil: bool = typer.Option(False, "--spoil", help="Yes, print the worked solution."),
    ) -> None:
        """Print a worked solution of a coding exercise (needs --spoil, so it is never shown by accident)."""
        from accessrl.lesson.coding import exercise as get
        from accessrl.lesson.coding import solution

        ex = get(name)
        if not spoil:
            raise ParameterError(f"exercise solution {ex.name}: this prints the answer; add --spoil to see it")
        console.print(solution(ex.name).rstrip(), markup=False, highlight=False, soft_wrap=True)


def _answer(number: int, answer: str) -> None:
    """The answer exercises 1-3 (a number, reward weights, a log schema)."""
    from accessrl.lesson import quiz
    from accessrl.lesson.exercises import grade

    text = answer
    if answer.startswith("@"):
        try:
            text = Path(answer[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise ParameterError(f"answer file {answer[1:]}: cannot read it ({exc.strerror or exc})") from None
        except UnicodeDecodeError as exc:
            raise ParameterError(f"answer file {answer[1:]}: expected UTF-8 text, got byte "
                                 f"0x{exc.object[exc.start]:02x} at offset {exc.start}") from None
    g = grade(number, text)
    quiz.record_exercise(number, g.passed)
    console.print(f"exercise {number}: {'passed' if g.passed else 'not yet'}", markup=False)
    for line in g.feedback:
        console.print(f"  {line}", markup=False)
    if not g.passed:
        raise typer.Exit(1)
