"""The engineer's loop on an imported event log, through the command line, with no code written:
import -> logs estimate -> learn-from-logs -> evaluate-policy (the gate's verdict) -> monitor -> map -> abandonment.

Data: tests/storage/data/bpic2012_excerpt.xes.gz, every 20th trace of BPI Challenge 2012 (B.F. van Dongen,
4TU.ResearchData, doi:10.4121/uuid:3926db30-f712-4394-aebc-75976070e91f), made by tools/make_bpic_excerpt.py."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from accessrl.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXCERPT = ROOT / "tests" / "storage" / "data" / "bpic2012_excerpt.xes.gz"
MAPPING = ROOT / "examples" / "eventlogs" / "bpic2012.yaml"
runner = CliRunner()


def run(*args: str, codes: tuple[int, ...] = (0,)) -> dict:
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code in codes, (args, r.output)
    assert "Traceback" not in r.output
    return json.loads(r.stdout)


def test_the_loop_runs_on_an_imported_log(tmp_path, db_url):
    db = db_url  # a new SQLite file, or a new PostgreSQL schema
    beh = tmp_path / "behavior.yaml"
    rep = run("logs", "import", str(EXCERPT), "--mapping", str(MAPPING), "--db", db, "--behavior-out", str(beh))
    assert (rep["cases"], rep["rejects"]) == (655, 0)
    behavior = yaml.safe_load(beh.read_text())
    assert all(abs(sum(p.values()) - 1) < 1e-9 for p in behavior.values())

    est = run("logs", "estimate", "--db", db, "--out", str(tmp_path / "model.yaml"))
    assert est["pending_decisions"] == 20  # the excerpt's open cases (import report: 20 open)
    spec = yaml.safe_load((tmp_path / "model.yaml").read_text())
    assert {"approved", "declined", "cancelled"} <= set(spec["terminal"])

    learned = run("learn-from-logs", "--db", db, "--out-dir", str(tmp_path / "lp"), "--method", "spibb",
                  "--method", "model", codes=(0, 1))
    assert {c["method"] for c in learned["candidates"]} == {"spibb", "model"}
    assert (tmp_path / "lp" / "spibb.yaml").exists()

    ev = run("evaluate-policy", "--db", db, "--policy", str(tmp_path / "lp" / "spibb.yaml"), "--incumbent", str(beh),
             codes=(0, 1))
    (verdict,) = ev["verdicts"]
    assert verdict["held_out_episodes"] > 0 and verdict["checks"]
    assert isinstance(verdict["promote"], bool) and (verdict["promote"] or verdict["codes"])

    mon = run("monitor", "--db", db, "--since", "2012-02-01", "--until", "2012-03-01", codes=(0, 1))
    assert mon["reference"] == "history" and "historical" in mon["modes"] and mon["period"]["decided"] > 0

    m = run("logs", "map", "--db", db, "--min-count", "5", "--out", str(tmp_path / "map.svg"))
    assert {"submitted", "approved", "cancelled"} <= {n["name"] for n in m["nodes"]}
    assert (tmp_path / "map.svg").stat().st_size > 0

    ab = run("logs", "abandonment", "--db", db, "--stage", "send_offer", "--out", str(tmp_path / "ab.png"))
    assert ab["stages"][0]["abandoned"] > 0


def test_the_engineer_view_reads_an_imported_log(tmp_path):
    from accessrl.studio.engineer import engineer_view

    db = str(tmp_path / "bpic.db")
    run("logs", "import", str(EXCERPT), "--mapping", str(MAPPING), "--db", db)
    view = engineer_view(db)
    assert view["episodes"] > 600 and view["heldout"]["rows"]
    kinds = {o["kind"] for o in view["outcomes"]}
    assert {"continued", "abandonment", "cancelled", "approved", "declined"} <= kinds
    m = view["process_map"]
    assert m["level"] == "stage" and m["min_count"] >= 1
    assert {e["next_state"] for e in m["edges"]} >= {"approved", "cancelled"}
