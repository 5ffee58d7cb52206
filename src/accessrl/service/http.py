"""The decision service over HTTP: FastAPI endpoints around :class:`~accessrl.service.decisions.DecisionService`.

Endpoints (JSON unless noted; OpenAPI at ``/openapi.json``, docs at ``/docs``):

* ``POST /v1/requests`` — open an episode and get the first decision;
* ``POST /v1/requests/{id}/events`` — report what happened; get the next decision, if any;
* ``GET /v1/requests/{id}`` — the episode so far (decisions, shadow decisions, outcomes);
* ``GET /v1/policies`` — the deployed and shadow policies;
* ``GET /healthz`` — liveness and database reachability (no token);
* ``GET /metrics`` — Prometheus text format.

Every API call's writes and its idempotency record commit in one transaction before the
response is sent.  Bad input writes nothing: 401 (token), 404 (unknown request),
409 (an event that cannot follow the current state, a reused idempotency key with a
different body), 413 (oversized body), 422 (malformed body, naming the field).

The two write endpoints are answered by :class:`WritePath`, a raw ASGI layer in front of
FastAPI: it skips FastAPI's per-call routing, dependency resolution and request/response
objects (a third of a decision's CPU).  It is the one place that enforces the body limit;
the bodies are validated here (pydantic) and handed to the framework-free service as
plain dataclasses.  ``/openapi.json`` documents both endpoints (request and response
schemas) although no FastAPI route serves them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accessrl.service.decisions import (
    MAX_BODY,
    ApiError,
    DecisionService,
    NewRequest,
    Reply,
    ReportedEvent,
    ServiceConfig,
    error_json,
    to_json,
    token_hash,
)
from accessrl.service.monitor import DriftGauge

ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"
KIND_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
Scalar = str | float | int | bool | None
JSON = "application/json"


class OpenRequest(BaseModel):
    """Body of ``POST /v1/requests``."""

    model_config = ConfigDict(extra="forbid")
    request_id: str | None = Field(None, pattern=ID_PATTERN, description="Client-chosen id (default: generated).")
    requester_id: str = Field(..., min_length=1, max_length=128)
    state: str | None = Field(None, max_length=256, description="Start state (default: the model's start).")
    features: dict[str, Scalar] = Field(default_factory=dict, max_length=64,
                                        description="Request features known at decision time.")


class EventIn(BaseModel):
    """Body of ``POST /v1/requests/{id}/events``."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(..., pattern=KIND_PATTERN,
                      description="evidence_received, abandoned, review_outcome, approval_reversed, ...")
    next_state: str | None = Field(None, max_length=256)
    occurred_at: datetime | None = None
    evidence_received_at: datetime | None = None
    details: dict[str, Scalar] = Field(default_factory=dict, max_length=64)


class PolicyRef(BaseModel):
    """The policy that made a decision."""

    id: str
    version: str


class DecisionOut(BaseModel):
    """One decision of the deployed policy (its shadow decision is logged, not returned)."""

    decision_id: str = Field(..., description="Event id of the decision snapshot.")
    step: int
    state: str
    action: str
    action_probabilities: dict[str, float] = Field(..., description="The sampled distribution (after guardrails "
                                                                    "and exploration).")
    propensity: float = Field(..., description="Probability of the chosen action (logged).")
    q_values: dict[str, float]
    policy: PolicyRef


class OutcomeOut(BaseModel):
    """The logged outcome (only ``kind`` for an event after a closed request)."""

    kind: str
    next_state: str | None = None
    reward: float | None = None
    severe: bool | None = None
    terminated: bool | None = None


class OpenedOut(BaseModel):
    """Reply of ``POST /v1/requests``."""

    request_id: str
    status: Literal["open"]
    decision: DecisionOut


class EventOut(BaseModel):
    """Reply of ``POST /v1/requests/{id}/events``: the next decision, or ``null`` once the request is closed."""

    request_id: str
    status: Literal["open", "closed"]
    outcome: OutcomeOut
    decision: DecisionOut | None


class ErrorOut(BaseModel):
    """Every refusal: one message naming what was wrong."""

    detail: str


def _field_message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"]) or "body"
    return f"field {loc!r}: {err['msg']}"


