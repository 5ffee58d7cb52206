r"""``accessrl monitor``: live outcomes since the current deployment against the model it was based on.

The model a deployment was based on is the model estimated on the training period when
``accessrl promote`` made it (:func:`accessrl.offline.monitoring.reference_model`, on the
service model's structure with a Jeffreys prior; recorded in the row's evidence as
``estimated_model``), or
for a deployment without one (``accessrl serve``, a rollback) the service's own model
(``model_spec``).  The live decisions logged since the deployment are tested pair by pair
against it with :func:`accessrl.offline.monitoring.model_fit` (G-test, Holm-adjusted).

:class:`DriftGauge` is the one hook for the service's ``/metrics``: it renders the latest
report as Prometheus gauges, recomputed at most every ``every`` seconds.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from accessrl.errors import AccessRLError, DataError
from accessrl.model.mdp import MDP
from accessrl.model.spec import compile_spec
from accessrl.offline.monitoring import ModelFit, model_fit
from accessrl.service.promotion import latest_deployed
from accessrl.storage.store import DecisionLog
from accessrl.storage.writepath import Store, open_engine


@dataclass(frozen=True, eq=False)
class MonitorReport:
    """The current deployment, where its reference model came from, and the fit of live outcomes."""

    deployment_id: int
    policy_id: str
    deployed_at: str
    since: str
    model_source: str
    fit: ModelFit

    def to_json(self) -> dict[str, Any]:
        """The report as data."""
        return {
            "deployment_id": self.deployment_id, "policy_id": self.policy_id, "deployed_at": self.deployed_at,
            "since": self.since, "model_source": self.model_source, "alpha": self.fit.alpha,
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


def monitor(db: str, *, since: str | None = None, alpha: float = 0.01, min_count: int = 20) -> MonitorReport:
    """Test the live outcomes logged since the current deployment (or ``since``) against its model."""
    store = Store(open_engine(db))
    try:
        row = latest_deployed(store.deployments())
    finally:
        store.close()
    if row is None:
        raise DataError(f"database {db!r}: no deployed policy recorded; nothing to monitor")
    mdp, source = basis_model(row)
    start = since if since is not None else str(row["deployed_at"])
    log = DecisionLog(db)
    try:
        steps = log.load_steps(since=start, modes=("live",)).steps
    finally:
        log.close()
    fit = model_fit(steps, mdp, alpha=alpha, min_count=min_count)
    return MonitorReport(int(row["id"]), str(row["policy_id"]), str(row["deployed_at"]), start, source, fit)


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
                self._text = drift_metrics(monitor(self.db_url, alpha=self.alpha, min_count=self.min_count))
            except AccessRLError:
                self._text = drift_metrics(None)
        return self._text


__all__ = ["DriftGauge", "MonitorReport", "basis_model", "drift_metrics", "monitor"]
