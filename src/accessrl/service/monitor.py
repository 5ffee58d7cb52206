r"""``accessrl monitor``: the outcomes of a period of decisions against a reference model.

The period is one of decision times, read as of its end with censoring
(:mod:`accessrl.offline.periods`): ``--since`` (default: the current deployment) up to
``--until`` (default: now); decisions whose outcome window had not closed by the end, or
whose outcome was not known then, are counted as censored and left out of the test.  Any
decisions of the log count — live, logging-only and imported (``historical``) by default,
``shadow`` on request — so a log that was only ingested can be monitored.

The reference is either

* ``deployment`` (the default when a deployment is recorded): the model the current
  deployment was based on — the model estimated on the training period when ``accessrl
  promote`` made it (:func:`accessrl.offline.monitoring.reference_model`, recorded in the
  row's evidence as ``estimated_model``), or for a deployment without one (``accessrl
  serve``, a rollback) the service's own model (``model_spec``); or
* ``history`` (the default without a deployment; needs ``--since``): the model estimated on
  the decisions *before* ``--since``, read as of ``--since`` with the same censoring, on the
  structure of the whole log with a Jeffreys prior — the same two periods
  ``logs estimate --drift-at`` compares, so both report the same direction of change.

The decisions of the period are tested pair by pair against the reference with
:func:`accessrl.offline.monitoring.model_fit` (G-test, Holm-adjusted).

:class:`DriftGauge` is the one hook for the service's ``/metrics``: it renders the latest
report as Prometheus gauges, recomputed at most every ``every`` seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from accessrl.errors import AccessRLError, DataError, ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.spec import compile_spec
from accessrl.offline.estimation import estimate_model
from accessrl.offline.monitoring import ModelFit, model_fit, reference_model
from accessrl.offline.periods import DecisionPeriod, PeriodDecisions, period_decisions
from accessrl.offline.splits import default_window
from accessrl.service.promotion import latest_deployed
from accessrl.storage.store import DEFAULT_MODES, DecisionLog
from accessrl.storage.times import now_text, to_us, us_to_iso
from accessrl.storage.writepath import Store, open_engine

REFERENCES = ("deployment", "history")


@dataclass(frozen=True, eq=False)
class MonitorReport:
    """The period monitored, the reference it was compared with, and the fit of its outcomes."""

    deployment_id: int | None
    policy_id: str | None
    deployed_at: str | None
    since: str
    model_source: str
    fit: ModelFit
    until: str | None = None
    reference: str = "deployment"
    period: PeriodDecisions | None = None
    reference_period: PeriodDecisions | None = None
    modes: tuple[str, ...] = DEFAULT_MODES

    def to_json(self) -> dict[str, Any]:
        """The report as data."""
        return {
            "deployment_id": self.deployment_id, "policy_id": self.policy_id, "deployed_at": self.deployed_at,
            "since": self.since, "until": self.until, "reference": self.reference, "modes": list(self.modes),
            "period": None if self.period is None else self.period.to_json(us_to_iso),
            "reference_period": None if self.reference_period is None else self.reference_period.to_json(us_to_iso),
            "model_source": self.model_source, "alpha": self.fit.alpha,
            "correction": "holm", "min_count": self.fit.min_count, "n_decisions": self.fit.n_decisions,
            "n_tested": self.fit.n_tested, "drift_detected": bool(self.fit.drifted),
            "max_statistic": self.fit.max_statistic, "min_adjusted_p": self.fit.min_adjusted_p,
            "pairs": [p.__dict__ for p in self.fit.pairs],
        }


def basis_model(row: dict[str, Any]) -> tuple[MDP, str]:
    """The model a deployment row was based on, and which field it came from."""
    evidence = json.loads(row["evidence"]) if row.get("evidence") else {}
    if isinstance(evidence, dict) and isinstance(evidence.get("estimated_model"), dict):
        return compile_spec(evidence["estimated_model"], source="deployment evidence"), "estimated_model"
    return compile_spec(json.loads(row["model_spec"]), source="deployment model_spec"), "model_spec"


def monitor(db: str, *, since: str | None = None, until: str | None = None, alpha: float = 0.01,
            min_count: int = 20, modes: Sequence[str] = DEFAULT_MODES, reference: str | None = None,
            outcome_window: int | None = None, now: str | None = None) -> MonitorReport:
    """Test the outcomes of the decisions in [``since``, ``until``) against the reference (module
    docstring).  ``outcome_window`` is W in microseconds (default: the 99% quantile of the
    logged outcome delays); ``now`` is the time of reading when ``until`` is not given."""
    if reference is not None and reference not in REFERENCES:
        raise ParameterError(f"reference: expected deployment or history, got {reference!r}")
    store = Store(open_engine(db))
    try:
        row = latest_deployed(store.deployments())
    finally:
        store.close()
    ref = reference or ("deployment" if row is not None else "history")
    if ref == "deployment" and row is None:
        raise DataError(f"database {db!r}: no deployed policy recorded; nothing to monitor against "
                        "(give --since DATE to compare with the decisions before it)")
    if ref == "history" and since is None:
        raise ParameterError("--since: a check against history compares the decisions from --since with those "
                             "before it; give --since DATE")
    start = since if since is not None else str(row["deployed_at"])  # type: ignore[index]
    as_of = to_us(until if until is not None else (now or now_text()), "until")
    start_us = to_us(start, "since")
    if not start_us < as_of:
        raise ParameterError(f"--since {start}: expected a date before --until (or now)")
    log = DecisionLog(db)
    try:
        loaded = log.load_steps(since=start if ref == "deployment" else None, until=until, modes=tuple(modes))
    finally:
        log.close()
    steps = loaded.steps
    window = outcome_window if outcome_window is not None else (default_window(steps) if steps.n_steps else 0)
    current = period_decisions(steps, DecisionPeriod(start_us, None if until is None else as_of), as_of=as_of,
                               window=window, pending_at=loaded.pending_at)
    before = None
    if ref == "deployment":
        mdp, source = basis_model(row)  # type: ignore[arg-type]
    else:
        before = period_decisions(steps, DecisionPeriod(None, start_us), as_of=as_of, window=window,
                                  pending_at=loaded.pending_at)
        if before.observed.n_steps == 0:
            raise DataError(f"--since {start}: no decision before it whose outcome was known by then; "
                            "nothing to compare with")
        structure = estimate_model(steps, gamma=0.9, min_support=0).mdp  # every pair and outcome the log holds
        mdp, source = reference_model(before.observed, structure), "history"
    fit = model_fit(current.observed, mdp, alpha=alpha, min_count=min_count)
    return MonitorReport(None if row is None else int(row["id"]), None if row is None else str(row["policy_id"]),
                         None if row is None else str(row["deployed_at"]), start, source, fit, until, ref, current,
                         before, tuple(modes))


def drift_metrics(report: MonitorReport | None) -> str:
    """Prometheus text for a monitor report (``None``: no report yet, only the availability gauge)."""
    lines = ["# HELP accessrl_drift_available Whether a drift report could be computed (a deployment exists).",
             "# TYPE accessrl_drift_available gauge", f"accessrl_drift_available {0 if report is None else 1}"]
    if report is None:
        return "\n".join(lines) + "\n"
    fit = report.fit
    lines += ["# HELP accessrl_drift_detected 1 if some state-action's outcomes left the deployed model (Holm).",
              "# TYPE accessrl_drift_detected gauge", f"accessrl_drift_detected {int(bool(fit.drifted))}",
              "# HELP accessrl_drift_pairs_drifted State-action pairs whose outcomes left the model.",
              "# TYPE accessrl_drift_pairs_drifted gauge", f"accessrl_drift_pairs_drifted {len(fit.drifted)}",
              "# HELP accessrl_drift_statistic G statistic of live outcomes against the model, per pair.",
              "# TYPE accessrl_drift_statistic gauge"]
    for p in fit.pairs:
        if p.tested:
            g = "+Inf" if p.statistic == float("inf") else f"{p.statistic:.6g}"
            lines.append(f'accessrl_drift_statistic{{state="{p.state}",action="{p.action}"}} {g}')
    lines += ["# HELP accessrl_drift_adjusted_p_value Holm-adjusted p-value of the G test, per pair.",
              "# TYPE accessrl_drift_adjusted_p_value gauge"]
    lines += [f'accessrl_drift_adjusted_p_value{{state="{p.state}",action="{p.action}"}} {p.adjusted_p:.6g}'
              for p in fit.pairs if p.tested]
    return "\n".join(lines) + "\n"


class DriftGauge:
    """The drift lines of ``/metrics`` for the service's database, recomputed at most every ``every`` seconds.

    A failure to compute (no deployment yet, an unreadable model) renders
    ``accessrl_drift_available 0`` rather than breaking the metrics endpoint."""

    def __init__(self, db_url: str, *, every: float = 30.0, alpha: float = 0.01, min_count: int = 20) -> None:
        self.db_url, self.every, self.alpha, self.min_count = db_url, every, alpha, min_count
        self._at = -float("inf")
        self._text = drift_metrics(None)

    def render(self) -> str:
        """The Prometheus lines (cached)."""
        now = time.monotonic()
        if now - self._at >= self.every:
            self._at = now
            try:
                self._text = drift_metrics(monitor(self.db_url, alpha=self.alpha, min_count=self.min_count,
                                                   reference="deployment"))
            except AccessRLError:
                self._text = drift_metrics(None)
        return self._text


__all__ = ["DriftGauge", "MonitorReport", "basis_model", "drift_metrics", "monitor"]
