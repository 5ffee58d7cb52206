"""The engineer's view of a decision-log database: what the router did, what happened, the
workflow estimated back from the log, a held-out comparison and the deployment history.

Only reads: :class:`accessrl.storage.DecisionLog` loads the logged steps, the
:class:`~accessrl.storage.writepath.Store` lists the deployments, :mod:`accessrl.offline`
estimates and evaluates.  (Opening a database creates the log's tables when they are missing,
as every accessrl command does; nothing else is written.)
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

import numpy as np

from accessrl.catalog.lesson import LESSON_GAMMA
from accessrl.errors import AccessRLError, DataError
from accessrl.model.spec import compile_spec
from accessrl.offline.estimation import estimate_model
from accessrl.offline.evidence import SELECTION_ESTIMATOR, Estimate, assess, review
from accessrl.offline.heldout import evaluate_heldout, heldout_split
from accessrl.offline.ope import target_matrix
from accessrl.offline.processmap import process_map
from accessrl.offline.survival import DEFAULT_BOUNDS_DAYS, stage_curve, stage_visits
from accessrl.planning.solver import solve
from accessrl.storage.faults import check_integrity
from accessrl.storage.schema import database_name
from accessrl.storage.store import DecisionLog
from accessrl.storage.times import to_us, us_to_iso
from accessrl.storage.writepath import Store, open_engine

MIN_EPISODES = 30
"""Fewer logged episodes than this: no held-out comparison (the test period would be too small)."""


KIND_MEANINGS = {
    "transition": "the case moved to another open state, with no more specific event (a generated log's plain step)",
    "closed": "the case reached a final state after the decision",
    "review_outcome": "a reviewer's verdict came back",
    "evidence_received": "the requester sent the evidence asked for",
    "abandoned": "the requester gave up while waiting; the case ends",
    "abandonment": "the requester gave up while waiting; the case ends",
    "continued": "the case moved on to its next stage (an imported log's plain step)",
    "evidence": "the requester sent documents back",
    "approved": "the case ended approved",
    "declined": "the case ended declined",
    "cancelled": "the case ended cancelled",
}
"""What each outcome kind means (the legend under the outcomes table); other kinds were named
by the log's writer or import mapping."""


def human_time(value: str | int) -> str:
    """A timestamp (ISO text or microseconds) as ``2026-03-01 14:05 UTC``."""
    us = value if isinstance(value, int) else to_us(value, "time")
    return us_to_iso(us)[:16].replace("T", " ") + " UTC"


def _days(first: str, last: str) -> list[str]:
    """Every day from ``first`` to ``last`` (``YYYY-MM-DD``), inclusive."""
    span = np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)
    return [str(d) for d in span]


def _abandonment(log: DecisionLog, kinds: list[str], db: str) -> dict[str, Any]:
    """Abandonment by time waited per stage (``logs abandonment``), when the log has such outcomes."""
    from accessrl.storage.eventimport import stage_observations

    chosen = [k for k in kinds if k.startswith("abandon")]
    if not chosen:
        return {"note": "no outcome of kind abandonment in this log", "stages": []}
    obs, last = stage_observations(log, chosen)
    if not obs:
        return {"note": "abandonment by time waited needs each record's stage and when the case entered it: "
                        "a log made by accessrl logs import", "stages": []}
    visits = [v for v in stage_visits(obs, last).values() if v.events.sum() > 0]
    return {"note": f"outcomes of kind {', '.join(chosen)}; as accessrl logs abandonment --db {db} computes them",
            "bounds_days": list(DEFAULT_BOUNDS_DAYS), "stages": [stage_curve(v) for v in visits]}


def _gamma(deployments: list[dict[str, Any]]) -> float:
    for row in reversed(deployments):
        try:
            return float(json.loads(row["model_spec"])["gamma"])
        except (KeyError, TypeError, ValueError):
            continue
    return LESSON_GAMMA


