"""`accessrl lesson`: the lesson's labs, printed from library code."""

from __future__ import annotations

import typer

from accessrl.errors import ParameterError


def register(app: typer.Typer) -> None:
    @app.command("lesson")
    def lesson_cmd(
        labs: list[str] = typer.Argument(None, help="Labs to run (default: all), or 'exercises'."),
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
            lines = lesson.EXTRA_COMMANDS[n]() if n in lesson.EXTRA_COMMANDS else lesson.run_lab(n)
            for line in lines:
                typer.echo(line)
