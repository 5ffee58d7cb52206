r"""The one evidence review: may a decision trust this estimate? (layer 1)

Every decision that trusts an off-policy estimate calls this module — ``evaluate-policy
--incumbent`` and ``promote`` (:func:`review`), the choice among learned candidates in
``learn-from-logs`` (:func:`assess`), the pilot's weekly job and the studio's engineer
view — and gets back **every** check it made, passed or failed, with a line for people and
a code for programs.  Nothing is decided on one number.

An estimate is trusted (:func:`assess`) when

1. **support** — the behaviour gave every action the policy needs a positive probability at
   every held-out decision of the states visited (:mod:`~accessrl.offline.support`);
2. **matching episodes** — at least :attr:`EvidenceRules.min_matching` held-out episodes
   follow the policy with positive probability.  Importance sampling learns about the
   policy only from these; the others get weight zero;
3. **effective sample size** — (sum w)^2 / sum w^2 of the trajectory weights (Kong 1992)
   is at least :attr:`EvidenceRules.min_ess`: a few heavy weights make a large sample count
   as a small one;
4. **agreement** — the interval of the deciding estimator (WIS) overlaps those of the
   estimators that rest on other assumptions (:data:`CROSS_CHECKS`: the model-based estimate,
   which needs the state to be Markov and complete, and the doubly robust one, which mixes
   both).  Disjoint intervals mean an assumption failed — the state misses something the
   behavior saw (confounding), or the propensities are wrong — and the numbers cannot be
   trusted (``agreement="warn"`` reports it without refusing).  IS and PDIS share WIS's
   assumption (the logged propensities); their intervals are reported, not cross-checked,
   since among many intervals some miss by chance.

A candidate may replace an incumbent (:func:`review`) when both estimates are trusted, the
candidate had at most :attr:`EvidenceRules.max_severe` severe errors (returns at or below
the severe threshold) among its matching held-out episodes, and the lower end of its
interval beats the incumbent's estimate — the safety test of high-confidence policy
improvement (Thomas, Theocharous & Ghavamzadeh 2015, ICML), with the interval of
:mod:`~accessrl.offline.intervals` (a bootstrap that a handful of episodes cannot make
narrow).

Why the defaults (30 matching episodes, ESS 30): with the interval floor at n_eff = 30 an
unseen outcome may still hold q = ln(40)/30 = 12% of the mass, which keeps the interval at
least 12% of the way to each end of the return range; below that, an interval says more
about the few episodes drawn than about the policy.  In the worked example of the README (``examples/fast_track.yaml``) the
candidate had 1 matching episode of 600 (weight 500, ESS 1): every check but severity fails
and the verdict lists them all.  ``benchmarks/bench_gate.py`` measures the rates of false
and true promotion these rules give (``benchmarks/results/gate.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from accessrl.errors import ParameterError
from accessrl.offline.ope import OffPolicyReport

SELECTION_ESTIMATOR = "wis"
"""The estimator whose lower bound chooses among learned candidates and decides promotions."""

CROSS_CHECKS = ("model_based", "dr")
"""The estimators whose intervals the deciding estimator's must overlap (check 4)."""

MIN_MATCHING = 30
"""Default :attr:`EvidenceRules.min_matching`."""

MIN_ESS = 30.0
"""Default :attr:`EvidenceRules.min_ess`."""

MIN_HELD = 30
"""Default :attr:`EvidenceRules.min_held`."""


