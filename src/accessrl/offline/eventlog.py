"""From a process event log to decision records (layer 1: pure, no I/O).

An event log has one row per event: a case, an activity, a timestamp, often a resource,
a lifecycle transition and case attributes (XES, IEEE 1849; pm4py's column names
``case:concept:name``, ``concept:name``, ``time:timestamp``, ``org:resource``,
``lifecycle:transition``).  An :class:`EventMapping` says which activities are the
organisation's *decisions* (actions) and which are *outcomes* (evidence arrives, the
requester abandons, ...), how a state is built and what ends a case.  This module turns
the events of one case into decision and outcome records of the decision-log schema
(:func:`case_records`), and estimates the behavior propensities from the decisions of
the training period only (:func:`estimate_propensities`).

The state at a decision is ``stage`` — the stage reached: the last decision or outcome
that set one (``start_stage`` before any) — followed by ``|name=bucket`` for each
bucketed case attribute and ``|waited=bucket`` for the time since the stage was entered
(when the mapping asks for waiting-time buckets).  A decision's step ends at the next
decision (a ``continued`` outcome carrying the next state) or at an outcome or decision
that ends the case (its terminal stage, ``terminated``).  Outcome events between two
decisions are outcome records of the earlier decision (their kind and reward, no next
state).  The last decision of a case that has not ended has no next state: it stays
pending (an open case).

Propensities: relative frequencies of the actions taken in each state over the training
period, with add-one (Laplace) smoothing over the actions ever taken in that state,

.. math:: \\hat\\pi_b(a \\mid s) = \\frac{n_{train}(s, a) + 1}{n_{train}(s) + |A(s)|},

so no logged action has propensity 0 and a state never seen in training gets the uniform
distribution over its actions.  A frequency table is what a behavior that depends on the
state alone can be summarised by; a fitted model (logistic regression on features) would
add assumptions this log cannot check.  ``A(s)`` — which actions exist in a state — is the
workflow's structure and is read from the whole log; the frequencies, which are what would
leak, come from the training period only.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from accessrl.errors import DataError

KEEP = "keep"
"""A ``stage`` value: this activity does not change the stage (nor restart its clock)."""
DEFAULT_COLUMNS = {"case": "case:concept:name", "activity": "concept:name", "timestamp": "time:timestamp",
                   "resource": "org:resource", "lifecycle": "lifecycle:transition"}
US_PER_DAY = 86_400_000_000
PROPENSITY_METHOD = "state frequency, add-one smoothing, training period only"


@dataclass(frozen=True)
class DecisionRule:
    """What a decision activity means: the action, the stage it leads to (or ``keep``),
    and the terminal stage it ends the case in (``None``: the case goes on)."""

    action: str
    stage: str
    ends_case: str | None = None


@dataclass(frozen=True)
class OutcomeRule:
    """What an outcome activity means: its kind, the stage it leads to (or ``keep``),
    and the terminal stage it ends the case in (``None``: the case goes on)."""

    kind: str
    stage: str
    ends_case: str | None = None


@dataclass(frozen=True)
class Buckets:
    """A numeric attribute (or waiting time, in days) cut at ``bounds``; without bounds,
    the value itself (a category)."""

    name: str
    bounds: tuple[float, ...] = ()
    unit: str = ""

    def label(self, value: Any) -> str:
        """The bucket of ``value`` as text (``<5000``, ``5000-15000``, ``>=15000``)."""
        if not self.bounds:
            return "none" if value in (None, "") else str(value)[:40]
        try:
            x = float(value)
        except (TypeError, ValueError):
            return "unknown"
        if math.isnan(x):
            return "unknown"
        u = self.unit
        if x < self.bounds[0]:
            return f"<{self.bounds[0]:g}{u}"
        for lo, hi in zip(self.bounds, self.bounds[1:], strict=False):
            if x < hi:
                return f"{lo:g}-{hi:g}{u}"
        return f">={self.bounds[-1]:g}{u}"


@dataclass(frozen=True)
class EventMapping:
    """A validated mapping file (see ``docs``/README "Importing event logs" for the schema)."""

    name: str
    columns: Mapping[str, str]
    decisions: Mapping[str, DecisionRule]
    outcomes: Mapping[str, OutcomeRule]
    start_stage: str = "arrived"
    lifecycle: tuple[str, ...] = ()
    attributes: tuple[Buckets, ...] = ()
    waiting: Buckets | None = None
    waiting_stages: tuple[str, ...] = ()
    outcome_rewards: Mapping[str, float] = field(default_factory=dict)
    action_rewards: Mapping[str, float] = field(default_factory=dict)
    train_until_us: int | None = None
    train_until: str | None = None

    def keeps(self, lifecycle: str | None) -> bool:
        """Whether an event with this lifecycle transition is read (all, without a filter)."""
        return not self.lifecycle or (lifecycle or "").lower() in self.lifecycle


@dataclass(frozen=True)
class Event:
    """One event of a case, as read: microseconds since the epoch, activity, lifecycle,
    resource and where it was read (``line 12``)."""

    at: int
    activity: str
    lifecycle: str | None
    resource: str | None
    where: str


@dataclass
class CaseTally:
    """Counts of one import (added up over cases)."""

    cases: int = 0
    events: int = 0
    decisions: int = 0
    outcomes: int = 0
    open_cases: int = 0
    ended: Counter[str] = field(default_factory=Counter)
    ignored: int = 0
    after_end: int = 0
    filtered: int = 0
    per_activity: Counter[str] = field(default_factory=Counter)


def record_id(*parts: str) -> str:
    """A stored id (at most 64 characters): the parts joined by ``:``, hashed when longer."""
    text = ":".join(parts)
    if len(text) <= 64:
        return text
    return parts[0][:20] + ":" + hashlib.sha1(text.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Step:
    """A decision before propensities are known (see :func:`case_records`)."""

    record: dict[str, Any]
    outcomes: tuple[dict[str, Any], ...]


_DAYS: dict[int, str] = {}


def _iso(us: int) -> str:
    """Canonical UTC text of microseconds since the epoch (the date part cached per day: a log has
    a few hundred days and hundreds of thousands of events)."""
    day, rest = divmod(us, US_PER_DAY)
    date = _DAYS.get(day)
    if date is None:
        from datetime import date as _date
        from datetime import timedelta

        date = (_date(1970, 1, 1) + timedelta(days=day)).isoformat()
        if len(_DAYS) < 1_000_000:
            _DAYS[day] = date
    sec, frac = divmod(rest, 1_000_000)
    h, sec = divmod(sec, 3600)
    m, sec = divmod(sec, 60)
    return f"{date}T{h:02d}:{m:02d}:{sec:02d}.{frac:06d}+00:00"


def state_name(mapping: EventMapping, stage: str, attrs: Mapping[str, Any], waited_us: int | None) -> str:
    """The state text of a decision: stage, bucketed attributes, waiting bucket."""
    parts = [stage]
    for b in mapping.attributes:
        parts.append(f"{b.name.removeprefix('case:')}={b.label(attrs.get(b.name))}")
    w = mapping.waiting
    if w is not None and waited_us is not None and (not mapping.waiting_stages or stage in mapping.waiting_stages):
        parts.append(f"waited={w.label(waited_us / US_PER_DAY)}")
    return "|".join(parts)


def case_records(mapping: EventMapping, case: str, events: Sequence[Event], attrs: Mapping[str, Any],
                 tally: CaseTally) -> list[Step]:
    """The decisions of one case with their outcome records, in time order (ties keep file order).

    Decision records lack ``allowed_actions``, ``action_probabilities`` and ``propensity``:
    :func:`with_propensities` adds them once the training counts are known."""
    tally.cases += 1
    evs = sorted(events, key=lambda e: e.at)
    stage, since = mapping.start_stage, (evs[0].at if evs else 0)
    steps: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    ended = False
    episode = record_id(mapping.name, case)

    def close(kind: str, at: int, next_state: str, terminated: bool, reward: float | None) -> None:
        rec, outs = steps[-1]
        r = (reward or 0.0) + mapping.action_rewards.get(rec["action"], 0.0)
        outs.append({"event_id": rec["event_id"], "episode_id": episode, "kind": kind, "occurred_at": _iso(at),
                     "next_state": next_state, "reward": r, "terminated": terminated,
                     "outcome_key": f"{rec['event_id']}:{len(outs)}",
                     "details": {"stage": stage, "stage_since": _iso(since)}})
        tally.outcomes += 1

    def outcome(kind: str, at: int, reward: float | None) -> None:
        rec, outs = steps[-1]
        outs.append({"event_id": rec["event_id"], "episode_id": episode, "kind": kind, "occurred_at": _iso(at),
                     "next_state": None, "reward": reward, "terminated": False,
                     "outcome_key": f"{rec['event_id']}:{len(outs)}",
                     "details": {"stage": stage, "stage_since": _iso(since)}})
        tally.outcomes += 1

    for ev in evs:
        tally.events += 1
        if not mapping.keeps(ev.lifecycle):
            tally.filtered += 1
            continue
        tally.per_activity[ev.activity] += 1
        if ended:
            tally.after_end += 1
            continue
        d = mapping.decisions.get(ev.activity)
        if d is not None:
            state = state_name(mapping, stage, attrs, ev.at - since)
            if steps:
                close("continued", ev.at, state, False, None)
            k = len(steps)
            eid = record_id(mapping.name, case, str(k))
            steps.append(({"event_id": eid, "episode_id": episode, "step_index": k,
                           "previous_event_id": steps[-1][0]["event_id"] if steps else None,
                           "requester_id": case[:128], "decided_at": _iso(ev.at), "state": state,
                           "action": d.action, "features": {
                               "activity": ev.activity, "resource": ev.resource, "stage": stage,
                               "stage_since": _iso(since), "event": ev.where}}, []))
            tally.decisions += 1
            if d.ends_case is not None:  # recorded in the stage the decision was taken in
                close(d.ends_case, ev.at, d.ends_case, True, mapping.outcome_rewards.get(d.ends_case))
                tally.ended[d.ends_case] += 1
                ended = True
            elif d.stage != KEEP:
                stage, since = d.stage, ev.at
                steps[-1][0]["features"].update(stage_after=stage, stage_after_since=_iso(since))
            continue
        o = mapping.outcomes.get(ev.activity)
        if o is None:
            tally.ignored += 1
            continue
        reward = mapping.outcome_rewards.get(o.kind)
        if o.ends_case is not None:
            tally.ended[o.ends_case] += 1
            ended = True
            if steps:
                if o.kind != o.ends_case:
                    outcome(o.kind, ev.at, reward)
                close(o.ends_case, ev.at, o.ends_case, True, mapping.outcome_rewards.get(o.ends_case))
            continue
        if steps:
            outcome(o.kind, ev.at, reward)
        if o.stage != KEEP:
            stage, since = o.stage, ev.at
            if steps:  # the stage this outcome entered: seen even if nothing else happens in it
                steps[-1][1][-1]["details"].update(stage_after=stage, stage_after_since=_iso(since))
    if not ended:
        tally.open_cases += 1
    return [Step(rec, tuple(outs)) for rec, outs in steps]


@dataclass(frozen=True)
class Propensities:
    """Behavior propensities estimated on the training period (:func:`estimate_propensities`)."""

    allowed: Mapping[str, tuple[str, ...]]
    probabilities: Mapping[str, Mapping[str, float]]
    trained_decisions: int
    method: str = PROPENSITY_METHOD


def count_decisions(steps: Iterable[Step], train_until: str | None, seen: dict[str, Counter[str]],
                    train: dict[str, Counter[str]]) -> None:
    """Add the decisions of ``steps`` to the counts: every state's actions (``seen``) and the
    training period's (``train``: decided before ``train_until``, ISO text; all without it)."""
    for s in steps:
        rec = s.record
        seen.setdefault(rec["state"], Counter())[rec["action"]] += 1
        if train_until is None or rec["decided_at"] < train_until:
            train.setdefault(rec["state"], Counter())[rec["action"]] += 1


