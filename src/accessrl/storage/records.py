"""Validation of decision and outcome records, once, at the boundary.

A record is a mapping (a JSON line, a CSV row, a Parquet row).  ``record`` names its
kind (``decision`` or ``outcome``); without it, a record with ``decided_at`` is a
decision and one with ``occurred_at`` an outcome.  Nested fields (``features``,
``allowed_actions``, ``action_probabilities``, ``reward_components``, ``details``) may
be JSON text (CSV, Parquet) or native lists/objects (JSON lines).

Each check raises :class:`~accessrl.errors.DataError` with one line naming the field and what was
expected; the ingester adds the file, line and event id.

The checks are what either database would refuse, decided here so that SQLite and
PostgreSQL store exactly the same records: text no longer than its column
(:data:`TEXT_LIMITS`, read from :mod:`accessrl.storage.schema`), no NUL character and
valid Unicode; integers within their column (``step_index`` is a 32-bit ``INTEGER``);
finite numbers; JSON values without NaN, infinities, integers beyond 64 bits or nesting
deeper than :data:`MAX_JSON_DEPTH`.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from accessrl.errors import DataError
from accessrl.model.checks import number
from accessrl.storage.schema import decision_snapshots, outcome_events
from accessrl.storage.times import utc_text

MODES = ("live", "shadow", "logging-only", "historical")
"""``historical``: decisions imported from an event log (recorded by another system, acted on)."""
DECISION_REQUIRED = ("event_id", "episode_id", "step_index", "requester_id", "decided_at", "state",
                     "allowed_actions", "action", "action_probabilities", "propensity", "policy_id",
                     "policy_version", "exploration", "mode")
OUTCOME_REQUIRED = ("event_id", "kind", "occurred_at", "terminated")
PROPENSITY_TOL = 1e-6
MAX_JSON_DEPTH = 32
"""Deepest nesting accepted in a JSON field (features, details, ...)."""
INT64 = (-(2**63), 2**63 - 1)
FLOAT_BOUND = 2.0**63
"""JSON numbers in nested fields stay below 2**63 in magnitude: parsers read longer integers as
floats (orjson) or as exact integers (the standard library), so refusing both keeps every reader's
view of a stored value the same."""
INT32_MAX = 2**31 - 1
"""``step_index`` is an ``INTEGER`` column: 32 bits on PostgreSQL, so the same bound on SQLite."""


def _text_limits(*tables: sa.Table) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in tables:
        for c in t.columns:
            length = getattr(c.type, "length", None)
            if isinstance(c.type, sa.String) and length:
                out[c.name] = min(out.get(c.name, length), length)
    return out


TEXT_LIMITS = _text_limits(decision_snapshots, outcome_events)
"""Longest text (characters) of each sized column, as the schema declares it."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def stdlib_json_loads(text: str | bytes) -> Any:
    """Parse strict JSON with the standard library: like orjson, refuse ``NaN`` and
    ``Infinity``, which Python's ``json`` accepts by default (an older writer stored them)."""
    return json.loads(text, parse_constant=_refuse_constant)


try:  # orjson parses and encodes JSON several times faster; the standard library is the fallback
    import orjson

    def json_loads(text: str | bytes) -> Any:
        """Parse JSON text (orjson when installed)."""
        return orjson.loads(text)

    def json_dumps(value: Any) -> str:
        """Compact JSON text (orjson when installed)."""
        return orjson.dumps(value).decode()

    JSON_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError, RecursionError)
except ImportError:  # pragma: no cover
    json_loads = stdlib_json_loads

    def json_dumps(value: Any) -> str:
        """Compact JSON text (orjson when installed)."""
        return json.dumps(value, separators=(",", ":"), allow_nan=False)

    JSON_ERRORS = (ValueError, RecursionError)


