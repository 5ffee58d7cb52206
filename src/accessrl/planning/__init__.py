"""Layer 1: exact dynamic programming on a compiled model.

* :mod:`~accessrl.planning.results` — what a planner returns (frozen dataclasses) and the shared arguments;
* :mod:`~accessrl.planning.exact` — the readable solvers: Bellman backups, policy evaluation,
  value iteration (as the lesson prints it), policy iteration, modified policy iteration;
* :mod:`~accessrl.planning.scalable` — the solvers that scale to millions of states: compiled
  MPI, Gauss-Seidel, Krylov policy iteration, topological value iteration;
* :mod:`~accessrl.planning.kernels` — the numba CSR kernels behind them;
* :mod:`~accessrl.planning.solver` — :func:`solve` by method name or ``"auto"``;
* :mod:`~accessrl.planning.structure` — stochastic-shortest-path checks (does a policy end?);
* :mod:`~accessrl.planning.finite_horizon` — backward induction over a fixed horizon;
* :mod:`~accessrl.planning.sensitivity` — sweeping a probability and finding where the policy flips.
"""

from __future__ import annotations

from accessrl.planning.exact import (
    bellman_backup,
    check_values,
    greedy_policy,
    modified_policy_iteration,
    policy_evaluation,
    policy_from_pairs,
    policy_iteration,
    q_values,
    state_max,
    value_iteration,
)
from accessrl.planning.finite_horizon import (
    FiniteHorizonResult,
    backward_induction,
)
from accessrl.planning.kernels import (
    bellman_sweep,
    bellman_sweep_active,
    eliminate_actions,
    gauss_seidel_sweep,
    greedy_pairs,
    order_direction,
    ordered_pass,
    pair_rewards,
    pair_values,
    policy_sweep,
    strong_components,
    sweep_bytes,
    topological_block,
)
from accessrl.planning.results import (
    TIE_RTOL,
    Backup,
    PolicyEvaluation,
    Progress,
    SolveResult,
    check_tol,
)
from accessrl.planning.scalable import (
    compiled_modified_policy_iteration,
    finish_compiled,
    gauss_seidel_value_iteration,
    krylov_policy_iteration,
    topological_value_iteration,
)
from accessrl.planning.sensitivity import (
    Breakeven,
    SweepPoint,
    SweepResult,
    locate_outcome,
    parse_target,
    probability_sweep,
    with_probability,
)
from accessrl.planning.solver import (
    SMALL_MODEL,
    SOLVERS,
    MethodChoice,
    choose_method,
    krylov_mpi,
    solve,
)
from accessrl.planning.structure import (
    almost_sure_termination,
    can_reach,
    check_ssp,
    end_components,
    improper_states,
    max_gain,
    require_proper,
)

__all__ = [
    "SMALL_MODEL",
    "SOLVERS",
    "TIE_RTOL",
    "Backup",
    "Breakeven",
    "FiniteHorizonResult",
    "MethodChoice",
    "PolicyEvaluation",
    "Progress",
    "SolveResult",
    "SweepPoint",
    "SweepResult",
    "almost_sure_termination",
    "backward_induction",
    "bellman_backup",
    "bellman_sweep",
    "bellman_sweep_active",
    "can_reach",
    "check_ssp",
    "check_tol",
    "check_values",
    "choose_method",
    "compiled_modified_policy_iteration",
    "eliminate_actions",
    "end_components",
    "finish_compiled",
    "gauss_seidel_sweep",
    "gauss_seidel_value_iteration",
    "greedy_pairs",
    "greedy_policy",
    "improper_states",
    "krylov_mpi",
    "krylov_policy_iteration",
    "locate_outcome",
    "max_gain",
    "modified_policy_iteration",
    "order_direction",
    "ordered_pass",
    "pair_rewards",
    "pair_values",
    "parse_target",
    "policy_evaluation",
    "policy_from_pairs",
    "policy_iteration",
    "policy_sweep",
    "probability_sweep",
    "q_values",
    "require_proper",
    "solve",
    "state_max",
    "strong_components",
    "sweep_bytes",
    "topological_block",
    "topological_value_iteration",
    "value_iteration",
    "with_probability",
]
