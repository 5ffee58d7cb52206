"""Layer 1: learning and evaluating from logged data.

* :mod:`~accessrl.offline.logged` — :class:`LoggedSteps`, the one array form of a log, and its validator;
* :mod:`~accessrl.offline.logsim` — a simulator of realistic decision logs;
* :mod:`~accessrl.offline.estimation` — a model estimated from logs, with Wilson intervals and drift;
* :mod:`~accessrl.offline.periods` — one definition of a period (by decision time), with censoring;
* :mod:`~accessrl.offline.splits` — train / validation / test by time, and leakage checks;
* :mod:`~accessrl.offline.support` — support of a candidate judged from the logged propensities;
* :mod:`~accessrl.offline.intervals` — intervals that a handful of episodes cannot make narrow;
* :mod:`~accessrl.offline.ope` — off-policy estimators with bootstrap intervals;
* :mod:`~accessrl.offline.evidence` — the one evidence review every decision on an estimate calls;
* :mod:`~accessrl.offline.heldout` — the held-out evaluation ``evaluate-policy`` and ``promote`` share;
* :mod:`~accessrl.offline.monitoring` — live outcomes against a model: the G-test per pair, Holm-corrected;
* :mod:`~accessrl.offline.batch` — batch learning: the estimated model's optimum, its pessimistic
  version, fitted Q-iteration and SPIBB;
* :mod:`~accessrl.offline.eventlog` — a process event log's cases as decision records, through a
  mapping, and behaviour propensities estimated on a training period;
* :mod:`~accessrl.offline.processmap` — the process map: counts, probabilities with intervals, waits;
* :mod:`~accessrl.offline.survival` — abandonment by time waited: Kaplan-Meier and life-table
  hazards, censoring handled.
"""

from __future__ import annotations

from accessrl.offline.batch import (
    BatchQResult,
    SafePolicy,
    fitted_q_iteration,
    model_optimum,
    pessimistic_q_iteration,
    spibb,
)
from accessrl.offline.estimation import (
    DriftReport,
    EstimatedModel,
    OutcomeEstimate,
    PairDrift,
    TransitionCounts,
    count_transitions,
    drift_report,
    estimate_model,
    wilson_interval,
)
from accessrl.offline.eventlog import (
    Buckets,
    DecisionRule,
    EventMapping,
    OutcomeRule,
    Propensities,
    case_records,
    estimate_propensities,
)
from accessrl.offline.evidence import (
    SELECTION_ESTIMATOR,
    Assessment,
    Check,
    Estimate,
    EvidenceRules,
    Verdict,
    assess,
    review,
)
from accessrl.offline.heldout import (
    DEFAULT_LEARNERS,
    LEARNERS,
    SEVERE_RETURN,
    HeldOutEvaluation,
    LearnedPolicies,
    Period,
    Review,
    Selection,
    choose_candidate,
    evaluate_heldout,
    heldout_split,
    learn_candidates,
    learn_from_logs,
    review_candidates,
)
from accessrl.offline.intervals import Interval, floor_interval, unseen_mass
from accessrl.offline.logged import (
    COLUMNS,
    OUTCOME_KINDS,
    US_PER_HOUR,
    LoggedSteps,
    check_logged_steps,
)
from accessrl.offline.logsim import (
    GeneratedLog,
    LogConfig,
    exploring_policy,
    outcome_kinds,
    simulate_logs,
    with_abandonment,
)
from accessrl.offline.ope import (
    ESTIMATORS,
    EpisodeTerms,
    EstimatorResult,
    OffPolicyReport,
    batch_policy_values,
    bootstrap_ratio,
    effective_sample_size,
    episode_terms,
    evaluate_policy,
    exhaustive_logs,
    matrix_mapping,
    support_gap,
    support_problem,
    target_matrix,
)
from accessrl.offline.periods import DecisionPeriod, PeriodDecisions, period_decisions
from accessrl.offline.processmap import MapEdge, MapNode, ProcessMap, process_map
from accessrl.offline.splits import (
    LeakageReport,
    TemporalSplit,
    default_cutoffs,
    default_window,
    temporal_split,
)
from accessrl.offline.support import SupportReport, policy_support
from accessrl.offline.survival import HazardBucket, KaplanMeier, StageVisits, bucket_hazard, kaplan_meier, stage_visits

__all__ = [
    "Buckets",
    "DecisionRule",
    "EventMapping",
    "HazardBucket",
    "KaplanMeier",
    "MapEdge",
    "MapNode",
    "OutcomeRule",
    "ProcessMap",
    "Propensities",
    "StageVisits",
    "bucket_hazard",
    "case_records",
    "estimate_propensities",
    "kaplan_meier",
    "process_map",
    "stage_visits",
    "COLUMNS",
    "DEFAULT_LEARNERS",
    "ESTIMATORS",
    "LEARNERS",
    "OUTCOME_KINDS",
    "SELECTION_ESTIMATOR",
    "SEVERE_RETURN",
    "US_PER_HOUR",
    "Assessment",
    "BatchQResult",
    "Check",
    "DecisionPeriod",
    "DriftReport",
    "EpisodeTerms",
    "Estimate",
    "EstimatedModel",
    "EstimatorResult",
    "EvidenceRules",
    "GeneratedLog",
    "HeldOutEvaluation",
    "LearnedPolicies",
    "Interval",
    "LeakageReport",
    "LogConfig",
    "LoggedSteps",
    "OffPolicyReport",
    "OutcomeEstimate",
    "PairDrift",
    "Period",
    "PeriodDecisions",
    "Review",
    "SafePolicy",
    "Selection",
    "SupportReport",
    "TemporalSplit",
    "TransitionCounts",
    "Verdict",
    "assess",
    "batch_policy_values",
    "bootstrap_ratio",
    "check_logged_steps",
    "choose_candidate",
    "count_transitions",
    "default_cutoffs",
    "default_window",
    "drift_report",
    "effective_sample_size",
    "episode_terms",
    "estimate_model",
    "evaluate_heldout",
    "evaluate_policy",
    "exhaustive_logs",
    "exploring_policy",
    "floor_interval",
    "fitted_q_iteration",
    "heldout_split",
    "learn_candidates",
    "learn_from_logs",
    "matrix_mapping",
    "model_optimum",
    "outcome_kinds",
    "period_decisions",
    "pessimistic_q_iteration",
    "policy_support",
    "review",
    "review_candidates",
    "simulate_logs",
    "spibb",
    "support_gap",
    "support_problem",
    "target_matrix",
    "temporal_split",
    "unseen_mass",
    "wilson_interval",
    "with_abandonment",
]
