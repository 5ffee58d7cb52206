"""The decision service: FastAPI endpoints over the served policy and the decision log.

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
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accessrl.model.mdp import MDP
from accessrl.model.spec import spec_from_mdp
from accessrl.service.policy import ServedPolicy, from_mapping
from accessrl.storage import writepath as st

MAX_BODY = 16 * 1024
"""Largest accepted request body in bytes."""

ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"
KIND_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
Scalar = str | float | int | bool | None
LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)


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


class ApiError(Exception):
    """An HTTP error with one clear message; nothing has been written."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ServiceConfig:
    """Everything the service needs: the model, policies, database and token hashes."""

    mdp: MDP
    policy: ServedPolicy
    db_url: str
    token_hashes: tuple[str, ...] = ()
    shadow: ServedPolicy | None = None
    seed: int | None = None
    max_body: int = MAX_BODY
    reload_every: float = 2.0
    record_deployment: str = "serve"


@dataclass
class Metrics:
    """Counters and a latency histogram, rendered in Prometheus text format."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))
    latency_sum: float = 0.0
    latency_n: int = 0

    def observe(self, seconds: float) -> None:
        self.latency_sum += seconds
        self.latency_n += 1
        for i, b in enumerate(LATENCY_BUCKETS):
            if seconds <= b:
                self.buckets[i] += 1

    def render(self) -> str:
        lines = [
            "# HELP accessrl_decisions_total Decisions logged, by mode.",
            "# TYPE accessrl_decisions_total counter",
        ]
        for (name, label), v in sorted(self.counts.items()):
            if name == "decisions":
                lines.append(f'accessrl_decisions_total{{mode="{label}"}} {v}')
        lines += ["# HELP accessrl_events_total Outcome events logged, by kind.", "# TYPE accessrl_events_total counter"]
        lines += [f'accessrl_events_total{{kind="{label}"}} {v}'
                  for (name, label), v in sorted(self.counts.items()) if name == "events"]
        lines += ["# HELP accessrl_http_responses_total Responses, by status.",
                  "# TYPE accessrl_http_responses_total counter"]
        lines += [f'accessrl_http_responses_total{{status="{label}"}} {v}'
                  for (name, label), v in sorted(self.counts.items()) if name == "status"]
        lines += ["# HELP accessrl_idempotent_replays_total Retries answered from the stored response.",
                  "# TYPE accessrl_idempotent_replays_total counter",
                  f"accessrl_idempotent_replays_total {self.counts[('replays', '')]}",
                  "# HELP accessrl_write_latency_seconds Latency of decision and event calls.",
                  "# TYPE accessrl_write_latency_seconds histogram"]
        for b, n in zip(LATENCY_BUCKETS, self.buckets, strict=False):
            lines.append(f'accessrl_write_latency_seconds_bucket{{le="{b}"}} {n}')
        lines += [f'accessrl_write_latency_seconds_bucket{{le="+Inf"}} {self.latency_n}',
                  f"accessrl_write_latency_seconds_sum {self.latency_sum:.6f}",
                  f"accessrl_write_latency_seconds_count {self.latency_n}"]
        return "\n".join(lines) + "\n"


def token_hash(token: str) -> str:
    """The sha256 hex digest under which a bearer token is configured."""
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _field_message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"]) or "body"
    return f"field {loc!r}: {err['msg']}"


class DecisionService:
    """The service's logic, independent of HTTP framing (the FastAPI app is a thin shell)."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.mdp = config.mdp
        self.store = st.Store(st.open_engine(config.db_url), background_checkpoints=True)
        self.rng = np.random.default_rng(config.seed)
        self.metrics = Metrics()
        self.policy = config.policy
        self.shadow = config.shadow
        self._spec_json = json.dumps(spec_from_mdp(self.mdp), sort_keys=True)
        self._deployment_id = 0
        self._checked = 0.0
        self._record_deployments()

    # ----------------------------------------------------------- policies
    def _record_deployments(self) -> None:
        """Record the configured policies unless the latest records already say the same."""
        rows = self.store.deployments()
        for role, pol in (("deployed", self.policy), ("shadow", self.shadow)):
            if pol is None:
                continue
            latest = next((r for r in reversed(rows) if r["role"] == role), None)
            if latest is None or latest["policy_version"] != pol.version:
                self.store.deploy({
                    "role": role, "policy_id": pol.policy_id, "policy_version": pol.version,
                    "policy": json.dumps(pol.mapping), "model_spec": self._spec_json,
                    "deployed_at": _now(), "reason": self.config.record_deployment,
                })
        with self.store.transaction() as tx:
            self._deployment_id = tx.latest_deployment_id()

    def maybe_reload(self) -> None:
        """Pick up a promotion written by ``accessrl promote`` (checked every few seconds)."""
        now = time.monotonic()
        if now - self._checked < self.config.reload_every:
            return
        self._checked = now
        with self.store.transaction() as tx:
            latest = tx.latest_deployment_id()
        if latest == self._deployment_id:
            return
        rows = self.store.deployments()
        dep = next((r for r in reversed(rows) if r["role"] == "deployed"), None)
        if dep is not None and dep["policy_version"] != self.policy.version and dep["model_spec"] == self._spec_json:
            self.policy = from_mapping(self.mdp, json.loads(dep["policy"]), dep["policy_id"],
                                       epsilon=self.config.policy.epsilon)
        self._deployment_id = latest

    # -------------------------------------------------------------- auth
    def authorised(self, header: str | None) -> bool:
        """Constant-time check of ``Authorization: Bearer TOKEN`` against the configured hashes."""
        if not self.config.token_hashes:
            return True
        if not header or not header.startswith("Bearer "):
            return False
        digest = token_hash(header[7:].strip())
        ok = False
        for h in self.config.token_hashes:
            ok |= hmac.compare_digest(digest, h)
        return ok

    # ---------------------------------------------------------- decisions
    def _decide(self, tx: st.Store, episode_id: str, step: int, prev: str | None, requester: str | None,
                state: str, features_json: str) -> tuple[str, str, str]:
        """Choose and log one decision (plus the shadow policy's choice).

        Returns (decision id, action, the decision's JSON for the response).
        """
        pol = self.policy
        sd = pol.decisions[state]
        i = sd.pick(float(self.rng.random()))
        event_id = uuid.uuid4().hex
        row = {
            "event_id": event_id, "episode_id": episode_id, "step_index": step, "previous_event_id": prev,
            "requester_id": requester, "decided_at": _now(), "state": state, "features": features_json,
            "allowed_actions": sd.allowed_json, "action": sd.actions[i],
            "action_probabilities": sd.probabilities_json, "propensity": sd.probabilities[i],
            "policy_id": pol.policy_id, "policy_version": pol.version, "exploration": pol.epsilon, "mode": "live",
        }
        tx.add(st.decision_snapshots, row)
        self.metrics.counts[("decisions", "live")] += 1
        if self.shadow is not None:
            sh = self.shadow.decisions[state]
            j = sh.pick(float(self.rng.random()))
            tx.add(st.decision_snapshots, {
                **row, "event_id": uuid.uuid4().hex, "action": sh.actions[j], "allowed_actions": sh.allowed_json,
                "action_probabilities": sh.probabilities_json, "propensity": sh.probabilities[j],
                "policy_id": self.shadow.policy_id, "policy_version": self.shadow.version,
                "exploration": self.shadow.epsilon, "mode": "shadow",
            })
            self.metrics.counts[("decisions", "shadow")] += 1
        text = (
            f'{{"decision_id": "{event_id}", "step": {step}, "state": {json.dumps(state)}, '
            f'"action": {json.dumps(sd.actions[i])}, "action_probabilities": {sd.probabilities_json}, '
            f'"propensity": {json.dumps(sd.probabilities[i])}, "q_values": {sd.q_json}, '
            f'"policy": {{"id": {json.dumps(pol.policy_id)}, "version": "{pol.version}"}}}}'
        )
        return event_id, sd.actions[i], text

    def _idempotent(self, tx: st.Store, key: str | None, body_hash: str) -> tuple[int, str] | None:
        if key is None:
            return None
        prior = tx.idempotent(key)
        if prior is None:
            return None
        if prior.body_hash != body_hash:
            raise ApiError(409, "Idempotency-Key was already used with a different body")
        self.metrics.counts[("replays", "")] += 1
        return prior.status, prior.body

    def open_request(self, body: OpenRequest, key: str | None, body_hash: str) -> tuple[int, str]:
        """``POST /v1/requests``: open an episode and decide."""
        mdp = self.mdp
        with self.store.transaction() as tx:
            replay = self._idempotent(tx, key, body_hash)
            if replay is not None:
                return replay
            state = body.state if body.state is not None else mdp.state_names[mdp.start or 0]
            if state not in mdp._state_lookup:
                raise ApiError(422, f"field 'state': unknown state {state!r}; expected one of {list(self.policy.decisions)}")
            if state not in self.policy.decisions:
                raise ApiError(422, f"field 'state': {state!r} is terminal; a request must start in a decision state")
            episode_id = body.request_id or uuid.uuid4().hex
            if body.request_id is not None and tx.episode(episode_id) is not None:
                raise ApiError(409, f"request {episode_id!r} already exists")
            features = json.dumps(body.features, sort_keys=True)
            decision_id, action, decision = self._decide(tx, episode_id, 0, None, body.requester_id, state, features)
            tx.add(st.service_episodes, {
                "episode_id": episode_id, "requester_id": body.requester_id, "opened_at": decision_time(),
                "state": state, "status": "open", "steps": 1, "last_event_id": decision_id,
                "last_action": action, "features": features,
            })
            out = f'{{"request_id": {json.dumps(episode_id)}, "status": "open", "decision": {decision}}}'
            if key is not None:
                tx.remember(key, body_hash, 201, out)
        return 201, out

    def _resolve(self, state: str, action: str, ev: EventIn) -> int:
        """The outcome (global index) of (state, action) that the event reports, or 409."""
        mdp = self.mdp
        pair = mdp.pair_index(state, action)
        lo, hi = int(mdp.out_ptr[pair]), int(mdp.out_ptr[pair + 1])
        labels = mdp.events or ("",) * mdp.n_outcomes
        live = [k for k in range(lo, hi) if mdp.out_prob[k] > 0]
        if ev.next_state is not None:
            hits = [k for k in live if mdp.state_names[int(mdp.out_next[k])] == ev.next_state]
        else:
            hits = [k for k in live if labels[k] == ev.kind] or [k for k in live if not labels[k]]
        if len(hits) != 1:
            nexts = sorted({mdp.state_names[int(mdp.out_next[k])] for k in live})
            raise ApiError(409, f"event {ev.kind!r} cannot follow action {action!r} in state {state!r}; "
                                f"expected an outcome leading to one of {nexts} (give next_state)")
        return hits[0]

    def add_event(self, episode_id: str, ev: EventIn, key: str | None, body_hash: str) -> tuple[int, str]:
        """``POST /v1/requests/{id}/events``: log an outcome and decide again unless the episode ended."""
        mdp = self.mdp
        with self.store.transaction() as tx:
            ep = tx.episode(episode_id)
            if ep is None:
                raise ApiError(404, f"request {episode_id!r}: unknown request id")
            replay = self._idempotent(tx, key, body_hash)
            if replay is not None:
                return replay
            now = decision_time()
            occurred = ev.occurred_at.isoformat() if ev.occurred_at else now
            evidence_at = ev.evidence_received_at.isoformat() if ev.evidence_received_at else None
            if evidence_at is None and ev.kind == "evidence_received":
                evidence_at = occurred
            base = {"event_id": ep["last_event_id"], "episode_id": episode_id, "kind": ev.kind, "occurred_at": occurred,
                    "evidence_received_at": evidence_at, "details": json.dumps(ev.details, sort_keys=True)}
            if ep["status"] == "closed":
                if ev.kind != "approval_reversed":
                    raise ApiError(409, f"request {episode_id!r} is closed; event {ev.kind!r} cannot follow "
                                        "(only approval_reversed may follow a closed request)")
                tx.add(st.outcome_events, {**base, "next_state": None, "reward": None,
                                                         "reward_components": None, "severe": False,
                                                         "terminated": True})
                out = json.dumps({"request_id": episode_id, "status": "closed", "decision": None,
                                  "outcome": {"kind": ev.kind}})
            else:
                if ev.kind == "approval_reversed":
                    raise ApiError(409, f"request {episode_id!r} is open; approval_reversed can only follow a "
                                        "closed request")
                k = self._resolve(ep["state"], ep["last_action"], ev)
                nxt = int(mdp.out_next[k])
                nxt_name = mdp.state_names[nxt]
                done = bool(mdp.terminal[nxt]) or nxt_name not in self.policy.decisions
                comps = {c: float(v[k]) for c, v in mdp.components.items()}
                severe = bool(mdp.severe[k]) if mdp.severe is not None else False
                outcome = {"kind": ev.kind, "next_state": nxt_name, "reward": float(mdp.out_reward[k]),
                           "severe": severe, "terminated": done}
                tx.add(st.outcome_events, {
                    **base, "next_state": nxt_name, "reward": float(mdp.out_reward[k]),
                    "reward_components": json.dumps(comps) if comps else None, "severe": severe, "terminated": done,
                })
                decision = "null"
                if done:
                    tx.update_episode(episode_id, state=nxt_name, status="closed")
                else:
                    decision_id, action, decision = self._decide(tx, episode_id, int(ep["steps"]),
                                                                 ep["last_event_id"], ep["requester_id"], nxt_name,
                                                                 ep["features"])
                    tx.update_episode(episode_id, state=nxt_name, steps=int(ep["steps"]) + 1,
                                      last_event_id=decision_id, last_action=action)
                head = json.dumps({"request_id": episode_id, "status": "closed" if done else "open",
                                   "outcome": outcome})
                out = f'{head[:-1]}, "decision": {decision}}}'
            self.metrics.counts[("events", ev.kind)] += 1
            if key is not None:
                tx.remember(key, body_hash, 200, out)
        return 200, out

    def episode(self, episode_id: str) -> dict[str, Any]:
        """``GET /v1/requests/{id}``."""
        ep, decisions, outcomes = self.store.episode_view(episode_id)
        if ep is None:
            raise ApiError(404, f"request {episode_id!r}: unknown request id")
        return {
            "request": ep,
            "decisions": [d for d in decisions if d["mode"] == "live"],
            "shadow_decisions": [d for d in decisions if d["mode"] == "shadow"],
            "outcomes": outcomes,
        }

    def policies(self) -> dict[str, Any]:
        """``GET /v1/policies``."""
        def info(p: ServedPolicy | None) -> dict[str, Any] | None:
            if p is None:
                return None
            return {"id": p.policy_id, "version": p.version, "epsilon": p.epsilon, "policy": p.mapping}

        return {"model": self.mdp.name, "deployed": info(self.policy), "shadow": info(self.shadow),
                "history": [{k: r[k] for k in ("id", "role", "policy_id", "policy_version", "deployed_at", "reason")}
                            for r in self.store.deployments()]}