def check_json_value(value: Any, field: str) -> None:
    """Refuse what strict JSON cannot hold or a database cannot store: NaN and infinities,
    integers beyond 64 bits (and floats of that size), NUL characters and invalid Unicode,
    nesting deeper than :data:`MAX_JSON_DEPTH`, keys that are not text."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, str):
            _clean(v, field)
        elif isinstance(v, bool) or v is None:
            continue
        elif isinstance(v, int):
            if not INT64[0] <= v <= INT64[1]:
                raise DataError(f"{field}: expected integers within 64 bits, got one of {len(str(abs(v)))} digits")
        elif isinstance(v, float):
            if not -FLOAT_BOUND < v < FLOAT_BOUND:  # also NaN; a float this large is an integer beyond 64 bits
                raise DataError(f"{field}: expected finite numbers of magnitude below 2**63, got {v!r}")
        elif isinstance(v, (dict, list)):
            if depth >= MAX_JSON_DEPTH:
                raise DataError(f"{field}: nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(v, dict):
                for k, x in v.items():
                    if not isinstance(k, str):
                        raise DataError(f"{field}: expected text keys, got {type(k).__name__}")
                    _clean(k, field)
                    stack.append((x, depth + 1))
            else:
                stack.extend((x, depth + 1) for x in v)
        else:
            raise DataError(f"{field}: expected JSON values, got {type(v).__name__}")


def _json_field(value: Any, field: str, kind: type) -> Any:
    if isinstance(value, str):
        try:
            value = json_loads(value) if value else kind()
        except JSON_ERRORS:
            raise DataError(f"{field}: expected JSON text, got {value[:40]!r}") from None
    if not isinstance(value, kind):
        raise DataError(f"{field}: expected a JSON {'object' if kind is dict else 'list'}, got {type(value).__name__}")
    return value


_JSON_OK: dict[str, tuple[Any, str]] = {}


def json_column(value: Any, field: str, kind: type) -> tuple[Any, str]:
    """A JSON field (text or a native value) checked by :func:`check_json_value`, with the
    compact text stored for it.

    Text is stored re-encoded (compact), never as given, so one value has one stored text
    whichever file format brought it, and the Parquet fast path stores what this path does.
    Short repeated texts (allowed actions, action probabilities) are checked once."""
    if isinstance(value, str):
        hit = _JSON_OK.get(value)
        if hit is not None and type(hit[0]) is kind:
            return hit
        parsed = _json_field(value, field, kind)
        check_json_value(parsed, field)
        out = (parsed, json_dumps(parsed))
        if len(value) < 512:  # the cached value is shared: callers never modify it
            if len(_JSON_OK) > 50_000:
                _JSON_OK.clear()
            _JSON_OK[value] = out
        return out
    parsed = _json_field(value, field, kind)
    key: tuple[Any, ...] | None = None
    if len(parsed) <= 16:  # short flat values repeat (allowed actions, probabilities): check each once
        # the types are part of the key: True and 1 are equal in Python, not in JSON
        key = ((tuple(parsed.items()), tuple(map(type, parsed.values()))) if kind is dict
               else (tuple(parsed), tuple(map(type, parsed))))
        try:
            known = _NATIVE_OK.get(key)
        except TypeError:  # nested: not cached
            key = known = None
        if known is not None:
            return parsed, known
    check_json_value(parsed, field)
    text = json_dumps(parsed)
    if key is not None:
        if len(_NATIVE_OK) > 50_000:
            _NATIVE_OK.clear()
        _NATIVE_OK[key] = text
    return parsed, text


_NATIVE_OK: dict[tuple[Any, ...], str] = {}


def _clean(value: str, field: str) -> str:
    if "\x00" in value:
        raise DataError(f"{field}: expected text without NUL characters, got {value[:40]!r}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise DataError(f"{field}: expected valid Unicode text, got {value[:40]!r}") from None
    return value


def checked_text(value: str, field: str) -> str:
    """Text that fits its column (:data:`TEXT_LIMITS`), without NUL, valid Unicode."""
    limit = TEXT_LIMITS.get(field)
    if limit is not None and len(value) > limit:
        raise DataError(f"{field}: expected at most {limit} characters, got {len(value)}")
    return _clean(value, field)


def _boolean(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise DataError(f"{field}: expected true or false, got {value!r}")


def _text(value: Any, field: str) -> str:
    if type(value) is str and 0 < len(value) <= TEXT_LIMITS.get(field, 1 << 62) and value.isascii() \
            and "\x00" not in value:
        return value  # the common case, without further calls
    if isinstance(value, int) and not isinstance(value, bool) and INT64[0] <= value <= INT64[1]:
        return str(value)
    if not isinstance(value, str) or not value:
        raise DataError(f"{field}: expected a non-empty string, got {_short(value)}")
    return checked_text(value, field)


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else f"an integer of {len(str(abs(value)))} digits"
    return text if len(text) <= 60 else text[:57] + "..."


def _finite(value: Any, field: str) -> float:
    if type(value) is float and math.isfinite(value):
        return value
    return number(value, field, error=DataError, parse_text=True)


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
        missing = [f for f in names if not _present(rec, f)]
        if len(missing) == 1:
            raise DataError(f"missing field {missing[0]!r}")
        if missing:  # all of them at once: one try tells what a record needs
            raise DataError(f"missing fields {', '.join(map(repr, missing))}")
    return vals


def _step(step: Any) -> int:
    if type(step) is not int:
        if isinstance(step, str) and step.isdigit() and len(step) <= 10:
            step = int(step)
        elif isinstance(step, float) and step.is_integer() and abs(step) <= INT32_MAX:
            step = int(step)
    if type(step) is not int or not 0 <= step <= INT32_MAX:
        raise DataError(f"step_index: expected an integer in [0, {INT32_MAX}], got {_short(step)}")
    return step


def _id(value: Any, field: str) -> str:
    if type(value) is str and 0 < len(value) <= 64 and "\x00" not in value and value.isascii():
        return value  # the common case, checked without a call
    return _text(value, field)


def decision_row(rec: Mapping[str, Any]) -> tuple[Any, ...]:
    """A validated decision as a row tuple in :data:`~accessrl.storage.schema.DECISION_COLUMNS` order."""
    (event_id, episode_id, step, requester, decided_at, state, allowed_raw, action, probs_raw, prop_raw,
     policy_id, policy_version, exploration, mode) = _required(rec, _GET_DECISION, DECISION_REQUIRED)
    event_id = _id(event_id, "event_id")
    episode_id = _id(episode_id, "episode_id")
    step = _step(step)
    prop = _finite(prop_raw, "propensity")
    if not 0.0 < prop <= 1.0:
        raise DataError(f"propensity: expected a number in (0, 1], got {_short(prop_raw)}")
    allowed, allowed_text = json_column(allowed_raw, "allowed_actions", list)
    probs, probs_text = json_column(probs_raw, "action_probabilities", dict)
    action = _text(action, "action")
    if action not in allowed:
        raise DataError(f"action: {action!r} is not among allowed_actions {_short(allowed)}")
    p_logged = probs.get(action)
    if isinstance(p_logged, bool) or not isinstance(p_logged, (int, float)) or abs(float(p_logged) - prop) > PROPENSITY_TOL:
        raise DataError(f"propensity: {prop!r} differs from action_probabilities[{action!r}] = {_short(p_logged)}")
    if mode not in MODES:
        raise DataError(f"mode: expected one of {list(MODES)}, got {_short(mode)}")
    features, features_text = json_column(rec.get("features") or {}, "features", dict)
    if "recorded_at" in features:
        features = dict(features)
        features["recorded_at"] = utc_text(features["recorded_at"], "features.recorded_at")
        features_text = json_dumps(features)
    exp = _finite(exploration, "exploration")
    if not 0.0 <= exp <= 1.0:
        raise DataError(f"exploration: expected a number in [0, 1], got {_short(exploration)}")
    prev = rec.get("previous_event_id")
    return (
        event_id, episode_id, step, None if prev is None or prev == "" else _id(prev, "previous_event_id"),
        _text(requester, "requester_id"), utc_text(decided_at, "decided_at"), _text(state, "state"),
        features_text, allowed_text, action, probs_text, prop,
        _text(policy_id, "policy_id"), _text(policy_version, "policy_version"), exp, mode,
    )


def outcome_row(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A validated outcome as a dict of :data:`~accessrl.storage.schema.OUTCOME_COLUMNS` (episode_id
    filled in later from the decision it belongs to)."""
    event_id, kind, occurred_raw, terminated = _required(rec, _GET_OUTCOME, OUTCOME_REQUIRED)
    event_id = _id(event_id, "event_id")
    kind = _text(kind, "kind")
    occurred = utc_text(occurred_raw, "occurred_at")
    ev_at = rec.get("evidence_received_at")
    reward = rec.get("reward")
    comps = rec.get("reward_components")
    details = rec.get("details")
    nxt = rec.get("next_state")
    key = rec.get("outcome_key")
    episode = rec.get("episode_id")
    return {
        "event_id": event_id, "episode_id": None if episode in (None, "") else _id(episode, "episode_id"),
        "kind": kind, "occurred_at": occurred,
        "evidence_received_at": None if ev_at in (None, "") else utc_text(ev_at, "evidence_received_at"),
        "next_state": None if nxt in (None, "") else _text(nxt, "next_state"),
        "reward": None if reward is None or reward == "" else _finite(reward, "reward"),
        "reward_components": None if comps in (None, "") else json_column(comps, "reward_components", dict)[1],
        "severe": False if rec.get("severe") in (None, "") else _boolean(rec["severe"], "severe"),
        "terminated": terminated if type(terminated) is bool else _boolean(terminated, "terminated"),
        "details": None if details in (None, "") else json_column(details, "details", dict)[1],
        "truncated": False if rec.get("truncated") in (None, "") else _boolean(rec["truncated"], "truncated"),
        "outcome_key": f"{event_id}:{kind}:{occurred}" if key in (None, "") else _text(key, "outcome_key"),
    }


__all__ = [
    "DECISION_REQUIRED",
    "INT32_MAX",
    "JSON_ERRORS",
    "MAX_JSON_DEPTH",
    "MODES",
    "OUTCOME_REQUIRED",
    "TEXT_LIMITS",
    "check_json_value",
    "checked_text",
    "decision_row",
    "json_column",
    "json_dumps",
    "json_loads",
    "stdlib_json_loads",
    "outcome_row",
    "record_kind",
]
