r"""Many solves at once: probability grids, reward designs and limit settings (layer 2).

Each workload is a list of independent solves, one per task, reduced in list order:

* :func:`sweep_grid` — sensitivity over the Cartesian product of several outcome
  probabilities (each target ``state.action.next`` takes each of its values, the pair's
  other outcomes rescaled as in :func:`~accessrl.planning.sensitivity.with_probability`);
  each point reports the optimal policy and the start value;
* :func:`audit_designs` — the reward audit (:func:`~accessrl.rewards.audits.audit`) over
  many designs: each design is solved and measured in its own task, the wrong-reason
  flags are computed afterwards over all reports, so the result equals the one-process
  audit;
* :func:`constrain_grid` — the constrained optimum
  (:func:`~accessrl.rewards.constrained.constrained_solve`) for each setting of the limits;
  an infeasible setting is reported as such, with the library's own message.

>>> from accessrl.catalog import access_review_abandonment
>>> g = sweep_grid(access_review_abandonment(), {"new_request.request_evidence.closed": [0.0, 0.1]})
>>> [(p.values, p.start_action) for p in g.points]
[((0.0,), 'request_evidence'), ((0.1,), 'human_review')]
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from accessrl.distributed.backend import Backend, get_backend
from accessrl.errors import AccessRLError, InfeasibleError, ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.policies import start_distribution
from accessrl.planning.sensitivity import locate_outcome, parse_target, with_probability
from accessrl.planning.solver import solve
from accessrl.rewards.audits import Audit, check_designs, design_report, flag_reports
from accessrl.rewards.components import Limit, RewardDesign, check_design, reweight
from accessrl.rewards.constrained import constrained_solve

MAX_GRID_POINTS = 1_000_000
"""The largest grid one call accepts (a larger one is a usage error, not a hang)."""


@dataclass(frozen=True)
class GridPoint:
    """One point of a probability grid: the values, the optimal policy and the start value."""

    values: tuple[float, ...]
    policy: tuple[str, ...]
    start_action: str
    start_value: float


@dataclass(frozen=True)
class GridSweep:
    """The result of :func:`sweep_grid`: the targets, every point in grid order, what ran it."""

    targets: tuple[str, ...]
    points: tuple[GridPoint, ...]
    backend: Mapping[str, Any]


def _grid_point(shared: tuple[MDP, list[tuple[int, int]], int], values: tuple[float, ...]) -> GridPoint:
    mdp, located, s0 = shared
    m = mdp
    for (pair, outcome), p in zip(located, values, strict=True):
        m = with_probability(m, pair, outcome, float(p))
    res = solve(m, tol=1e-10)
    names = tuple(m.action_names[int(a)] if a >= 0 else "" for a in res.policy)
    return GridPoint(values=tuple(float(v) for v in values), policy=names, start_action=names[s0],
                     start_value=float(res.values[s0]))


def sweep_grid(mdp: MDP, grid: Mapping[str, Sequence[float]], *, backend: str | Backend | None = None,
               start: Any = None) -> GridSweep:
    """Solve ``mdp`` at every point of the product of ``grid`` (target -> probabilities)."""
    if not grid:
        raise ParameterError("grid: expected at least one target state.action.next with values")
    located, axes = [], []
    for target, values in grid.items():
        located.append(locate_outcome(mdp, *parse_target(mdp, target)))
        xs = [float(v) for v in values]
        if not xs or any(not (0.0 <= x <= 1.0) for x in xs):
            raise ParameterError(f"grid {target}: expected one or more probabilities in [0, 1], got {list(values)!r}")
        axes.append(xs)
    size = int(np.prod([len(a) for a in axes], dtype=np.float64))
    if size > MAX_GRID_POINTS:
        raise ParameterError(f"grid: {size} points; at most {MAX_GRID_POINTS} in one call")
    s0 = int(np.argmax(start_distribution(mdp, start)))
    be = get_backend(backend)
    points = be.map(_grid_point, list(itertools.product(*axes)), shared=(mdp, located, s0))
    return GridSweep(targets=tuple(grid), points=tuple(points), backend=be.describe())


def _design_task(shared: tuple[MDP, tuple[RewardDesign, ...], np.ndarray], design: RewardDesign) -> Any:
    mdp, checked, mu0 = shared
    return design_report(mdp, design, checked, mu0)


def audit_designs(mdp: MDP, designs: Sequence[RewardDesign], *, backend: str | Backend | None = None,
                  start: Any = None) -> Audit:
    """The audit of ``designs`` with one design per task; equal to :func:`~accessrl.rewards.audits.audit`."""
    checked = check_designs(mdp, designs)
    mu0 = start_distribution(mdp, start)
    reports = get_backend(backend).map(_design_task, list(checked), shared=(mdp, checked, mu0))
    return Audit(model=mdp.name, designs=checked, reports=tuple(flag_reports(mdp, reports)),
                 start=mdp.state_names[int(np.argmax(mu0))])


@dataclass(frozen=True)
class LimitSetting:
    """One setting of :func:`constrain_grid`: the limits, and the optimum or why there is none.

    ``value`` is the optimal expected discounted return from the start (``None`` when
    infeasible); ``limit_values`` the achieved value of each limit's component;
    ``randomised`` the states where the optimal policy mixes actions; ``error`` the
    library's one-line reason for an infeasible setting.
    """

    limits: tuple[str, ...]
    value: float | None
    limit_values: tuple[float, ...]
    randomised: tuple[str, ...]
    error: str | None


def _limit_task(shared: tuple[MDP, Any], limits: tuple[Limit, ...]) -> LimitSetting:
    mdp, start = shared
    text = tuple(str(lim) for lim in limits)
    try:
        res = constrained_solve(mdp, limits, start=start)
    except InfeasibleError as exc:
        return LimitSetting(limits=text, value=None, limit_values=(), randomised=(), error=str(exc))
    return LimitSetting(limits=text, value=float(res.value), limit_values=tuple(float(c.value) for c in res.constraints),
                        randomised=tuple(res.randomised_states), error=None)


def constrain_grid(mdp: MDP, settings: Sequence[Sequence[Limit]], *, design: RewardDesign | None = None,
                   backend: str | Backend | None = None, start: Any = None) -> tuple[LimitSetting, ...]:
    """The constrained optimum of ``mdp`` (re-weighted by ``design``) under each setting of limits."""
    if not settings:
        raise ParameterError("limits: expected at least one setting")
    m = reweight(mdp, check_design(mdp, design)) if design is not None else mdp
    try:
        tasks = [tuple(s) for s in settings]
    except TypeError as exc:
        raise AccessRLError(f"limits: expected a list of limit lists ({exc})") from None
    return tuple(get_backend(backend).map(_limit_task, tasks, shared=(m, start)))


__all__ = ["MAX_GRID_POINTS", "GridPoint", "GridSweep", "LimitSetting", "audit_designs", "constrain_grid", "sweep_grid"]
