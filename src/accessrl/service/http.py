"""The decision service over HTTP: FastAPI endpoints around :class:`~accessrl.service.decisions.DecisionService`.

Endpoints (JSON unless noted; OpenAPI at ``/openapi.json``, docs at ``/docs``):

* ``POST /v1/requests`` — open an episode and get the first decision;
* ``POST /v1/requests/{id}/events`` — report what happened; get the next decision, if any;
* ``GET /v1/requests/{id}`` — the episode so far (decisions, shadow decisions, outcomes);
* ``GET /v1/policies`` — the deployed and shadow policies;
* ``GET /healthz`` — liveness and database reachability (no token);
* ``GET /metrics`` — Prometheus text format (:mod:`accessrl.service.metrics`, prometheus_client).

``/docs`` is Swagger UI served from the installed ``fastapi-offline`` package's copy of
its assets (no CDN, so it renders offline); every endpoint's replies have schemas
(:mod:`accessrl.service.schemas`).

Every API call's writes and its idempotency record commit in one transaction before the
response is sent.  Bad input writes nothing: 400 (two Authorization headers, no Host),
401 (token), 403 (a cross-origin write without a token), 404 (unknown request), 408 (a
body not sent within the time limit), 409 (an event that cannot follow the current
state, a reused idempotency key with a different body), 413 (oversized body), 415 (a
write without ``Content-Type: application/json`` and without a token), 421 (a Host that
is not the served address, without a token: DNS rebinding), 422 (malformed body or
request id, naming the field).

Every request passes the guards every accessrl server shares (:mod:`accessrl.web.guards`,
the application's outermost middleware): one of each security header, the token checked
before any of the body is read (an unauthenticated client cannot hold a connection open
with a partial body: refusals close the connection), body size and time limits, a request
time limit, and one line for any failure.  Without a token (loopback only) a web page must
not be able to write: writes need ``Content-Type: application/json`` (which a cross-site
form cannot send without a CORS preflight, never answered), a Host naming the served
address or a loopback name, and no foreign Origin.  While the database is unreachable or
full, writes and reads answer 503 with ``Retry-After`` and ``/healthz`` says ``degraded``
with the reason (503); the service reconnects by itself when the database is back
(:class:`~accessrl.storage.writepath.Store`).  Text fields refuse NUL characters and JSON values refuse NaN, infinities
and integers beyond 64 bits, the same rules as log ingestion
(:func:`accessrl.storage.records.check_json_value`), so SQLite and PostgreSQL answer alike.

The two write endpoints are answered by :class:`WritePath`, a raw ASGI layer in front of
FastAPI: it skips FastAPI's per-call routing, dependency resolution and request/response
objects (a third of a decision's CPU); the bodies are validated here (pydantic) and handed
to the framework-free service as plain dataclasses.  ``/openapi.json`` documents both endpoints (request and response
schemas) although no FastAPI route serves them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from accessrl._optional import dependency_error
from accessrl.errors import DataError, UnavailableError
from accessrl.service import schemas
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
from accessrl.service.metrics import CONTENT_TYPE

try:  # Swagger UI's assets, packaged: /docs renders without a CDN
    from fastapi_offline import FastAPIOffline
except ImportError as exc:  # the [serve] extra
    raise dependency_error("fastapi_offline", "serve", "the decision service", exc, package="fastapi-offline") from exc
from accessrl.service.monitor import DriftGauge
from accessrl.storage.records import check_json_value
from accessrl.web.guards import LOOPBACK_NAMES, GuardConfig, guarded_app, hostname
from accessrl.web.server import HEAD_TIMEOUT, MAX_HEADER_BYTES, bounded_protocol

log = logging.getLogger("accessrl.service")

ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"
KIND_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, StringConstraints(pattern=NO_NUL)]
"""Text without NUL characters (PostgreSQL cannot store them; the log refuses them everywhere)."""
Scalar = (Text | Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
          | Annotated[float, Field(allow_inf_nan=False, gt=-(2.0**63), lt=2.0**63)] | bool | None)
JSON = "application/json"
_ID = re.compile(ID_PATTERN)


def _json_values(value: dict[str, Any]) -> dict[str, Any]:
    try:
        check_json_value(value, "value")
    except DataError as exc:
        raise ValueError(str(exc).split(": ", 1)[-1]) from None
    return value


class OpenRequest(BaseModel):
    """Body of ``POST /v1/requests``."""

    model_config = ConfigDict(extra="forbid")
    request_id: str | None = Field(None, pattern=ID_PATTERN, description="Client-chosen id (default: generated).")
    requester_id: str = Field(..., min_length=1, max_length=128, pattern=NO_NUL)
    state: str | None = Field(None, max_length=256, pattern=NO_NUL, description="Start state (default: the model's start).")
    features: dict[Text, Scalar] = Field(default_factory=dict, max_length=64,
                                        description="Request features known at decision time.")

    _values = field_validator("features")(_json_values)


class EventIn(BaseModel):
    """Body of ``POST /v1/requests/{id}/events``."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(..., pattern=KIND_PATTERN,
                      description="evidence_received, abandoned, review_outcome, approval_reversed, ...")
    next_state: str | None = Field(None, max_length=256, pattern=NO_NUL)
    occurred_at: datetime | None = None
    evidence_received_at: datetime | None = None
    details: dict[Text, Scalar] = Field(default_factory=dict, max_length=64)

    _values = field_validator("details")(_json_values)


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


IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?$")
"""An Idempotency-Key: 1 to 128 visible ASCII characters, spaces only inside (HTTP strips a header
value's outer whitespace, so a key cannot start or end with one); the OpenAPI document says the same."""


def handle_write(svc: DecisionService, kind: str, request_id: str | None, headers: Mapping[str, str],
                 raw: bytes) -> Reply:
    """One write call (``open`` a request, or report an ``event``), already authorised, its body within the limit."""
    t0 = time.perf_counter()
    try:
        svc.maybe_reload()
        key = headers.get("idempotency-key")
        if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
            raise ApiError(422, "header 'Idempotency-Key': expected 1 to 128 visible ASCII characters "
                                "(spaces only inside)")
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


def check_request_id(request_id: str) -> None:
    """422 unless a request id in a path is one the service could have issued (no NUL, at most 64 characters)."""
    if not _ID.match(request_id):
        raise ApiError(422, f"field 'request_id': expected 1-64 letters, digits or _.:- , got {request_id[:40]!r}")


class WritePath:
    """ASGI middleware in front of the application that answers ``POST /v1/requests`` and
    ``POST /v1/requests/{id}/events`` directly (everything else goes on to FastAPI).

    It sits inside the shared guard (:class:`accessrl.web.guards.Guard`), which has already
    checked the headers and the token and read the body within its limits."""

    def __init__(self, app: Any, *, service: DecisionService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parts = scope["path"].split("/")
        if parts[1:] == ["v1", "requests"]:
            kind, rid = "open", None
        elif len(parts) == 5 and parts[1:3] == ["v1", "requests"] and parts[4] == "events" and parts[3]:
            kind, rid = "event", parts[3]
        else:
            kind = None
        if kind is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            reply = Reply(405, error_json(f"method {scope['method'][:10]!r}: expected POST"))
            await self._reply(send, self._count(reply), extra=[(b"allow", b"POST")])
            return
        if rid is not None:
            try:
                check_request_id(rid)
            except ApiError as exc:
                await self._reply(send, self._count(Reply(exc.status, error_json(exc.message))))
                return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        chunks, more = [], True
        while more:  # the guard hands the whole body over in one message
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunks.append(msg.get("body", b""))
            more = msg.get("more_body", False)
        await self._reply(send, handle_write(self.service, kind, rid, headers, b"".join(chunks)))

    @staticmethod
    async def _reply(send: Any, reply: Reply, *, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        body = reply.body.encode()
        head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(extra or [])]
        await send({"type": "http.response.start", "status": reply.status, "headers": head})
        await send({"type": "http.response.body", "body": body})

    def _count(self, reply: Reply) -> Reply:
        self.service.metrics.counts[("status", str(reply.status))] += 1
        return reply


_ERRORS = {
    "400": "Two Authorization headers, or no Host header.",
    "401": "Missing or invalid bearer token.",
    "403": "A cross-origin write without a token.",
    "408": "The body was not received in time.",
    "415": "Not application/json (without a token).",
    "421": "The Host is not this service (without a token).",
    "404": "Unknown request id.",
    "409": "The event cannot follow the request's state, the request exists, or the Idempotency-Key was used "
           "with another body.",
    "413": "Body larger than the limit.",
    "422": "Malformed body or request id, naming the field.",
    "503": "The database is unreachable or full (Retry-After says when to try again), or the request passed "
           "its time limit; nothing was written.",
}


def _content(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    """``{"application/json": {"schema": ...}}`` of a model: inline, its nested models added to ``components``."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    return {JSON: {"schema": schema}}


def _write_operations(components: dict[str, Any], start_states: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The OpenAPI path items of the two write endpoints (served by :class:`WritePath`)."""
    key = {"name": "Idempotency-Key", "in": "header", "required": False,
           "description": "A retry with the same key and body returns the stored reply and writes nothing.",
           "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": IDEMPOTENCY_KEY.pattern}}

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

    rid = {"name": "request_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": ID_PATTERN}}
    ops = {
        "/v1/requests": op("open_request", "Open an episode for an access request and return the first decision.",
                           OpenRequest, "201", OpenedOut, [], ("400", "401", "403", "408", "409", "413", "415", "421", "422",
                                                                  "503")),
        "/v1/requests/{request_id}/events": op(
            "add_event", "Report what happened to a request; returns the next decision, if any.",
            EventIn, "200", EventOut, [rid], ("400", "401", "403", "404", "408", "409", "413", "415", "421",
                                              "422", "503")),
    }
    if start_states is not None:  # the states a request may start in: the model's decision states
        body = ops["/v1/requests"]["post"]["requestBody"]["content"][JSON]["schema"]
        body["properties"]["state"]["anyOf"] = [{"type": "string", "enum": start_states}, {"type": "null"}]
    return ops


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """``app.openapi``: FastAPI's document plus the two write endpoints no route serves."""
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            svc = getattr(app.state, "service", None)
            states = None if svc is None else list(svc.policy.decisions)
            schema["paths"] = {**_write_operations(components, states), **schema.get("paths", {})}
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            for item in schema["paths"].values():
                for op in item.values():
                    for prm in op.get("parameters", []):
                        if prm["name"] == "request_id" and prm["in"] == "path":
                            prm["schema"] = {"type": "string", "pattern": ID_PATTERN}
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


