"""``accessrl logs import``: an event log, through its mapping, into the decision log.

Two passes over the cases, one read of the file: the first turns each case into
decisions (:func:`~accessrl.offline.eventlog.case_records`), counts the decisions of the
training period and spools the case to a temporary file (so memory stays bounded); the
second adds the behavior propensities estimated from those counts and stores every
record through :meth:`~accessrl.storage.DecisionLog.ingest_records` (idempotent: ids are
made from the mapping's name, the case and the step, so a re-import finds them stored).
"""

from __future__ import annotations

import pickle
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accessrl.errors import DataError
from accessrl.offline.eventlog import (
    CaseTally,
    EventMapping,
    Propensities,
    Step,
    case_records,
    count_decisions,
    estimate_propensities,
)
from accessrl.storage.columnar import ValidatedChunk
from accessrl.storage.eventlogs import EventReject, Rejects, read_cases
from accessrl.storage.records import checked_text, json_dumps
from accessrl.storage.store import ANALYZE_MIN_ROWS, LISTED, DecisionLog, IngestResult


@dataclass(frozen=True)
class ImportResult:
    """What one import read and stored."""

    source: str
    cases: int
    events: int
    decisions: int
    outcomes: int
    open_cases: int
    ended: dict[str, int]
    ignored_events: int
    filtered_events: int
    after_end_events: int
    events_per_activity: dict[str, int]
    rejected_events: tuple[EventReject, ...]
    rejected_events_total: int
    trained_decisions: int
    propensity_method: str
    train_until: str | None
    stored: IngestResult
    unused_activities: tuple[str, ...] = ()
    behavior: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """The estimated behavior policy: state -> action -> propensity."""

    @property
    def rejects(self) -> int:
        """Events the reader refused plus records the decision log refused."""
        return self.rejected_events_total + self.stored.rejected_total

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` report."""
        s = self.stored
        return {
            "source": self.source, "cases": self.cases, "events": self.events, "decisions": self.decisions,
            "outcomes": self.outcomes, "open_cases": self.open_cases, "ended": dict(sorted(self.ended.items())),
            "rejects": self.rejects,
            "rejected": [str(r) for r in self.rejected_events] + [str(r) for r in s.rejected],
            "ignored_events": self.ignored_events, "filtered_events": self.filtered_events,
            "events_after_case_end": self.after_end_events,
            "events_per_activity": dict(sorted(self.events_per_activity.items())),
            "unused_mapping_activities": list(self.unused_activities),
            "propensities": {"method": self.propensity_method, "trained_until": self.train_until,
                             "training_decisions": self.trained_decisions},
            "stored": {"decisions_new": s.decisions_inserted, "decisions_already_stored": s.decisions_duplicate,
                       "decisions_conflict": s.decisions_conflict, "outcomes_new": s.outcomes_inserted,
                       "outcomes_already_stored": s.outcomes_duplicate, "outcomes_conflict": s.outcomes_conflict,
                       "conflicts": [str(c) for c in s.conflicts]},
        }


def import_event_log(log: DecisionLog, path: str | Path, mapping: EventMapping, *,
                     batch_size: int = 50_000) -> ImportResult:
    """Import the event log at ``path`` into ``log`` (see the module docstring)."""
    rejects = Rejects()
    tally = CaseTally()
    seen: dict[str, Counter[str]] = {}
    train: dict[str, Counter[str]] = {}
    with tempfile.TemporaryFile() as spool:
        for case, events, attrs in read_cases(path, mapping, rejects):
            steps = case_records(mapping, case, events, attrs, tally)
            if steps:
                count_decisions(steps, mapping.train_until, seen, train)
                pickle.dump(steps, spool, protocol=pickle.HIGHEST_PROTOCOL)
        if tally.decisions == 0:
            top = ", ".join(repr(a) for a, _ in tally.per_activity.most_common(8)) or "none"
            raise DataError(f"{path}: none of the mapping's decision activities occurs in the log's "
                            f"{tally.events} events ({rejects.total} rejected); its most frequent activities: {top}")
        props = estimate_propensities(seen, train)
        spool.seek(0)
        policy_id = f"{mapping.name}-behavior"

        rows = _Rows(props, policy_id, mapping.train_until)

        def chunks() -> Iterator[ValidatedChunk]:
            chunk = ValidatedChunk([], [], [])
            while True:
                try:
                    steps = pickle.load(spool)
                except EOFError:
                    break
                for s in steps:
                    where = str(s.record["features"]["event"])
                    try:
                        chunk.decisions.append(rows.decision(s))
                        chunk.decision_labels.append(where)
                        chunk.outcomes.extend((where, rows.outcome(o)) for o in s.outcomes)
                    except DataError as exc:  # text a column cannot hold: the decision and its outcomes
                        rejects.add(where, str(s.record["requester_id"]), str(exc))
                if len(chunk) >= batch_size:
                    yield chunk
                    chunk = ValidatedChunk([], [], [])
            if len(chunk):
                yield chunk

        # one ingest call per batch: a case's decisions and outcomes are in one batch, and the
        # ingester's memory of the ids it has seen stays one batch long whatever the log's size
        analyze, log.analyze_after_ingest = log.analyze_after_ingest, False
        parts: list[IngestResult] = []
        try:
            for chunk in chunks():
                parts.append(log.ingest_records([("", chunk)], source=str(path), batch_size=batch_size))
        finally:
            log.analyze_after_ingest = analyze
        stored = _merged(str(path), parts)
        if analyze and stored.decisions_inserted + stored.outcomes_inserted >= ANALYZE_MIN_ROWS:
            log.analyze()
    return ImportResult(
        source=str(path), cases=tally.cases, events=tally.events + rejects.total, decisions=tally.decisions,
        outcomes=tally.outcomes, open_cases=tally.open_cases, ended=dict(tally.ended),
        ignored_events=tally.ignored, filtered_events=tally.filtered, after_end_events=tally.after_end,
        events_per_activity=dict(tally.per_activity), rejected_events=tuple(rejects.listed),
        rejected_events_total=rejects.total, trained_decisions=props.trained_decisions,
        propensity_method=props.method, train_until=mapping.train_until, stored=stored,
        behavior=props.probabilities,
        unused_activities=tuple(a for a in (*mapping.decisions, *mapping.outcomes) if a not in tally.per_activity))


def stage_observations(log: DecisionLog, abandonment: Sequence[str]) -> tuple[list[tuple[str, str, int, int, bool, bool]],
                                                                                   int]:
    """What :func:`~accessrl.offline.survival.stage_visits` reads, from an imported log: every
    decision and outcome with the stage the case was in (``features``/``details`` ``stage`` and
    ``stage_since``, written by :func:`import_event_log`), and the log's last time."""
    import sqlalchemy as sa

    from accessrl.storage.records import json_loads
    from accessrl.storage.schema import decision_snapshots as dc
    from accessrl.storage.schema import outcome_events as oc
    from accessrl.storage.times import to_us

    kinds = set(abandonment)
    out: list[tuple[str, str, int, int, bool, bool]] = []
    last = 0
    cache: dict[str, int] = {}

    def us(text: str) -> int:
        v = cache.get(text)
        if v is None:
            v = cache[text] = to_us(text, "time", error=DataError)
        return v

    with log.engine.connect() as conn:
        q = sa.select(dc.c.episode_id, dc.c.decided_at, dc.c.features)
        for ep, at, feats in conn.execution_options(yield_per=50_000).execute(q):
            f = json_loads(feats) if feats and "stage_since" in feats else None
            t = us(at)
            last = max(last, t)
            if f is not None:
                out.append((ep, str(f["stage"]), us(f["stage_since"]), t, False, False))
                if "stage_after" in f:
                    out.append((ep, str(f["stage_after"]), us(f["stage_after_since"]), t, False, False))
        q2 = sa.select(oc.c.episode_id, oc.c.kind, oc.c.occurred_at, oc.c.details, oc.c.terminated)
        for ep, kind, at, details, term in conn.execution_options(yield_per=50_000).execute(q2):
            t = us(at)
            last = max(last, t)
            d = json_loads(details) if details and "stage_since" in details else None
            if d is not None:
                out.append((ep, str(d["stage"]), us(d["stage_since"]), t, kind in kinds, bool(term)))
                if "stage_after" in d:
                    out.append((ep, str(d["stage_after"]), us(d["stage_after_since"]), t, False, False))
    return out, last


def _merged(source: str, parts: list[IngestResult]) -> IngestResult:
    """One result for the batches of an import (the first :data:`LISTED` rejects and conflicts)."""
    def total(name: str) -> int:
        return sum(getattr(p, name) for p in parts)

    return IngestResult(source, total("decisions_inserted"), total("decisions_duplicate"), total("outcomes_inserted"),
                        total("outcomes_duplicate"), tuple(r for p in parts for r in p.rejected)[:LISTED],
                        total("batches"), rejected_total=total("rejected_total"),
                        decisions_conflict=total("decisions_conflict"), outcomes_conflict=total("outcomes_conflict"),
                        conflicts=tuple(c for p in parts for c in p.conflicts)[:LISTED])


class _Rows:
    """Decision and outcome row tuples (:data:`~accessrl.storage.schema.DECISION_COLUMNS` and
    ``OUTCOME_COLUMNS`` order) for the records of an import: what
    :func:`~accessrl.storage.records.decision_row` stores for the same record (a test compares
    them), with each distinct text checked once
    (states, actions, kinds and activity names repeat; times and ids are made here, canonical)."""

    def __init__(self, props: Propensities, policy_id: str, train_until: str | None) -> None:
        self.props, self.policy_id = props, checked_text(policy_id, "policy_id")
        self.version = "estimated" if train_until is None else f"estimated<{train_until[:10]}"
        self.train_until = train_until
        self.ok: dict[tuple[str, str], str] = {}
        self.dist: dict[str, tuple[str, str]] = {}

    def text(self, value: str, field: str) -> str:
        key = (value, field)
        hit = self.ok.get(key)
        if hit is None:
            if not value:
                raise DataError(f"{field}: expected a non-empty string")
            hit = checked_text(value, field)
            if len(self.ok) < 100_000:
                self.ok[key] = hit
        return hit

    def decision(self, step: Step) -> tuple[Any, ...]:
        rec = step.record
        state, action = self.text(rec["state"], "state"), self.text(rec["action"], "action")
        dist = self.dist.get(state)
        if dist is None:
            probs = self.props.probabilities[state]
            dist = self.dist[state] = (json_dumps(list(self.props.allowed[state])), json_dumps(dict(probs)))
        f = rec["features"]
        for k in ("activity", "resource"):
            if f.get(k) is not None:
                self.text(str(f[k]), f"features.{k}")
        feats = {**f, "propensity": "estimated", "propensity_method": self.props.method,
                 "trained_until": self.train_until}
        return (rec["event_id"], rec["episode_id"], rec["step_index"], rec["previous_event_id"],
                checked_text(rec["requester_id"], "requester_id"), rec["decided_at"], state, json_dumps(feats),
                dist[0], action, dist[1], self.props.probabilities[state][action], self.policy_id, self.version,
                0.0, "historical")

    def outcome(self, o: dict[str, Any]) -> tuple[Any, ...]:
        nxt = o["next_state"]
        return (o["event_id"], o["episode_id"], self.text(o["kind"], "kind"), o["occurred_at"], None,
                None if nxt is None else self.text(nxt, "next_state"), o["reward"], None, False, o["terminated"],
                json_dumps(o["details"]), False, o["outcome_key"])


__all__ = ["ImportResult", "import_event_log", "stage_observations"]