def _parse(model: type[BaseModel], raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise ApiError(422, "body: expected a JSON object, got an empty body")
    try:
        return dict(model.model_validate_json(raw))
    except ValidationError as exc:
        raise ApiError(422, _field_message(exc)) from None


def handle_write(svc: DecisionService, kind: str, request_id: str | None, headers: Mapping[str, str],
                 raw: bytes) -> Reply:
    """One write call (``open`` a request, or report an ``event``), its body within the limit."""
    t0 = time.perf_counter()
    try:
        if not svc.authorised(headers.get("authorization")):
            raise ApiError(401, "missing or invalid bearer token")
        svc.maybe_reload()
        key = headers.get("idempotency-key")
        if key is not None and not 1 <= len(key) <= 128:
            raise ApiError(422, "header 'Idempotency-Key': expected 1 to 128 characters")
        digest = hashlib.sha256(raw).hexdigest()
        if kind == "open":
            reply = svc.open_request(NewRequest(**_parse(OpenRequest, raw)), None if key is None else f"open:{key}",
                                     digest)
        else:
            assert request_id is not None
            reply = svc.add_event(request_id, ReportedEvent(**_parse(EventIn, raw)),
                                  None if key is None else f"event:{request_id}:{key}", digest)
    except ApiError as exc:
        svc.metrics.counts[("status", str(exc.status))] += 1
        return Reply(exc.status, error_json(exc.message))
    svc.metrics.observe(time.perf_counter() - t0)
    svc.metrics.counts[("status", str(reply.status))] += 1
    return reply


class WritePath:
    """ASGI middleware answering ``POST /v1/requests`` and ``POST /v1/requests/{id}/events`` directly.

    The one place the body limit is enforced: 413 without reading further when the
    declared or streamed size exceeds ``max_body``.  Everything else goes on to the
    FastAPI application.
    """

    def __init__(self, app: Any, *, service: DecisionService, max_body: int) -> None:
        self.app = app
        self.service = service
        self.max_body = max_body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        parts = scope["path"].split("/")
        if parts[1:] == ["v1", "requests"]:
            kind, rid = "open", None
        elif len(parts) == 5 and parts[1:3] == ["v1", "requests"] and parts[4] == "events" and parts[3]:
            kind, rid = "event", parts[3]
        else:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            reply = self._too_big()
        else:
            chunks, size, more = [], 0, True
            while more:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return
                chunk = msg.get("body", b"")
                size += len(chunk)
                if size > self.max_body:
                    break
                chunks.append(chunk)
                more = msg.get("more_body", False)
            reply = self._too_big() if size > self.max_body else handle_write(self.service, kind, rid, headers,
                                                                              b"".join(chunks))
        body = reply.body.encode()
        await send({"type": "http.response.start", "status": reply.status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    def _too_big(self) -> Reply:
        self.service.metrics.counts[("status", "413")] += 1
        return Reply(413, error_json(f"body: larger than the limit of {self.max_body} bytes"))


_ERRORS = {
    "401": "Missing or invalid bearer token.",
    "404": "Unknown request id.",
    "409": "The event cannot follow the request's state, the request exists, or the Idempotency-Key was used "
           "with another body.",
    "413": "Body larger than the limit.",
    "422": "Malformed body, naming the field.",
}


def _content(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    """``{"application/json": {"schema": ...}}`` of a model: inline, its nested models added to ``components``."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    return {JSON: {"schema": schema}}


def _write_operations(components: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The OpenAPI path items of the two write endpoints (served by :class:`WritePath`)."""
    key = {"name": "Idempotency-Key", "in": "header", "required": False,
           "description": "A retry with the same key and body returns the stored reply and writes nothing.",
           "schema": {"type": "string", "minLength": 1, "maxLength": 128}}

    def op(op_id: str, summary: str, body: type[BaseModel], status: str, reply: type[BaseModel],
           path_params: list[dict[str, Any]], errors: tuple[str, ...]) -> dict[str, Any]:
        return {"post": {
            "summary": summary, "operationId": op_id, "parameters": [*path_params, key],
            "requestBody": {"required": True, "content": _content(body, components)},
            "responses": {status: {"description": "Logged; the decision, if any.",
                                   "content": _content(reply, components)},
                          **{e: {"description": _ERRORS[e], "content": _content(ErrorOut, components)}
                             for e in errors}},
        }}

    rid = {"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/v1/requests": op("open_request", "Open an episode for an access request and return the first decision.",
                           OpenRequest, "201", OpenedOut, [], ("401", "409", "413", "422")),
        "/v1/requests/{request_id}/events": op(
            "add_event", "Report what happened to a request; returns the next decision, if any.",
            EventIn, "200", EventOut, [rid], ("401", "404", "409", "413", "422")),
    }


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """``app.openapi``: FastAPI's document plus the two write endpoints no route serves."""
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            schema["paths"] = {**_write_operations(components), **schema.get("paths", {})}
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


def create_app(config: ServiceConfig) -> FastAPI:
    """The FastAPI application of one service instance."""
    svc = DecisionService(config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        svc.close()

    app = FastAPI(title="accessrl decision service", version="1", lifespan=lifespan,
                  description="Decides, logs every decision and outcome, and is promoted only on evidence.")
    app.state.service = svc
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(WritePath, service=svc, max_body=config.max_body)

    def json_response(status: int, body: str) -> Response:
        svc.metrics.counts[("status", str(status))] += 1
        return Response(body, status_code=status, media_type=JSON)

    async def guarded(request: Request, work: Callable[[], Awaitable[Any]]) -> Response:
        if not svc.authorised(request.headers.get("authorization")):
            return json_response(401, error_json("missing or invalid bearer token"))
        try:
            value = await work()
        except ApiError as exc:
            return json_response(exc.status, error_json(exc.message))
        return json_response(200, to_json(value))

    @app.get("/v1/requests/{request_id}")
    async def get_request(request_id: str, request: Request) -> Response:
        """The episode so far."""
        async def work() -> Any:
            return svc.episode(request_id)
        return await guarded(request, work)

    @app.get("/v1/policies")
    async def get_policies(request: Request) -> Response:
        """The deployed and shadow policies, and the deployment history."""
        async def work() -> Any:
            return svc.policies()
        return await guarded(request, work)

    @app.get("/healthz")
    async def healthz() -> Response:
        """Liveness: the database answers."""
        with svc.store.transaction() as tx:
            tx.ping()
        return Response(to_json({"status": "ok"}), media_type=JSON)

    drift = DriftGauge(config.db_url)  # live outcomes against the deployed model (accessrl.service.monitor)

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics(request: Request) -> Response:
        """Prometheus text format."""
        if not svc.authorised(request.headers.get("authorization")):
            return json_response(401, error_json("missing or invalid bearer token"))
        return PlainTextResponse(svc.metrics.render() + drift.render(), media_type="text/plain; version=0.0.4")

    return app


__all__ = ["MAX_BODY", "DecisionService", "EventIn", "OpenRequest", "ServiceConfig", "WritePath", "create_app",
           "handle_write", "token_hash"]
