"""Ctrl-C in the quiz records no attempt; evaluate-policy refuses policies that do not fit the log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from typer.testing import CliRunner

from accessrl.catalog import access_review_abandonment_spec
from accessrl.cli import app
from cli_checks import one_error_line

runner = CliRunner()


def test_end_of_input_in_the_quiz_records_no_attempt_and_exits_130(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCESSRL_DATA_DIR", str(tmp_path))
    r = runner.invoke(app, ["lesson", "quiz"], input="a\nb\n")  # then end of input, as Ctrl-D
    one_error_line(r, "interrupted after 2 of 10 questions", "nothing was recorded", code=130)
    assert not (tmp_path / "progress.json").exists()


def test_a_finished_attempt_is_still_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCESSRL_DATA_DIR", str(tmp_path))
    r = runner.invoke(app, ["lesson", "quiz"], input="a\n" * 10)
    assert r.exit_code == 0, r.output
    saved = json.loads((tmp_path / "progress.json").read_text())
    assert saved["lesson"]["quiz"]["attempts"] == 1 and saved["lesson"]["quiz"]["last"]["total"] == 10


def test_real_ctrl_c_in_the_quiz(tmp_path):
    env = {**os.environ, "ACCESSRL_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "accessrl", "lesson", "quiz"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("a\n")
    proc.stdin.flush()
    seen = ""
    deadline = time.monotonic() + 60
    while "Question 2/" not in seen and time.monotonic() < deadline:  # wait until it asks the second question
        seen += proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("accessrl: error: quiz: interrupted") and "Traceback" not in err
    assert not (tmp_path / "progress.json").exists()  # Ctrl-C is not a failed attempt


def test_evaluate_policy_refuses_unknown_states_and_specs(tmp_path):
    db = tmp_path / "log.db"
    r = runner.invoke(app, ["logs", "generate", "--model", "catalog:access-review-abandonment", "--requests", "200",
                            "--db", str(db)])
    assert r.exit_code == 0, r.output
    good = tmp_path / "good.yaml"
    good.write_text("new_request: request_evidence\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(good.read_text() + "nowhere: auto_approve\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(access_review_abandonment_spec()))
    base = ["evaluate-policy", "--db", str(db), "--n-boot", "20"]
    ok = runner.invoke(app, [*base, "--policy", str(good)])
    assert ok.exit_code == 0, ok.output
    one_error_line(runner.invoke(app, [*base, "--policy", str(unknown)]), "state 'nowhere'", "unknown state", code=1)
    one_error_line(runner.invoke(app, [*base, "--policy", str(spec)]), "workflow spec", code=1)
    assert Path(spec).exists()
