"""The process map (accessrl.offline.processmap) and its drawing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from typer.testing import CliRunner

from accessrl.cli import app
from accessrl.storage import DecisionLog

sys.path.insert(0, str(Path(__file__).parents[1]))
from cli_checks import one_error_line  # noqa: E402
from eventlog_files import MAPPING, cases, write_xes  # noqa: E402

runner = CliRunner()


def _db(tmp_path: Path) -> str:
    (tmp_path / "m.yaml").write_text(MAPPING)
    write_xes(tmp_path / "l.xes", cases(40))
    db = str(tmp_path / "x.db")
    r = runner.invoke(app, ["logs", "import", str(tmp_path / "l.xes"), "--mapping", str(tmp_path / "m.yaml"), "--db", db])
    assert r.exit_code == 0, r.output
    return db


def test_map_counts_probabilities_and_waits(tmp_path):
    db = _db(tmp_path)
    r = runner.invoke(app, ["logs", "map", "--db", db, "--json", "--out", str(tmp_path / "m.svg")])
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)
    edges = {(e["state"], e["action"], e["next_state"]): e for e in m["edges"]}
    # by construction (eventlog_files.cases): from 'new', 30 cases ask for documents (10 get them at 15:00,
    # 20 do not and are next seen at a reminder 12:00 or open), 10 are declined at once
    ask = [e for k, e in edges.items() if k[:2] == ("new", "request_evidence")]
    assert sum(e["count"] for e in ask) == 20  # the 10 open cases' decisions have no outcome yet
    got = edges[("new", "request_evidence", "evidence_in")]
    assert (got["count"], got["pair_count"], got["p"]) == (10, 20, 0.5)
    assert got["median_wait_h"] == 6.5 and got["p90_wait_h"] == 6.5  # 09:30 -> 16:00, the next decision
    assert got["p_low"] < 0.5 < got["p_high"]
    dec = edges[("new", "decline", "declined")]
    assert (dec["count"], dec["p"], dec["terminal"]) == (10, 1.0, True)
    assert (tmp_path / "m.svg").read_text().startswith("<?xml")
    r = runner.invoke(app, ["logs", "map", "--db", db, "--json", "--min-count", "11"])
    assert json.loads(r.stdout)["edges"] == [] and json.loads(r.stdout)["hidden_transitions"] == len(edges)


def test_map_draws_png_and_refuses_other_files(tmp_path):
    db = _db(tmp_path)
    r = runner.invoke(app, ["logs", "map", "--db", db, "--out", str(tmp_path / "m.png"), "--level", "state"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    one_error_line(runner.invoke(app, ["logs", "map", "--db", db, "--out", str(tmp_path / "m.pdf")]), "--out", code=2)
    one_error_line(runner.invoke(app, ["logs", "map", "--db", db, "--min-count", "0"]), "--min-count", code=2)
    assert DecisionLog(db, create=False).counts()["decision_snapshots"] == 60


def test_abandonment_by_stage(tmp_path):
    db = _db(tmp_path)
    r = runner.invoke(app, ["logs", "abandonment", "--db", db, "--json", "--bounds-days", "0.25,1",
                            "--out", str(tmp_path / "a.png")])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    (st,) = res["stages"]
    # withdrawals happen in the stage entered by the evidence request (09:30), 8.5 h later (18:00),
    # after a reminder that keeps the stage: 10 events, and the 10 open cases wait until the log's end
    assert st["stage"] == "request_evidence" and st["abandoned"] == 10
    h = st["hazard"]
    assert [b["events"] for b in h] == [0, 10, 0]
    assert (tmp_path / "a.png").exists()
    one_error_line(runner.invoke(app, ["logs", "abandonment", "--db", db, "--kind", "nothing"]), "--kind", code=2)
    one_error_line(runner.invoke(app, ["logs", "abandonment", "--db", db, "--bounds-days", "7,3"]), "--bounds-days", code=2)
