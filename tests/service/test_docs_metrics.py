"""The service's documentation and metrics: ``/docs`` renders with no network (assets from an
installed package, checked in a real browser when one is available), every endpoint's
replies have OpenAPI schemas that real replies satisfy, and Prometheus metrics come from
prometheus_client with a registry per app and bounded labels."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

SERVE_EXTRA = 'the decision service needs the [serve] extra: pip install "accessrl[serve]"'
pytest.importorskip("fastapi", reason=SERVE_EXTRA)
pytest.importorskip("prometheus_client", reason=SERVE_EXTRA)
from fastapi.testclient import TestClient  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from accessrl.catalog.lesson import access_review_abandonment_spec  # noqa: E402
from accessrl.model.spec import compile_spec  # noqa: E402
from accessrl.service import schemas  # noqa: E402
from accessrl.service.http import ServiceConfig, create_app, token_hash  # noqa: E402
from accessrl.service.metrics import OTHER, Metrics  # noqa: E402
from accessrl.service.policy import serve_policy  # noqa: E402
from accessrl.specfile import resolve_policy  # noqa: E402

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def config(tmp_path: Path, shadow: str | None = None) -> ServiceConfig:
    mdp = compile_spec(access_review_abandonment_spec())
    r = resolve_policy(mdp, "optimal")
    sh = None
    if shadow:
        s = resolve_policy(mdp, shadow)
        sh = serve_policy(mdp, s.probabilities, s.policy_id)
    return ServiceConfig(mdp=mdp, policy=serve_policy(mdp, r.probabilities, r.policy_id), shadow=sh,
                         db_url=str(tmp_path / "log.db"), token_hashes=(token_hash(TOKEN),), seed=1)


def client(tmp_path: Path, shadow: str | None = None) -> TestClient:
    return TestClient(create_app(config(tmp_path, shadow)))


def asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_docs_page_uses_only_local_assets(tmp_path: Path) -> None:
    c = client(tmp_path)
    html = c.get("/docs").text
    urls = asset_urls(html)
    assert any(u.endswith("swagger-ui-bundle.js") for u in urls) and any(u.endswith(".css") for u in urls)
    assert not re.search(r"https?://", html), "the docs page must not reach beyond the service"
    for url in urls:
        r = c.get(url)
        assert r.status_code == 200 and len(r.content) > 1000, url
    # the bundle is Swagger UI 5, which renders FastAPI's OpenAPI 3.1 document (4.x refuses 3.1)
    assert c.get("/openapi.json").json()["openapi"].startswith("3.1")
    bundle = next(u for u in urls if u.endswith("swagger-ui-bundle.js"))
    assert "OpenAPI 3.1" in c.get(bundle).text or "3.1.0" in c.get(bundle).text


def test_every_operation_documents_its_reply(tmp_path: Path) -> None:
    spec = client(tmp_path).get("/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            ok = next(code for code in op["responses"] if code.startswith("2"))
            content = op["responses"][ok].get("content", {})
            schema = next(iter(content.values()), {}).get("schema", {})
            assert schema and schema != {}, f"{method.upper()} {path}: no response schema"
    comps = spec["components"]["schemas"]
    assert {"EpisodeOut", "PoliciesOut", "HealthOut", "DecisionRecord", "OutcomeRecord"} <= set(comps)
    get_ep = spec["paths"]["/v1/requests/{request_id}"]["get"]["responses"]
    assert get_ep["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/EpisodeOut")
    assert {"401", "404"} <= set(get_ep)


def test_replies_satisfy_their_schemas(tmp_path: Path) -> None:
    c = client(tmp_path, shadow="uniform")
    rid = c.post("/v1/requests", json={"requester_id": "u1", "features": {"stale": True}}, headers=AUTH).json()["request_id"]
    c.post(f"/v1/requests/{rid}/events", json={"kind": "review_outcome", "details": {"by": "r7"}}, headers=AUTH)
    ep = schemas.EpisodeOut.model_validate(c.get(f"/v1/requests/{rid}", headers=AUTH).json())
    assert [d.mode for d in ep.decisions] == ["live", "live"] and len(ep.shadow_decisions) == 2
    assert ep.outcomes[0].details == {"by": "r7"}
    pol = schemas.PoliciesOut.model_validate(c.get("/v1/policies", headers=AUTH).json())
    assert pol.deployed is not None and pol.shadow is not None and pol.shadow.id == "uniform"
    schemas.HealthOut.model_validate(c.get("/healthz").json())
    schemas.ErrorReply.model_validate(c.get("/v1/requests/nope", headers=AUTH).json())
    # the documented fields are the ones the service writes (no field documented but missing)
    raw = c.get(f"/v1/requests/{rid}", headers=AUTH).json()
    for model, row in ((schemas.RequestRecord, raw["request"]), (schemas.DecisionRecord, raw["decisions"][0]),
                       (schemas.OutcomeRecord, raw["outcomes"][0])):
        assert set(model.model_fields) <= set(row), model.__name__


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_metrics_parse_and_count(tmp_path: Path) -> None:
    c = client(tmp_path)
    rid = c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH).json()["request_id"]
    c.post(f"/v1/requests/{rid}/events", json={"kind": "review_outcome"}, headers=AUTH)
    c.post("/v1/requests", json={"requester_id": ""}, headers=AUTH)  # 422
    got = samples(c.get("/metrics", headers=AUTH).text)
    assert got[("accessrl_decisions_total", (("mode", "live"),))] == 2
    assert got[("accessrl_events_total", (("kind", "review_outcome"),))] == 1
    assert got[("accessrl_events_total", (("kind", "abandoned"),))] == 0  # known kinds start at 0
    assert got[("accessrl_http_responses_total", (("status", "201"),))] == 1
    assert got[("accessrl_http_responses_total", (("status", "422"),))] == 1
    assert got[("accessrl_write_latency_seconds_count", ())] == 2
    assert c.get("/metrics", headers=AUTH).headers["content-type"].startswith("text/plain")


def test_unknown_event_kinds_fold_into_other(tmp_path: Path) -> None:
    c = client(tmp_path)
    for i in range(5):
        rid = c.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH).json()["request_id"]
        r = c.post(f"/v1/requests/{rid}/events", json={"kind": f"made_up_{i}", "next_state": "review_queue"},
                   headers=AUTH)
        assert r.status_code == 200, r.text
    got = samples(c.get("/metrics", headers=AUTH).text)
    kinds = {dict(k[1])["kind"] for k in got if k[0] == "accessrl_events_total"}
    assert not any(k.startswith("made_up") for k in kinds)
    assert got[("accessrl_events_total", (("kind", OTHER),))] == 5


def test_a_registry_per_app(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = client(tmp_path / "a"), client(tmp_path / "b")
    a.post("/v1/requests", json={"requester_id": "u"}, headers=AUTH)
    assert samples(a.get("/metrics", headers=AUTH).text)[("accessrl_decisions_total", (("mode", "live"),))] == 1
    assert samples(b.get("/metrics", headers=AUTH).text)[("accessrl_decisions_total", (("mode", "live"),))] == 0


def test_metrics_labels_are_bounded() -> None:
    m = Metrics(event_kinds=["escalated"])
    m.inc("events", "escalated")
    m.inc("events", "x" * 60)
    m.inc("status", "999")
    m.inc("decisions", "weird")
    m.counts[("replays", "")] += 1
    assert m.value("events", "escalated") == 1 and m.value("events", OTHER) == 1
    assert m.value("status", OTHER) == 1 and m.value("decisions", OTHER) == 1 and m.counts[("replays", "")] == 1
    with pytest.raises(ValueError, match="only grow"):
        m.counts[("replays", "")] = 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_docs_render_in_a_browser_with_no_network(tmp_path: Path) -> None:
    """A headless browser loads /docs from a live server; every request beyond loopback is
    aborted, and Swagger UI still draws the service's title and operations."""
    playwright = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install playwright)")
    exe = _browser()
    if exe is None:
        pytest.skip("no chromium on PATH")
    uvicorn = pytest.importorskip("uvicorn")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(config(tmp_path)), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    outside: list[str] = []
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe)
            try:
                page = browser.new_page()

                def route(r):  # loopback only; anything else is recorded and refused
                    if r.request.url.startswith(f"http://127.0.0.1:{port}/"):
                        r.continue_()
                    else:
                        outside.append(r.request.url)
                        r.abort()

                page.route("**/*", route)
                page.goto(f"http://127.0.0.1:{port}/docs")
                page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
                title = page.inner_text(".swagger-ui .info .title")
                page.wait_for_selector(".opblock-summary-path", timeout=15_000)
                paths = page.locator(".opblock-summary-path").all_inner_texts()
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert "accessrl decision service" in title
    assert any("/v1/requests" in p for p in paths) and any("/metrics" in p for p in paths)
    assert outside == []
