"""Synthetic decision logs as records, written to a file or a decision log (layer 2).

The sampling is :func:`accessrl.offline.logsim.simulate_logs` (layer 1, pure, explicit
``rng``); this module only names things and writes them: episode ids ``r0000042``,
event ids ``r0000042-1``, requester ids ``u000017``, timestamps as ISO 8601 UTC text.
Each decision becomes one snapshot record and one outcome record carrying the reward,
the next state and the outcome's kind (``evidence_received`` also sets
``evidence_received_at``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP
from accessrl.offline.logsim import GeneratedLog
from accessrl.storage.files import write_records
from accessrl.storage.store import DecisionLog, IngestResult


def start_us(date: str) -> int:
    """Microseconds since the epoch of an ISO date or date-time (naive means UTC)."""
    try:
        dt = datetime.fromisoformat(date)
    except (TypeError, ValueError):
        raise ParameterError(f"start date: expected an ISO 8601 date such as 2026-01-05, got {date!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(round(dt.timestamp() * 1_000_000))


def _iso(us: np.ndarray) -> np.ndarray:
    text = np.datetime_as_string(us.astype("datetime64[us]"), unit="us")
    return np.char.add(text, "+00:00")


def generated_records(log: GeneratedLog, mdp: MDP, *, policy_id: str = "behavior", policy_version: str = "1",
                      mode: str = "logging-only", id_prefix: str = "",
                      chunk: int = 100_000) -> Iterator[dict[str, Any]]:
    """Decision and outcome records of a generated log, in decision order per chunk."""
    s = log.steps
    b = log.behavior
    allowed, probs = {}, {}
    for st in mdp.decision_states:
        lo, hi = int(mdp.sa_ptr[st]), int(mdp.sa_ptr[st + 1])
        names = [mdp.action_names[int(a)] for a in mdp.sa_action[lo:hi]]
        allowed[int(st)] = names
        probs[int(st)] = {n: float(b[k]) for n, k in zip(names, range(lo, hi), strict=True)}
    first_seen: dict[int, bool] = {}
    sn, an, kn = s.state_names, s.action_names, s.kind_names
    eps = float(log.epsilon)
    for c0 in range(0, s.n_steps, chunk):
        sl = slice(c0, c0 + chunk)
        dec, out = _iso(s.decided_at[sl]), _iso(s.outcome_at[sl])
        cols = [x[sl].tolist() for x in (s.episode, s.step, s.requester, s.state, s.action, s.propensity, s.reward,
                                         s.next_state, s.terminated, s.truncated)]
        kinds = s.kind[sl].tolist() if s.kind is not None else [0] * len(cols[0])
        for i, (ep, step, req, st, act, prop, rew, nxt, term, trunc) in enumerate(zip(*cols, strict=True)):
            ep_id = f"{id_prefix}r{ep:07d}"
            ev = f"{ep_id}-{step}"
            if step == 0:
                returning = req in first_seen
                first_seen[req] = True
            yield {
                "record": "decision", "event_id": ev, "episode_id": ep_id, "step_index": step,
                "previous_event_id": f"{ep_id}-{step - 1}" if step else None, "requester_id": f"u{req:06d}",
                "decided_at": str(dec[i]), "state": sn[st], "features": {"returning": returning},
                "allowed_actions": allowed[st], "action": an[act], "action_probabilities": probs[st],
                "propensity": prop, "policy_id": policy_id, "policy_version": policy_version,
                "exploration": eps, "mode": mode,
            }
            kind = kn[kinds[i]]
            rec: dict[str, Any] = {
                "record": "outcome", "event_id": ev, "episode_id": ep_id, "outcome_key": f"{ev}:{kind}",
                "kind": kind, "occurred_at": str(out[i]), "next_state": sn[nxt], "reward": rew,
                "terminated": term, "truncated": trunc,
            }
            if kind == "evidence_received":
                rec["evidence_received_at"] = rec["occurred_at"]
            elif kind == "review_outcome":
                rec["details"] = {"review": an[act]}
            yield rec


def write_generated_file(log: GeneratedLog, mdp: MDP, path: str | Path, **kw: Any) -> int:
    """Write a generated log to a JSONL / CSV / Parquet file; returns the number of records."""
    return write_records(path, generated_records(log, mdp, **kw))


def write_generated(dlog: DecisionLog, log: GeneratedLog, mdp: MDP, **kw: Any) -> IngestResult:
    """Store a generated log in a decision log (through the validating ingest path)."""
    records = (("generated", r) for r in generated_records(log, mdp, **kw))
    return dlog.ingest_records(records, source="generated log")


def policy_json(mdp: MDP, probs: np.ndarray) -> str:
    """A behaviour policy as ``{state: {action: p}}`` JSON (for reports)."""
    out = {}
    for st in mdp.decision_states:
        lo, hi = int(mdp.sa_ptr[st]), int(mdp.sa_ptr[st + 1])
        out[mdp.state_names[st]] = {mdp.action_names[int(mdp.sa_action[k])]: float(probs[k]) for k in range(lo, hi)}
    return json.dumps(out)


__all__ = ["generated_records", "policy_json", "start_us", "write_generated", "write_generated_file"]
