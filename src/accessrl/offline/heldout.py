r"""Held-out evaluation of candidate policies on a decision log (layer 1: arrays in, results out).

The one orchestration behind ``accessrl evaluate-policy`` and ``accessrl promote``:

1. :func:`heldout_split` — split the episodes by the time of their first decision
   (train < c1 <= valid < c2 <= test; by default c1, c2 are the 60% / 80% quantiles)
   with :func:`~accessrl.offline.splits.temporal_split`'s leakage checks;
2. :func:`learn_candidates` — optionally learn candidates on the training period by
   every batch method (:data:`LEARNERS`: the estimated model's optimum, its pessimistic
   version, fitted Q-iteration, SPIBB) and :func:`choose_candidate` — score each on the
   validation period and keep the one with the best weighted-IS lower bound;
3. :func:`evaluate_heldout` — score every candidate (the deployed policy is one, every
   learned one too) on the untouched held-out period with
   :func:`~accessrl.offline.ope.evaluate_policy`, the model for model-based and doubly
   robust estimates fitted on train only;
4. :class:`Estimate` and :func:`promotion_reasons` — one estimator's interval with the
   support and the severe errors observed (returns at or below the severe threshold,
   counted apart from the mean), and the rule that refuses a candidate with a severe
   error or whose lower bound does not beat the deployed policy's estimate;
5. :func:`review_candidates` — steps 3 and 4 against an incumbent: the one place that
   decides whether the held-out period is big enough and what each candidate's verdict
   is (:class:`Verdict`, with its evidence as data).

The caller reads the log and the policies (storage, files) and passes arrays in; one
``rng`` drives every bootstrap in the order above, so a seed fixes every number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from accessrl._types import FloatArray
from accessrl.errors import ParameterError
from accessrl.offline.batch import fitted_q_iteration, model_optimum, pessimistic_q_iteration, spibb
from accessrl.offline.logged import LoggedSteps
from accessrl.offline.ope import OffPolicyReport, evaluate_policy, matrix_mapping
from accessrl.offline.splits import TemporalSplit, default_cutoffs, temporal_split

SEVERE_RETURN = -100.0
"""A return at or below this is a severe error (the lesson's held-out threshold)."""

SELECTION_ESTIMATOR = "wis"
"""The estimator whose lower bound chooses among learned candidates and decides promotions."""

LEARNERS = ("model", "pessimistic", "fqi", "spibb")
"""Candidates :func:`learn_candidates` can learn on the training period: the estimated
model's optimum, the pessimistic (Wilson lower bound) version, fitted Q-iteration, SPIBB."""

Period = Literal["valid", "test"]


@dataclass(frozen=True)
class Estimate:
    """One policy's held-out estimate and interval, its support and the severe errors observed."""

    value: float
    low: float
    high: float
    support: int
    severe_errors: int

    @classmethod
    def from_report(cls, report: OffPolicyReport, estimator: str = SELECTION_ESTIMATOR) -> Estimate | None:
        """The estimate of ``estimator`` in ``report``; ``None`` without support or without that estimator."""
        iv = report.get(estimator)
        if not report.supported or iv is None:
            return None
        return cls(iv.value, iv.low, iv.high, report.matching_episodes, report.severe_observed)


@dataclass(frozen=True)
class Selection:
    """The learned candidate chosen on the validation period, every candidate's score there
    (the lower bound of ``estimator``; minus infinity without support) and their reports."""

    chosen: str
    scores: Mapping[str, float]
    estimator: str = SELECTION_ESTIMATOR
    reports: tuple[OffPolicyReport, ...] = field(default=(), compare=False)

    @property
    def note(self) -> str:
        """One line saying what was chosen and how."""
        return f"learned candidates chosen on validation by the {self.estimator.upper()} lower bound: {self.chosen}"

    def to_json(self) -> dict[str, Any]:
        """The selection as data: ``{"chosen", "estimator", "criterion", "period", "scores"}``
        (a score without support is ``None``)."""
        return {"chosen": self.chosen, "estimator": self.estimator, "criterion": "lower_bound", "period": "valid",
                "scores": {k: (None if not np.isfinite(v) else float(v)) for k, v in self.scores.items()}}


@dataclass(frozen=True, eq=False)
class HeldOutEvaluation:
    """Every candidate's report on the held-out period of one split."""

    split: TemporalSplit
    period: Period
    reports: tuple[OffPolicyReport, ...]
    selection: Selection | None = None
    learned: Mapping[str, FloatArray] = field(default_factory=dict)
    """The learned candidates' (S, A) matrices by method (empty without learners)."""

    @property
    def held(self) -> LoggedSteps:
        """The episodes the candidates were scored on."""
        return self.split.test if self.period == "test" else self.split.valid

    def estimates(self, estimator: str = SELECTION_ESTIMATOR) -> tuple[Estimate | None, ...]:
        """:meth:`Estimate.from_report` of each report, in order."""
        return tuple(Estimate.from_report(r, estimator) for r in self.reports)


def heldout_split(steps: LoggedSteps, *, train_end: int | None = None, valid_end: int | None = None,
                  prevent_leakage: bool = False, outcome_window: int | None = None,
                  fractions: tuple[float, float] = (0.6, 0.8),
                  time_text: Callable[[int], str] = str) -> TemporalSplit:
    """Train / validation / test by first decision time; a cutoff not given (microseconds since
    the epoch) is the quantile ``fractions`` of the first decision times.  With
    ``prevent_leakage`` the earlier periods keep what was knowable at their cutoff, with
    ``outcome_window`` (microseconds; see :func:`~accessrl.offline.splits.temporal_split`,
    which also says what ``time_text`` is for)."""
    c1, c2 = default_cutoffs(steps, fractions)
    return temporal_split(steps, (c1 if train_end is None else train_end, c2 if valid_end is None else valid_end),
                          prevent=prevent_leakage, outcome_window=outcome_window, time_text=time_text)


def learn_candidates(train: LoggedSteps, learners: Sequence[str], *, gamma: float,
                     n_wedge: int = 20) -> dict[str, FloatArray]:
    """Candidates learned on ``train``, keyed by method, in :data:`LEARNERS` order: ``model``
    (:func:`~accessrl.offline.batch.model_optimum`), ``pessimistic``
    (:func:`~accessrl.offline.batch.pessimistic_q_iteration`, greedy), ``fqi`` (fitted
    Q-iteration, greedy) and ``spibb`` (SPIBB with ``n_wedge``).  Each is an (S, A)
    matrix over the log's names; a state never decided in ``train`` has an all-zero row."""
    for name in learners:
        if name not in LEARNERS:
            raise ParameterError(f"learners: expected one of {', '.join(LEARNERS)}, got {name!r}")
    build: dict[str, Callable[[], FloatArray]] = {
        "model": lambda: model_optimum(train, gamma=gamma),
        "pessimistic": lambda: pessimistic_q_iteration(train, gamma=gamma).target(),
        "fqi": lambda: fitted_q_iteration(train, gamma=gamma).target(),
        "spibb": lambda: spibb(train, gamma=gamma, n_wedge=n_wedge).pi,
    }
    return {name: build[name]() for name in LEARNERS if name in learners}


def choose_candidate(split: TemporalSplit, learned: Mapping[str, FloatArray], *, gamma: float,
                     rng: np.random.Generator, severe_threshold: float = SEVERE_RETURN,
                     n_boot: int = 1000) -> Selection:
    """The learned candidate with the best lower bound of :data:`SELECTION_ESTIMATOR` on the
    validation period (a candidate without support scores minus infinity; ties go to the first)."""
    if not learned:
        raise ParameterError("learned: expected at least one candidate to choose from")
    scores: dict[str, float] = {}
    reports = []
    for name, pi in learned.items():
        report = evaluate_policy(split.valid, pi, gamma=gamma, rng=rng, train=split.train, name=name,
                                 severe_threshold=severe_threshold, n_boot=n_boot)
        reports.append(report)
        est = Estimate.from_report(report)
        scores[name] = est.low if est is not None else -np.inf
    return Selection(max(scores, key=lambda k: scores[k]), scores, reports=tuple(reports))


@dataclass(frozen=True, eq=False)
class LearnedPolicies:
    """Candidates learned on the training period of ``split`` and scored on its validation period."""

    split: TemporalSplit
    policies: Mapping[str, FloatArray]
    selection: Selection

    def mapping(self, method: str) -> dict[str, Any]:
        """The policy-file mapping of one learned candidate (:func:`~accessrl.offline.ope.matrix_mapping`)."""
        return matrix_mapping(self.split.train.state_names, self.split.train.action_names, self.policies[method])

    def undecided(self, method: str) -> tuple[str, ...]:
        """States some period visits that the candidate has no action for (never decided in train)."""
        pi = self.policies[method]
        seen = set()
        for part in (self.split.train, self.split.valid, self.split.test):
            seen |= set(np.unique(part.state).tolist())
        names = self.split.train.state_names
        return tuple(names[s] for s in sorted(seen) if pi[s].sum() == 0)

    def to_json(self) -> dict[str, Any]:
        """Every candidate's validation report, policy mapping and uncovered states, and the selection."""
        reports = {r.policy: r for r in self.selection.reports}
        return {
            "selection": self.selection.to_json(),
            "candidates": [{"method": m, **reports[m].to_json(), "policy_mapping": self.mapping(m),
                            "undecided_states": list(self.undecided(m))} for m in self.policies],
        }


def learn_from_logs(split: TemporalSplit, learners: Sequence[str] = LEARNERS, *, gamma: float,
                    rng: np.random.Generator, n_wedge: int = 20, severe_threshold: float = SEVERE_RETURN,
                    n_boot: int = 1000) -> LearnedPolicies:
    """Learn a candidate per method on train (:func:`learn_candidates`) and score each on
    validation (:func:`choose_candidate`); the test period is left for ``evaluate-policy``
    and ``promote``."""
    learned = learn_candidates(split.train, learners, gamma=gamma, n_wedge=n_wedge)
    selection = choose_candidate(split, learned, gamma=gamma, rng=rng, severe_threshold=severe_threshold,
                                 n_boot=n_boot)
    return LearnedPolicies(split, learned, selection)


def evaluate_heldout(split: TemporalSplit, candidates: Sequence[tuple[str, FloatArray]], *, gamma: float,
                     rng: np.random.Generator, period: Period = "test", learners: Sequence[str] = (),
                     n_wedge: int = 20, severe_threshold: float = SEVERE_RETURN,
                     n_boot: int = 1000) -> HeldOutEvaluation:
    """Score ``candidates`` — ``(name, pi)`` pairs, ``pi`` an (S, A) matrix over the log's
    names (see :func:`~accessrl.offline.ope.target_matrix`) — on the held-out ``period``.

    With ``learners``, candidates are learned on train (:func:`learn_candidates`),
    :func:`choose_candidate` picks one on validation, and every learned candidate is scored
    after the given ones (``learned`` holds their matrices).  Names need not be unique (a
    candidate may share the deployed policy's name).
    """
    if period not in ("valid", "test"):
        raise ParameterError(f"period: expected 'valid' or 'test', got {period!r}")
    scored = list(candidates)
    selection = None
    learned: dict[str, FloatArray] = {}
    if learners:
        learned = learn_candidates(split.train, learners, gamma=gamma, n_wedge=n_wedge)
        selection = choose_candidate(split, learned, gamma=gamma, rng=rng, severe_threshold=severe_threshold,
                                     n_boot=n_boot)
        scored += list(learned.items())
    held = split.test if period == "test" else split.valid
    reports = tuple(evaluate_policy(held, pi, gamma=gamma, rng=rng, train=split.train, name=name,
                                    severe_threshold=severe_threshold, n_boot=n_boot) for name, pi in scored)
    return HeldOutEvaluation(split, period, reports, selection, learned)


MIN_TEST_EPISODES = 30
"""Held-out episodes a promotion needs (fewer: no verdict but "not enough data")."""


@dataclass(frozen=True)
class Verdict:
    """Whether ``candidate`` may replace ``incumbent``: the reasons for people, the same as
    codes for programs, and the evidence (estimates on the held-out period)."""

    candidate_id: str
    incumbent_id: str
    promote: bool
    reasons: tuple[str, ...]
    codes: tuple[str, ...]
    candidate: Estimate | None
    incumbent: Estimate | None
    n_held: int
    estimator: str = SELECTION_ESTIMATOR

    def evidence(self) -> dict[str, Any]:
        """The verdict as data (what a deployment row records)."""
        def est(e: Estimate | None) -> dict[str, Any] | None:
            return None if e is None else {"estimate": e.value, "low": e.low, "high": e.high,
                                           "matching_episodes": e.support, "severe_errors": e.severe_errors}

        return {"estimator": self.estimator, "held_out_episodes": self.n_held, "promote": self.promote,
                "codes": list(self.codes), "candidate": {"policy": self.candidate_id, **(est(self.candidate) or {})},
                "incumbent": {"policy": self.incumbent_id, **(est(self.incumbent) or {})}}


@dataclass(frozen=True, eq=False)
class Review:
    """The held-out evaluation of an incumbent (reports[0]) and candidates, with a verdict each."""

    evaluation: HeldOutEvaluation | None
    verdicts: tuple[Verdict, ...]


def review_candidates(split: TemporalSplit, incumbent: tuple[str, FloatArray],
                      candidates: Sequence[tuple[str, FloatArray]], *, gamma: float, rng: np.random.Generator,
                      period: Period = "test", severe_threshold: float = SEVERE_RETURN, n_boot: int = 1000,
                      min_held: int = MIN_TEST_EPISODES) -> Review:
    """Score the incumbent and every candidate on the held-out ``period``
    (:func:`evaluate_heldout`) and give each candidate a :class:`Verdict`
    (:func:`promotion_reasons`); a held-out period under ``min_held`` episodes gives every
    candidate the verdict ``too_few_held_out_episodes`` and scores nothing."""
    held = split.test if period == "test" else split.valid
    inc_id = incumbent[0]
    if held.n_episodes < min_held:
        why = f"only {held.n_episodes} held-out episodes; at least {min_held} are needed"
        return Review(None, tuple(Verdict(c, inc_id, False, (why,), ("too_few_held_out_episodes",), None, None,
                                          held.n_episodes) for c, _ in candidates))
    evaluation = evaluate_heldout(split, [incumbent, *candidates], gamma=gamma, rng=rng, period=period,
                                  severe_threshold=severe_threshold, n_boot=n_boot)
    inc, *cands = evaluation.estimates(SELECTION_ESTIMATOR)
    verdicts = []
    for (name, _), est, rep in zip(candidates, cands, evaluation.reports[1:], strict=True):
        reasons: list[str] = []
        codes: list[str] = []
        for role, e, r in (("incumbent", inc, evaluation.reports[0]), ("candidate", est, rep)):
            if e is None:
                reasons.append(f"{role} {r.policy}: {r.reason or 'no estimate'}")
                codes.append(f"{role}_unsupported")
        for code, reason in promotion_rule(est, inc):
            codes.append(code)
            reasons.append(reason)
        verdicts.append(Verdict(name, inc_id, not reasons, tuple(reasons), tuple(codes), est, inc, held.n_episodes))
    return Review(evaluation, tuple(verdicts))


def promotion_rule(candidate: Estimate | None, incumbent: Estimate | None) -> tuple[tuple[str, str], ...]:
    """``(code, reason)`` of each way ``candidate`` fails to earn a promotion over ``incumbent``
    (empty: it may replace it): ``severe_errors`` on the held-out period, or
    ``lower_bound_not_above_incumbent``."""
    out = []
    if candidate is not None and candidate.severe_errors:
        out.append(("severe_errors", f"{candidate.severe_errors} severe errors on test (must be 0)"))
    if candidate is not None and incumbent is not None and not candidate.low > incumbent.value:
        out.append(("lower_bound_not_above_incumbent",
                    f"lower bound {candidate.low:.2f} does not beat the deployed estimate {incumbent.value:.2f}"))
    return tuple(out)


def promotion_reasons(candidate: Estimate | None, incumbent: Estimate | None) -> tuple[str, ...]:
    """Why ``candidate`` must not replace ``incumbent`` (empty: it may): a severe error on the
    held-out period, or a lower bound that does not beat the incumbent's estimate
    (:func:`promotion_rule`'s reasons)."""
    return tuple(reason for _, reason in promotion_rule(candidate, incumbent))


__all__ = [
    "LEARNERS",
    "MIN_TEST_EPISODES",
    "SELECTION_ESTIMATOR",
    "SEVERE_RETURN",
    "Estimate",
    "HeldOutEvaluation",
    "LearnedPolicies",
    "Period",
    "Review",
    "Selection",
    "Verdict",
    "choose_candidate",
    "evaluate_heldout",
    "heldout_split",
    "learn_candidates",
    "learn_from_logs",
    "promotion_reasons",
    "promotion_rule",
    "review_candidates",
]
