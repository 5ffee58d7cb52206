"""Layer 1: rewards as named components, what a design encodes, and limits a policy must keep.

* :mod:`~accessrl.rewards.components` — reward designs, re-weighting, occupancy measures;
* :mod:`~accessrl.rewards.constrained` — the constrained policy by a linear program (HiGHS);
* :mod:`~accessrl.rewards.audits` — the audit: which intent each design's optimal policy serves.
"""

from __future__ import annotations

from accessrl.rewards.audits import (
    Audit,
    Failure,
    PolicyAudit,
    SimulatedRates,
    audit,
    measure_policy,
    shortcut_pairs,
    simulate_rates,
)
from accessrl.rewards.components import (
    DELAY,
    LOAD,
    RATE_TOL,
    REWARD,
    VIOLATION,
    Limit,
    RewardDesign,
    check_design,
    component_names,
    designs_from_mapping,
    occupancy,
    outcome_component,
    pair_component,
    parse_limit,
    reweight,
    spec_design,
    state_visits,
)
from accessrl.rewards.constrained import (
    ConstrainedResult,
    ConstraintReport,
    constrained_solve,
    flow_matrix,
)

__all__ = [
    "DELAY",
    "LOAD",
    "RATE_TOL",
    "REWARD",
    "VIOLATION",
    "Audit",
    "ConstrainedResult",
    "ConstraintReport",
    "Failure",
    "Limit",
    "PolicyAudit",
    "RewardDesign",
    "SimulatedRates",
    "audit",
    "check_design",
    "component_names",
    "constrained_solve",
    "designs_from_mapping",
    "flow_matrix",
    "measure_policy",
    "occupancy",
    "outcome_component",
    "pair_component",
    "parse_limit",
    "reweight",
    "shortcut_pairs",
    "simulate_rates",
    "spec_design",
    "state_visits",
]
