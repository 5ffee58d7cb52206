"""The decision service's logic: decide, log, replay idempotent calls (no web framework here).

:class:`DecisionService` takes plain, already validated inputs (:class:`NewRequest`,
:class:`ReportedEvent`) and returns a :class:`Reply` (status and JSON text); the HTTP
application of :mod:`accessrl.service.http` validates the bodies, checks the size limit
and sends the reply.  Every API call's writes and its idempotency record commit in one
transaction (:class:`accessrl.storage.writepath.Store`) before the reply exists.
Refusals are :class:`ApiError` with the HTTP status they map to; nothing has been
written when one is raised.

All JSON the service answers with is built by :func:`to_json`, which embeds the
per-state fragments :mod:`accessrl.service.policy` encodes once (action probabilities,
Q-values) as they are.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from accessrl.errors import AccessRLError, UnavailableError
from accessrl.model.mdp import MDP
from accessrl.model.spec import spec_from_mdp
from accessrl.offline.logsim import outcome_kinds
from accessrl.service.metrics import Metrics
from accessrl.service.policy import ServedPolicy, from_mapping
from accessrl.storage.faults import check_integrity
from accessrl.storage.schema import database_name, decision_snapshots, outcome_events, service_episodes
from accessrl.storage.times import now_text, utc_text
from accessrl.storage.writepath import Store, is_write_conflict, open_engine

log = logging.getLogger("accessrl.service")
REVERSAL = "approval_reversed"
"""The one event that may follow a closed request: once, and only after an approval."""
GENERIC_KINDS = frozenset(("transition", "closed"))
"""Outcome kinds that name no particular event (see :func:`accessrl.offline.logsim.outcome_kinds`)."""

MAX_BODY = 16 * 1024
"""Largest accepted request body in bytes."""

WRITE_ATTEMPTS = 3
"""Attempts of one API call's transaction when another service process wins a clashing write."""


class ApiError(AccessRLError):
    """A refused call with one clear message and the HTTP status it maps to; nothing has been written."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class JsonText(str):
    """Text that is already JSON; :func:`to_json` embeds it as it is."""

    __slots__ = ()


_encode_str = json.encoder.encode_basestring_ascii  # what json.dumps does for a str (ensure_ascii)
_KEYS: dict[str, str] = {}


def _key(k: str) -> str:
    text = _KEYS.get(k)
    if text is None:
        text = _KEYS[k] = _encode_str(k) + ": "
    return text


def to_json(value: Any) -> str:
    """The service's one JSON serializer (``json.dumps`` output, with :class:`JsonText` embedded).

    Mappings are written key by key so that fragments inside them stay as they are;
    anything else goes through :func:`json.dumps`.
    """
    if isinstance(value, JsonText):
        return value
    if isinstance(value, dict):
        return "{" + ", ".join([_key(k) + to_json(v) for k, v in value.items()]) + "}"
    if isinstance(value, str):
        return _encode_str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float) and math.isfinite(value):
        return float.__repr__(value)
    return json.dumps(value)


def _utc(value: datetime, field: str) -> str:
    """A reported time as canonical UTC text (a time without an offset is taken as UTC), or 422."""
    try:
        return utc_text(value, field)
    except AccessRLError as exc:
        raise ApiError(422, f"field {field!r}: {str(exc).split(': ', 1)[-1]}") from None


def error_json(message: str) -> str:
    """The body of every refusal: ``{"detail": message}``."""
    return to_json({"detail": message})


@dataclass(frozen=True)
class NewRequest:
    """What opens an episode (``POST /v1/requests``), validated by the caller."""

    requester_id: str
    request_id: str | None = None
    state: str | None = None
    features: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportedEvent:
    """What happened to an open or closed request (``POST /v1/requests/{id}/events``), validated by the caller."""

    kind: str
    next_state: str | None = None
    occurred_at: datetime | None = None
    evidence_received_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """A call's HTTP status and JSON body (also what an idempotency key replays)."""

    status: int
    body: str


