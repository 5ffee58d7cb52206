"""Learned policies round-trip to `promote` and `serve`; promotion scores the served incumbent,
records its evidence, and `rollback` restores the previous deployment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason='the decision service needs the [serve] extra: pip install "accessrl[serve]"')
from fastapi.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from accessrl.catalog.lesson import access_review_abandonment_spec  # noqa: E402
from accessrl.cli import app as cli_app  # noqa: E402
from accessrl.model.spec import compile_spec  # noqa: E402
from accessrl.service.http import ServiceConfig, create_app, token_hash  # noqa: E402
from accessrl.service.policy import serve_policy  # noqa: E402
from accessrl.specfile import resolve_policy  # noqa: E402
from accessrl.storage import writepath as st  # noqa: E402

TOKEN = "tok"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EVIDENCE_FIRST = "new_request: request_evidence\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n"
runner = CliRunner()


def client(db: str, mdp, policy: str, *, epsilon: float = 0.0, seed: int = 1) -> TestClient:
    r = resolve_policy(mdp, policy)
    cfg = ServiceConfig(mdp=mdp, policy=serve_policy(mdp, r.probabilities, r.policy_id, epsilon=epsilon),
                        db_url=db, token_hashes=(token_hash(TOKEN),), seed=seed, reload_every=0.0)
    return TestClient(create_app(cfg))


def drive(c: TestClient, mdp, n: int, rng: np.random.Generator) -> None:
    """Episodes through the API, outcomes drawn from the model."""
    for i in range(n):
        r = c.post("/v1/requests", json={"requester_id": f"u{rng.integers(10**9)}-{i}"}, headers=AUTH).json()
        rid = r["request_id"]
        while r["decision"] is not None:
            d = r["decision"]
            outs = mdp.outcomes(mdp.pair_index(d["state"], d["action"]))
            k = min(int(np.searchsorted(np.cumsum([p for _, p, _ in outs]), rng.random(), side="right")), len(outs) - 1)
            r = c.post(f"/v1/requests/{rid}/events", json={"kind": "outcome", "next_state": mdp.state_names[outs[k][0]]},
                       headers=AUTH).json()


@pytest.fixture
def service_log(tmp_path: Path):
    spec = access_review_abandonment_spec()
    mdp = compile_spec(spec)
    pol = tmp_path / "evidence_first.yaml"
    pol.write_text(EVIDENCE_FIRST)
    db = str(tmp_path / "svc.db")
    c = client(db, mdp, str(pol), epsilon=0.5)
    drive(c, mdp, 300, np.random.default_rng(0))
    c.close()
    return db, mdp


def test_learned_policy_round_trips_to_promote_and_serve(service_log, tmp_path: Path) -> None:
    db, mdp = service_log
    chosen = tmp_path / "learned" / "chosen.yaml"
    r = runner.invoke(cli_app, ["learn-from-logs", "--db", db, "--out-dir", str(tmp_path / "learned"),
                                "--chosen", str(chosen), "--n-boot", "200", "--json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli_app, ["promote", "--candidate", str(chosen), "--db", db])
    assert r.exit_code == 0, r.output
    deps = st.Store(st.open_engine(db)).deployments()
    assert deps[-1]["policy_id"] == "chosen" and deps[-1]["role"] == "deployed"
    # the promoted policy is what a restarted service serves
    c = client(db, mdp, str(chosen))
    d = c.post("/v1/requests", json={"requester_id": "x"}, headers=AUTH).json()["decision"]
    assert d["action"] == "human_review" and d["policy"]["id"] == "chosen"
    c.close()
