"""The decision service under hostile input, on SQLite and PostgreSQL: NUL characters and
non-finite numbers are 422 naming the field, times are compared in UTC, events that cannot
follow are 409, an unreadable deployment does not take the service down, the guard's fallback
and the recorded deployment are the served policy, and writes without a token cannot come
from a web page (Content-Type, Host, Origin)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

SERVE_EXTRA = 'the decision service needs the [serve] extra: pip install "accessrl[serve]"'
pytest.importorskip("fastapi", reason=SERVE_EXTRA)
from fastapi.testclient import TestClient  # noqa: E402

from accessrl.catalog.lesson import access_review_abandonment_spec  # noqa: E402
from accessrl.model.spec import compile_spec  # noqa: E402
from accessrl.service.http import ServiceConfig, create_app, token_hash  # noqa: E402
from accessrl.service.policy import serve_policy  # noqa: E402
from accessrl.specfile import resolve_policy  # noqa: E402
from accessrl.storage import DecisionLog  # noqa: E402
from accessrl.storage import writepath as st  # noqa: E402

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TRIED: dict[str, int] = {}


def tried(category: str, n: int = 1) -> None:
    TRIED[category] = TRIED.get(category, 0) + n


def client(db: str, *, spec: dict | None = None, policy: str = "optimal", epsilon: float = 0.0,
           tokens: bool = True, tmp: Path | None = None, **kw) -> TestClient:
    mdp = compile_spec(spec or access_review_abandonment_spec())
    if tmp is not None and policy not in ("optimal", "uniform") and not policy.endswith(".yaml"):
        path = tmp / f"p{uuid.uuid4().hex[:6]}.yaml"
        path.write_text(policy)
        policy = str(path)
    r = resolve_policy(mdp, policy)
    cfg = ServiceConfig(mdp=mdp, policy=serve_policy(mdp, r.probabilities, r.policy_id, epsilon=epsilon), db_url=db,
                        token_hashes=(token_hash(TOKEN),) if tokens else (), seed=1, **kw)
    base = "http://testserver" if tokens else "http://127.0.0.1:8000"
    return TestClient(create_app(cfg), base_url=base)


def rows(db: str) -> dict[str, int]:
    return st.count_rows(st.open_engine(db))


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/requests", {"requester_id": "u\x00"}, "requester_id"),
    ("/v1/requests", {"requester_id": "u", "state": "new\x00request"}, "state"),
    ("/v1/requests", {"requester_id": "u", "request_id": "r\x001"}, "request_id"),
    ("/v1/requests", {"requester_id": "u", "features": {"k": "a\x00b"}}, "features"),
    ("/v1/requests", {"requester_id": "u", "features": {"k\x00": 1}}, "features"),
    ("/v1/requests/r%00x/events", {"kind": "review_outcome"}, "request_id"),
    ("/v1/requests/{rid}/events", {"kind": "review_outcome", "next_state": "x\x00"}, "next_state"),
    ("/v1/requests/{rid}/events", {"kind": "review_outcome", "details": {"a": "\x00"}}, "details"),
])
def test_nul_characters_are_422_naming_the_field(db_url, path, body, field):
    """The issue: on PostgreSQL a NUL gave 500 and a dropped connection; SQLite stored it."""
    with client(db_url) as c:
        rid = c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH).json()["request_id"]
        before = rows(db_url)
        r = c.post(path.format(rid=rid), json=body, headers=AUTH)
        assert r.status_code == 422, r.text
        assert field in r.json()["detail"]
        assert rows(db_url) == before
        assert c.get("/v1/requests/r%00x", headers=AUTH).status_code == 422
    tried("HTTP: NUL in a field", 2)


@pytest.mark.parametrize("raw", [
    b'{"requester_id": "u", "features": {"x": NaN}}',
    b'{"requester_id": "u", "features": {"x": Infinity}}',
    b'{"requester_id": "u", "features": {"x": -Infinity}}',
    b'{"requester_id": "u", "features": {"x": 1e309}}',
    b'{"requester_id": "u", "features": {"x": ' + b"9" * 4000 + b"}}",
    b'{"requester_id": "u", "features": {"x": 9223372036854775808}}',
    b'{"requester_id": "u", "features": {"x": 123456789012345678901234567890}}',
])
def test_non_finite_and_huge_numbers_are_422(db_url, raw):
    with client(db_url) as c:
        r = c.post("/v1/requests", content=raw, headers={**AUTH, "Content-Type": "application/json"})
        assert r.status_code == 422, r.text
        assert "features" in r.json()["detail"]
        assert rows(db_url)["decision_snapshots"] == 0
    tried("HTTP: NaN / Infinity / huge numbers", 1)


def test_event_times_are_utc_and_compared_as_times(db_url):
    """An event at T+1h written with a +05:00 offset reads (as text) later than T+2h in UTC; it is
    stored in UTC and kept by an ``until`` of T+2h."""
    now = datetime.now(UTC).replace(microsecond=0)
    local = (now + timedelta(hours=1)).astimezone(__import__("datetime").timezone(timedelta(hours=5)))
    with client(db_url) as c:
        rid = c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH).json()["request_id"]
        r = c.post(f"/v1/requests/{rid}/events", json={"kind": "review_outcome", "occurred_at": local.isoformat()},
                   headers=AUTH)
        assert r.status_code == 200, r.text
        out = c.get(f"/v1/requests/{rid}", headers=AUTH).json()["outcomes"][0]
        assert out["occurred_at"] == (now + timedelta(hours=1)).isoformat(timespec="microseconds")
        naive = c.post(f"/v1/requests/{rid}/events", json={"kind": "review_outcome",
                                                           "occurred_at": "2026-01-05T10:00:00"}, headers=AUTH)
        assert naive.status_code == 200
        late = c.post("/v1/requests", json={"requester_id": "v"}, headers=AUTH).json()["request_id"]
        bad = c.post(f"/v1/requests/{late}/events", json={"kind": "review_outcome",
                                                          "occurred_at": "9999-12-31T23:00:00-05:00"}, headers=AUTH)
        assert bad.status_code == 422 and "occurred_at" in bad.json()["detail"]
    log = DecisionLog(db_url)
    loaded = log.load_steps(until=(now + timedelta(hours=2)).isoformat())
    log.close()
    # Both steps of the first request: its first outcome (T+1h) counts as of T+2h (compared as text,
    # "...+05:00" is later, and the episode would be cut before its first step: 0 steps).
    assert loaded.steps.n_steps == 2
    tried("HTTP: timestamps with offsets", 3)


EVIDENCE_FIRST = "new_request: request_evidence\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n"
RECKLESS = "new_request: auto_approve\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n"


def test_events_that_cannot_follow_the_served_action_are_409(db_url, tmp_path):
    with client(db_url) as c:  # optimal: human_review first
        rid = c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH).json()["request_id"]
        r = c.post(f"/v1/requests/{rid}/events", json={"kind": "evidence_received"}, headers=AUTH)
        assert r.status_code == 409 and "human_review" in r.json()["detail"]
        r = c.post(f"/v1/requests/{rid}/events", json={"kind": "abandoned"}, headers=AUTH)
        assert r.status_code == 409
        assert c.post(f"/v1/requests/{rid}/events", json={"kind": "review_outcome"}, headers=AUTH).status_code == 200
        assert c.post(f"/v1/requests/{rid}/events", json={"kind": "review_outcome"}, headers=AUTH).status_code == 200
        first = c.post(f"/v1/requests/{rid}/events", json={"kind": "approval_reversed"}, headers=AUTH)
        assert first.status_code == 200  # closed by approve_rotation: one reversal may follow
        again = c.post(f"/v1/requests/{rid}/events", json={"kind": "approval_reversed"}, headers=AUTH)
        assert again.status_code == 409 and "already reversed" in again.json()["detail"]
    with client(db_url, policy=RECKLESS, tmp=tmp_path) as c:
        rid = c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH).json()["request_id"]
        r = c.post(f"/v1/requests/{rid}/events", json={"kind": "review_outcome"}, headers=AUTH)
        assert r.status_code == 409 and "auto_approve" in r.json()["detail"]
        assert c.post(f"/v1/requests/{rid}/events", json={"kind": "closed"}, headers=AUTH).status_code == 200
    with client(db_url, policy=EVIDENCE_FIRST, tmp=tmp_path) as c:
        rid = c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH).json()["request_id"]
        assert c.post(f"/v1/requests/{rid}/events", json={"kind": "abandoned"}, headers=AUTH).status_code == 200
        r = c.post(f"/v1/requests/{rid}/events", json={"kind": "approval_reversed"}, headers=AUTH)
        assert r.status_code == 409 and "not an approval" in r.json()["detail"]
    tried("HTTP: events out of sequence", 6)


def test_an_unreadable_deployment_keeps_the_last_good_policy(db_url, caplog):
    with client(db_url, reload_every=0.0) as c:
        assert c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH).status_code == 201
        store = st.Store(st.open_engine(db_url))
        dep = store.deployments()[0]
        store.deploy({**{k: dep[k] for k in ("role", "model_spec", "deployed_at")}, "policy_id": "broken",
                      "policy_version": "v9", "policy": "{not json", "reason": "test"})
        store.close()
        for _ in range(3):
            r = c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH)
            assert r.status_code == 201 and r.json()["decision"]["policy"]["id"] == "optimal"
        h = c.get("/healthz").json()
        assert h["status"] == "degraded" and "broken" in h["deployment"]
    assert sum("unreadable" in m for m in caplog.messages) == 1
    tried("HTTP: unreadable deployment row", 1)


def test_guard_fallback_avoids_never_explore_and_the_record_is_the_served_policy(db_url, tmp_path):
    spec = access_review_abandonment_spec()
    spec["forbidden"] = ["new_request:human_review"]
    spec["never_explore"] = ["new_request:auto_approve"]
    mdp = compile_spec(spec)
    pol = tmp_path / "review.yaml"
    pol.write_text("new_request: human_review\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    probs = resolve_policy(mdp, str(pol)).probabilities
    for eps in (0.0, 0.5, 1.0):
        served = serve_policy(mdp, probs, "review", epsilon=eps)
        d = served.decisions["new_request"]
        p = dict(zip(d.actions, d.probabilities, strict=True))
        assert p["human_review"] == 0.0 and p["auto_approve"] == 0.0 and p["request_evidence"] == 1.0, (eps, p)
    with client(db_url, spec=spec, policy=str(pol)) as c:
        shown = c.get("/v1/policies", headers=AUTH).json()["deployed"]["policy"]
        assert shown["new_request"] == {"request_evidence": 1.0}
        stored = json.loads(st.Store(st.open_engine(db_url)).deployments()[-1]["policy"])
        assert stored == shown
    tried("policy: guard fallback onto never_explore", 3)


def test_without_a_token_a_web_page_cannot_write(tmp_path):
    db = str(tmp_path / "open.db")
    with client(db, tokens=False) as c:
        ok = c.post("/v1/requests", json={"requester_id": "u"})
        assert ok.status_code == 201, ok.text
        cases = [
            ({"Content-Type": "text/plain", "Origin": "https://evil.example"}, 403),
            ({"Content-Type": "text/plain"}, 415),
            ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
            ({"Content-Type": "application/json", "Origin": "https://evil.example"}, 403),
            ({"Content-Type": "application/json", "Origin": "null"}, 403),
            ({"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403),
            ({"Content-Type": "application/json", "Host": "evil.example"}, 421),
            ({"Content-Type": "application/json", "Host": "attacker.example:8000"}, 421),
        ]
        for headers, status in cases:
            r = c.post("/v1/requests", content=b'{"requester_id": "x"}', headers=headers)
            assert r.status_code == status, (headers, r.status_code, r.text)
        same = c.post("/v1/requests", json={"requester_id": "u"}, headers={"Origin": "http://127.0.0.1:8000"})
        assert same.status_code == 201
        assert c.get("/v1/policies", headers={"Host": "rebind.example"}).status_code == 421
        assert c.get("/v1/policies", headers={"Host": "localhost:8000"}).status_code == 200
    assert rows(db)["decision_snapshots"] == 2
    tried("HTTP: cross-site / rebinding writes", len(cases) + 2)


def test_auth_is_decided_before_the_body_and_two_authorizations_are_refused(tmp_path):
    with client(str(tmp_path / "a.db")) as c:
        assert c.post("/v1/requests", content=b"x" * 20_000).status_code == 401  # 401 before 413
        assert c.post("/v1/requests", content=b"x" * 20_000, headers=AUTH).status_code == 413
        two = [("Authorization", f"Bearer {TOKEN}"), ("Authorization", "Bearer other")]
        for method, path in (("POST", "/v1/requests"), ("GET", "/v1/policies"), ("GET", "/metrics"),
                             ("GET", "/v1/requests/r1"), ("GET", "/healthz")):
            r = c.request(method, path, headers=two, content=b'{"requester_id": "u"}' if method == "POST" else None)
            assert r.status_code == 400, (path, r.status_code)
    tried("HTTP: auth order / duplicate Authorization", 7)


def test_policy_probabilities_stay_a_distribution():
    """The guarded served distributions sum to one and put nothing on forbidden actions, for
    random policies (including all mass on forbidden actions)."""
    spec = access_review_abandonment_spec()
    spec["forbidden"] = ["new_request:auto_approve", "evidence_ready:human_review"]
    spec["never_explore"] = ["new_request:request_evidence"]
    mdp = compile_spec(spec)
    rng = np.random.default_rng(0)
    names = [(mdp.state_names[int(mdp.sa_state[k])], mdp.action_names[int(mdp.sa_action[k])]) for k in range(mdp.n_pairs)]
    for i in range(20):
        probs = rng.random(mdp.n_pairs) + 1e-3
        if i % 2:  # all of new_request's mass on its forbidden action
            probs = np.array([p if s != "new_request" else float(a == "auto_approve") for p, (s, a) in
                              zip(probs, names, strict=True)])
        probs = probs / np.bincount(mdp.sa_state, weights=probs, minlength=mdp.n_states)[mdp.sa_state]
        served = serve_policy(mdp, probs, "r", epsilon=float(rng.random()))
        for state, d in served.decisions.items():
            assert abs(sum(d.probabilities) - 1) < 1e-12
            p = dict(zip(d.actions, d.probabilities, strict=True))
            assert p.get("auto_approve" if state == "new_request" else "", 0.0) == 0.0
    tried("policy: random guarded policies", 20)
