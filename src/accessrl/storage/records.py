"""Validation of decision and outcome records, once, at the boundary.

A record is a mapping (a JSON line, a CSV row, a Parquet row).  ``record`` names its
kind (``decision`` or ``outcome``); without it, a record with ``decided_at`` is a
decision and one with ``occurred_at`` an outcome.  Nested fields (``features``,
``allowed_actions``, ``action_probabilities``, ``reward_components``, ``details``) may
be JSON text (CSV, Parquet) or native lists/objects (JSON lines).

Each check raises :class:`~accessrl.errors.DataError` with one line naming the field and what was
expected; the ingester adds the file, line and event id.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping
from typing import Any

from accessrl.errors import DataError
from accessrl.model.checks import number
from accessrl.storage.times import utc_text

MODES = ("live", "shadow", "logging-only")
DECISION_REQUIRED = ("event_id", "episode_id", "step_index", "requester_id", "decided_at", "state",
                     "allowed_actions", "action", "action_probabilities", "propensity", "policy_id",
                     "policy_version", "exploration", "mode")
OUTCOME_REQUIRED = ("event_id", "kind", "occurred_at", "terminated")
PROPENSITY_TOL = 1e-6


try:  # orjson parses and encodes JSON several times faster; the standard library is the fallback
    import orjson

    def json_loads(text: str | bytes) -> Any:
        """Parse JSON text (orjson when installed)."""
        return orjson.loads(text)

    def json_dumps(value: Any) -> str:
        """Compact JSON text (orjson when installed)."""
        return orjson.dumps(value).decode()

    JSON_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover
    def json_loads(text: str | bytes) -> Any:
        """Parse JSON text (orjson when installed)."""
        return json.loads(text)

    def json_dumps(value: Any) -> str:
        """Compact JSON text (orjson when installed)."""
        return json.dumps(value, separators=(",", ":"))

    JSON_ERRORS = (ValueError,)

_TEXT_CACHE: dict[Any, str] = {}


def _as_json(value: Any) -> str:
    """Keep JSON text as given (already checked to parse); encode native values compactly.

    Allowed actions and action probabilities repeat across decisions, so their
    encodings are cached."""
    if isinstance(value, str):
        return value
    try:
        key = (tuple(value.items()) if isinstance(value, dict) else tuple(value)) if len(value) < 32 else None
        hit = _TEXT_CACHE.get(key) if key is not None else None
    except TypeError:
        key = hit = None
    if hit is not None:
        return hit
    text = json_dumps(value)
    if key is not None:
        if len(_TEXT_CACHE) > 50_000:
            _TEXT_CACHE.clear()
        _TEXT_CACHE[key] = text
    return text


def _json_field(value: Any, field: str, kind: type) -> Any:
    if isinstance(value, str):
        try:
            value = json_loads(value) if value else kind()
        except JSON_ERRORS:
            raise DataError(f"{field}: expected JSON text, got {value[:40]!r}") from None
    if not isinstance(value, kind):
        raise DataError(f"{field}: expected a JSON {'object' if kind is dict else 'list'}, got {type(value).__name__}")
    return value


def _boolean(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise DataError(f"{field}: expected true or false, got {value!r}")


def _text(value: Any, field: str) -> str:
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise DataError(f"{field}: expected a non-empty string, got {value!r}")
    return value


def _present(rec: Mapping[str, Any], field: str) -> bool:
    v = rec.get(field)
    return v is not None and v != ""


def record_kind(rec: Mapping[str, Any]) -> str:
    """'decision' or 'outcome'."""
    kind = rec.get("record")
    if kind in ("decision", "outcome"):
        return str(kind)
    if kind not in (None, ""):
        raise DataError(f"record: expected 'decision' or 'outcome', got {kind!r}")
    if _present(rec, "decided_at"):
        return "decision"
    if _present(rec, "occurred_at"):
        return "outcome"
    raise DataError("record: cannot tell a decision (decided_at) from an outcome (occurred_at)")


_GET_DECISION = operator.itemgetter(*DECISION_REQUIRED)
_GET_OUTCOME = operator.itemgetter(*OUTCOME_REQUIRED)


def _required(rec: Mapping[str, Any], getter: Any, names: tuple[str, ...]) -> tuple[Any, ...]:
    try:
        vals: tuple[Any, ...] = getter(rec)
    except KeyError:
        vals = ()
    if len(vals) != len(names) or None in vals or "" in vals:
        for f in names:
            if not _present(rec, f):
                raise DataError(f"missing field {f!r}")
    return vals


def decision_row(rec: Mapping[str, Any]) -> tuple[Any, ...]:
    """A validated decision as a row tuple in :data:`~accessrl.storage.schema.DECISION_COLUMNS` order."""
    (event_id, episode_id, step, requester, decided_at, state, allowed_raw, action, probs_raw, prop_raw,
     policy_id, policy_version, exploration, mode) = _required(rec, _GET_DECISION, DECISION_REQUIRED)
    if type(step) is not int:
        if isinstance(step, str) and step.isdigit():
            step = int(step)
        elif isinstance(step, float) and step.is_integer():
            step = int(step)
    if type(step) is not int or step < 0:
        raise DataError(f"step_index: expected a non-negative integer, got {step!r}")
    prop = prop_raw if type(prop_raw) is float else number(prop_raw, "propensity", error=DataError, parse_text=True)
    if not 0.0 < prop <= 1.0:
        raise DataError(f"propensity: expected a number in (0, 1], got {prop_raw!r}")
    allowed = allowed_raw if type(allowed_raw) is list else _json_field(allowed_raw, "allowed_actions", list)
    probs = probs_raw if type(probs_raw) is dict else _json_field(probs_raw, "action_probabilities", dict)
    if type(action) is not str:
        action = _text(action, "action")
    if action not in allowed:
        raise DataError(f"action: {action!r} is not among allowed_actions {allowed}")
    p_logged = probs.get(action)
    if not isinstance(p_logged, (int, float)) or abs(float(p_logged) - prop) > PROPENSITY_TOL:
        raise DataError(f"propensity: {prop!r} differs from action_probabilities[{action!r}] = {p_logged!r}")
    if mode not in MODES:
        raise DataError(f"mode: expected one of {list(MODES)}, got {mode!r}")
    raw_features = rec.get("features") or {}
    features = raw_features if type(raw_features) is dict else _json_field(raw_features, "features", dict)
    if "recorded_at" in features:
        features = dict(features)
        features["recorded_at"] = utc_text(features["recorded_at"], "features.recorded_at")
        raw_features = features
    prev = rec.get("previous_event_id")
    return (
        event_id if type(event_id) is str else _text(event_id, "event_id"),
        episode_id if type(episode_id) is str else _text(episode_id, "episode_id"), step,
        None if prev is None or prev == "" else _text(prev, "previous_event_id"),
        requester if type(requester) is str else _text(requester, "requester_id"),
        utc_text(decided_at, "decided_at"), state if type(state) is str else _text(state, "state"),
        _as_json(raw_features), _as_json(allowed_raw), action, _as_json(probs_raw), prop,
        policy_id if type(policy_id) is str else _text(policy_id, "policy_id"),
        policy_version if type(policy_version) is str else _text(policy_version, "policy_version"),
        exploration if type(exploration) is float else number(exploration, "exploration", error=DataError, parse_text=True), mode,
    )


def outcome_row(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A validated outcome as a dict of :data:`~accessrl.storage.schema.OUTCOME_COLUMNS` (episode_id
    filled in later from the decision it belongs to)."""
    event_id, kind, occurred_raw, terminated = _required(rec, _GET_OUTCOME, OUTCOME_REQUIRED)
    event_id = event_id if type(event_id) is str else _text(event_id, "event_id")
    kind = kind if type(kind) is str else _text(kind, "kind")
    occurred = utc_text(occurred_raw, "occurred_at")
    ev_at = rec.get("evidence_received_at")
    reward = rec.get("reward")
    comps = rec.get("reward_components")
    details = rec.get("details")
    nxt = rec.get("next_state")
    key = rec.get("outcome_key")
    return {
        "event_id": event_id, "episode_id": rec.get("episode_id") or None, "kind": kind, "occurred_at": occurred,
        "evidence_received_at": None if ev_at in (None, "") else utc_text(ev_at, "evidence_received_at"),
        "next_state": None if nxt in (None, "") else _text(nxt, "next_state"),
        "reward": None if reward is None or reward == "" else reward if type(reward) is float
        else number(reward, "reward", error=DataError, parse_text=True),
        "reward_components": None if comps in (None, "") else _as_json(_json_field(comps, "reward_components", dict)),
        "severe": False if rec.get("severe") in (None, "") else _boolean(rec["severe"], "severe"),
        "terminated": terminated if type(terminated) is bool else _boolean(terminated, "terminated"),
        "details": None if details in (None, "") else _as_json(_json_field(details, "details", dict)),
        "truncated": False if rec.get("truncated") in (None, "") else _boolean(rec["truncated"], "truncated"),
        "outcome_key": f"{event_id}:{kind}:{occurred}" if key in (None, "") else _text(key, "outcome_key"),
    }


__all__ = [
    "JSON_ERRORS",
    "json_dumps",
    "json_loads",
    "DECISION_REQUIRED",
    "MODES",
    "OUTCOME_REQUIRED",
        "decision_row",
    "outcome_row",
    "record_kind",
]
