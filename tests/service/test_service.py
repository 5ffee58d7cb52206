"""The decision service: API, logging in one transaction, idempotency, guardrails, tokens, promotion."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

SERVE_EXTRA = 'the decision service needs the [serve] extra: pip install "accessrl[serve]"'
pytest.importorskip("fastapi", reason=SERVE_EXTRA)
httpx = pytest.importorskip("httpx", reason=SERVE_EXTRA)
from fastapi.testclient import TestClient  # noqa: E402
from test_promotion import history  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from accessrl.catalog.lesson import access_review_abandonment_spec  # noqa: E402
from accessrl.cli import app as cli_app  # noqa: E402
from accessrl.model.spec import compile_spec  # noqa: E402
from accessrl.service.http import ServiceConfig, create_app, token_hash  # noqa: E402
from accessrl.service.policy import serve_policy  # noqa: E402
from accessrl.specfile import resolve_policy  # noqa: E402
from accessrl.storage import writepath as st  # noqa: E402
from accessrl.storage.schema import normalise_url  # noqa: E402

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def guarded_spec() -> dict:
    spec = access_review_abandonment_spec()
    spec["forbidden"] = ["new_request:auto_approve"]
    return spec


def make_client(tmp_path: Path, *, policy: str = "optimal", epsilon: float = 0.0, shadow: str | None = None,
                spec: dict | None = None, seed: int = 1) -> TestClient:
    mdp = compile_spec(spec or guarded_spec())
    pid, probs = (r := resolve_policy(mdp, policy)).policy_id, r.probabilities
    sh = None
    if shadow:
        sid, sp = (r := resolve_policy(mdp, shadow)).policy_id, r.probabilities
        sh = serve_policy(mdp, sp, sid)
    cfg = ServiceConfig(mdp=mdp, policy=serve_policy(mdp, probs, pid, epsilon=epsilon), shadow=sh,
                        db_url=str(tmp_path / "log.db"), token_hashes=(token_hash(TOKEN),), seed=seed)
    return TestClient(create_app(cfg))


def counts(tmp_path: Path) -> dict[str, int]:
    return st.count_rows(st.open_engine(str(tmp_path / "log.db")))


def test_open_and_follow_an_episode(tmp_path: Path) -> None:
    c = make_client(tmp_path)
    r = c.post("/v1/requests", json={"requester_id": "u1", "features": {"stale": True}}, headers=AUTH)
    assert r.status_code == 201, r.text
    body = r.json()
    d = body["decision"]
    # The lesson: with abandonment (p=0.25) human_review (54.00) beats request_evidence (30.75).
    assert d["action"] == "human_review" and d["state"] == "new_request"
    assert d["q_values"]["human_review"] == pytest.approx(54.0)
    assert d["q_values"]["request_evidence"] == pytest.approx(30.75)
    assert d["propensity"] == 1.0
    rid = body["request_id"]
    r = c.post(f"/v1/requests/{rid}/events", json={"kind": "review_outcome"}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["outcome"]["next_state"] == "review_queue"
    assert r.json()["decision"]["action"] == "approve_rotation"
    r = c.post(f"/v1/requests/{rid}/events", json={"kind": "review_outcome", "details": {"reviewer": "r7"}},
               headers=AUTH)
    assert r.json()["status"] == "closed" and r.json()["decision"] is None
    ep = c.get(f"/v1/requests/{rid}", headers=AUTH).json()
    assert [x["action"] for x in ep["decisions"]] == ["human_review", "approve_rotation"]
    assert [x["reward"] for x in ep["outcomes"]] == [-18.0, 80.0]
    assert ep["decisions"][1]["previous_event_id"] == ep["decisions"][0]["event_id"]
    assert ep["request"]["features"] == {"stale": True}
    assert counts(tmp_path)["decision_snapshots"] == 2


def test_abandonment_event_closes_the_request(tmp_path: Path) -> None:
    c = make_client(tmp_path, policy="uniform", seed=3)
    opened = 0
    for i in range(30):
        r = c.post("/v1/requests", json={"requester_id": f"u{i}"}, headers=AUTH).json()
        if r["decision"]["action"] != "request_evidence":
            continue
        opened += 1
        r2 = c.post(f"/v1/requests/{r['request_id']}/events", json={"kind": "abandoned"}, headers=AUTH)
        assert r2.json()["outcome"] == {"kind": "abandoned", "next_state": "closed", "reward": -54.0,
                                        "severe": False, "terminated": True}
        # Evidence for a closed request cannot follow: 409, nothing written.
        before = counts(tmp_path)
        r3 = c.post(f"/v1/requests/{r['request_id']}/events", json={"kind": "evidence_received"}, headers=AUTH)
        assert r3.status_code == 409 and "closed" in r3.json()["detail"]
        assert counts(tmp_path) == before
        break
    assert opened == 1


def test_forbidden_action_is_never_returned(tmp_path: Path) -> None:
    # A policy that wants auto_approve at new_request, with exploration on top.
    pol = tmp_path / "reckless.yaml"
    pol.write_text("new_request: auto_approve\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    c = make_client(tmp_path, policy=str(pol), epsilon=0.3)
    seen = set()
    for i in range(200):
        d = c.post("/v1/requests", json={"requester_id": f"u{i}"}, headers=AUTH).json()["decision"]
        seen.add(d["action"])
        assert d["action_probabilities"]["auto_approve"] == 0.0
        assert d["propensity"] == pytest.approx(d["action_probabilities"][d["action"]])
    assert "auto_approve" not in seen and seen == {"request_evidence", "human_review"}
    # All mass was forbidden, so the guarded policy is uniform over the allowed actions, then mixed.
    assert d["action_probabilities"]["human_review"] == pytest.approx(0.5)


def test_exploration_logs_true_propensities(tmp_path: Path) -> None:
    c = make_client(tmp_path, epsilon=0.2, spec=access_review_abandonment_spec())
    d = c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH).json()["decision"]
    # mu = 0.8 * pi + 0.2 / 3 over the three start actions.
    assert d["action_probabilities"]["human_review"] == pytest.approx(0.8 + 0.2 / 3)
    assert d["action_probabilities"]["auto_approve"] == pytest.approx(0.2 / 3)
    eng = st.open_engine(str(tmp_path / "log.db"))
    with eng.connect() as conn:
        row = conn.execute(st.decision_snapshots.select()).mappings().one()
    assert row["propensity"] == pytest.approx(d["propensity"]) and row["exploration"] == 0.2
    assert json.loads(row["allowed_actions"]) == ["auto_approve", "request_evidence", "human_review"]


def test_shadow_decision_logged_beside_the_live_one(tmp_path: Path) -> None:
    c = make_client(tmp_path, shadow="uniform")
    r = c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH).json()
    assert r["decision"]["policy"]["id"] == "optimal"
    ep = c.get(f"/v1/requests/{r['request_id']}", headers=AUTH).json()
    assert len(ep["decisions"]) == 1 and len(ep["shadow_decisions"]) == 1
    assert ep["shadow_decisions"][0]["policy_id"] == "uniform"
    assert ep["shadow_decisions"][0]["action"] != "auto_approve"  # guardrails apply to shadows too
    pols = c.get("/v1/policies", headers=AUTH).json()
    assert pols["deployed"]["id"] == "optimal" and pols["shadow"]["id"] == "uniform"


def test_tokens(tmp_path: Path) -> None:
    c = make_client(tmp_path)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = c.post("/v1/requests", json={"requester_id": "u"}, headers=headers)
        assert r.status_code == 401
    assert c.get("/metrics").status_code == 401
    assert counts(tmp_path) == {"decision_snapshots": 0, "outcome_events": 0, "service_episodes": 0,
                                "service_idempotency": 0}
    assert c.get("/healthz").json() == {"status": "ok", "process": os.getpid()}


def test_idempotent_retries(tmp_path: Path) -> None:
    c = make_client(tmp_path)
    h = {**AUTH, "Idempotency-Key": "k1"}
    a = c.post("/v1/requests", json={"requester_id": "u"}, headers=h)
    b = c.post("/v1/requests", json={"requester_id": "u"}, headers=h)
    assert a.status_code == b.status_code == 201 and a.json() == b.json()
    rid = a.json()["request_id"]
    e1 = c.post(f"/v1/requests/{rid}/events", json={"kind": "review_outcome"}, headers={**AUTH, "Idempotency-Key": "e"})
    e2 = c.post(f"/v1/requests/{rid}/events", json={"kind": "review_outcome"}, headers={**AUTH, "Idempotency-Key": "e"})
    assert e1.json() == e2.json()
    assert counts(tmp_path)["decision_snapshots"] == 2 and counts(tmp_path)["outcome_events"] == 1
    # Same key, different body: refused, nothing written.
    r = c.post("/v1/requests", json={"requester_id": "other"}, headers=h)
    assert r.status_code == 409
    assert counts(tmp_path)["service_episodes"] == 1
    assert "accessrl_idempotent_replays_total 2" in c.get("/metrics", headers=AUTH).text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "requester_id"),
        ({"requester_id": ""}, "requester_id"),
        ({"requester_id": "u", "state": "nowhere"}, "state"),
        ({"requester_id": "u", "state": "closed"}, "state"),
        ({"requester_id": "u", "features": {"x": [1, 2]}}, "features.x"),
        ({"requester_id": "u", "colour": "red"}, "colour"),
        ({"requester_id": "u", "request_id": "has space"}, "request_id"),
    ],
)
def test_bad_bodies_are_422_naming_the_field(tmp_path: Path, body: dict, field: str) -> None:
    c = make_client(tmp_path)
    r = c.post("/v1/requests", json=body, headers=AUTH)
    assert r.status_code == 422
    assert f"field '{field}" in r.json()["detail"]
    assert counts(tmp_path)["decision_snapshots"] == 0


def test_malformed_oversized_unknown(tmp_path: Path) -> None:
    c = make_client(tmp_path)
    r = c.post("/v1/requests", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 422
    r = c.post("/v1/requests", content=b"", headers=AUTH)
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    big = json.dumps({"requester_id": "u", "features": {"blob": "x" * 20_000}})
    r = c.post("/v1/requests", content=big, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 413
    r = c.post("/v1/requests/nope/events", json={"kind": "abandoned"}, headers=AUTH)
    assert r.status_code == 404 and "unknown request id" in r.json()["detail"]
    assert c.get("/v1/requests/nope", headers=AUTH).status_code == 404
    rid = c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH).json()["request_id"]
    before = counts(tmp_path)
    # human_review leads only to review_queue: an abandonment cannot follow it here.
    r = c.post(f"/v1/requests/{rid}/events", json={"kind": "abandoned", "next_state": "closed"}, headers=AUTH)
    assert r.status_code == 409 and "cannot follow" in r.json()["detail"]
    r = c.post(f"/v1/requests/{rid}/events", json={"kind": "approval_reversed"}, headers=AUTH)
    assert r.status_code == 409
    r = c.post(f"/v1/requests/{rid}/events", json={"kind": "Bad Kind"}, headers=AUTH)
    assert r.status_code == 422 and "kind" in r.json()["detail"]
    assert counts(tmp_path) == before


def test_openapi_and_metrics(tmp_path: Path) -> None:
    c = make_client(tmp_path)
    spec = c.get("/openapi.json").json()
    assert {"/v1/requests", "/v1/requests/{request_id}/events", "/v1/requests/{request_id}", "/v1/policies",
            "/healthz", "/metrics"} <= set(spec["paths"])
    body = spec["paths"]["/v1/requests"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "requester_id" in body["required"]
    c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH)
    text = c.get("/metrics", headers=AUTH).text
    assert 'accessrl_decisions_total{mode="live"} 1' in text
    assert "accessrl_write_latency_seconds_count 1" in text


def _simulate_log(c: TestClient, mdp, n: int, rng: np.random.Generator) -> None:
    """Drive episodes through the API, drawing outcomes from the model."""
    for i in range(n):
        r = c.post("/v1/requests", json={"requester_id": f"u{i}"}, headers=AUTH).json()
        while r["decision"] is not None:
            d = r["decision"]
            pair = mdp.pair_index(d["state"], d["action"])
            outs = mdp.outcomes(pair)
            k = min(int(np.searchsorted(np.cumsum([p for _, p, _ in outs]), rng.random(), side="right")), len(outs) - 1)
            nxt = mdp.state_names[outs[k][0]]
            r = c.post(f"/v1/requests/{r.get('request_id', d.get('request_id'))}/events",
                       json={"kind": "outcome", "next_state": nxt}, headers=AUTH).json() | {"request_id": r["request_id"]}


def test_promote_only_on_evidence(tmp_path: Path) -> None:
    spec = access_review_abandonment_spec()
    mdp = compile_spec(spec)
    bad = tmp_path / "evidence_first.yaml"
    bad.write_text("new_request: request_evidence\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    c = make_client(tmp_path, policy=str(bad), epsilon=0.5, spec=spec)
    history(str(tmp_path / "log.db"), spec, bad, tmp_path)  # enough episodes for the evidence review
    _simulate_log(c, mdp, 60, np.random.default_rng(0))
    c.close()
    good = tmp_path / "review_first.yaml"
    good.write_text("new_request: human_review\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    reckless = tmp_path / "reckless.yaml"
    reckless.write_text("new_request: auto_approve\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    db = str(tmp_path / "log.db")
    runner = CliRunner()
    r = runner.invoke(cli_app, ["promote", "--candidate", str(reckless), "--db", db])
    assert r.exit_code == 1 and "severe errors" in r.output and "not promoted" in r.output
    assert [d["policy_id"] for d in st.Store(st.open_engine(db)).deployments()] == ["evidence_first"]
    r = runner.invoke(cli_app, ["promote", "--candidate", str(good), "--db", db])
    assert r.exit_code == 0, r.output
    assert "promoted" in r.output
    deps = st.Store(st.open_engine(db)).deployments()
    assert deps[-1]["policy_id"] == "review_first" and deps[-1]["role"] == "deployed"


def test_promote_refuses_without_enough_data(tmp_path: Path) -> None:
    c = make_client(tmp_path)
    c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH)
    c.close()
    pol = tmp_path / "p.yaml"
    pol.write_text("new_request: human_review\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    r = CliRunner().invoke(cli_app, ["promote", "--candidate", str(pol), "--db", str(tmp_path / "log.db")])
    assert r.exit_code == 1 and "not promoted" in r.output and "logged episodes" in r.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_real_uvicorn_on_loopback(tmp_path: Path) -> None:
    port = _free_port()
    spec = tmp_path / "wf.json"
    spec.write_text(json.dumps(guarded_spec()))
    proc = subprocess.Popen(
        [sys.executable, "-m", "accessrl", "serve", "--policy", "optimal", "--model", str(spec),
         "--db", str(tmp_path / "live.db"), "--port", str(port), "--token-hash", token_hash(TOKEN)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            pytest.fail("server did not start: " + proc.stdout.read().decode() if proc.stdout else "")
        with httpx.Client(base_url=base, headers=AUTH, timeout=5) as h:
            r = h.post("/v1/requests", json={"requester_id": "u"})
            assert r.status_code == 201 and r.json()["decision"]["action"] == "human_review"
            rid = r.json()["request_id"]
            assert h.post(f"/v1/requests/{rid}/events", json={"kind": "review_outcome"}).status_code == 200
            assert len(h.get(f"/v1/requests/{rid}").json()["decisions"]) == 2
            assert httpx.post(f"{base}/v1/requests", json={"requester_id": "u"}).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert counts_at(tmp_path / "live.db")["decision_snapshots"] == 2


def counts_at(path: Path) -> dict[str, int]:
    return st.count_rows(st.open_engine(str(path)))


def test_running_service_picks_up_a_promotion(tmp_path: Path) -> None:
    mdp = compile_spec(access_review_abandonment_spec())
    pid, probs = (r := resolve_policy(mdp, "optimal")).policy_id, r.probabilities
    cfg = ServiceConfig(mdp=mdp, policy=serve_policy(mdp, probs, pid), db_url=str(tmp_path / "log.db"),
                        token_hashes=(token_hash(TOKEN),), seed=1, reload_every=0.0)
    c = TestClient(create_app(cfg))
    assert c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH).json()["decision"]["action"] == "human_review"
    deps = st.Store(st.open_engine(str(tmp_path / "log.db"))).deployments()
    new = {"new_request": {"request_evidence": 1.0}, "evidence_ready": {"auto_approve": 1.0},
           "review_queue": {"approve_rotation": 1.0}}
    st.Store(st.open_engine(str(tmp_path / "log.db"))).deploy({
        **{k: deps[0][k] for k in ("role", "model_spec", "deployed_at")}, "policy_id": "evidence_first",
        "policy_version": "v2", "policy": json.dumps(new), "reason": "test"})
    d = c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH).json()["decision"]
    assert d["action"] == "request_evidence" and d["policy"]["id"] == "evidence_first"


def test_evidence_received_moves_to_evidence_ready(tmp_path: Path) -> None:
    pol = tmp_path / "evidence_first.yaml"
    pol.write_text("new_request: request_evidence\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    c = make_client(tmp_path, policy=str(pol))
    rid = c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH).json()["request_id"]
    r = c.post(f"/v1/requests/{rid}/events", json={"kind": "evidence_received"}, headers=AUTH).json()
    assert r["outcome"]["next_state"] == "evidence_ready" and r["decision"]["action"] == "auto_approve"
    r = c.post(f"/v1/requests/{rid}/events", json={"kind": "closed"}, headers=AUTH).json()
    assert r["status"] == "closed" and r["outcome"]["reward"] == 70.0
    # A reversal may follow a closed request; it is logged and changes nothing else.
    r = c.post(f"/v1/requests/{rid}/events", json={"kind": "approval_reversed"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["decision"] is None
    outs = c.get(f"/v1/requests/{rid}", headers=AUTH).json()["outcomes"]
    assert [o["kind"] for o in outs] == ["evidence_received", "closed", "approval_reversed"]
    assert outs[0]["evidence_received_at"] is not None and outs[1]["evidence_received_at"] is None


PG_URL = os.environ.get("ACCESSRL_TEST_POSTGRES_URL")


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="set ACCESSRL_TEST_POSTGRES_URL to run the PostgreSQL tests")
def test_service_on_postgresql() -> None:
    import sqlalchemy as sa

    schema = f"svc_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    try:
        mdp = compile_spec(guarded_spec())
        pid, probs = (r := resolve_policy(mdp, "optimal")).policy_id, r.probabilities
        cfg = ServiceConfig(mdp=mdp, policy=serve_policy(mdp, probs, pid), db_url=url,
                            token_hashes=(token_hash(TOKEN),), seed=1)
        with TestClient(create_app(cfg)) as c:
            h = {**AUTH, "Idempotency-Key": "pg-1"}
            a = c.post("/v1/requests", json={"requester_id": "u", "features": {"x": 1}}, headers=h)
            b = c.post("/v1/requests", json={"requester_id": "u", "features": {"x": 1}}, headers=h)
            assert a.status_code == 201 and a.json() == b.json()
            rid = a.json()["request_id"]
            r = c.post(f"/v1/requests/{rid}/events", json={"kind": "review_outcome"}, headers=AUTH)
            assert r.json()["decision"]["action"] == "approve_rotation"
            assert len(c.get(f"/v1/requests/{rid}", headers=AUTH).json()["decisions"]) == 2
        assert st.count_rows(st.open_engine(url))["decision_snapshots"] == 2
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def test_serve_refuses_bad_settings(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["serve", "--policy", "optimal", "--model", "catalog:access-review", "--db", str(tmp_path / "x.db")]
    r = runner.invoke(cli_app, [*base, "--token-hash", "not-a-hash"])
    assert r.exit_code == 2 and "sha256" in r.output
    r = runner.invoke(cli_app, [*base, "--host", "0.0.0.0"])
    assert r.exit_code == 2 and "without --token-hash" in r.output
    r = runner.invoke(cli_app, [*base, "--epsilon", "1.5"])
    assert r.exit_code == 2 and "--epsilon" in r.output
    assert not (tmp_path / "x.db").exists()


def test_openapi_documents_both_write_endpoints(tmp_path: Path) -> None:
    c = make_client(tmp_path)
    spec = c.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]

    def resolve(node: dict) -> dict:
        return schemas[node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node

    decision_fields = {"decision_id", "step", "state", "action", "action_probabilities", "propensity", "q_values",
                       "policy"}
    for path, status, body_field in (("/v1/requests", "201", "requester_id"),
                                     ("/v1/requests/{request_id}/events", "200", "kind")):
        op = spec["paths"][path]["post"]
        body = resolve(op["requestBody"]["content"]["application/json"]["schema"])
        assert body_field in body["required"] and body_field in body["properties"]
        reply = resolve(op["responses"][status]["content"]["application/json"]["schema"])
        assert {"request_id", "status", "decision"} <= set(reply["properties"])
        decision = reply["properties"]["decision"]
        ref = decision if "$ref" in decision else next(x for x in decision["anyOf"] if "$ref" in x)
        assert set(resolve(ref)["properties"]) == decision_fields
        assert {"401", "413", "422"} <= set(op["responses"])
    # what is documented is what the service answers
    r = c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH)
    assert r.status_code == 201 and set(r.json()["decision"]) == decision_fields
    r = c.post(f"/v1/requests/{r.json()['request_id']}/events", json={"kind": "review_outcome"}, headers=AUTH)
    assert set(r.json()) == {"request_id", "status", "outcome", "decision"}
    assert set(r.json()["decision"]) == decision_fields


def test_body_limit_declared_or_streamed(tmp_path: Path) -> None:
    c = make_client(tmp_path)
    r = c.post("/v1/requests", content=b"x" * 20_000, headers=AUTH)
    assert r.status_code == 413 and "16384 bytes" in r.json()["detail"]

    def chunks():  # no content-length: the limit applies to what is streamed
        for _ in range(20):
            yield b"x" * 1024

    r = c.post("/v1/requests/r1/events", content=chunks(), headers=AUTH)
    assert r.status_code == 413
    assert c.post("/v1/requests", json={"requester_id": "u"}).status_code == 401
    assert counts(tmp_path)["decision_snapshots"] == 0
    assert 'accessrl_http_responses_total{status="413"} 2' in c.get("/metrics", headers=AUTH).text


def test_decisions_module_needs_no_web_framework() -> None:
    code = ("import sys; import accessrl.service.decisions; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette', 'pydantic')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})
