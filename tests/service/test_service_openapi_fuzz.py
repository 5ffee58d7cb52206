"""Property-based API testing of the service from its own OpenAPI document (schemathesis, in
process against the ASGI application, no network): no input the schema describes, nor the
schemathesis mutations of it, makes the service answer 5xx, and every answer conforms to the
documented status codes, content types and response schemas."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason='the decision service needs the [serve] extra: pip install "accessrl[serve]"')
schemathesis = pytest.importorskip("schemathesis", reason='property-based API tests need the [test] extra')
from hypothesis import HealthCheck, given, settings  # noqa: E402

from accessrl.catalog.lesson import access_review_abandonment_spec  # noqa: E402
from accessrl.model.spec import compile_spec  # noqa: E402
from accessrl.service.http import ServiceConfig, create_app, token_hash  # noqa: E402
from accessrl.service.policy import serve_policy  # noqa: E402
from accessrl.specfile import resolve_policy  # noqa: E402

TOKEN = "fuzz-token"
CALLS: dict[str, int] = {}
"""Generated calls per operation and status (for the closing table)."""


@pytest.fixture(scope="module")
def api(tmp_path_factory, request):
    spec = access_review_abandonment_spec()
    spec["forbidden"] = ["new_request:auto_approve"]
    mdp = compile_spec(spec)
    r = resolve_policy(mdp, "uniform")
    url = str(tmp_path_factory.mktemp("fuzz") / "fuzz.db")
    cfg = ServiceConfig(mdp=mdp, policy=serve_policy(mdp, r.probabilities, r.policy_id, epsilon=0.2), db_url=url,
                        token_hashes=(token_hash(TOKEN),), seed=1)
    app = create_app(cfg)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    app.state.service.close()


def test_the_service_honours_its_openapi_document(api):
    """Every operation of the document, 25 generated cases each (hypothesis, derandomized).

    schemathesis's pytest plugin (``from_fixture`` + ``parametrize``) reaches into pytest's
    private ``Function._nodeid``, gone in pytest 9; this drives its maintained core API instead:
    one hypothesis strategy per operation, each case called in process and validated against the
    documented status codes, content types and response schemas."""
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 5, [op.label for op in operations]

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def check(case):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {TOKEN}"}
            response = case.call_and_validate()
            key = f"{case.method} {case.path} -> {response.status_code}"
            CALLS[key] = CALLS.get(key, 0) + 1
            assert response.status_code < 500, key

        check()
    assert sum(CALLS.values()) >= len(operations)
