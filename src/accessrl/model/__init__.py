"""Layer 0: the compiled model and everything that describes one.

* :mod:`~accessrl.model.mdp` — :class:`MDP`, the frozen CSR model every algorithm takes;
* :mod:`~accessrl.model.spec` — the spec schema and its compiler (:func:`compile_spec`),
  and the way back (:func:`spec_from_mdp`);
* :mod:`~accessrl.model.arrays` — pymdptoolbox, QuantEcon and toy-text array forms;
* :mod:`~accessrl.model.checks` — the shared checks (probability tolerance, gamma, numbers);
* :mod:`~accessrl.model.policies` — policies as arrays, from and to names, the start rule;
* :mod:`~accessrl.model.returns` — discounted returns of reward sequences;
* :mod:`~accessrl.model.summary` — a big per-state result in a few numbers (by action, by factor).
"""

from __future__ import annotations

from accessrl.model.checks import PROB_TOL, check_gamma
from accessrl.model.mdp import MDP, segment_sum
from accessrl.model.policies import (
    pair_probabilities,
    pairs_of,
    policy_from_mapping,
    policy_mapping,
    policy_names,
    start_distribution,
    uniform_policy,
)
from accessrl.model.returns import discounted_return, rewards_to_go
from accessrl.model.spec import compile_spec, spec_from_mdp

__all__ = [
    "MDP",
    "PROB_TOL",
    "check_gamma",
    "compile_spec",
    "discounted_return",
    "pair_probabilities",
    "pairs_of",
    "policy_from_mapping",
    "policy_mapping",
    "policy_names",
    "rewards_to_go",
    "segment_sum",
    "spec_from_mdp",
    "start_distribution",
    "uniform_policy",
]
