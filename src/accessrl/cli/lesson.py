"""`accessrl lesson`: the lesson's labs, printed from library code."""

from __future__ import annotations

import typer

from accessrl.cli._common import fail
from accessrl.errors import ParameterError


def register(app: typer.Typer) -> None:
    @app.command("lesson")
    def lesson_cmd(
        labs: list[str] = typer.Argument(None, help="Labs to run (default: all), 'exercises', or 'quiz'."),
        answers: str = typer.Option(None, "--answers", help="quiz: read the answers from FILE (one per line)."),
    ) -> None:
        """Run the lesson's labs and print what the lesson prints."""
        from accessrl import lesson

        names = labs or lesson.available_labs()
        known = [*lesson.available_labs(), *[n for n in lesson.EXTRA_COMMANDS]]
        for n in names:
            if n not in known:
                raise ParameterError(f"lesson: unknown lab {n!r}; expected one of {known}")
        many = len(names) > 1
        for i, n in enumerate(names):
            if many:
                if i:
                    typer.echo("")
                typer.echo(f"[{n}]")
            if n == "quiz":
                _quiz(answers)
                continue
            lines = lesson.EXTRA_COMMANDS[n]() if n in lesson.EXTRA_COMMANDS else lesson.run_lab(n)
            for line in lines:
                typer.echo(line)


def _quiz(answers_file: str | None) -> None:
    """Ask the quiz one question at a time, in a new order each attempt (or read ``--answers``, in
    the questions' own order), then save the attempt and review the misses.  Ctrl-C or the end of
    input stops the quiz without recording an attempt."""
    import numpy as np

    from accessrl.lesson import quiz

    all_qs = quiz.questions()
    given = quiz.read_answers(answers_file, len(all_qs)) if answers_file else None
    order = (tuple(enumerate(all_qs)) if given is not None
             else quiz.shuffled(all_qs, np.random.default_rng()))  # a fresh order per attempt
    qs = tuple(q for _, q in order)
    answered: list[str] = []

    def ask(i: int, q: quiz.Question) -> str:
        for line in quiz.format_question(i, q, len(qs)):
            typer.echo(line)
        if given is not None:
            typer.echo(f"answer: {given[i - 1]}")
            answered.append(given[i - 1])
            return given[i - 1]
        while True:  # an answer that names no choice is asked again, not scored
            raw = str(typer.prompt("answer (a-d)"))
            why = quiz.unclear_answer(raw, q)
            if why is None:
                answered.append(raw)
                return raw
            typer.echo(f"  {why}")

    try:
        attempt = quiz.run_quiz(ask, typer.echo, qs=qs)
    except (KeyboardInterrupt, EOFError, typer.Abort):
        # Ctrl-C or end of input: an unfinished attempt is not an attempt; stop the way a shell expects
        fail(f"quiz: interrupted after {len(answered)} of {len(qs)} questions; nothing was recorded "
             "(an attempt counts when every question is answered)", 130)
    for line in quiz.summary(attempt):
        typer.echo(line)
    if not attempt.passed:  # after a fail: what to revisit
        for line in quiz.review_lines(quiz.review(attempt.given, qs)):
            typer.echo(line)
    path = quiz.save_attempt(attempt)
    typer.echo(f"progress saved to {path}")
