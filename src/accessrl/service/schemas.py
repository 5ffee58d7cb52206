"""Response models of the service's read endpoints, so ``/openapi.json`` describes every
reply (layer 2).

The endpoints write their JSON themselves (:func:`~accessrl.service.decisions.to_json`);
these pydantic models document that JSON, and the tests validate real replies against
them.  Log records allow extra fields: a storage column added later is still valid.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Scalar = str | float | int | bool | None


class RequestRecord(BaseModel):
    """The request (episode) as logged."""

    model_config = ConfigDict(extra="allow")
    episode_id: str
    requester_id: str
    opened_at: str = Field(..., description="ISO 8601 time the request was opened.")
    state: str
    status: Literal["open", "closed"]
    steps: int
    last_event_id: str | None = None
    last_action: str | None = None
    features: dict[str, Scalar] = Field(default_factory=dict)


class DecisionRecord(BaseModel):
    """One logged decision snapshot (live or shadow)."""

    model_config = ConfigDict(extra="allow")
    event_id: str
    episode_id: str
    step_index: int
    previous_event_id: str | None = None
    requester_id: str
    decided_at: str
    state: str
    features: dict[str, Scalar] = Field(default_factory=dict)
    allowed_actions: list[str]
    action: str
    action_probabilities: dict[str, float]
    propensity: float
    policy_id: str
    policy_version: str
    exploration: float
    mode: Literal["live", "shadow"]


class OutcomeRecord(BaseModel):
    """One logged outcome event."""

    model_config = ConfigDict(extra="allow")
    outcome_id: int
    event_id: str
    episode_id: str
    kind: str
    occurred_at: str
    evidence_received_at: str | None = None
    next_state: str | None = None
    reward: float | None = None
    reward_components: dict[str, float] | str | None = None
    severe: bool
    terminated: bool
    truncated: bool = False
    details: dict[str, Any] | str | None = None


class EpisodeOut(BaseModel):
    """Reply of ``GET /v1/requests/{id}``: the episode so far."""

    request: RequestRecord
    decisions: list[DecisionRecord]
    shadow_decisions: list[DecisionRecord]
    outcomes: list[OutcomeRecord]


class ServedPolicyOut(BaseModel):
    """A deployed or shadow policy: per state, the probability of each action."""

    id: str
    version: str
    epsilon: float
    policy: dict[str, dict[str, float]]


class DeploymentOut(BaseModel):
    """One row of the deployment history."""

    model_config = ConfigDict(extra="allow")
    id: int
    role: str
    policy_id: str
    policy_version: str
    deployed_at: str
    reason: str | None = None


class PoliciesOut(BaseModel):
    """Reply of ``GET /v1/policies``."""

    model: str
    deployed: ServedPolicyOut | None
    shadow: ServedPolicyOut | None
    history: list[DeploymentOut]


class HealthOut(BaseModel):
    """Reply of ``GET /healthz``: ``degraded`` names what is wrong — the database (unreachable,
    full or read-only: the reply is then 503 and writes are refused until it is back), a
    failing checkpoint, a disk nearly full, or a deployment record that cannot be served."""

    status: Literal["ok", "degraded"]
    database: str | None = None
    checkpoints: str | None = None
    disk: str | None = None
    deployment: str | None = None
    process: int | None = None
    """The id of the service process that answered (one of several with ``--workers``)."""


class ErrorReply(BaseModel):
    """Every refusal: one message naming what was wrong."""

    detail: str


def read_responses(model: type[BaseModel], *errors: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` argument of a FastAPI route: ``model`` for 200, :class:`ErrorReply` for ``errors``."""
    out: dict[int | str, dict[str, Any]] = {200: {"model": model}}
    for status in errors:
        out[status] = {"model": ErrorReply}
    return out


METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Prometheus text exposition format 0.0.4.",
          "content": {"text/plain": {"schema": {"type": "string"}}}},
    401: {"model": ErrorReply},
}
"""The ``responses=`` of ``GET /metrics``."""

__all__ = ["METRICS_RESPONSES", "DecisionRecord", "DeploymentOut", "EpisodeOut", "ErrorReply", "HealthOut",
           "OutcomeRecord", "PoliciesOut", "RequestRecord", "ServedPolicyOut", "read_responses"]