def decision_time() -> str:
    """The current UTC time as ISO 8601 with microseconds."""
    return _now()


def _schema_body(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


def _parse(model: type[BaseModel], raw: bytes) -> Any:
    if not raw.strip():
        raise ApiError(422, "body: expected a JSON object, got an empty body")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise ApiError(422, _field_message(exc)) from None


class WritePath:
    """ASGI middleware answering ``POST /v1/requests`` and ``POST /v1/requests/{id}/events`` directly.

    The body is read under the size limit (413 without reading further when the declared
    or streamed size exceeds it); everything else goes on to the FastAPI application.
    """

    def __init__(self, app: Any, *, handle: Any, too_big: Any, max_body: int) -> None:
        self.app = app
        self.handle = handle
        self.too_big = too_big
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
            status, body = self.too_big()
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
            status, body = self.too_big() if size > self.max_body else self.handle(kind, rid, headers,
                                                                                    b"".join(chunks))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def create_app(config: ServiceConfig) -> FastAPI:
    """The FastAPI application of one service instance."""
    svc = DecisionService(config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        svc.store.close()

    app = FastAPI(title="accessrl decision service", version="1", lifespan=lifespan,
                  description="Decides, logs every decision and outcome, and is promoted only on evidence.")
    app.state.service = svc

    def error(status: int, message: str) -> JSONResponse:
        svc.metrics.counts[("status", str(status))] += 1
        return JSONResponse({"detail": message}, status_code=status)

    def handle_write(kind: str, request_id: str | None, headers: Mapping[str, str], raw: bytes) -> tuple[int, bytes]:
        """One write call (open a request, or report an event): (status, JSON body)."""
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
                status, out = svc.open_request(_parse(OpenRequest, raw), None if key is None else f"open:{key}",
                                               digest)
            else:
                assert request_id is not None
                status, out = svc.add_event(request_id, _parse(EventIn, raw),
                                            None if key is None else f"event:{request_id}:{key}", digest)
        except ApiError as exc:
            svc.metrics.counts[("status", str(exc.status))] += 1
            return exc.status, json.dumps({"detail": exc.message}).encode()
        svc.metrics.observe(time.perf_counter() - t0)
        svc.metrics.counts[("status", str(status))] += 1
        return status, out.encode()

    def too_big() -> tuple[int, bytes]:
        svc.metrics.counts[("status", "413")] += 1
        return 413, json.dumps({"detail": f"body: larger than the limit of {config.max_body} bytes"}).encode()

    async def via_fastapi(kind: str, request_id: str | None, request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > config.max_body):
            status, body = too_big()
        else:
            raw = await request.body()
            status, body = too_big() if len(raw) > config.max_body else handle_write(kind, request_id,
                                                                                     request.headers, raw)
        return Response(body, status_code=status, media_type="application/json")

    # These declarations document the two write endpoints (OpenAPI); the calls themselves are
    # answered by the raw ASGI layer below, which skips FastAPI's per-call routing, dependency
    # resolution and request/response objects (a third of a decision's CPU) - same handler.
    @app.post("/v1/requests", status_code=201, openapi_extra=_schema_body(OpenRequest))
    async def open_request(request: Request) -> Response:
        """Open an episode for an access request and return the first decision."""
        return await via_fastapi("open", None, request)

    @app.post("/v1/requests/{request_id}/events", openapi_extra=_schema_body(EventIn))
    async def add_event(request_id: str, request: Request) -> Response:
        """Report what happened to a request; returns the next decision, if any."""
        return await via_fastapi("event", request_id, request)

    app.add_middleware(WritePath, handle=handle_write, too_big=too_big, max_body=config.max_body)

    async def guarded(request: Request, work: Any) -> Response:
        try:
            if not svc.authorised(request.headers.get("authorization")):
                return error(401, "missing or invalid bearer token")
            status, body = await work()
        except ApiError as exc:
            return error(exc.status, exc.message)
        svc.metrics.counts[("status", str(status))] += 1
        return Response(body, status_code=status, media_type="application/json")

    @app.get("/v1/requests/{request_id}")
    async def get_request(request_id: str, request: Request) -> Response:
        """The episode so far."""
        async def work() -> tuple[int, str]:
            return 200, json.dumps(svc.episode(request_id))
        return await guarded(request, work)

    @app.get("/v1/policies")
    async def get_policies(request: Request) -> Response:
        """The deployed and shadow policies, and the deployment history."""
        async def work() -> tuple[int, str]:
            return 200, json.dumps(svc.policies())
        return await guarded(request, work)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the database answers."""
        with svc.store.transaction() as tx:
            tx.ping()
        return {"status": "ok"}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics(request: Request) -> Response:
        """Prometheus text format."""
        if not svc.authorised(request.headers.get("authorization")):
            return error(401, "missing or invalid bearer token")
        return PlainTextResponse(svc.metrics.render(), media_type="text/plain; version=0.0.4")

    return app


__all__ = ["MAX_BODY", "DecisionService", "EventIn", "OpenRequest", "ServiceConfig", "create_app", "token_hash"]
