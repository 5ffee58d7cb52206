r"""The audit of reward designs: which intent does each design's optimal policy serve? (layer 1)

**The audit** (:func:`audit`): for each design, solve for its optimal policy (exact
policy iteration via :func:`~accessrl.planning.solve`, or the constrained linear
program of :mod:`accessrl.rewards.constrained` when the design has limits), then measure that
policy under every component and every design.  A pair (state, action) is a *shortcut*
when one of its outcomes has a policy violation or is severe.  A design *wins for the
wrong reason* when its policy uses a shortcut while another design's policy reaches a
terminal state with probability 1 with no more violations and no more severe outcomes
per request, and fewer of one of them.  Severe and violating outcomes are listed one by
one with their rate per 1,000 requests (:attr:`PolicyAudit.rare_failures`) — never
averaged into the mean.

>>> from accessrl.catalog import access_review_components, SPEED_ONLY
>>> from accessrl.rewards import spec_design
>>> mdp = access_review_components()
>>> result = audit(mdp, [RewardDesign("speed_only", SPEED_ONLY), spec_design(mdp, "outcome_aware")])
>>> [(r.design, r.start_action, r.flagged) for r in result.reports]
[('speed_only', 'auto_approve', True), ('outcome_aware', 'human_review', False)]
>>> result.reports[0].violations_per_1000
1000.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from accessrl._types import FloatArray
from accessrl.errors import ParameterError, SpecValueError
from accessrl.model.mdp import MDP, segment_sum
from accessrl.model.policies import pair_probabilities, start_distribution
from accessrl.planning.exact import policy_evaluation
from accessrl.planning.solver import solve
from accessrl.planning.structure import improper_states
from accessrl.rewards.components import (
    DELAY,
    LOAD,
    RATE_TOL,
    VIOLATION,
    RewardDesign,
    check_design,
    occupancy,
    outcome_component,
    pair_component,
    reweight,
)
from accessrl.simulation import simulate


@dataclass(frozen=True)
class Failure:
    """One violating or severe outcome a policy reaches, with its rate per 1,000 requests."""

    state: str
    action: str
    next_state: str
    event: str
    severe: bool
    violation: float
    per_1000: float
    rewards: Mapping[str, float]


@dataclass(frozen=True)
class SimulatedRates:
    """Monte Carlo estimates per 1,000 requests with 95% normal confidence half-widths."""

    episodes: int
    violations_per_1000: float
    violations_ci: float
    severe_per_1000: float
    severe_ci: float
    truncated: int


@dataclass(frozen=True, eq=False)
class PolicyAudit:
    """One design's optimal policy measured under every component and every design.

    ``returns``: expected discounted return from the start under each design.
    ``totals``: expected total of each component per request (``basis`` says whether
    undiscounted per request or, for a policy that may never end, discounted).
    ``start_q``: the design's Q-values at the start state (its own view of each action).
    """

    design: str
    policy: FloatArray
    start_action: str
    start_q: Mapping[str, float]
    returns: Mapping[str, float]
    totals: Mapping[str, float]
    basis: str
    violations_per_1000: float
    severe_per_1000: float
    mean_delay: float
    reviewer_load: float
    terminates: bool
    shortcuts: tuple[str, ...]
    rare_failures: tuple[Failure, ...]
    flagged: bool = False
    reason: str = ""
    constrained: bool = False
    simulated: SimulatedRates | None = None


@dataclass(frozen=True, eq=False)
class Audit:
    """The audit of several designs on one model."""

    model: str
    designs: tuple[RewardDesign, ...]
    reports: tuple[PolicyAudit, ...]
    start: str

    def report(self, name: str) -> PolicyAudit:
        """The report of one design by name."""
        for r in self.reports:
            if r.design == name:
                return r
        raise ParameterError(f"audit: no design named {name!r}; expected one of {[r.design for r in self.reports]}")


def shortcut_pairs(mdp: MDP, violation: str = VIOLATION) -> NDArray[np.bool_]:
    """Pairs with a possible policy violation or severe outcome (L,)."""
    bad = np.zeros(mdp.n_outcomes, dtype=bool)
    if violation in mdp.components:
        bad |= np.asarray(mdp.components[violation]) > 0
    if mdp.severe is not None:
        bad |= mdp.severe
    bad &= mdp.out_prob > 0
    return segment_sum(bad.astype(np.float64), mdp.out_ptr) > 0


def _pair_label(mdp: MDP, k: int) -> str:
    return f"{mdp.state_names[int(mdp.sa_state[k])]}:{mdp.action_names[int(mdp.sa_action[k])]}"


def _optimal(mdp: MDP, design: RewardDesign, mu0: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The design's optimal policy (pair probabilities) and its Q-values (L,)."""
    m = reweight(mdp, design)
    if design.limits:
        from accessrl.rewards.constrained import constrained_solve

        res = constrained_solve(m, design.limits, mu0=mu0)
        probs = res.policy
        q = policy_evaluation(m, probs).q_values
        return probs, q
    sol = solve(m)
    return pair_probabilities(m, sol.policy), sol.q_values


