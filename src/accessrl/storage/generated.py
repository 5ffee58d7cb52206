"""Synthetic decision logs as records, written to a file or a decision log (layer 2).

The sampling is :func:`accessrl.offline.logsim.simulate_logs` (layer 1, pure, explicit
``rng``); this module only names things and writes them.  Every id carries the log's
**run id** (``g`` and ten hex digits, :func:`run_id` — a digest of the log itself unless
the caller names the run): episode ids ``g1a2b3c4d5e-r0000042``, event ids
``g1a2b3c4d5e-r0000042-1``, requester ids ``g1a2b3c4d5e-u000017``.  Two generated runs
stored in one database therefore never share an id (the counters restart in every run),
while writing the same log twice stores it once.  Timestamps are ISO 8601 UTC text.
Each decision becomes one snapshot record and one outcome record carrying the reward,
the next state and the outcome's kind (``evidence_received`` also sets
``evidence_received_at``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP
from accessrl.offline.logsim import GeneratedLog
from accessrl.storage.files import write_records
from accessrl.storage.store import DecisionLog, IngestResult
from accessrl.storage.times import us_to_iso_array

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:]{1,24}$")
"""A run id the caller names: up to 24 letters, digits, ``_``, ``.`` or ``:`` (it prefixes 64-character ids)."""


def run_id(log: GeneratedLog) -> str:
    """The default run id of ``log``: ``g`` and the first ten hex digits of a SHA-256 over
    its times, states, actions, outcomes and requesters (the same log, the same id)."""
    s = log.steps
    digest = hashlib.sha256()
    for col in (s.episode, s.step, s.requester, s.state, s.action, s.next_state, s.decided_at, s.outcome_at,
                s.reward, s.propensity):
        digest.update(np.ascontiguousarray(col).tobytes())
    digest.update(",".join(s.state_names + s.action_names).encode())
    return "g" + digest.hexdigest()[:10]


def check_run_id(text: str, where: str = "run_id") -> str:
    """``text`` if it is a usable run id (:data:`RUN_ID_PATTERN`), else a :class:`ParameterError`."""
    if not isinstance(text, str) or not RUN_ID_PATTERN.match(text):
        raise ParameterError(f"{where}: expected 1-24 letters, digits, '_', '.' or ':', got {text!r}")
    return text


def generated_records(log: GeneratedLog, mdp: MDP, *, policy_id: str = "behavior", policy_version: str = "1",
                      mode: str = "logging-only", run: str | None = None,
                      chunk: int = 100_000) -> Iterator[dict[str, Any]]:
    """Decision and outcome records of a generated log, in decision order per chunk; every id
    starts with ``run`` (default :func:`run_id` of ``log``) and a hyphen."""
    prefix = (run_id(log) if run is None else check_run_id(run, "run")) + "-"
    s = log.steps
    b = log.behavior
    allowed, probs = {}, {}
    for st in mdp.decision_states:
        lo, hi = int(mdp.sa_ptr[st]), int(mdp.sa_ptr[st + 1])
        names = [mdp.action_names[int(a)] for a in mdp.sa_action[lo:hi]]
        allowed[int(st)] = names
        probs[int(st)] = {n: float(b[k]) for n, k in zip(names, range(lo, hi), strict=True)}
    # the logged distribution of each decision: per (hidden type, state) when the log has types
    table, index = s.behavior_table, s.behavior_index
    by_row: list[dict[str, float]] | None = None
    if table is not None and index is not None and table.shape[0] > mdp.n_states:
        by_row = [{n: float(table[k, mdp.action_names.index(n)]) for n in allowed.get(k % mdp.n_states, [])}
                  for k in range(table.shape[0])]
    first_seen: dict[int, bool] = {}
    sn, an, kn = s.state_names, s.action_names, s.kind_names
    eps = float(log.epsilon)
    for c0 in range(0, s.n_steps, chunk):
        sl = slice(c0, c0 + chunk)
        dec, out = us_to_iso_array(s.decided_at[sl]), us_to_iso_array(s.outcome_at[sl])
        cols = [x[sl].tolist() for x in (s.episode, s.step, s.requester, s.state, s.action, s.propensity, s.reward,
                                         s.next_state, s.terminated, s.truncated)]
        kinds = s.kind[sl].tolist() if s.kind is not None else [0] * len(cols[0])
        rows = index[sl].tolist() if by_row is not None and index is not None else None
        for i, (ep, step, req, st, act, prop, rew, nxt, term, trunc) in enumerate(zip(*cols, strict=True)):
            ep_id = f"{prefix}r{ep:07d}"
            ev = f"{ep_id}-{step}"
            if step == 0:
                returning = req in first_seen
                first_seen[req] = True
            yield {
                "record": "decision", "event_id": ev, "episode_id": ep_id, "step_index": step,
                "previous_event_id": f"{ep_id}-{step - 1}" if step else None, "requester_id": f"{prefix}u{req:06d}",
                "decided_at": str(dec[i]), "state": sn[st], "features": {"returning": returning},
                "allowed_actions": allowed[st], "action": an[act],
                "action_probabilities": probs[st] if rows is None or by_row is None else by_row[rows[i]],
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


__all__ = ["RUN_ID_PATTERN", "check_run_id", "generated_records", "run_id", "write_generated",
           "write_generated_file"]
