r"""Held-out evaluation of candidate policies on a decision log (layer 1: arrays in, results out).

The one orchestration behind ``accessrl evaluate-policy`` and ``accessrl promote``:

1. :func:`heldout_split` — split the episodes by the time of their first decision
   (train < c1 <= valid < c2 <= test; by default c1, c2 are the 60% / 80% quantiles)
   with :func:`~accessrl.offline.splits.temporal_split`'s leakage checks;
2. :func:`learn_candidates` — optionally learn candidates on the training period
   (:data:`DEFAULT_LEARNERS`: SPIBB, which changes the behaviour only on pairs the data
   support; any of :data:`LEARNERS` on request) and :func:`choose_candidate` — score each on
   the validation period, put each estimate through the evidence review
   (:func:`~accessrl.offline.evidence.assess`) and keep, among the trusted ones, the best
   weighted-IS lower bound; when none is trusted, none is chosen;
3. :func:`evaluate_heldout` — score every candidate (the deployed policy is one, every
   learned one too) on the untouched held-out period with
   :func:`~accessrl.offline.ope.evaluate_policy`, the model for model-based and doubly
   robust estimates fitted on train only;
4. :func:`review_candidates` — step 3 against an incumbent, each candidate's
   :class:`~accessrl.offline.evidence.Verdict` from the one review
   (:func:`~accessrl.offline.evidence.review`), which lists every reason.

The caller reads the log and the policies (storage, files) and passes arrays in; one
``rng`` drives every bootstrap in the order above, so a seed fixes every number.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from accessrl._types import FloatArray
from accessrl.errors import ParameterError
from accessrl.offline.batch import fitted_q_iteration, model_optimum, pessimistic_q_iteration, spibb
from accessrl.offline.evidence import (
    SELECTION_ESTIMATOR,
    Assessment,
    Check,
    Estimate,
    EvidenceRules,
    Verdict,
    assess,
    review,
    verdict_from_checks,
)
from accessrl.offline.logged import LoggedSteps
from accessrl.offline.ope import OffPolicyReport, evaluate_policy, matrix_mapping
from accessrl.offline.splits import TemporalSplit, default_cutoffs, temporal_split

SEVERE_RETURN = -100.0
"""A return at or below this is a severe error (the lesson's held-out threshold)."""

LEARNERS = ("model", "pessimistic", "fqi", "spibb")
"""Candidates :func:`learn_candidates` can learn on the training period: the estimated
model's optimum, the pessimistic (Wilson lower bound) version, fitted Q-iteration, SPIBB."""

DEFAULT_LEARNERS = ("spibb",)
"""What ``learn-from-logs`` offers by default: SPIBB (Laroche, Trichelair & Tachet des Combes
2019), which keeps the behaviour's probabilities on every pair logged fewer than ``n_wedge``
times, so the candidate departs from the behaviour only where the data support it."""

Period = Literal["valid", "test"]


@dataclass(frozen=True)
class Selection:
    """The learned candidate chosen on the validation period — ``None`` when no candidate's
    estimate passed the evidence review — every candidate's score there (the lower bound of
    ``estimator``; ``None`` when its estimate is not trusted), and their reports and assessments."""

    chosen: str | None
    scores: Mapping[str, float | None]
    estimator: str = SELECTION_ESTIMATOR
    reports: tuple[OffPolicyReport, ...] = field(default=(), compare=False)
    assessments: tuple[Assessment, ...] = field(default=(), compare=False)

    @property
    def note(self) -> str:
        """One line saying what was chosen and how, or why nothing was."""
        if self.chosen is None:
            return ("no learned candidate chosen: no estimate on validation passed the evidence review ("
                    + "; ".join(f"{a.policy}: {', '.join(c.code for c in a.failures)}" for a in self.assessments) + ")")
        return (f"learned candidates chosen on validation by the {self.estimator.upper()} lower bound, among those "
                f"whose evidence passed the review: {self.chosen}")

    def to_json(self) -> dict[str, Any]:
        """The selection as data: ``{"chosen", "estimator", "criterion", "period", "scores", "refused"}``
        (a score that is not trusted is ``None``; ``refused`` lists each such candidate's failed codes)."""
        return {"chosen": self.chosen, "estimator": self.estimator, "criterion": "lower_bound", "period": "valid",
                "scores": {k: (None if v is None or not np.isfinite(v) else float(v)) for k, v in self.scores.items()},
                "refused": {a.policy: [c.code for c in a.failures] for a in self.assessments if not a.trusted}}


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
                     n_boot: int = 1000, rules: EvidenceRules = EvidenceRules()) -> Selection:
    """Among the learned candidates whose validation estimate passes the evidence review
    (:func:`~accessrl.offline.evidence.assess`), the one with the best lower bound of
    ``rules.estimator`` (ties go to the first); ``None`` when none passes — a set of null
    scores has no best."""
    if not learned:
        raise ParameterError("learned: expected at least one candidate to choose from")
    scores: dict[str, float | None] = {}
    reports, assessments = [], []
    for name, pi in learned.items():
        report = evaluate_policy(split.valid, pi, gamma=gamma, rng=rng, train=split.train, name=name,
                                 severe_threshold=severe_threshold, n_boot=n_boot)
        verdict = assess(report, rules, period="valid")
        reports.append(report)
        assessments.append(verdict)
        scores[name] = verdict.estimate.low if verdict.trusted and verdict.estimate is not None else None
    ranked = {k: v for k, v in scores.items() if v is not None}
    chosen = max(ranked, key=lambda k: ranked[k]) if ranked else None
    return Selection(chosen, scores, rules.estimator, tuple(reports), tuple(assessments))


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
        """Every candidate's validation report, evidence checks, policy mapping and uncovered
        states, and the selection."""
        reports = {r.policy: r for r in self.selection.reports}
        checks = {a.policy: a for a in self.selection.assessments}
        return {
            "selection": self.selection.to_json(),
            "candidates": [{"method": m, **reports[m].to_json(), "trusted": checks[m].trusted,
                            "checks": [c.to_json() for c in checks[m].checks],
                            "policy_mapping": self.mapping(m), "undecided_states": list(self.undecided(m))}
                           for m in self.policies],
        }