class LogReader:
    """One database opened once (the studio keeps one for its engineer's view)."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.log = DecisionLog(db)
        check_integrity(self.log.engine, database_name(self.log.engine))
        self.store = Store(open_engine(db))

    def close(self) -> None:
        """Release both connections pools."""
        self.log.close()
        self.store.engine.dispose()

    def version(self) -> tuple[int, int, int]:
        """Rows of decisions, outcomes and deployments: while these stay put the view would not change."""
        counts = self.log.counts()
        return counts["decision_snapshots"], counts["outcome_events"], len(self.store.deployments())

    def view(self, *, seed: int = 0) -> dict[str, Any]:
        """Everything the engineer's page shows."""
        deployments = self.store.deployments()
        counts = self.log.counts()
        steps = self.log.load_steps().steps
        kinds: Counter[str] = Counter(r.get("kind", "?") for r in self.log.iter_records() if r.get("record") == "outcome")
        if steps.n_steps == 0:
            raise DataError(f"database {self.db!r}: no decisions logged yet")
        per_day: dict[str, Counter[str]] = defaultdict(Counter)
        for t, a in zip(steps.decided_at.tolist(), steps.action.tolist(), strict=True):
            per_day[us_to_iso(int(t))[:10]][steps.action_names[int(a)]] += 1
        days = _days(min(per_day), max(per_day))  # days without a decision too: the axis is time
        gamma = _gamma(deployments)
        est = estimate_model(steps, gamma=gamma)
        return {
            "db": self.db, "counts": counts, "actions": list(steps.action_names),
            "per_day": [{"day": d, **{a: per_day[d].get(a, 0) for a in steps.action_names}} for d in days],
            "outcomes": [{"kind": k, "count": n, "per_decision": n / steps.n_steps, "per_episode": n / steps.n_episodes,
                          "meaning": KIND_MEANINGS.get(k, "named by the log's writer or import mapping")}
                         for k, n in kinds.most_common()],
            "severe_rate": float(np.mean(steps.reward <= -100)),
            "estimated": [o.__dict__ for o in est.outcomes], "low_support": [list(x) for x in est.low_support],
            "episodes": steps.n_episodes, "decisions": steps.n_steps,
            "heldout": _heldout(steps, est.spec, deployments, gamma, seed),
            # the whole process map by stage; the page first hides transitions seen in fewer than 0.5% of
            # the decisions (its frequency filter starts at map_min_count)
            "process_map": process_map(steps).to_json(), "map_min_count": max(1, steps.n_steps // 200),
            "abandonment": _abandonment(self.log, list(kinds), self.db),
            "deployments": [{k: r[k] for k in ("id", "role", "policy_id", "policy_version", "deployed_at", "reason")}
                            | {"policy": json.loads(r["policy"]), "deployed_at_text": human_time(r["deployed_at"])}
                            for r in deployments],
        }


_READERS: dict[str, tuple[LogReader, Any, Any]] = {}


def cached_view(db: str) -> Any:
    """The engineer's view of ``db`` as JSON-ready values, recomputed only when the log or the
    deployments changed since the last look (one reader per database and process: the studio
    calls this in its worker processes)."""
    from accessrl.studio.labs import plain

    reader, version, view = _READERS.get(db) or (LogReader(db), None, None)
    _READERS[db] = (reader, version, view)
    now = reader.version()
    if now != version:
        view = plain(reader.view())
        _READERS[db] = (reader, now, view)
    return view


def engineer_view(db: str, *, seed: int = 0) -> dict[str, Any]:
    """Everything the engineer's page shows, for the database at ``db``."""
    reader = LogReader(db)
    try:
        return reader.view(seed=seed)
    finally:
        reader.close()


def _heldout(steps: Any, spec: dict[str, Any], deployments: list[dict[str, Any]], gamma: float,
             seed: int) -> dict[str, Any]:
    """The deployed policy against the estimated model's optimal policy on the untouched test period,
    each estimate through the one evidence review, and promote's verdict for the optimum."""
    if steps.n_episodes < MIN_EPISODES:
        return {"note": f"only {steps.n_episodes} episodes logged; a held-out comparison needs {MIN_EPISODES}",
                "rows": []}
    split = heldout_split(steps, prevent_leakage=True, time_text=us_to_iso)
    test = split.test
    candidates: list[tuple[str, Any]] = []
    dep = next((r for r in reversed(deployments) if r["role"] == "deployed"), None)
    try:
        if dep is not None:
            candidates.append((f"deployed {dep['policy_id']}",
                               target_matrix(test.state_names, test.action_names, json.loads(dep["policy"]))))
        mdp = compile_spec(spec, source="estimated model")
        pol = solve(mdp).policy
        mapping = {mdp.state_names[int(s)]: mdp.action_names[int(pol[s])] for s in mdp.decision_states}
        candidates.append(("optimal under the estimated model",
                           target_matrix(test.state_names, test.action_names, mapping)))
        ev = evaluate_heldout(split, candidates, gamma=gamma, rng=np.random.default_rng(seed), n_boot=300)
    except AccessRLError as exc:
        return {"note": str(exc), "rows": []}
    rows = []
    for i, ((name, _), rep) in enumerate(zip(candidates, ev.reports, strict=True)):
        e = Estimate.from_report(rep)
        a = assess(rep, role="incumbent" if dep is not None and i == 0 else "candidate")
        rows.append({"policy": name, "estimate": None if e is None else [e.value, e.low, e.high],
                     "support": None if e is None else e.support,
                     "severe_errors": None if e is None else e.severe_errors, "reason": rep.reason,
                     "trusted": a.trusted, "evidence": "trusted" if a.trusted else ", ".join(c.code for c in a.failures),
                     "checks": [c.to_json() for c in a.checks]})
    verdict = None
    if dep is not None:
        v = review(ev.reports[1], ev.reports[0])
        verdict = {"promote": v.promote, "reasons": list(v.reasons), "codes": list(v.codes)}
    return {"note": f"test period: {test.n_episodes} episodes from {human_time(int(split.cutoffs[1]))}; "
                    f"estimator {SELECTION_ESTIMATOR.upper()}, 95% bootstrap interval with a small-sample floor",
            "rows": rows, "verdict": verdict}


__all__ = ["KIND_MEANINGS", "LogReader", "cached_view", "engineer_view", "human_time"]
