"""`logs ingest` reads .gz files and standard input, names every missing field at once and accepts
imported history (mode historical)."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from typer.testing import CliRunner

from accessrl.cli import app
from accessrl.storage import DecisionLog
from accessrl.storage.files import write_records

sys.path.insert(0, str(Path(__file__).parents[1]))
from cli_checks import one_error_line  # noqa: E402

runner = CliRunner()


def _records(n: int = 3, mode: str = "historical") -> list[dict]:
    out = []
    for i in range(n):
        out.append({"record": "decision", "event_id": f"e{i}", "episode_id": f"r{i}", "step_index": 0,
                    "requester_id": f"u{i}", "decided_at": f"2026-01-05T0{i}:00:00Z", "state": "new",
                    "allowed_actions": ["approve", "review"], "action": "review",
                    "action_probabilities": {"approve": 0.5, "review": 0.5}, "propensity": 0.5,
                    "policy_id": "imported", "policy_version": "1", "exploration": 0.0, "mode": mode})
        out.append({"record": "outcome", "event_id": f"e{i}", "kind": "closed", "occurred_at": f"2026-01-05T0{i}:30:00Z",
                    "next_state": "closed", "reward": 1.0, "terminated": True})
    return out


def test_gz_files_are_read(tmp_path):
    for name in ("a.jsonl", "b.csv"):
        plain = tmp_path / name
        write_records(plain, _records())
        gz = tmp_path / (name + ".gz")
        gz.write_bytes(gzip.compress(plain.read_bytes()))
        db = str(tmp_path / f"{name}.db")
        r = runner.invoke(app, ["logs", "ingest", str(gz), "--db", db])
        assert r.exit_code == 0, r.output
        assert DecisionLog(db, create=False).counts() == {"decision_snapshots": 3, "outcome_events": 3}
    one_error_line(runner.invoke(app, ["logs", "ingest", str(tmp_path / "x.parquet.gz"), "--db", str(tmp_path / "z.db")]),
                   "Parquet compresses itself", code=2)


def test_standard_input_is_read_once(tmp_path):
    write_records(tmp_path / "a.csv", _records())
    text = (tmp_path / "a.csv").read_text()
    db = str(tmp_path / "x.db")
    r = runner.invoke(app, ["logs", "ingest", "-", "--format", "csv", "--db", db], input=text)
    assert r.exit_code == 0, r.output  # the header is read from the start of the pipe, not after a lost peek
    assert "decisions 3 new" in r.stdout
    write_records(tmp_path / "a.jsonl", _records(4))
    r = runner.invoke(app, ["logs", "ingest", "-", "--format", "jsonl", "--db", str(tmp_path / "y.db")],
                      input=gzip.compress((tmp_path / "a.jsonl").read_bytes()))
    assert r.exit_code == 0 and "decisions 4 new" in r.stdout
    one_error_line(runner.invoke(app, ["logs", "ingest", "-", "--db", db], input=text), "--format", code=2)


def test_every_missing_field_is_named_at_once(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text(json.dumps({"event_id": "e1", "decided_at": "2026-01-05T00:00:00Z", "state": "new"}) + "\n")
    r = runner.invoke(app, ["logs", "ingest", str(p), "--db", str(tmp_path / "x.db")])
    assert r.exit_code == 1
    assert ("missing fields 'episode_id', 'step_index', 'requester_id', 'allowed_actions', 'action', "
            "'action_probabilities', 'propensity', 'policy_id', 'policy_version', 'exploration', 'mode'") in r.stderr


def test_historical_is_a_mode(tmp_path):
    p = tmp_path / "a.jsonl"
    write_records(p, _records(mode="historical"))
    db = str(tmp_path / "x.db")
    assert runner.invoke(app, ["logs", "ingest", str(p), "--db", db]).exit_code == 0
    assert DecisionLog(db, create=False).load_steps().steps.n_steps == 3  # historical decisions are read by default