@dataclass(frozen=True)
class EvidenceRules:
    """What an estimate must show before a decision trusts it (module docstring)."""

    min_matching: int = MIN_MATCHING
    """Held-out episodes that follow the policy with positive probability."""
    min_ess: float = MIN_ESS
    """Effective sample size of the trajectory weights."""
    min_held: int = MIN_HELD
    """Episodes in the held-out period itself (fewer: nothing is scored)."""
    max_severe: int = 0
    """Severe errors a candidate may show among its matching held-out episodes."""
    agreement: Literal["refuse", "warn", "ignore"] = "refuse"
    """What disjoint estimator intervals do: refuse, warn (not blocking) or nothing."""
    estimator: str = SELECTION_ESTIMATOR
    """The estimator whose interval is compared (``wis`` by default)."""

    def check(self) -> EvidenceRules:
        """The rules, or a :class:`~accessrl.errors.ParameterError` naming the bad field."""
        for name in ("min_matching", "min_held", "max_severe"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ParameterError(f"{name}: expected a non-negative integer, got {v!r}")
        if isinstance(self.min_ess, bool) or not isinstance(self.min_ess, (int, float)) or not self.min_ess >= 0:
            raise ParameterError(f"min_ess: expected a non-negative number, got {self.min_ess!r}")
        if self.agreement not in ("refuse", "warn", "ignore"):
            raise ParameterError(f"agreement: expected 'refuse', 'warn' or 'ignore', got {self.agreement!r}")
        if self.estimator not in ("model_based", "is", "wis", "pdis", "dr"):
            raise ParameterError(f"estimator: expected one of model_based, is, wis, pdis, dr, got {self.estimator!r}")
        return self

    def to_json(self) -> dict[str, Any]:
        """The rules as data (recorded with every verdict)."""
        return {"min_matching": int(self.min_matching), "min_ess": float(self.min_ess), "min_held": int(self.min_held),
                "max_severe": int(self.max_severe), "agreement": self.agreement, "estimator": self.estimator}


@dataclass(frozen=True)
class Check:
    """One check of a review: its code, whether it passed, a line for people; a check that is
    not ``blocking`` is a warning (it never refuses)."""

    code: str
    passed: bool
    message: str
    blocking: bool = True

    def to_json(self) -> dict[str, Any]:
        """The check as data."""
        return {"code": self.code, "passed": self.passed, "blocking": self.blocking, "message": self.message}


@dataclass(frozen=True)
class Estimate:
    """One policy's held-out estimate and interval, its matching episodes (``support``), the
    severe errors observed among them and the effective sample size."""

    value: float
    low: float
    high: float
    support: int
    severe_errors: int
    effective_sample_size: float = float("nan")

    @classmethod
    def from_report(cls, report: OffPolicyReport, estimator: str = SELECTION_ESTIMATOR) -> Estimate | None:
        """The estimate of ``estimator`` in ``report``; ``None`` without support or without that estimator."""
        iv = report.get(estimator)
        if not report.supported or iv is None:
            return None
        return cls(iv.value, iv.low, iv.high, report.matching_episodes, report.severe_observed,
                   report.effective_sample_size)

    def to_json(self) -> dict[str, Any]:
        """The estimate as data."""
        return {"estimate": self.value, "low": self.low, "high": self.high, "matching_episodes": self.support,
                "effective_sample_size": self.effective_sample_size, "severe_errors": self.severe_errors}


@dataclass(frozen=True)
class Assessment:
    """Whether one policy's estimate on one period can be trusted: every check, and the estimate."""

    policy: str
    role: str
    checks: tuple[Check, ...]
    estimate: Estimate | None

    @property
    def trusted(self) -> bool:
        """True when every blocking check passed."""
        return all(c.passed or not c.blocking for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        """The blocking checks that failed."""
        return tuple(c for c in self.checks if c.blocking and not c.passed)

    @property
    def warnings(self) -> tuple[Check, ...]:
        """The checks that failed without blocking."""
        return tuple(c for c in self.checks if not c.blocking and not c.passed)


def _fmt(iv: Any) -> str:
    return f"{iv.value:.2f} [{iv.low:.2f}, {iv.high:.2f}]"


def disagreements(report: OffPolicyReport, estimator: str = SELECTION_ESTIMATOR,
                  others: tuple[str, ...] = CROSS_CHECKS) -> tuple[tuple[str, str], ...]:
    """``(estimator, other)`` for each of ``others`` whose interval in ``report`` does not
    overlap ``estimator``'s."""
    x = report.get(estimator)
    if x is None or not (np.isfinite(x.low) and np.isfinite(x.high)):
        return ()
    out = []
    for b in others:
        y = report.get(b)
        if b != estimator and y is not None and np.isfinite(y.low) and np.isfinite(y.high) \
                and (x.high < y.low or y.high < x.low):
            out.append((estimator, b))
    return tuple(out)


def assess(report: OffPolicyReport, rules: EvidenceRules = EvidenceRules(), *, role: str = "candidate",
           period: str = "test") -> Assessment:
    """Every check of one policy's estimate (module docstring, 1-4; the severe-error count for a
    candidate).  Codes of an incumbent start with ``incumbent_``."""
    rules.check()
    pre = "" if role == "candidate" else f"{role}_"
    who = f"{role} {report.policy}"
    checks: list[Check] = []
    if not report.supported:
        checks.append(Check(f"{role}_unsupported", False, f"{who}: {report.reason or 'no support'}"))
        return Assessment(report.policy, role, tuple(checks), None)
    checks.append(Check(f"{pre}support", True, f"{who}: the behavior offered every action it needs in the "
                                               f"{len(report.support.states) if report.support else 0} states visited"))
    m, ess = report.matching_episodes, report.effective_sample_size
    checks.append(Check(f"{pre}too_few_matching_episodes" if m < rules.min_matching else f"{pre}matching_episodes",
                        m >= rules.min_matching,
                        f"{who}: {m} of {report.n_episodes} {period} episodes follow it "
                        f"({'fewer than' if m < rules.min_matching else 'at least'} {rules.min_matching})"))
    ok = ess >= rules.min_ess
    checks.append(Check(f"{pre}effective_sample_size" if ok else f"{pre}effective_sample_size_too_small", ok,
                        f"{who}: effective sample size {ess:.1f} ({'at least' if ok else 'below'} {rules.min_ess:g})"))
    iv = report.get(rules.estimator)
    if iv is None:
        note = next((e.note for e in report.estimates if e.name == rules.estimator), "not computed")
        checks.append(Check(f"{pre}no_estimate", False, f"{who}: no {rules.estimator.upper()} estimate ({note})"))
    if rules.agreement != "ignore":
        pairs = disagreements(report, rules.estimator)
        by = {e.name: e.estimate for e in report.estimates}
        if pairs:
            text = "; ".join(f"{a} {_fmt(by[a])} and {b} {_fmt(by[b])}" for a, b in pairs)
            checks.append(Check(f"{pre}estimators_disagree", False,
                                f"{who}: estimators disagree beyond their intervals: {text}",
                                blocking=rules.agreement == "refuse"))
        else:
            names = [b for b in CROSS_CHECKS if b != rules.estimator and by.get(b) is not None]
            checks.append(Check(f"{pre}estimators_agree", True,
                                f"{who}: the {rules.estimator} interval overlaps "
                                + (", ".join(names) if names else "no other estimator (none computed)")))
    if role == "candidate":
        k = report.severe_observed
        checks.append(Check("severe_errors" if k > rules.max_severe else "no_severe_errors", k <= rules.max_severe,
                            f"{who}: {k} severe errors among its matching {period} episodes "
                            f"(at most {rules.max_severe})"))
    est = Estimate.from_report(report, rules.estimator)
    return Assessment(report.policy, role, tuple(checks), est)


@dataclass(frozen=True)
class Verdict:
    """Whether ``candidate`` may replace ``incumbent``: every check made (``checks``), the reasons
    for people (the failed blocking checks; when promoted, the passed ones), their codes, and the
    evidence (estimates on the held-out period)."""

    candidate_id: str
    incumbent_id: str
    promote: bool
    reasons: tuple[str, ...]
    codes: tuple[str, ...]
    candidate: Estimate | None
    incumbent: Estimate | None
    n_held: int
    estimator: str = SELECTION_ESTIMATOR
    checks: tuple[Check, ...] = ()
    rules: EvidenceRules = field(default_factory=EvidenceRules)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Failed checks that do not block (estimator disagreement under ``agreement="warn"``)."""
        return tuple(c.message for c in self.checks if not c.passed and not c.blocking)

    def evidence(self) -> dict[str, Any]:
        """The verdict as data (what a deployment row records)."""
        def est(e: Estimate | None) -> dict[str, Any]:
            return {} if e is None else e.to_json()

        return {"estimator": self.estimator, "held_out_episodes": self.n_held, "promote": self.promote,
                "codes": list(self.codes), "candidate": {"policy": self.candidate_id, **est(self.candidate)},
                "incumbent": {"policy": self.incumbent_id, **est(self.incumbent)},
                "checks": [c.to_json() for c in self.checks], "rules": self.rules.to_json()}


def verdict_from_checks(candidate_id: str, incumbent_id: str, checks: tuple[Check, ...], *,
                        candidate: Estimate | None, incumbent: Estimate | None, n_held: int,
                        rules: EvidenceRules) -> Verdict:
    """The :class:`Verdict` every check implies: promoted when no blocking check failed."""
    failed = tuple(c for c in checks if c.blocking and not c.passed)
    promote = not failed
    # promoted: the comparison first (what decided it), then every check it passed
    shown = tuple(sorted((c for c in checks if c.passed), key=lambda c: not c.code.startswith("lower_bound"))) \
        if promote else failed
    return Verdict(candidate_id, incumbent_id, promote, tuple(c.message for c in shown),
                   tuple(c.code for c in failed), candidate, incumbent, n_held, rules.estimator, checks, rules)


def review(candidate: OffPolicyReport, incumbent: OffPolicyReport, rules: EvidenceRules = EvidenceRules(), *,
           period: str = "test") -> Verdict:
    """May ``candidate`` replace ``incumbent``?  Both reports are on the same held-out period;
    every check of :func:`assess` for each, then the comparison (module docstring)."""
    cand = assess(candidate, rules, role="candidate", period=period)
    inc = assess(incumbent, rules, role="incumbent", period=period)
    checks = list(cand.checks) + list(inc.checks)
    c, i = cand.estimate, inc.estimate
    if c is not None and i is not None:
        ok = bool(c.low > i.value)
        checks.append(Check("lower_bound_above_incumbent" if ok else "lower_bound_not_above_incumbent", ok,
                            f"lower bound {c.low:.2f} {'beats' if ok else 'does not beat'} the deployed estimate "
                            f"{i.value:.2f} ({rules.estimator.upper()}, {100 * candidate.level:g}% interval)"))
    return verdict_from_checks(candidate.policy, incumbent.policy, tuple(checks), candidate=c, incumbent=i,
                               n_held=candidate.n_episodes, rules=rules)


__all__ = [
    "CROSS_CHECKS",
    "MIN_ESS",
    "MIN_HELD",
    "MIN_MATCHING",
    "SELECTION_ESTIMATOR",
    "Assessment",
    "Check",
    "Estimate",
    "EvidenceRules",
    "Verdict",
    "assess",
    "disagreements",
    "review",
    "verdict_from_checks",
]
