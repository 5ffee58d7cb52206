"""`monitor --since/--until` over any decisions of a log, with no deployment, and
`logs estimate --drift-at` on the same periods: the same definition (decision time, read as of
each period's end, censored decisions counted), the same direction of change."""

import json

import pytest
from typer.testing import CliRunner

from accessrl.cli import app
from cli_checks import one_error_line

runner = CliRunner()
DRIFT = "2026-02-06"  # 1,500 requests at 2 an hour from 2026-01-05: the drift begins on 2026-02-05


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """A log that was only ingested: imported history (mode ``historical``), no deployment.
    Requesters asked for evidence abandon with p 0.25 before the drift and 0.6 after it."""
    tmp = tmp_path_factory.mktemp("hist")
    gen = tmp / "gen.jsonl"
    r = runner.invoke(app, ["logs", "generate", "catalog:access-review-abandonment", "--requests", "3000", "--seed", "3",
                            "--drift", "0.6", "--drift-share", "0.5", "--epsilon", "0.3", "--db", str(tmp / "scratch.db"),
                            "--out", str(gen)])
    assert r.exit_code == 0, r.output
    hist = tmp / "history.jsonl"
    with open(gen) as src, open(hist, "w") as dst:
        for line in src:
            rec = json.loads(line)
            if rec.get("record") == "decision":
                rec["mode"] = "historical"
            dst.write(json.dumps(rec) + "\n")
    db = str(tmp / "history.db")
    r = runner.invoke(app, ["logs", "ingest", str(hist), "--db", db])
    assert r.exit_code == 0, r.output
    return db


def _closed(pairs, key):
    (p,) = [p for p in pairs if (p["state"], p["action"]) == ("new_request", "request_evidence")]
    return p, p[key].get("closed", 0.0)


def test_monitor_runs_on_a_log_that_was_only_ingested(ingested):
    r = runner.invoke(app, ["monitor", "--db", ingested, "--since", DRIFT, "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["reference"] == "history" and rep["deployment_id"] is None
    assert "historical" in rep["modes"] and rep["period"]["by"] == "decision time"
    assert rep["n_decisions"] == rep["period"]["observed"] > 1000
    drifted = [(p["state"], p["action"]) for p in rep["pairs"] if p["drifted"]]
    assert ("new_request", "request_evidence") in drifted
    r = runner.invoke(app, ["monitor", "--db", ingested, "--since", DRIFT])
    assert r.exit_code == 0 and "drift: new_request/request_evidence" in r.output
    assert "period by decision time" in " ".join(r.output.split())


def test_estimate_and_monitor_agree_on_the_direction(ingested, tmp_path):
    r = runner.invoke(app, ["logs", "estimate", "--db", ingested, "--out", str(tmp_path / "e.yaml"), "--drift-at", DRIFT,
                            "--json"])
    assert r.exit_code == 0, r.output
    est = json.loads(r.stdout)
    pair, before = _closed(est["drift"], "p_before")
    after = pair["p_after"]["closed"]
    assert pair["drifted"] and after > before  # abandonment rose
    r = runner.invoke(app, ["monitor", "--db", ingested, "--since", DRIFT, "--json"])
    mon = json.loads(r.stdout)
    mp, expected = _closed(mon["pairs"], "expected")
    assert mp["observed"]["closed"] > expected  # the same direction
    # the same decisions on both sides: the after period is the monitored period
    assert mp["observed"]["closed"] == pytest.approx(after)
    assert est["drift_periods"]["after"]["observed"] == mon["period"]["observed"]
    assert est["drift_periods"]["before"]["until"].startswith(DRIFT) and mon["period"]["since"].startswith(DRIFT)


def test_until_cuts_the_period_and_counts_the_censored(ingested):
    r = runner.invoke(app, ["monitor", "--db", ingested, "--since", "2026-01-20", "--until", "2026-02-01", "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    per = rep["period"]
    assert per["until"].startswith("2026-02-01") and per["censored_window_open"] > 0
    assert per["decided"] == per["observed"] + per["censored_window_open"] + per["censored_late"]
    assert not rep["drift_detected"]  # before the drift: the period fits the weeks before it
    # the log holds no shadow decisions: nothing to compare with, in one line
    one_error_line(runner.invoke(app, ["monitor", "--db", ingested, "--since", "2026-01-20", "--mode", "shadow"]),
                   "no decision before it", code=1)


def test_monitor_without_deployment_or_since_is_one_line(ingested):
    one_error_line(runner.invoke(app, ["monitor", "--db", ingested]), "--since", code=2)
    one_error_line(runner.invoke(app, ["monitor", "--db", ingested, "--reference", "deployment"]),
                   "no deployed policy", code=1)
    one_error_line(runner.invoke(app, ["monitor", "--db", ingested, "--since", "2026-01-20", "--mode", "replay"]),
                   "--mode", code=2)
