"""Shared pieces of the command line: consoles, model loading, output, error handling."""

from __future__ import annotations

import json
import math
import os
import re
import sys
from typing import Any

try:  # typer >= 0.20 vendors its own copy of click (and does not install click)
    from typer import _click as click
except ImportError:  # pragma: no cover - older typer depends on click itself
    import click  # type: ignore[no-redef]
import numpy as np
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from accessrl.errors import AccessRLError, ParameterError
from accessrl.model.mdp import MDP

PIPED_WIDTH = 160
"""Columns of output that goes to a file or a pipe when ``$COLUMNS`` does not say (rich would use 80
and cut every cell of a wide table to "re…"); tables fold what still does not fit, never cut it."""


def _width(stream: Any) -> int | None:
    if os.environ.get("COLUMNS") or (hasattr(stream, "isatty") and stream.isatty()):
        return None  # rich reads $COLUMNS or the terminal
    return PIPED_WIDTH


console = Console(highlight=False, width=_width(sys.stdout))
err_console = Console(stderr=True, highlight=False, width=_width(sys.stderr))

TABLE_ROWS = 30
"""How many rows a people-facing table shows before it says how many it left out."""


class UncutHelpGroup(TyperGroup):
    """A command group whose ``--help`` lists each command with its whole first sentence."""

    panels: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """``(title, commands)`` in the order ``--help`` lists them; empty: one plain list."""

    def format_commands(self, ctx: click.Context, formatter: Any) -> None:
        """The commands grouped into the panels, each with its whole first sentence (never cut by "...")."""
        listed = set()
        for title, names in self.panels or (("Commands", tuple(self.list_commands(ctx))),):
            rows = []
            for name in names:
                cmd = self.get_command(ctx, name)
                if cmd is None or cmd.hidden:
                    continue
                listed.add(name)
                rows.append((name, cmd.get_short_help_str(limit=10_000)))
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)
        rest = [(n, c.get_short_help_str(limit=10_000)) for n in self.list_commands(ctx)
                if n not in listed and (c := self.get_command(ctx, n)) is not None and not c.hidden]
        if rest:
            with formatter.section("Other commands"):
                formatter.write_dl(rest)
        return None



class ErrorHandlingGroup(UncutHelpGroup):
    """A command group that turns accessrl's errors into one line and an exit status."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Like click's main, but a usage error is one line on stderr (exit 2), not a panel."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[misc]
        stop_on_sigterm()
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[misc]
        except click.exceptions.ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                exc.show()
                sys.exit(exc.exit_code)
            ctx = getattr(exc, "ctx", None)
            # "accessrl: error: " already names the program: say only the subcommand ("solve: ")
            sub = ctx.command_path.partition(" ")[2] if ctx is not None else ""
            where = f"{sub}: " if sub else ""
            msg = " ".join(exc.format_message().split())
            hint = " (see --help)" if isinstance(exc, click.exceptions.UsageError) else ""
            err_console.print(f"accessrl: error: {where}{msg}{hint}", markup=False, soft_wrap=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            err_console.print("accessrl: error: interrupted", markup=False)
            sys.exit(130)  # 128 + SIGINT, as a shell reports it
        except EOFError:
            err_console.print("accessrl: error: aborted: end of input", markup=False)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AccessRLError as exc:
            fail(str(exc), exc.exit_code)
        except MemoryError:
            fail("out of memory; try a smaller model or the compact binary format", 1)
        except OSError as exc:
            fail(f"{getattr(exc, 'filename', '') or ''}: {exc.strerror or exc}".lstrip(": "), 1)
        except Exception as exc:
            db_error = database_error(exc)
            if db_error is None:
                raise
            fail(db_error, 1)


def database_error(exc: BaseException) -> str | None:
    """One line for a database error that reached the command line (a damaged file, a server that
    went away), or None when ``exc`` is not one.  Engines already raise accessrl's errors
    (:mod:`accessrl.storage.faults`); this is the net under code that drives a driver directly."""
    mod = type(exc).__module__
    if not mod.startswith(("sqlalchemy", "sqlite3", "psycopg")):
        return None
    from accessrl.storage.faults import database_fault

    fault = database_fault(exc, "the decision log")
    if fault is not None:
        return str(fault)
    orig = getattr(exc, "orig", None) or exc
    text = (str(orig).splitlines() or [type(orig).__name__])[0]
    return f"the decision log: the database refused the operation ({text})"


class Terminated(SystemExit):
    """SIGTERM, turned into an orderly exit: ``with`` blocks end (child processes are stopped,
    databases closed), then the process exits with 143 (128 + SIGTERM, as a shell reports it)."""


def _terminated(signum: int, _frame: Any) -> None:
    err_console.print("accessrl: error: terminated (SIGTERM)", markup=False)
    raise Terminated(128 + signum)


def stop_on_sigterm() -> None:
    """Make SIGTERM end this command in order (Python's default ends the process at once, leaving
    the children a command started behind).  A server replaces it with its own graceful stop."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminated)


INT_LIMIT = 2**63 - 1
"""No whole-number option may exceed this (arrays and kernels count in int64)."""


class CheckedCommand(TyperCommand):
    """A command whose numeric options are checked before it runs: every number is finite (NaN
    and infinities are refused), every whole number fits in int64, and a ``--seed`` is
    non-negative (what NumPy's generators accept)."""

    def invoke(self, ctx: click.Context) -> Any:
        for param in self.params:
            value = ctx.params.get(param.name or "")
            flag = max(getattr(param, "opts", []) or [param.name or "?"], key=len)
            if isinstance(value, float) and not math.isfinite(value):
                raise ParameterError(f"{flag}: expected a finite number, got {value!r}")
            if isinstance(value, (list, tuple)) and any(isinstance(v, float) and not math.isfinite(v) for v in value):
                raise ParameterError(f"{flag}: expected finite numbers, got {list(value)!r}")
            if isinstance(value, bool) or not isinstance(value, int):
                continue
            if abs(value) > INT_LIMIT:
                digits = len(str(value)) if abs(value) < 10**4000 else "thousands of"
                raise ParameterError(f"{flag}: expected a whole number below 2**63, got one of {digits} digits")
            if param.name == "seed" and value < 0:
                raise ParameterError(f"{flag}: expected a non-negative seed, got {value}")
        return super().invoke(ctx)


