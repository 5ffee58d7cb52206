"""`accessrl pilot` end to end on a small budget: the real service in a child process, the
database (SQLite and PostgreSQL), the weekly job, the plots; and the pilot's world."""

from __future__ import annotations

import json
import socket

import pytest

pytest.importorskip("httpx", reason='the pilot needs the [serve] extra: pip install "accessrl[serve]"')
from typer.testing import CliRunner  # noqa: E402

from accessrl.cli import app  # noqa: E402
from accessrl.pilot import PilotConfig  # noqa: E402
from accessrl.pilot.world import EVIDENCE_FIRST, REVIEW_FIRST, make_world  # noqa: E402
from accessrl.storage import writepath as st  # noqa: E402

ACTIONS = {"none", "shadowed", "promoted", "not_promoted", "rollback", "relearned", "kept", "no_candidate"}


def test_the_world_flips_the_better_policy_at_the_drift():
    w = make_world(p_before=0.05, p_after=0.5, drift_week=3)
    # exact values from new_request: review first -30 + 0.9 * 80; evidence first 0.95 (-4 + 0.9 * 70) - 0.05 * 54
    assert w.value(0, REVIEW_FIRST) == pytest.approx(42.0) == w.value(5, REVIEW_FIRST)
    assert w.value(0, EVIDENCE_FIRST) == pytest.approx(0.95 * 59 - 0.05 * 54)
    assert w.value(3, EVIDENCE_FIRST) == pytest.approx(0.5 * 59 - 0.5 * 54)
    assert (w.p_abandon(2), w.p_abandon(3)) == pytest.approx((0.05, 0.5))


def test_config_is_checked():
    from accessrl.errors import ParameterError

    with pytest.raises(ParameterError, match="weeks"):
        PilotConfig(weeks=3).check()
    with pytest.raises(ParameterError, match="drift_week"):
        PilotConfig(weeks=6, drift_week=6).check()


def run(db_url, out, *args):
    r = CliRunner().invoke(app, ["pilot", "--db", db_url, "--out", str(out), *args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def deployments(db_url):
    store = st.Store(st.open_engine(db_url))
    try:
        return store.deployments()
    finally:
        store.close()


def test_pilot_end_to_end_small(tmp_path, db_url):
    """The whole command on a small budget: rows, actions, plots, the service stopped."""
    out = tmp_path / "pilot"
    data = run(db_url, out, "--weeks", "4", "--requests-per-week", "60", "--n-boot", "100", "--seed", "1")
    rows = data["rows"]
    assert [row["week"] for row in rows] == list(range(4)) and all(row["episodes"] == 60 for row in rows)
    assert {row["action"] for row in rows} <= ACTIONS
    assert [row["action"] for row in rows[:2]] == ["none", "none"]  # the job needs train, validation and test weeks
    assert [row["p_abandon_true"] for row in rows] == pytest.approx([0.05] * 2 + [0.5] * 2)
    assert all(row["true_value"] in (pytest.approx(42.0), pytest.approx(53.35), pytest.approx(2.5)) for row in rows)
    for name in ("value.png", "abandonment.png", "drift.png"):
        assert (out / name).stat().st_size > 1000
    deps = deployments(db_url)
    assert deps[0]["policy_id"] == "review_first" and deps[0]["role"] == "deployed"
    log = (out / "service.log").read_text()
    assert "http://127.0.0.1:" in log
    port = int(log.split("http://127.0.0.1:")[1].split(" ")[0])
    with socket.socket() as s:  # the service is gone: its port is free again
        s.bind(("127.0.0.1", port))


@pytest.mark.slow
def test_pilot_default_run_closes_the_loop(tmp_path, db_url):
    """The default run (seed 0): shadow, promotion on held-out evidence, drift detected after it
    and answered by a rollback, then a re-learned baseline (the README's weekly table)."""
    data = run(db_url, tmp_path / "pilot", "--seed", "0")
    rows = data["rows"]
    actions = [row["action"] for row in rows]
    assert actions[2:6] == ["shadowed", "promoted", "rollback", "relearned"], actions
    promoted = rows[3]
    assert promoted["candidate_estimate"][1] > promoted["incumbent_estimate"]  # lower bound beats the incumbent
    assert rows[4]["drift"] and rows[4]["deployed"] != "review_first"
    assert rows[4]["true_value"] < rows[3]["true_value"]  # the promoted policy is the worse one after the drift
    assert not any(row["drift"] for row in rows[6:])  # the re-learned model fits again
    # the README's weekly table is this run
    from docs_text import documentation

    readme = documentation()
    table = readme.split("## The deployment loop", 1)[1].split("\n## ", 1)[0]
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in table.splitlines() if line.startswith("│")]
    assert [c[-1] for c in cells] == actions
    assert [c[3] for c in cells] == [row["deployed"] for row in rows]
    assert [c[4] for c in cells] == [f"{row['true_value']:.2f}" for row in rows]
    assert [c[5] for c in cells] == [f"{row['mean_return']:.2f}" for row in rows]
    deps = deployments(db_url)
    back = [d for d in deps if d["evidence"] and json.loads(d["evidence"]).get("action") == "rollback"]
    assert len(back) == 1 and back[0]["policy_id"] == "review_first" and back[0]["promoted_by"].startswith("pilot")
    assert [d["promoted_by"] for d in deps if d["evidence"] and json.loads(d["evidence"]).get("promote")] == [
        "pilot weekly job"]