def estimate_propensities(seen: Mapping[str, Counter[str]], train: Mapping[str, Counter[str]]) -> Propensities:
    """Add-one smoothed frequencies of the training counts over each state's actions (see the module)."""
    allowed: dict[str, tuple[str, ...]] = {}
    probs: dict[str, dict[str, float]] = {}
    for state, acts in seen.items():
        names = tuple(sorted(acts))
        counts = train.get(state, Counter())
        total = sum(counts[a] for a in names) + len(names)
        allowed[state] = names
        probs[state] = {a: (counts[a] + 1) / total for a in names}
    return Propensities(allowed, probs, sum(sum(c.values()) for c in train.values()))


def with_propensities(step: Step, props: Propensities, policy_id: str, train_until: str | None) -> dict[str, Any]:
    """The full decision record of ``step`` (mode ``historical``, propensity marked as estimated): the
    readable form of what the import stores (the import builds the same rows directly, and a test
    checks they agree)."""
    rec = dict(step.record)
    state = rec["state"]
    probs = props.probabilities.get(state)
    if probs is None or rec["action"] not in probs:
        raise DataError(f"state {state!r}: no propensity for action {rec['action']!r}")
    rec["allowed_actions"] = list(props.allowed[state])
    rec["action_probabilities"] = dict(probs)
    rec["propensity"] = probs[rec["action"]]
    rec["policy_id"] = policy_id
    rec["policy_version"] = "estimated" if train_until is None else f"estimated<{train_until[:10]}"
    rec["exploration"] = 0.0
    rec["mode"] = "historical"
    rec["features"] = {**rec["features"], "propensity": "estimated", "propensity_method": props.method,
                       "trained_until": train_until}
    return rec


__all__ = [
    "DEFAULT_COLUMNS",
    "KEEP",
    "PROPENSITY_METHOD",
    "Buckets",
    "CaseTally",
    "DecisionRule",
    "Event",
    "EventMapping",
    "OutcomeRule",
    "Propensities",
    "Step",
    "case_records",
    "count_decisions",
    "estimate_propensities",
    "record_id",
    "state_name",
    "with_propensities",
]
