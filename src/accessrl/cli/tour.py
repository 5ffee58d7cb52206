"""`accessrl tour`: the whole story on the built-in workflow, as an HTML report."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from accessrl.cli._common import console


def register(app: typer.Typer) -> None:
    @app.command("tour")
    def tour_cmd(
        out: str = typer.Option("accessrl-tour", "--out", help="Directory for index.html and its plots."),
        quick: bool = typer.Option(False, "--quick", help="Tiny sampling budgets (a few seconds)."),
        seed: int = typer.Option(None, "--seed", help="One seed for every sampling step (default: the lesson's "
                                                      "seeds, 7 for Monte Carlo and 13 for Q-learning)."),
    ) -> None:
        """Define, solve, simulate, learn, audit, log, estimate and evaluate - then write a report."""
        import importlib.util

        from accessrl.report.tour import run_tour

        target = Path(out)
        studio = importlib.util.find_spec("jinja2") is not None and importlib.util.find_spec("fastapi") is not None
        if studio and (target.is_dir() or not target.exists()):
            # the studio's lab pages beside the report (the report links to them)
            from accessrl.studio.export import export_site

            export_site(f"{out}/studio")

        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task("tour", total=10)

            def progress(done: int, total: int, title: str) -> None:
                bar.update(task, completed=done, total=total, description=title)

            result = run_tour(out, quick=quick, seed=seed, progress=progress)
        for s in result.sections:
            colour = {"done": "green", "skipped": "yellow"}.get(s.status, "red")
            console.print(f"  [{colour}]{s.status:>7}[/] {s.title} ({s.seconds:.1f} s)"
                          + (f": {s.note}" if s.status != "done" else ""))
        console.print(f"report written to [bold]{result.index}[/] in {result.seconds:.1f} s")
        console.print(next_steps(studio, out), markup=False, soft_wrap=True)


def next_steps(studio: bool, out: str) -> str:
    """What a learner does after the tour, in the order of the learner's path."""
    first = ("  accessrl studio            the lesson in your browser: watch the agent, step the sweeps, edit "
             "the workflow" if studio else
             "  pip install -e \".[studio]\"  then accessrl studio: the lesson in your browser "
             "(the studio's extra is not installed)")
    return "\n".join(["", "Next steps:", first,
                      "  accessrl lesson            every lab of the lesson, printed as the lesson prints it",
                      "  accessrl exercise list     the exercises, graded by the library",
                      "  accessrl lesson quiz       the quiz (above 75% marks the lesson complete)",
                      f"  the studio's pages are also saved beside the report: {out}/studio/index.html" if studio else ""]
                     ).rstrip()