class CheckedApp(typer.Typer):
    """A Typer app whose commands are :class:`CheckedCommand` unless they say otherwise."""

    def command(self, *args: Any, cls: type[TyperCommand] | None = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or CheckedCommand, **kwargs)


class PlainCommand(CheckedCommand):
    """A checked command whose help reads like click's: ``Usage: accessrl solve [OPTIONS] SPEC``,
    arguments by upper-case name without a type tag, flags without ``<bool>``."""

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(argument_label(param))
        return pieces

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        args, opts = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                args.append((argument_label(param), record[1]))
            else:
                name = record[0]
                if getattr(param, "is_flag", False):
                    name = name.replace(" <bool>", "")
                name = re.sub(r"<list\[(\w+)\]>", r"<\1>", name)  # repeatable: the help says so
                opts.append((name, record[1]))
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)


def argument_label(param: Any) -> str:
    """``SPEC`` for a required argument, ``[SPEC]`` for an optional one, ``...`` when repeated."""
    name = param.metavar or (param.name or "").upper()
    if param.nargs != 1:
        name += "..."
    return name if param.required else f"[{name}]"


def plain_help(app: typer.Typer) -> None:
    """Give every command registered on ``app`` (and its sub-apps) :class:`PlainCommand`'s help."""
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand, CheckedCommand):
            info.cls = PlainCommand
    for group in app.registered_groups:
        if group.typer_instance is not None:
            cls = group.typer_instance.info.cls
            if not isinstance(cls, type) or cls is TyperGroup:  # typer's default (a placeholder) or plain
                group.typer_instance.info.cls = UncutHelpGroup
            plain_help(group.typer_instance)


def version_callback(value: bool) -> None:
    """``--version``: one line, ``accessrl X.Y.Z``."""
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("accessrl")
        except PackageNotFoundError:  # run from a source tree that was never installed
            v = "unknown"
        console.print(f"accessrl {v}", markup=False)
        raise typer.Exit()


def fail(message: str, code: int = 1) -> None:
    """Print one error line to stderr and exit with ``code``."""
    err_console.print(f"accessrl: error: {message}", markup=False, soft_wrap=True)
    raise typer.Exit(code)


def new_app(help_text: str) -> typer.Typer:
    """A Typer app with accessrl's error handling and without rich tracebacks."""
    return CheckedApp(
        cls=ErrorHandlingGroup,
        help=help_text,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode=None,
    )


DEFAULT_DB = os.environ.get("ACCESSRL_DB") or "accessrl-logs.db"
"""The decision log every command uses unless ``--db`` names another: ``$ACCESSRL_DB``, else
``accessrl-logs.db`` in the working directory (the same default in every command)."""

DB_HELP = ("Decision-log database: a URL (sqlite:///PATH, postgresql://...) or a SQLite file path "
           "(default $ACCESSRL_DB, else accessrl-logs.db).")

SPEC_HELP = "Workflow spec (YAML/JSON), binary .npz, or catalog:NAME."


def model_option(spec: str | None, model: str | None) -> str:
    """The model named by the SPEC argument, or by the older ``--model`` option (one of them)."""
    if spec is not None and model is not None and spec != model:
        raise ParameterError(f"SPEC and --model: give the model once (as SPEC), got {spec!r} and {model!r}")
    chosen = spec if spec is not None else model
    if chosen is None:
        raise ParameterError("SPEC: missing the workflow (a spec file, .npz or catalog:NAME)")
    return chosen


def load_model_arg(spec: str) -> MDP:
    """A model from a spec path, a binary ``.npz``, or ``catalog:NAME``."""
    from accessrl.specfile import load_model_ref

    return load_model_ref(spec)


def to_plain(x: Any) -> Any:
    """JSON-safe values: numpy scalars to Python, arrays to lists, and a non-finite float
    (NaN: not defined, e.g. a rate over no episodes; +-inf: not available) to ``None``,
    so every number field holds a number or null, never a string."""
    if isinstance(x, dict):
        return {str(k): to_plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return [to_plain(v) for v in x.tolist()]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        f = float(x)
        return f if math.isfinite(f) else None
    return x


def print_json(data: Any) -> None:
    """Machine-readable output on stdout."""
    sys.stdout.write(json.dumps(to_plain(data), indent=2) + "\n")
    sys.stdout.flush()


def print_table(title: str, columns: list[str], rows: list[list[Any]], *, limit: int = TABLE_ROWS) -> None:
    """A rich table for people, cut at ``limit`` rows with a note of how many were left out."""
    table = Table(title=title, title_justify="left")
    for c in columns:  # fold, never cut: a narrow terminal wraps a cell onto more lines
        table.add_column(c, justify="right" if c in {"value", "Q", "V", "probability"} else "left", overflow="fold")
    for r in rows[:limit]:
        table.add_row(*[fmt(v) for v in r])
    console.print(table)
    if len(rows) > limit:
        console.print(f"... {len(rows) - limit} more rows (use --json for all)")


def fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def check_positive(value: float, name: str) -> None:
    if not value > 0 or not math.isfinite(value):
        raise ParameterError(f"{name}: expected a positive number, got {value!r}")
