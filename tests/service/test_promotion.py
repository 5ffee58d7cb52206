"""Learned policies round-trip to `promote` and `serve`; promotion scores the served incumbent,
records its evidence, and `rollback` restores the previous deployment."""

from __future__ import annotations

import json
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


def history(db: str, spec: dict, policy: Path, tmp_path: Path, *, requests: int = 2000, epsilon: float = 0.5) -> None:
    """The weeks before: the deployed policy's log as the service writes it (the same
    exploration), generated rather than driven through the API, which is 40 times slower.
    The evidence review needs 30 matching test episodes; a candidate the service explores
    with probability 1/6 needs about 1,000 episodes for that."""
    path = tmp_path / "history-model.json"
    path.write_text(json.dumps(spec))
    r = runner.invoke(cli_app, ["logs", "generate", str(path), "--behavior", str(policy), "--epsilon", str(epsilon),
                                "--requests", str(requests), "--per-hour", "4", "--since", "2026-01-05", "--seed", "7",
                                "--db", db])
    assert r.exit_code == 0, r.output


@pytest.fixture
def service_log(tmp_path: Path, db_url: str):
    spec = access_review_abandonment_spec()
    mdp = compile_spec(spec)
    pol = tmp_path / "evidence_first.yaml"
    pol.write_text(EVIDENCE_FIRST)
    c = client(db_url, mdp, str(pol), epsilon=0.5)
    history(db_url, spec, pol, tmp_path)
    drive(c, mdp, 60, np.random.default_rng(0))
    c.close()
    return db_url, mdp


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


def deployments(db: str) -> list[dict]:
    store = st.Store(st.open_engine(db))
    try:
        return store.deployments()
    finally:
        store.close()


def test_promotion_records_who_and_the_evidence_and_rollback_restores(service_log, tmp_path: Path) -> None:
    db, mdp = service_log
    good = tmp_path / "review_first.yaml"
    good.write_text("new_request: human_review\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    c = client(db, mdp, str(tmp_path / "evidence_first.yaml"), epsilon=0.5)  # as deployed: records nothing new
    r = runner.invoke(cli_app, ["promote", "--candidate", str(good), "--db", db, "--by", "alice", "--json"])
    assert r.exit_code == 0, r.output
    verdict = json.loads(r.stdout)
    first, new = deployments(db)[0], deployments(db)[-1]
    assert (new["policy_id"], new["promoted_by"], new["previous_id"]) == ("review_first", "alice", first["id"])
    evidence = json.loads(new["evidence"])
    assert evidence["candidate"]["policy"] == "review_first" and evidence["incumbent"]["policy"] == "evidence_first"
    assert evidence["candidate"]["estimate"] == pytest.approx(54.0)  # review first: -18 + 0.9 * 80, every episode
    assert evidence["candidate"]["low"] > evidence["incumbent"]["estimate"]
    assert evidence["candidate"]["severe_errors"] == 0 and evidence["held_out_episodes"] >= 30
    assert verdict["deployment_id"] == new["id"] and verdict["promote"] is True
    # a running service picks up the promotion, and the rollback like a promotion
    assert c.post("/v1/requests", json={"requester_id": "x"}, headers=AUTH).json()["decision"]["policy"]["id"] \
        == "review_first"
    r = runner.invoke(cli_app, ["rollback", "--db", db, "--by", "bob"])
    assert r.exit_code == 0, r.output
    back = deployments(db)[-1]
    assert (back["policy_id"], back["policy"], back["promoted_by"]) == ("evidence_first", first["policy"], "bob")
    assert json.loads(back["evidence"]) == {"action": "rollback", "restores": first["id"], "replaces": new["id"]}
    d = c.post("/v1/requests", json={"requester_id": "y"}, headers=AUTH).json()["decision"]
    assert d["policy"]["id"] == "evidence_first"
    c.close()
    r = runner.invoke(cli_app, ["rollback", "--db", db])  # nothing before the first deployment
    assert r.exit_code == 1 and "no earlier deployment" in r.stderr


def test_promote_scores_the_served_incumbent(tmp_path: Path, db_url: str) -> None:
    """A deployed mapping that names a forbidden action is scored as the service plays it."""
    from accessrl.offline.heldout import heldout_split
    from accessrl.offline.ope import evaluate_policy, target_matrix
    from accessrl.service.promotion import guarded_mapping
    from accessrl.storage.store import DecisionLog

    spec = access_review_abandonment_spec()
    spec["forbidden"] = ["new_request:auto_approve"]
    mdp = compile_spec(spec)
    reckless = tmp_path / "reckless.yaml"
    reckless.write_text("new_request: auto_approve\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    c = client(db_url, mdp, str(reckless), epsilon=0.3)
    drive(c, mdp, 300, np.random.default_rng(2))
    c.close()
    stored = json.loads(deployments(db_url)[0]["policy"])
    served = guarded_mapping(mdp, stored)
    assert served["new_request"] == {"request_evidence": 0.5, "human_review": 0.5}  # all mass was forbidden
    good = tmp_path / "review_first.yaml"
    good.write_text("new_request: human_review\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    r = runner.invoke(cli_app, ["promote", "--candidate", str(good), "--db", db_url, "--json", "--seed", "3"])
    verdict = json.loads(r.stdout)
    assert "incumbent_unsupported" not in verdict["codes"], verdict
    # the incumbent's number is the WIS estimate of the guarded mapping on promote's test period
    log = DecisionLog(db_url)
    steps = log.load_steps(state_names=mdp.state_names, action_names=mdp.action_names).steps
    log.close()
    split = heldout_split(steps, prevent_leakage=True)
    pi = target_matrix(split.test.state_names, split.test.action_names, served)
    direct = evaluate_policy(split.test, pi, gamma=mdp.gamma, rng=np.random.default_rng(3), train=split.train)
    assert verdict["incumbent"]["estimate"] == pytest.approx(direct.get("wis").value)
    assert guarded_mapping(mdp, served) == served  # guarding the guarded mapping changes nothing
