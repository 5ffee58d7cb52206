"""The ``accessrl`` command line (layer 3): thin adapters over library calls.

Each command module registers its commands on :data:`app`.  Errors from the library
become one line on stderr and exit status 1 (domain) or 2 (usage).
"""

from __future__ import annotations

import typer

from accessrl.cli import audit as _audit
from accessrl.cli import deploy as _deploy
from accessrl.cli import eventlogs as _eventlogs
from accessrl.cli import exercise as _exercise
from accessrl.cli import generate as _generate
from accessrl.cli import learned as _learned
from accessrl.cli import learning as _learning
from accessrl.cli import lesson as _lesson
from accessrl.cli import logs as _logs
from accessrl.cli import pg as _pg
from accessrl.cli import pilot as _pilot
from accessrl.cli import planning as _planning
from accessrl.cli import scale as _scale
from accessrl.cli import serve as _serve
from accessrl.cli import studio as _studio
from accessrl.cli import tour as _tour
from accessrl.cli._common import ErrorHandlingGroup, new_app, plain_help, version_callback

app = new_app("accessrl: reinforcement learning for access-review workflows.")


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """accessrl: reinforcement learning for access-review workflows."""

_planning.register(app)
_lesson.register(app)
_eventlogs.register(_logs.register(app))
_learned.register(app)
_learning.register(app)
_generate.register(app)
_serve.register(app)
_deploy.register(app)
_tour.register(app)
_audit.register(app)
_pg.register(app)
_studio.register(app)
_exercise.register(app)
_pilot.register(app)
_scale.register(app)
plain_help(app)

PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Learn", ("tour", "lesson", "studio", "exercise")),
    ("Model & solve", ("solve", "evaluate", "check", "sweep", "simulate", "learn", "reinforce", "audit", "constrain",
                       "generate", "llm")),
    ("Logs & deployment", ("logs", "evaluate-policy", "learn-from-logs", "serve", "promote", "monitor", "rollback",
                           "pilot")),
    ("Scale and tools", ("scale",)),
)
"""How ``accessrl --help`` groups the commands: what a learner needs first (a command in no panel
is listed last, under "Other commands", so a new one is never hidden)."""


class _PanelledGroup(ErrorHandlingGroup):
    panels = PANELS


app.info.cls = _PanelledGroup


def main() -> None:
    """Console entry point."""
    app(prog_name="accessrl")


__all__ = ["app", "main"]