def learn_from_logs(split: TemporalSplit, learners: Sequence[str] = DEFAULT_LEARNERS, *, gamma: float,
                    rng: np.random.Generator, n_wedge: int = 20, severe_threshold: float = SEVERE_RETURN,
                    n_boot: int = 1000, rules: EvidenceRules = EvidenceRules()) -> LearnedPolicies:
    """Learn a candidate per method on train (:func:`learn_candidates`) and score each on
    validation (:func:`choose_candidate`); the test period is left for ``evaluate-policy``
    and ``promote``."""
    learned = learn_candidates(split.train, learners, gamma=gamma, n_wedge=n_wedge)
    selection = choose_candidate(split, learned, gamma=gamma, rng=rng, severe_threshold=severe_threshold,
                                 n_boot=n_boot, rules=rules)
    return LearnedPolicies(split, learned, selection)


def evaluate_heldout(split: TemporalSplit, candidates: Sequence[tuple[str, FloatArray]], *, gamma: float,
                     rng: np.random.Generator, period: Period = "test", learners: Sequence[str] = (),
                     n_wedge: int = 20, severe_threshold: float = SEVERE_RETURN,
                     n_boot: int = 1000, rules: EvidenceRules = EvidenceRules()) -> HeldOutEvaluation:
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
                                     n_boot=n_boot, rules=rules)
        scored += list(learned.items())
    held = split.test if period == "test" else split.valid
    reports = tuple(evaluate_policy(held, pi, gamma=gamma, rng=rng, train=split.train, name=name,
                                    severe_threshold=severe_threshold, n_boot=n_boot) for name, pi in scored)
    return HeldOutEvaluation(split, period, reports, selection, learned)


@dataclass(frozen=True, eq=False)
class Review:
    """The held-out evaluation of an incumbent (reports[0]) and candidates, with a verdict each."""

    evaluation: HeldOutEvaluation | None
    verdicts: tuple[Verdict, ...]


def review_candidates(split: TemporalSplit, incumbent: tuple[str, FloatArray],
                      candidates: Sequence[tuple[str, FloatArray]], *, gamma: float, rng: np.random.Generator,
                      period: Period = "test", severe_threshold: float = SEVERE_RETURN, n_boot: int = 1000,
                      rules: EvidenceRules = EvidenceRules()) -> Review:
    """Score the incumbent and every candidate on the held-out ``period``
    (:func:`evaluate_heldout`) and give each candidate the :class:`~accessrl.offline.evidence.Verdict`
    of :func:`~accessrl.offline.evidence.review`; a held-out period under ``rules.min_held``
    episodes gives every candidate the verdict ``too_few_held_out_episodes`` and scores nothing."""
    rules.check()
    held = split.test if period == "test" else split.valid
    inc_id = incumbent[0]
    if held.n_episodes < rules.min_held:
        why = f"only {held.n_episodes} held-out episodes; at least {rules.min_held} are needed"
        check = (Check("too_few_held_out_episodes", False, why),)
        return Review(None, tuple(verdict_from_checks(c, inc_id, check, candidate=None, incumbent=None,
                                                      n_held=held.n_episodes, rules=rules) for c, _ in candidates))
    evaluation = evaluate_heldout(split, [incumbent, *candidates], gamma=gamma, rng=rng, period=period,
                                  severe_threshold=severe_threshold, n_boot=n_boot)
    inc_report = evaluation.reports[0]
    verdicts = tuple(review(rep, inc_report, rules, period=period) for rep in evaluation.reports[1:])
    # a candidate may share the incumbent's name: the verdict keeps the names the caller gave
    verdicts = tuple(dataclasses.replace(v, candidate_id=name, incumbent_id=inc_id)
                     for v, (name, _) in zip(verdicts, candidates, strict=True))
    return Review(evaluation, verdicts)


__all__ = [
    "DEFAULT_LEARNERS",
    "LEARNERS",
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
    "review_candidates",
]