@dataclass(frozen=True)
class Decision:
    """One logged live decision: its event id, the chosen action and its JSON for the reply."""

    event_id: str
    action: str
    json: JsonText


@dataclass(frozen=True)
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
    host: str = "127.0.0.1"
    """The address served (with no token, requests must name it or a loopback name as their Host)."""
    body_timeout: float = 10.0
    """Seconds a client may take to send a request body (408 after)."""
    request_timeout: float = 30.0
    """Seconds a request may take from its body to its reply (503 after)."""
    retry_after: int = 2
    """Seconds a client is asked to wait (``Retry-After``) while the database is unavailable."""


def token_hash(token: str) -> str:
    """The sha256 hex digest under which a bearer token is configured."""
    return hashlib.sha256(token.encode()).hexdigest()


class DecisionService:
    """The service's logic, independent of HTTP framing (the FastAPI app is a thin shell)."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.mdp = config.mdp
        engine = open_engine(config.db_url)
        check_integrity(engine, database_name(engine))  # a damaged log is one line now, not 500s later
        self.store = Store(engine, background_checkpoints=True)
        self.rng = np.random.default_rng(config.seed)
        self.metrics = Metrics(event_kinds=self.mdp.events or ())
        self.policy = config.policy
        self.shadow = config.shadow
        self._spec_json = json.dumps(spec_from_mdp(self.mdp), sort_keys=True)
        self._deployment_id = 0
        self._checked = 0.0
        self.deployment_problem: str | None = None
        """Why the latest deployment record could not be served (the previous policy still is)."""
        self.database_problem: str | None = None
        """Why the database refused the latest call (unreachable, full, read-only); None once a call works again."""
        self._problem_since = 0.0
        codes, names = outcome_kinds(self.mdp)
        self._kinds = tuple(names[int(c)] for c in codes)
        self._record_deployments()

    def close(self) -> None:
        """Release the database."""
        self.store.close()

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
                    "deployed_at": now_text(), "reason": self.config.record_deployment,
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
            try:
                policy = from_mapping(self.mdp, json.loads(dep["policy"]), dep["policy_id"],
                                      epsilon=self.config.policy.epsilon)
            except (ValueError, TypeError, KeyError, AttributeError, AccessRLError) as exc:
                # An unreadable record must not fail every request: keep serving the last good
                # policy, say so in /healthz, and log it once (this id is not read again).
                self.deployment_problem = (f"deployment {dep['id']} ({dep['policy_id']!r}) is unreadable, still "
                                           f"serving {self.policy.policy_id!r} {self.policy.version}: "
                                           f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
                log.warning("accessrl serve: %s", self.deployment_problem)
            else:
                self.policy = policy
                self.deployment_problem = None
        sh = next((r for r in reversed(rows) if r["role"] == "shadow"), None)  # a shadow set after start-up
        if sh is not None and sh["model_spec"] == self._spec_json and (
                self.shadow is None or sh["policy_version"] != self.shadow.version):
            self.shadow = from_mapping(self.mdp, json.loads(sh["policy"]), sh["policy_id"])
        self._deployment_id = latest

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

    def _decide(self, tx: Store, episode_id: str, step: int, prev: str | None, requester: str | None,
                state: str, features_json: str) -> Decision:
        """Choose and log one decision (plus the shadow policy's choice)."""
        pol = self.policy
        sd = pol.decisions[state]
        i = sd.pick(float(self.rng.random()))
        event_id = uuid.uuid4().hex
        row = {
            "event_id": event_id, "episode_id": episode_id, "step_index": step, "previous_event_id": prev,
            "requester_id": requester, "decided_at": now_text(), "state": state, "features": features_json,
            "allowed_actions": sd.allowed_json, "action": sd.actions[i],
            "action_probabilities": sd.probabilities_json, "propensity": sd.probabilities[i],
            "policy_id": pol.policy_id, "policy_version": pol.version, "exploration": pol.epsilon, "mode": "live",
        }
        tx.add(decision_snapshots, row)
        self.metrics.counts[("decisions", "live")] += 1
        if self.shadow is not None:
            sh = self.shadow.decisions[state]
            j = sh.pick(float(self.rng.random()))
            tx.add(decision_snapshots, {
                **row, "event_id": uuid.uuid4().hex, "action": sh.actions[j], "allowed_actions": sh.allowed_json,
                "action_probabilities": sh.probabilities_json, "propensity": sh.probabilities[j],
                "policy_id": self.shadow.policy_id, "policy_version": self.shadow.version,
                "exploration": self.shadow.epsilon, "mode": "shadow",
            })
            self.metrics.counts[("decisions", "shadow")] += 1
        text = to_json({
            "decision_id": event_id, "step": step, "state": state, "action": sd.actions[i],
            "action_probabilities": JsonText(sd.probabilities_json), "propensity": sd.probabilities[i],
            "q_values": JsonText(sd.q_json), "policy": {"id": pol.policy_id, "version": pol.version},
        })
        return Decision(event_id, sd.actions[i], JsonText(text))

    def _replay(self, tx: Store, key: str | None, body_hash: str) -> Reply | None:
        """The stored reply of an idempotency key already used with this body (409 with another body)."""
        if key is None:
            return None
        prior = tx.idempotent(key)
        if prior is None:
            return None
        if prior.body_hash != body_hash:
            raise ApiError(409, "Idempotency-Key was already used with a different body")
        self.metrics.counts[("replays", "")] += 1
        return Reply(prior.status, prior.body)

    def note_fault(self, exc: UnavailableError) -> None:
        """The database refused a call: remember why (``/healthz``), and log it once per outage."""
        if self.database_problem is None:
            self._problem_since = time.monotonic()
            log.warning("accessrl serve: %s; answering 503 until it is back", exc)
        self.database_problem = exc.reason

    def note_ok(self) -> None:
        """A call worked: the outage, if there was one, is over."""
        if self.database_problem is not None:
            log.warning("accessrl serve: the database is back after %.1f s", time.monotonic() - self._problem_since)
            self.database_problem = None

    def health(self) -> tuple[int, dict[str, Any]]:
        """``/healthz``: 200 and ``ok`` (or ``degraded`` naming a checkpoint or deployment problem
        while writes still work), or 503 and ``degraded`` naming the database's problem (it refused
        the latest call, or its disk is nearly full).

        While a problem is known, a write is tried too (and rolled into nothing: it stores
        what is already stored), so the answer follows the database, not the last request."""
        problems: dict[str, str] = {}
        low = self.store.disk_problem()  # SQLite: a disk that is (nearly) full refuses writes soon or now
        try:
            with self.store.transaction() as tx:
                tx.ping()
                if self.database_problem is not None:
                    tx.probe_write()
            if low is None:
                self.note_ok()
        except UnavailableError as exc:
            self.note_fault(exc)
        if self.database_problem is not None or low is not None:
            problems["database"] = self.database_problem or f"disk nearly full: {low}"
        if low is not None:
            problems["disk"] = low
        if self.store.checkpoint_problem is not None:
            problems["checkpoints"] = self.store.checkpoint_problem
        if self.deployment_problem is not None:
            problems["deployment"] = self.deployment_problem
        return (503 if "database" in problems else 200), {"status": "degraded" if problems else "ok", **problems}

    def _retrying(self, call: Callable[[], Reply]) -> Reply:
        """Run one API call's transaction, again when another process won a clashing write.

        The retry re-reads everything: a key another process stored meanwhile is then a
        replay, a request id it created a 409.  Each attempt is one whole transaction.  A
        connection that died while idle (the database restarted since the last call) is
        replaced and the call run once more on the new one (nothing of it reached the
        database); a database that is away raises :class:`~accessrl.errors.UnavailableError` (503).
        """
        conflicts = 0
        reconnected = False
        while True:
            try:
                reply = call()
            except ApiError:
                raise
            except UnavailableError as exc:
                if self.store.retry_safe and not reconnected:
                    reconnected = True
                    continue
                self.note_fault(exc)
                raise
            except Exception as exc:
                conflicts += 1
                if conflicts == WRITE_ATTEMPTS or not is_write_conflict(exc):
                    raise
            else:
                self.note_ok()
                return reply

    def open_request(self, body: NewRequest, key: str | None, body_hash: str) -> Reply:
        """``POST /v1/requests``: open an episode and decide (retried on a cross-process clash)."""
        return self._retrying(lambda: self._open_request(body, key, body_hash))

    def _open_request(self, body: NewRequest, key: str | None, body_hash: str) -> Reply:
        mdp = self.mdp
        with self.store.transaction() as tx:
            replay = self._replay(tx, key, body_hash)
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
            decision = self._decide(tx, episode_id, 0, None, body.requester_id, state, features)
            tx.add(service_episodes, {
                "episode_id": episode_id, "requester_id": body.requester_id, "opened_at": now_text(),
                "state": state, "status": "open", "steps": 1, "last_event_id": decision.event_id,
                "last_action": decision.action, "features": features,
            })
            reply = Reply(201, to_json({"request_id": episode_id, "status": "open", "decision": decision.json}))
            if key is not None:
                tx.remember(key, body_hash, reply.status, reply.body)
        return reply

    def _may_report(self, k: int, kind: str, action: str, explicit: bool) -> bool:
        """Whether an event of ``kind`` may report outcome ``k`` (reached by ``action``).

        The kinds come from the model (:func:`~accessrl.offline.logsim.outcome_kinds`: the
        outcome's ``event`` label, or what its states say).  An outcome of a particular
        kind (``evidence_received``, ``abandoned``, ``review_outcome``, ...) is reported
        only by that kind; an outcome of no particular kind (a plain transition, a close)
        by a generic kind or by ``review_outcome`` after a review action, never by a kind
        the model gives other outcomes (``evidence_received`` after ``human_review``).  With
        ``next_state`` given (``explicit``), a kind the model does not know is a free label."""
        own = self._kinds[k]
        if kind == own:
            return True
        unknown = kind not in self._kinds and kind != REVERSAL
        if own not in GENERIC_KINDS:
            return explicit and unknown
        if kind in GENERIC_KINDS:
            return True
        if kind == "review_outcome" and "review" in action:
            return True
        return unknown

    def _resolve(self, state: str, action: str, ev: ReportedEvent) -> int:
        """The outcome (global index) of (state, action) that the event reports, or 409."""
        mdp = self.mdp
        pair = mdp.pair_index(state, action)
        lo, hi = int(mdp.out_ptr[pair]), int(mdp.out_ptr[pair + 1])
        live = [k for k in range(lo, hi) if mdp.out_prob[k] > 0]
        fits = [k for k in live if self._may_report(k, ev.kind, action, ev.next_state is not None)]
        if ev.next_state is not None:
            hits = [k for k in fits if mdp.state_names[int(mdp.out_next[k])] == ev.next_state]
        else:
            hits = [k for k in fits if self._kinds[k] == ev.kind] or fits
        if len(hits) != 1:
            expected = sorted({f"{self._kinds[k]} -> {mdp.state_names[int(mdp.out_next[k])]}" for k in live})
            raise ApiError(409, f"event {ev.kind!r} cannot follow action {action!r} in state {state!r}; "
                                f"expected one of {expected} (kind -> next state; give next_state if several fit)")
        return hits[0]

    def _reversible(self, tx: Store, ep: dict[str, Any]) -> str | None:
        """Why approval_reversed cannot follow this closed request (None: it may, once)."""
        if "approve" not in str(ep["last_action"] or ""):
            return f"the request closed after {ep['last_action']!r}, not an approval"
        return "its approval was already reversed" if tx.outcomes_of_kind(ep["last_event_id"], REVERSAL) else None

    def add_event(self, episode_id: str, ev: ReportedEvent, key: str | None, body_hash: str) -> Reply:
        """``POST /v1/requests/{id}/events``: log an outcome and decide again unless the episode ended."""
        return self._retrying(lambda: self._add_event(episode_id, ev, key, body_hash))

    def _add_event(self, episode_id: str, ev: ReportedEvent, key: str | None, body_hash: str) -> Reply:
        mdp = self.mdp
        with self.store.transaction() as tx:
            ep = tx.episode(episode_id)
            if ep is None:
                raise ApiError(404, f"request {episode_id!r}: unknown request id")
            replay = self._replay(tx, key, body_hash)
            if replay is not None:
                return replay
            now = now_text()
            occurred = _utc(ev.occurred_at, "occurred_at") if ev.occurred_at else now
            evidence_at = _utc(ev.evidence_received_at, "evidence_received_at") if ev.evidence_received_at else None
            if evidence_at is None and ev.kind == "evidence_received":
                evidence_at = occurred
            base = {"event_id": ep["last_event_id"], "episode_id": episode_id, "kind": ev.kind, "occurred_at": occurred,
                    "evidence_received_at": evidence_at, "details": json.dumps(ev.details, sort_keys=True)}
            decision: JsonText | None = None
            if ep["status"] == "closed":
                if ev.kind != REVERSAL:
                    raise ApiError(409, f"request {episode_id!r} is closed; event {ev.kind!r} cannot follow "
                                        "(only approval_reversed may follow a closed request)")
                why = self._reversible(tx, ep)
                if why is not None:
                    raise ApiError(409, f"request {episode_id!r}: approval_reversed cannot follow: {why}")
                tx.add(outcome_events, {**base, "next_state": None, "reward": None, "reward_components": None,
                                           "severe": False, "terminated": True})
                done = True
                outcome: dict[str, Any] = {"kind": ev.kind}
            else:
                if ev.kind == REVERSAL:
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
                tx.add(outcome_events, {
                    **base, "next_state": nxt_name, "reward": float(mdp.out_reward[k]),
                    "reward_components": json.dumps(comps) if comps else None, "severe": severe, "terminated": done,
                })
                if done:
                    tx.update_episode(episode_id, state=nxt_name, status="closed")
                else:
                    made = self._decide(tx, episode_id, int(ep["steps"]), ep["last_event_id"], ep["requester_id"],
                                        nxt_name, ep["features"])
                    decision = made.json
                    tx.update_episode(episode_id, state=nxt_name, steps=int(ep["steps"]) + 1,
                                      last_event_id=made.event_id, last_action=made.action)
            reply = Reply(200, to_json({"request_id": episode_id, "status": "closed" if done else "open",
                                        "outcome": outcome, "decision": decision}))
            self.metrics.counts[("events", ev.kind)] += 1
            if key is not None:
                tx.remember(key, body_hash, reply.status, reply.body)
        return reply

    def episode(self, episode_id: str) -> dict[str, Any]:
        """``GET /v1/requests/{id}``."""
        view = self.store.episode_view(episode_id)
        if view is None:
            raise ApiError(404, f"request {episode_id!r}: unknown request id")
        return {
            "request": view.episode,
            "decisions": [d for d in view.decisions if d["mode"] == "live"],
            "shadow_decisions": [d for d in view.decisions if d["mode"] == "shadow"],
            "outcomes": list(view.outcomes),
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


__all__ = [
    "MAX_BODY",
    "ApiError",
    "Decision",
    "DecisionService",
    "JsonText",
    "Metrics",
    "NewRequest",
    "ReportedEvent",
    "Reply",
    "ServiceConfig",
    "error_json",
    "to_json",
    "token_hash",
]
