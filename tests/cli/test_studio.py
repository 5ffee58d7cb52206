"""`accessrl studio` prints its URL and serves; `accessrl exercise check` grades with the studio's code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accessrl.cli import app
from cli_checks import one_error_line

runner = CliRunner()
SRC = Path(__file__).resolve().parents[2] / "src"


def test_studio_prints_its_url_and_serves_offline(tmp_path):
    pytest.importorskip("uvicorn")
    env = dict(os.environ, PYTHONPATH=str(SRC), ACCESSRL_DATA_DIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "accessrl", "studio", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        m = re.search(r"accessrl studio at (http://127\.0\.0\.1:\d+/)", line)
        assert m, line + proc.stderr.read() if proc.poll() is not None else line
        with urllib.request.urlopen(m.group(1) + "lab/abandonment", timeout=10) as r:
            html = r.read().decode()
        assert "Abandonment flips the decision" in html and "https://" not in html
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_studio_refuses_other_hosts_and_bad_databases(tmp_path):
    one_error_line(runner.invoke(app, ["studio", "--host", "0.0.0.0"]), "loopback only", code=2)
    one_error_line(runner.invoke(app, ["studio", "--db", str(tmp_path / "empty.db")]), "no decisions logged yet")


def test_exercise_check(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCESSRL_DATA_DIR", str(tmp_path))
    r = runner.invoke(app, ["exercise", "check", "1", "0.25"])
    assert r.exit_code == 1 and "not yet" in r.output and "abandonment rate" in r.output
    r = runner.invoke(app, ["exercise", "check", "1", "5/113"])
    assert r.exit_code == 0 and "exercise 1: passed" in r.output
    f = tmp_path / "schema.yaml"
    f.write_text("decision_snapshot: [event_id, decided_at, state, action, propensity]\n"
                 "outcome_events: [event_id, occurred_at, evidence_received_at, kind]\n")
    assert runner.invoke(app, ["exercise", "check", "3", f"@{f}"]).exit_code == 0
    one_error_line(runner.invoke(app, ["exercise", "check", "4", "x"]), "expected 1, 2 or 3", code=2)
    one_error_line(runner.invoke(app, ["exercise", "check", "2", "@/nonexistent"]), "cannot read", code=2)


def test_studio_export_writes_every_lab(tmp_path):
    r = runner.invoke(app, ["studio", "--export", str(tmp_path / "site")])
    assert r.exit_code == 0, r.output
    from accessrl.lesson import LAB_ORDER

    for name in LAB_ORDER:
        html = (tmp_path / "site" / "lab" / f"{name}.html").read_text()
        assert 'id="static-data"' in html and "../static/studio.js" in html and "http://" not in html
    assert (tmp_path / "site" / "static" / "studio.js").exists()
