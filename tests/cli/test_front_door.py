"""The front door: ``accessrl --help`` grouped by what a person wants with nothing cut, the tour
ending with the learner's next steps, and wide tables readable when the output is a file."""

from __future__ import annotations

import os
import subprocess
import sys

from typer.testing import CliRunner

from accessrl.cli import PANELS, app
from accessrl.cli._common import print_table


def test_help_groups_the_commands_into_panels_learners_first() -> None:
    res = CliRunner().invoke(app, ["--help"])
    assert res.exit_code == 0
    out = res.output
    titles = [t for t, _ in PANELS]
    assert titles == ["Learn", "Model & solve", "Logs & deployment", "Scale and tools"]
    positions = [out.index(f"\n{t}:\n") for t in titles]
    assert positions == sorted(positions)
    learn = out[positions[0]:positions[1]]
    for name in ("tour", "lesson", "studio", "exercise"):
        assert f"\n  {name} " in learn
    assert "Other commands" not in out  # every command is in a panel
    assert "..." not in out.split("Learn:", 1)[1] and "…" not in out


def test_every_top_level_command_is_in_a_panel() -> None:
    import typer

    group = typer.main.get_command(app)
    names = {n for n, c in group.commands.items() if not c.hidden}
    in_panels = {n for _, ns in PANELS for n in ns}
    assert names == in_panels


def test_sub_command_help_is_not_cut() -> None:
    res = CliRunner().invoke(app, ["exercise", "--help"])
    assert res.exit_code == 0 and "whether you passed it" in " ".join(res.output.split())


def test_the_tour_ends_with_the_next_steps(tmp_path) -> None:
    res = CliRunner().invoke(app, ["tour", "--quick", "--out", str(tmp_path / "t")])
    assert res.exit_code == 0, res.output
    tail = res.output.rsplit("Next steps:", 1)[1]
    for cmd in ("accessrl studio", "accessrl lesson", "accessrl exercise list", "accessrl lesson quiz"):
        assert cmd in tail


def test_a_wide_table_written_to_a_file_is_not_cut(tmp_path) -> None:
    """Piped output gets 160 columns (not rich's 80) and cells fold instead of ending in "…"."""
    code = ("from accessrl.cli._common import print_table\n"
            "print_table('weeks', [f'column number {i}' for i in range(7)], "
            "[[f'request_evidence_{i}' for i in range(7)], [123456.789012 + i for i in range(7)]])\n")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    with open(tmp_path / "log.txt", "w") as f:
        subprocess.run([sys.executable, "-c", code], stdout=f, env=env, check=True)
    text = (tmp_path / "log.txt").read_text()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 160
    for i in range(7):  # 7 columns fit in 160 (at rich's 80 every cell was cut)
        assert f"request_evidence_{i}" in text and f"{123456.789012 + i:.6g}" in text


def test_a_narrow_terminal_folds_cells_rather_than_cutting(capsys) -> None:
    from rich.console import Console

    import accessrl.cli._common as common

    old = common.console
    common.console = Console(width=40, highlight=False, force_terminal=False)
    try:
        print_table("t", ["name", "value"], [["request_evidence_with_a_long_name", 30.5078]])
    finally:
        common.console = old
    out = capsys.readouterr().out
    assert "…" not in out and "30.5078" in out


def test_simulate_says_why_there_is_no_severe_rate() -> None:
    res = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["simulate", "catalog:access-review-abandonment",
                                                         "--episodes", "50"])
    assert res.exit_code == 0 and "nan" not in res.output
    assert "n/a (no severe outcomes in the spec" in res.output
    res = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["simulate", "catalog:access-review-abandonment",
                                                         "--episodes", "50", "--severe-threshold", "-50"])
    assert res.exit_code == 0 and "n/a (no severe" not in res.output