def guard_config(config: ServiceConfig, svc: DecisionService) -> GuardConfig:
    """The service's settings of the guards every accessrl server shares."""
    def count(status: int) -> None:
        svc.metrics.counts[("status", str(status))] += 1

    return GuardConfig(hosts=(*LOOPBACK_NAMES, hostname(config.host)), max_body=config.max_body,
                       body_timeout=config.body_timeout, request_timeout=config.request_timeout,
                       retry_after=config.retry_after,
                       authorised=svc.authorised if config.token_hashes else None,
                       token_paths=("/v1/", "/metrics"), error_json=error_json, on_status=count)


def create_app(config: ServiceConfig) -> FastAPI:
    """The FastAPI application of one service instance."""
    svc = DecisionService(config)

    async def reload_loop() -> None:
        # Promotions reach an idle process too (writes also check): every service process
        # on one database serves the latest deployment within a few seconds.  While the
        # database is away this is also what notices it is back.
        while True:
            await asyncio.sleep(config.reload_every)
            try:
                svc.maybe_reload()
            except UnavailableError as exc:
                svc.note_fault(exc)  # logged once per outage, not every round
            except Exception as exc:  # noqa: BLE001 - one line; the next round retries
                log.warning("accessrl serve: checking for a new deployment failed: %s",
                            (str(exc).splitlines() or [type(exc).__name__])[0])
            else:
                svc.note_ok()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(reload_loop())
        yield
        task.cancel()
        svc.close()

    app: FastAPI = guarded_app(guard_config(config, svc), app_class=FastAPIOffline,
                               title="accessrl decision service", version="1", lifespan=lifespan,
                               description="Decides, logs every decision and outcome, and is promoted only on evidence.")
    app.state.service = svc
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(WritePath, service=svc)

    def json_response(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
        svc.metrics.counts[("status", str(status))] += 1
        return Response(body, status_code=status, media_type=JSON, headers=headers)

    async def answer(work: Callable[[], Awaitable[Any]]) -> Response:
        try:
            value = await work()
        except ApiError as exc:
            return json_response(exc.status, error_json(exc.message))
        return json_response(200, to_json(value))

    @app.get("/v1/requests/{request_id}", responses=schemas.read_responses(schemas.EpisodeOut, 401, 404, 422, 503))
    async def get_request(request_id: str) -> Response:
        """The episode so far."""
        async def work() -> Any:
            check_request_id(request_id)
            return svc.episode(request_id)
        return await answer(work)

    @app.get("/v1/policies", responses=schemas.read_responses(schemas.PoliciesOut, 401, 503))
    async def get_policies() -> Response:
        """The deployed and shadow policies, and the deployment history."""
        async def work() -> Any:
            return svc.policies()
        return await answer(work)

    @app.get("/healthz", responses={**schemas.read_responses(schemas.HealthOut),
                                    503: {"model": schemas.HealthOut}})
    async def healthz() -> Response:
        """Liveness and what is degraded: 503 while the database is unreachable or full."""
        status, body = svc.health()
        body["process"] = os.getpid()  # which of several service processes answered
        retry = {"Retry-After": str(config.retry_after)} if status == 503 else None
        return Response(to_json(body), status_code=status, media_type=JSON, headers=retry)

    drift = DriftGauge(config.db_url)  # live outcomes against the deployed model (accessrl.service.monitor)

    @app.get("/metrics", response_class=PlainTextResponse, responses=schemas.METRICS_RESPONSES)
    async def metrics() -> Response:
        """Prometheus text format."""
        return PlainTextResponse(svc.metrics.render() + drift.render(), media_type=CONTENT_TYPE)

    return app


__all__ = ["HEAD_TIMEOUT", "MAX_BODY", "MAX_HEADER_BYTES", "DecisionService", "EventIn", "OpenRequest", "ServiceConfig",
           "WritePath", "bounded_protocol", "check_request_id", "create_app", "guard_config", "handle_write",
           "token_hash"]
