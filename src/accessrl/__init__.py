"""accessrl: reinforcement learning for sequential decisions in access-review workflows.

Define a workflow as an MDP, solve it exactly, simulate it, learn from samples or
logs, audit reward designs and evaluate policies on held-out data.

>>> import accessrl
>>> mdp = accessrl.catalog.access_review_abandonment()
>>> res = accessrl.solve(mdp)
>>> accessrl.policy_names(mdp, res.policy)["new_request"]
'human_review'
"""

from __future__ import annotations

from accessrl import catalog
from accessrl.errors import (
    AccessRLError,
    ModelError,
    NotTerminatingError,
    ParameterError,
    PolicyError,
    SpecError,
)
from accessrl.learning import LearningResult, learn
from accessrl.model import (
    MDP,
    compile_spec,
    discounted_return,
    policy_from_mapping,
    policy_names,
    rewards_to_go,
    spec_from_mdp,
    uniform_policy,
)
from accessrl.planning import (
    Backup,
    PolicyEvaluation,
    SolveResult,
    bellman_backup,
    greedy_policy,
    modified_policy_iteration,
    policy_evaluation,
    policy_iteration,
    probability_sweep,
    q_values,
    solve,
    value_iteration,
)
from accessrl.simulation import Simulation, simulate

__version__ = "0.1.0"

__all__ = [
    "MDP",
    "AccessRLError",
    "Backup",
    "LearningResult",
    "ModelError",
    "NotTerminatingError",
    "ParameterError",
    "PolicyError",
    "PolicyEvaluation",
    "Simulation",
    "SolveResult",
    "SpecError",
    "bellman_backup",
    "catalog",
    "compile_spec",
    "discounted_return",
    "greedy_policy",
    "learn",
    "modified_policy_iteration",
    "policy_evaluation",
    "policy_from_mapping",
    "policy_iteration",
    "policy_names",
    "probability_sweep",
    "q_values",
    "rewards_to_go",
    "simulate",
    "solve",
    "spec_from_mdp",
    "uniform_policy",
    "value_iteration",
]
