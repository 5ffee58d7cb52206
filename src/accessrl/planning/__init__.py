"""Layer 1: exact dynamic programming on a compiled model.

* :mod:`~accessrl.planning.results` — what a planner returns (frozen dataclasses) and the shared arguments;
* :mod:`~accessrl.planning.exact` — the readable solvers: Bellman backups, policy evaluation,
  value iteration (as the lesson prints it), policy iteration, modified policy iteration;
* :mod:`~accessrl.planning.scalable` — the solvers that scale to millions of states: compiled
  MPI, Gauss-Seidel, Krylov policy iteration, topological value iteration;
* :mod:`~accessrl.planning.kernels` — the numba CSR kernels behind them (import it directly:
  it is not loaded until a compiled solver runs, since numba takes a fifth of a second to load);
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
from accessrl.planning.results import (
    TIE_RTOL,
    Backup,
    PolicyEvaluation,
    Progress,
    SolveResult,
    check_max_iter,
    check_tol,
    on_allowed_pairs,
    on_full_model,
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
    "can_reach",
    "check_max_iter",
    "check_ssp",
    "check_tol",
    "check_values",
    "choose_method",
    "compiled_modified_policy_iteration",
    "end_components",
    "finish_compiled",
    "gauss_seidel_value_iteration",
    "greedy_policy",
    "improper_states",
    "krylov_mpi",
    "krylov_policy_iteration",
    "locate_outcome",
    "max_gain",
    "modified_policy_iteration",
    "on_allowed_pairs",
    "on_full_model",
    "parse_target",
    "policy_evaluation",
    "policy_from_pairs",
    "policy_iteration",
    "probability_sweep",
    "q_values",
    "require_proper",
    "solve",
    "state_max",
    "topological_value_iteration",
    "value_iteration",
    "with_probability",
]