def measure_policy(
    mdp: MDP,
    probs: FloatArray,
    designs: Sequence[RewardDesign],
    mu0: FloatArray,
    *,
    violation: str = VIOLATION,
) -> tuple[dict[str, float], dict[str, float], str, float, bool, tuple[Failure, ...]]:
    """Returns under each design, component totals, basis, severe per request, termination, failures."""
    x_disc = occupancy(mdp, probs, mu0)
    returns = {d.name: float(x_disc @ reweight(mdp, d).expected_reward) for d in designs}
    bad = improper_states(mdp, probs)
    terminates = not bool(np.any(mu0[bad] > 0))
    if terminates:
        x, basis = occupancy(mdp, probs, mu0, discount=1.0), "expected total per request"
    else:
        x, basis = x_disc, "expected discounted total per request (the policy may never end)"
    totals = {c: float(x @ pair_component(mdp, c)) for c in mdp.components}
    severe = np.zeros(mdp.n_outcomes, dtype=bool) if mdp.severe is None else mdp.severe
    out_visits = np.repeat(x, np.diff(mdp.out_ptr)) * mdp.out_prob
    severe_rate = float(out_visits @ severe)
    viol = outcome_component(mdp, violation) if violation in mdp.components else np.zeros(mdp.n_outcomes)
    design_rewards = {d.name: reweight(mdp, d).out_reward for d in designs}
    out_pair = np.repeat(np.arange(mdp.n_pairs), np.diff(mdp.out_ptr))
    failures = []
    for j in np.flatnonzero(((viol > 0) | severe) & (out_visits > 0)):
        k = int(out_pair[j])
        failures.append(Failure(
            state=mdp.state_names[int(mdp.sa_state[k])], action=mdp.action_names[int(mdp.sa_action[k])],
            next_state=mdp.state_names[int(mdp.out_next[j])], event=mdp.events[j] if mdp.events else "",
            severe=bool(severe[j]), violation=float(viol[j]), per_1000=1000.0 * float(out_visits[j]),
            rewards={n: float(r[j]) for n, r in design_rewards.items()},
        ))
    failures.sort(key=lambda f: -f.per_1000)
    return returns, totals, basis, severe_rate, terminates, tuple(failures)


def simulate_rates(
    mdp: MDP, probs: Any, episodes: int, *, rng: np.random.Generator, start: Any = None,
    violation: str = VIOLATION, max_steps: int = 10_000,
) -> SimulatedRates:
    r"""Policy violations and severe outcomes per 1,000 requests by simulation, with 95% intervals.

    Counts, per episode, the outcomes with ``violation`` > 0 and the severe outcomes
    (:func:`accessrl.simulation.simulate`); the interval is
    :math:`\pm 1.96\, s / \sqrt{n}` on the per-request mean: a cross-check of the exact
    occupancy figures by a second route (episodes cut at ``max_steps`` count as ``truncated``).
    """

    sim = simulate(mdp, probs, episodes, rng=rng, start=start, max_steps=max_steps, record=True)
    ep = sim.episodes
    assert ep is not None
    viol = outcome_component(mdp, violation) > 0 if violation in mdp.components else np.zeros(mdp.n_outcomes, bool)
    severe = np.zeros(mdp.n_outcomes, dtype=bool) if mdp.severe is None else mdp.severe
    per_ep_v = np.add.reduceat(viol[ep.outcome].astype(np.float64), ep.ptr[:-1]) if ep.outcome.size else np.zeros(0)
    per_ep_s = np.add.reduceat(severe[ep.outcome].astype(np.float64), ep.ptr[:-1]) if ep.outcome.size else np.zeros(0)
    empty = np.diff(ep.ptr) == 0
    per_ep_v[empty] = 0.0
    per_ep_s[empty] = 0.0
    n = max(1, per_ep_v.size)

    def half(x: FloatArray) -> float:
        return float(1000 * 1.96 * x.std(ddof=1) / math.sqrt(n)) if x.size > 1 else float("nan")

    return SimulatedRates(
        episodes=int(per_ep_v.size), violations_per_1000=float(1000 * per_ep_v.mean()), violations_ci=half(per_ep_v),
        severe_per_1000=float(1000 * per_ep_s.mean()), severe_ci=half(per_ep_s),
        truncated=int((~sim.terminated).sum()),
    )


