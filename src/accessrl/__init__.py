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

import importlib as _importlib
import typing as _typing

__version__ = "0.1.0"

_EXPORTS = {
    "catalog": "accessrl.catalog",
    "AccessRLError": "accessrl.errors",
    "ModelError": "accessrl.errors",
    "NotTerminatingError": "accessrl.errors",
    "ParameterError": "accessrl.errors",
    "PolicyError": "accessrl.errors",
    "SpecError": "accessrl.errors",
    "LearningResult": "accessrl.learning",
    "learn": "accessrl.learning",
    "MDP": "accessrl.model",
    "compile_spec": "accessrl.model",
    "discounted_return": "accessrl.model",
    "policy_from_mapping": "accessrl.model",
    "policy_names": "accessrl.model",
    "rewards_to_go": "accessrl.model",
    "spec_from_mdp": "accessrl.model",
    "uniform_policy": "accessrl.model",
    "Backup": "accessrl.planning",
    "PolicyEvaluation": "accessrl.planning",
    "SolveResult": "accessrl.planning",
    "bellman_backup": "accessrl.planning",
    "greedy_policy": "accessrl.planning",
    "modified_policy_iteration": "accessrl.planning",
    "policy_evaluation": "accessrl.planning",
    "policy_iteration": "accessrl.planning",
    "probability_sweep": "accessrl.planning",
    "q_values": "accessrl.planning",
    "solve": "accessrl.planning",
    "value_iteration": "accessrl.planning",
    "Simulation": "accessrl.simulation",
    "simulate": "accessrl.simulation",
}
"""Each public name and the module it comes from.  They are imported on first use (PEP 562), so
a command that needs one corner of the library does not load the rest: any ``import accessrl.x``
runs this file first, and every command pays for what it imports here."""

if _typing.TYPE_CHECKING:
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


def __getattr__(name: str) -> _typing.Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'accessrl' has no attribute {name!r}") from None
    imported = _importlib.import_module(module)
    value = imported if module == f"accessrl.{name}" else getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({n for n in globals() if n not in {"annotations"}} | set(_EXPORTS))


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
