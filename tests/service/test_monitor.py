"""`accessrl monitor` and the drift gauges of /metrics: live outcomes after a promotion against
the model the promotion was based on, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason='the decision service needs the [serve] extra: pip install "accessrl[serve]"')
from test_promotion import AUTH, EVIDENCE_FIRST, client, drive, history  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from accessrl.catalog.lesson import access_review_abandonment_spec  # noqa: E402
from accessrl.cli import app as cli_app  # noqa: E402
from accessrl.model.spec import compile_spec  # noqa: E402
from accessrl.offline.logsim import with_abandonment  # noqa: E402
from accessrl.service.monitor import DriftGauge, drift_metrics, monitor  # noqa: E402

runner = CliRunner()


def test_drift_after_a_promotion_is_reported_by_monitor_and_metrics(tmp_path: Path, db_url: str) -> None:
    mdp = compile_spec(access_review_abandonment_spec())
    first = tmp_path / "evidence_first.yaml"
    first.write_text(EVIDENCE_FIRST)
    c = client(db_url, mdp, str(first), epsilon=0.5)
    assert "accessrl_drift_available" in c.get("/metrics", headers=AUTH).text
    history(db_url, access_review_abandonment_spec(), first, tmp_path)
    drive(c, mdp, 60, np.random.default_rng(0))
    good = tmp_path / "review_first.yaml"
    good.write_text("new_request: human_review\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    r = runner.invoke(cli_app, ["promote", "--candidate", str(good), "--db", db_url])
    assert r.exit_code == 0, r.output
    drive(c, mdp, 150, np.random.default_rng(1))  # the world as the model says: no drift yet
    calm = monitor(db_url)
    assert calm.model_source == "estimated_model" and calm.policy_id == "review_first"
    assert calm.fit.n_decisions > 0 and not calm.fit.drifted
    drive(c, with_abandonment(mdp, 0.7), 400, np.random.default_rng(2))  # requesters abandon far more often
    r = runner.invoke(cli_app, ["monitor", "--db", db_url, "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["drift_detected"] and report["correction"] == "holm"
    drifted = [(p["state"], p["action"]) for p in report["pairs"] if p["drifted"]]
    assert drifted == [("new_request", "request_evidence")]
    r = runner.invoke(cli_app, ["monitor", "--db", db_url])
    assert r.exit_code == 0 and "drift: new_request/request_evidence" in r.output
    # /metrics serves DriftGauge's text (cached 30 s, so this client still shows its first scrape)
    assert "accessrl_drift_available 1" in c.get("/metrics", headers=AUTH).text
    fresh = DriftGauge(db_url, every=0.0).render()
    assert fresh == drift_metrics(monitor(db_url))
    assert "accessrl_drift_detected 1" in fresh and "accessrl_drift_pairs_drifted 1" in fresh
    assert 'accessrl_drift_statistic{state="new_request",action="request_evidence"}' in fresh
    c.close()
