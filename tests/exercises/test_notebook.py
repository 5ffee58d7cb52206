"""The lesson's notebook (examples/lesson.py, jupytext percent format) runs in a real Jupyter kernel:
as shipped every exercise cell reports "not yet" without stopping the notebook, and with the worked
solutions filled in every check passes (the fork route of check() inside a kernel)."""

from __future__ import annotations

from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason='the notebook test needs the extra: pip install "accessrl[notebook]"')
nbclient = pytest.importorskip("nbclient")

from accessrl.lesson import LAB_ORDER, run_lab  # noqa: E402
from accessrl.lesson.coding import EXERCISES, starter  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "lesson.py"


def _run(tmp_path, monkeypatch, solve: bool):
    monkeypatch.setenv("ACCESSRL_DATA_DIR", str(tmp_path / "data"))
    nb = jupytext.read(NOTEBOOK)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "SOLVE = False" in params[0].source
    params[0].source = f"SOLVE = {solve}"
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def test_the_notebook_as_shipped_runs_and_every_exercise_says_not_yet(tmp_path, monkeypatch):
    nb = _run(tmp_path, monkeypatch, solve=False)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [c for c in code if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    outputs = "".join(_text(c) for c in code)
    for lab in LAB_ORDER:  # each lab prints what `accessrl lesson LAB` prints
        assert "\n".join(run_lab(lab)) in outputs, lab
    for name in EXERCISES:
        assert f"{name}: not yet" in outputs, name


def test_the_notebook_with_the_solutions_passes_every_check(tmp_path, monkeypatch):
    nb = _run(tmp_path, monkeypatch, solve=True)
    outputs = "".join(_text(c) for c in nb.cells if c.cell_type == "code")
    for name in EXERCISES:
        assert f"{name}: passed" in outputs, name
    from accessrl.lesson import quiz

    done = quiz.load_progress(tmp_path / "data")["lesson"]["exercises"]
    assert all(done[n]["passed"] for n in EXERCISES)


def test_the_notebook_stubs_are_the_starters():
    text = NOTEBOOK.read_text()
    for name, ex in EXERCISES.items():
        head = next(line for line in starter(name).splitlines() if line.startswith(f"def {ex.function}("))
        assert head in text, name