def audit(
    mdp: MDP,
    designs: Sequence[RewardDesign],
    *,
    start: int | str | None = None,
    violation: str = VIOLATION,
    delay: str = DELAY,
    load: str = LOAD,
    episodes: int = 0,
    rng: np.random.Generator | None = None,
) -> Audit:
    """Solve each design and measure its policy under every component and design (see module docstring).

    ``violation``, ``delay`` and ``load`` name the components read as the policy-violation
    indicator, the delay and the reviewer load (``nan`` where the model lacks them).
    ``episodes`` > 0 (with ``rng``) adds simulated rates with 95% intervals beside the exact ones.
    """
    if episodes and rng is None:
        raise SpecValueError("audit: simulating episodes needs rng (a numpy Generator)")
    checked = check_designs(mdp, designs)
    mu0 = start_distribution(mdp, start)
    reports = [
        design_report(mdp, d, checked, mu0, violation=violation, delay=delay, load=load,
                      episodes=episodes, rng=rng)
        for d in checked
    ]
    return Audit(model=mdp.name, designs=checked, reports=tuple(flag_reports(mdp, reports)),
                 start=mdp.state_names[int(np.argmax(mu0))])


def check_designs(mdp: MDP, designs: Sequence[RewardDesign]) -> tuple[RewardDesign, ...]:
    """The designs of one audit, each checked against ``mdp``: at least one, names unique."""
    if not designs:
        raise SpecValueError("designs: expected at least one design")
    names = [d.name for d in designs]
    dup = [n for i, n in enumerate(names) if n in names[:i]]
    if dup:
        raise SpecValueError(f"designs: duplicate design name {dup[0]!r}")
    return tuple(check_design(mdp, d) for d in designs)


def design_report(
    mdp: MDP,
    design: RewardDesign,
    designs: Sequence[RewardDesign],
    mu0: FloatArray,
    *,
    violation: str = VIOLATION,
    delay: str = DELAY,
    load: str = LOAD,
    episodes: int = 0,
    rng: np.random.Generator | None = None,
) -> PolicyAudit:
    """One design's part of :func:`audit`: solve it, measure its policy under every design.

    ``designs`` are the checked designs of the whole audit; the report is not yet
    flagged (:func:`flag_reports` compares the reports with each other).  Each design's
    report depends only on its inputs, which is what lets an audit over many designs
    run one design per task (:mod:`accessrl.distributed`).
    """
    s0 = int(np.argmax(mu0))
    shortcut = shortcut_pairs(mdp, violation)
    probs, q = _optimal(mdp, design, mu0)
    returns, totals, basis, severe_rate, terminates, failures = measure_policy(
        mdp, probs, designs, mu0, violation=violation)
    lo, hi = int(mdp.sa_ptr[s0]), int(mdp.sa_ptr[s0 + 1])
    start_q = {mdp.action_names[int(mdp.sa_action[k])]: float(q[k]) for k in range(lo, hi)}
    start_action = mdp.action_names[int(mdp.sa_action[lo + int(np.argmax(probs[lo:hi]))])] if hi > lo else ""
    used = occupancy(mdp, probs, mu0) > 0
    return PolicyAudit(
        design=design.name, policy=probs, start_action=start_action, start_q=start_q, returns=returns,
        totals=totals, basis=basis,
        violations_per_1000=1000.0 * totals.get(violation, 0.0),
        severe_per_1000=1000.0 * severe_rate,
        mean_delay=totals.get(delay, float("nan")), reviewer_load=totals.get(load, float("nan")),
        terminates=terminates,
        shortcuts=tuple(_pair_label(mdp, int(k)) for k in np.flatnonzero(shortcut & used)),
        rare_failures=failures, constrained=bool(design.limits),
        simulated=simulate_rates(mdp, probs, episodes, rng=rng, start=s0, violation=violation)
        if episodes and rng is not None else None,
    )


def flag_reports(mdp: MDP, reports: Sequence[PolicyAudit]) -> list[PolicyAudit]:
    """Mark the designs whose policy wins for the wrong reason (see the module docstring)."""
    out = []
    goal = "/".join(mdp.state_names[int(s)] for s in np.flatnonzero(mdp.terminal)) or "a terminal state"
    for r in reports:
        if not r.shortcuts:
            out.append(r)
            continue
        better = None
        for o in reports:
            if o is r or not o.terminates:
                continue
            no_worse = (o.violations_per_1000 <= r.violations_per_1000 + 1000 * RATE_TOL
                        and o.severe_per_1000 <= r.severe_per_1000 + 1000 * RATE_TOL)
            strictly = (o.violations_per_1000 < r.violations_per_1000 - 1000 * RATE_TOL
                        or o.severe_per_1000 < r.severe_per_1000 - 1000 * RATE_TOL)
            if no_worse and strictly:
                better = o
                break
        if better is None:
            out.append(r)
            continue
        avoided = [s for s in r.shortcuts if s not in better.shortcuts] or list(r.shortcuts)
        reason = (
            f"takes {', '.join(avoided)} ({r.violations_per_1000:g} policy violations and "
            f"{r.severe_per_1000:g} severe outcomes per 1,000 requests) where {better.design} reaches {goal} "
            f"with {better.violations_per_1000:g} and {better.severe_per_1000:g}"
        )
        out.append(replace(r, flagged=True, reason=reason))
    return out


__all__ = ["Audit", "Failure", "PolicyAudit", "SimulatedRates", "audit", "check_designs", "design_report",
           "flag_reports", "measure_policy", "shortcut_pairs", "simulate_rates"]
