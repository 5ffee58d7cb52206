"""The one check every CLI test makes of a refused command: one clear line, the right exit."""

from __future__ import annotations

from typing import Any


def one_error_line(result: Any, *needles: str, code: int | tuple[int, ...] | None = 1) -> str:
    """The single stderr line of a failed CLI run (typer's CliRunner result).

    Checks: the exit status is ``code`` (one of them for a tuple; not checked for None), stderr
    holds exactly one non-blank line starting ``accessrl: error: ``, no traceback anywhere,
    and every ``needle`` appears in the line.
    """
    if code is not None:
        allowed = code if isinstance(code, tuple) else (code,)
        assert result.exit_code in allowed, (result.exit_code, result.output)
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert lines[0].startswith("accessrl: error: "), lines[0]
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]
