r"""Reward designs over named components, and the audit of their optimal policies (layer 1).

**Components.**  An outcome of a spec may carry ``components: {name: number}`` instead
of, or besides, one ``reward`` (see :mod:`accessrl._spec`):

* ``reward`` only — the scalar reward is that number; the outcome has no components;
* ``components`` only — the scalar reward is :math:`\sum_c w_c x_c` with the spec's
  top-level ``weights`` (every component named on the outcome needs a weight);
* both — ``reward`` is the scalar reward and the components are recorded *beside* it,
  unweighted, for the audit and for re-weighting.

A component an outcome does not name is 0 there.  A *reward design*
(:class:`RewardDesign`) is a set of weights over the model's components, and optional
hard limits.  :func:`reweight` gives the model whose outcome rewards are
:math:`r' = \sum_c w_c x_c`; besides the components, a design may weigh the
pseudo-component ``reward`` — the model's own scalar reward — so
``{reward: 1, policy_violation: -100}`` adds a penalty to the existing reward.

**Measuring a policy exactly.**  For a policy :math:`\pi` and start distribution
:math:`\mu_0`, the expected (discounted) number of visits to each state solves

.. math:: d = \mu_0 + \beta P_\pi^\top d,\qquad x(s, a) = d(s)\,\pi(a \mid s),

the *occupancy measure* (Puterman 1994, §6.9; Altman 1999, ch. 3).  With
:math:`\beta = \gamma`, :math:`\sum x(s,a) r(s,a)` is the expected discounted return;
with :math:`\beta = 1` (a policy that ends with probability 1) :math:`x` counts
expected visits per request, so :math:`\sum x(s,a) \bar c(s,a)` is the expected total
of component :math:`c` per request — violations, severe outcomes, days, reviewer
minutes.  Both are one sparse linear solve.

**The audit** (:func:`audit`): for each design, solve for its optimal policy (exact
policy iteration via :func:`~accessrl.planning.solve`, or the constrained linear
program of :mod:`accessrl.constrained` when the design has limits), then measure that
policy under every component and every design.  A pair (state, action) is a *shortcut*
when one of its outcomes has a policy violation or is severe.  A design *wins for the
wrong reason* when its policy uses a shortcut while another design's policy reaches a
terminal state with probability 1 with no more violations and no more severe outcomes
per request, and fewer of one of them.  Severe and violating outcomes are listed one by
one with their rate per 1,000 requests (:attr:`PolicyAudit.rare_failures`) — never
averaged into the mean.

>>> from accessrl.deny_model import access_review_components, SPEED_ONLY
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
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import NDArray

from accessrl.errors import ModelError, SpecTypeError, SpecValueError
from accessrl.model import MDP, segment_sum
from accessrl.planning import policy_evaluation, solve
from accessrl.policies import pair_probabilities
from accessrl.structure import improper_states

FloatArray = NDArray[np.float64]

REWARD = "reward"
"""The pseudo-component naming a model's own scalar reward in a design."""

VIOLATION = "policy_violation"
DELAY = "delay_days"
LOAD = "reviewer_minutes"
RATE_TOL = 1e-9
"""Rates per request closer than this count as equal when comparing designs."""


# ------------------------------------------------------------------ designs
@dataclass(frozen=True)
class Limit:
    """A hard limit on a component's expected discounted total per request: ``component op bound``."""

    component: str
    op: str
    bound: float

    def __str__(self) -> str:
        return f"{self.component}{self.op}{self.bound:g}"


@dataclass(frozen=True)
class RewardDesign:
    """Weights over components (and optional hard limits) that define a scalar reward."""

    name: str
    weights: Mapping[str, float]
    limits: tuple[Limit, ...] = ()
    description: str = ""


def component_names(mdp: MDP) -> list[str]:
    """The components a design may weigh: the model's, then ``reward`` (its scalar reward)."""
    names = list(mdp.components)
    if REWARD not in names:
        names.append(REWARD)
    return names


def outcome_component(mdp: MDP, name: str) -> FloatArray:
    """Per-outcome values of one component (``reward``: the model's scalar reward)."""
    if name in mdp.components:
        return np.asarray(mdp.components[name], dtype=np.float64)
    if name == REWARD:
        return mdp.out_reward
    raise SpecValueError(f"{mdp.name}: unknown component {name!r}; expected one of {component_names(mdp)}")


def pair_component(mdp: MDP, name: str) -> FloatArray:
    """Expected value of one component per state-action pair: sum over outcomes of p * x (L,)."""
    return segment_sum(mdp.out_prob * outcome_component(mdp, name), mdp.out_ptr)


def _number(x: Any, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        kind = f"the string {x!r}" if isinstance(x, str) else type(x).__name__
        raise SpecTypeError(f"{where}: expected a number, got {kind}")
    v = float(x)
    if not math.isfinite(v):
        raise SpecValueError(f"{where}: expected a finite number, got {x!r}")
    return v


def check_design(mdp: MDP, design: RewardDesign, *, source: str = "design") -> RewardDesign:
    """Validate a design against a model: known components, finite numeric weights and limits."""
    where = f"{source}, design {design.name!r}"
    known = component_names(mdp)
    weights: dict[str, float] = {}
    for c, w in design.weights.items():
        if c not in known:
            raise SpecValueError(f"{where}, weights, component {c!r}: unknown component; expected one of {known}")
        weights[c] = _number(w, f"{where}, weights, component {c!r}")
    for lim in design.limits:
        if lim.component not in known:
            raise SpecValueError(
                f"{where}, limit {lim.component!r}: unknown component; expected one of {known}"
            )
        if lim.op not in ("<=", ">="):
            raise SpecValueError(f"{where}, limit {lim.component!r}: expected '<=' or '>=', got {lim.op!r}")
        _number(lim.bound, f"{where}, limit {lim.component!r}")
    return replace(design, weights=weights)


def spec_design(mdp: MDP, name: str = "spec") -> RewardDesign:
    """The design a model was compiled with: its spec's ``weights`` (or ``{reward: 1}`` if none)."""
    weights = dict(mdp.weights) if mdp.weights else {REWARD: 1.0}
    weights = {c: w for c, w in weights.items() if c in component_names(mdp)}
    return RewardDesign(name, weights, description="the spec's own reward")


def reweight(mdp: MDP, design: RewardDesign | Mapping[str, float]) -> MDP:
    r"""The model with outcome rewards :math:`r' = \sum_c w_c x_c` under ``design``.

    ``design`` may be a :class:`RewardDesign` or a plain mapping of weights.

    >>> from accessrl.deny_model import access_review_components
    >>> reweight(access_review_components(), {"delay_days": -1}).out_reward.tolist()
    [0.0, -2.0, -3.0, -3.0, 0.0, -2.0, -5.0]
    """
    d = design if isinstance(design, RewardDesign) else RewardDesign("weights", dict(design))
    d = check_design(mdp, d)
    reward = np.zeros(mdp.n_outcomes)
    for c, w in d.weights.items():
        reward = reward + w * outcome_component(mdp, c)
    # Keep the original scalar reward reachable as the component "reward", so limits and later
    # re-weightings of the new model still mean the spec's own reward.
    comps = dict(mdp.components)
    comps.setdefault(REWARD, mdp.out_reward)
    return replace(mdp, out_reward=reward, components=comps,
                   weights={c: w for c, w in d.weights.items() if c != REWARD})


# ------------------------------------------------------------- occupancy
def start_distribution(mdp: MDP, start: int | str | None = None) -> FloatArray:
    """mu0: all mass on ``start`` (or the model's start state); uniform over decision states otherwise."""
    mu = np.zeros(mdp.n_states)
    s = mdp.start if start is None else (mdp.state_index(start) if isinstance(start, str) else int(start))
    if s is None:
        mu[mdp.decision_states] = 1.0 / max(1, mdp.decision_states.size)
    else:
        mu[s] = 1.0
    return mu


def state_visits(mdp: MDP, policy: Any, mu0: FloatArray, discount: float) -> FloatArray:
    r"""Expected (discounted) visits d (S,) solving :math:`(I - \beta P_\pi^\top) d = \mu_0`.

    Terminal states are absorbing and get 0.  With ``discount`` = 1 every state with
    start mass must reach a terminal state with probability 1 under the policy
    (:class:`~accessrl.errors.ModelError` otherwise).
    """
    probs = pair_probabilities(mdp, policy)
    n = mdp.n_states
    live = ~mdp.terminal
    if discount >= 1.0:
        bad = improper_states(mdp, probs)
        live[bad] = False
        if np.any(mu0[bad] > 0):
            raise ModelError(
                f"{mdp.name}: the policy may never end from state {mdp.state_names[int(bad[np.argmax(mu0[bad] > 0)])]!r}; "
                "expected visits per request are infinite"
            )
    idx = np.flatnonzero(live)
    pick = sp.csr_matrix((probs, (mdp.sa_state, np.arange(mdp.n_pairs))), shape=(n, mdp.n_pairs))
    p_pi = (pick @ mdp.transition_matrix).tocsr()[idx][:, idx]
    a = (sp.identity(idx.size, format="csc") - discount * p_pi.T).tocsc()
    d = np.zeros(n)
    if idx.size:
        d[idx] = np.asarray(spla.spsolve(a, mu0[idx]), dtype=np.float64).reshape(idx.size)
    return d


def occupancy(mdp: MDP, policy: Any, mu0: FloatArray | None = None, *, discount: float | None = None) -> FloatArray:
    r"""The occupancy measure :math:`x(s, a) = d(s)\,\pi(a \mid s)` per pair (L,).

    ``discount`` defaults to the model's gamma (so ``x @ r`` is the expected discounted
    return from ``mu0``); ``discount=1`` gives expected visits per request.

    >>> from accessrl.catalog import access_review_abandonment
    >>> mdp = access_review_abandonment()
    >>> from accessrl.planning import solve
    >>> pol = solve(mdp).policy
    >>> float(occupancy(mdp, pol) @ mdp.expected_reward)
    54.0
    """
    probs = pair_probabilities(mdp, policy)
    mu = start_distribution(mdp) if mu0 is None else np.asarray(mu0, dtype=np.float64)
    beta = mdp.gamma if discount is None else float(discount)
    d = state_visits(mdp, probs, mu, beta)
    out: FloatArray = d[mdp.sa_state] * probs
    return out


# ------------------------------------------------------------------ audit
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
        raise KeyError(name)


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
        from accessrl.constrained import constrained_solve

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
    mdp: MDP, probs: Any, n_episodes: int, *, rng: np.random.Generator, start: Any = None,
    violation: str = VIOLATION, max_steps: int = 10_000,
) -> SimulatedRates:
    r"""Policy violations and severe outcomes per 1,000 requests by simulation, with 95% intervals.

    Counts, per episode, the outcomes with ``violation`` > 0 and the severe outcomes
    (:func:`accessrl.simulation.simulate`); the interval is
    :math:`\pm 1.96\, s / \sqrt{n}` on the per-request mean: a cross-check of the exact
    occupancy figures by a second route (episodes cut at ``max_steps`` count as ``truncated``).
    """
    from accessrl.simulation import simulate

    sim = simulate(mdp, probs, n_episodes, rng=rng, start=start, max_steps=max_steps, record=True)
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
    if not designs:
        raise SpecValueError("designs: expected at least one design")
    names = [d.name for d in designs]
    dup = [n for i, n in enumerate(names) if n in names[:i]]
    if dup:
        raise SpecValueError(f"designs: duplicate design name {dup[0]!r}")
    checked = tuple(check_design(mdp, d) for d in designs)
    mu0 = start_distribution(mdp, start)
    s0 = int(np.argmax(mu0))
    shortcut = shortcut_pairs(mdp, violation)
    reports: list[PolicyAudit] = []
    for d in checked:
        probs, q = _optimal(mdp, d, mu0)
        returns, totals, basis, severe_rate, terminates, failures = measure_policy(
            mdp, probs, checked, mu0, violation=violation)
        lo, hi = int(mdp.sa_ptr[s0]), int(mdp.sa_ptr[s0 + 1])
        start_q = {mdp.action_names[int(mdp.sa_action[k])]: float(q[k]) for k in range(lo, hi)}
        start_action = mdp.action_names[int(mdp.sa_action[lo + int(np.argmax(probs[lo:hi]))])] if hi > lo else ""
        used = occupancy(mdp, probs, mu0) > 0
        reports.append(PolicyAudit(
            design=d.name, policy=probs, start_action=start_action, start_q=start_q, returns=returns,
            totals=totals, basis=basis,
            violations_per_1000=1000.0 * totals.get(violation, 0.0),
            severe_per_1000=1000.0 * severe_rate,
            mean_delay=totals.get(delay, float("nan")), reviewer_load=totals.get(load, float("nan")),
            terminates=terminates,
            shortcuts=tuple(_pair_label(mdp, int(k)) for k in np.flatnonzero(shortcut & used)),
            rare_failures=failures, constrained=bool(d.limits),
            simulated=simulate_rates(mdp, probs, episodes, rng=rng, start=s0, violation=violation)
            if episodes and rng is not None else None,
        ))
    return Audit(model=mdp.name, designs=checked, reports=tuple(_flag(mdp, reports)), start=mdp.state_names[s0])


def _flag(mdp: MDP, reports: list[PolicyAudit]) -> list[PolicyAudit]:
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


# ------------------------------------------------------------ from mappings
def _limit_from_text(text: Any, where: str) -> Limit:
    if not isinstance(text, str):
        raise SpecTypeError(f"{where}: expected 'COMPONENT<=BOUND' or 'COMPONENT>=BOUND', got {type(text).__name__}")
    for op in ("<=", ">="):
        if op in text:
            comp, _, bound = text.partition(op)
            try:
                value = float(bound)
            except ValueError:
                raise SpecTypeError(f"{where}, limit {text!r}: expected a number after {op}, got {bound.strip()!r}") from None
            if not math.isfinite(value):
                raise SpecValueError(f"{where}, limit {text!r}: expected a finite bound")
            return Limit(comp.strip(), op, value)
    raise SpecValueError(f"{where}, limit {text!r}: expected 'COMPONENT<=BOUND' or 'COMPONENT>=BOUND'")


def parse_limit(text: str, *, where: str = "limit") -> Limit:
    """``"policy_violation<=0"`` -> :class:`Limit`.

    >>> parse_limit("reviewer_minutes <= 12.5")
    Limit(component='reviewer_minutes', op='<=', bound=12.5)
    """
    return _limit_from_text(text, where)


def designs_from_mapping(data: Any, *, source: str = "designs") -> list[RewardDesign]:
    """Designs from the parsed YAML/JSON form::

        designs:
          speed_only:
            description: closes fast          (optional)
            weights: {resolved: 100, delay_days: -10}
            limits: ["policy_violation<=0"]   (optional)
    """
    if not isinstance(data, Mapping) or "designs" not in data:
        raise SpecTypeError(f"{source}: expected a mapping with a 'designs' field")
    extra = sorted(set(map(str, data)) - {"designs"})
    if extra:
        raise SpecValueError(f"{source}, field {extra[0]!r}: unknown field; expected 'designs'")
    body = data["designs"]
    if not isinstance(body, Mapping) or not body:
        raise SpecTypeError(f"{source}, field 'designs': expected a mapping of design name -> design")
    out = []
    for name, spec in body.items():
        where = f"{source}, design {name!r}"
        if not isinstance(spec, Mapping):
            raise SpecTypeError(f"{where}: expected a mapping with weights")
        bad = sorted(set(map(str, spec)) - {"weights", "limits", "description"})
        if bad:
            raise SpecValueError(f"{where}, field {bad[0]!r}: unknown field; expected weights, limits, description")
        weights = spec.get("weights")
        if not isinstance(weights, Mapping) or not weights:
            raise SpecTypeError(f"{where}, field 'weights': expected a mapping of component -> number")
        w = {str(c): _number(v, f"{where}, weights, component {c!r}") for c, v in weights.items()}
        limits_raw = spec.get("limits", [])
        if not isinstance(limits_raw, list):
            raise SpecTypeError(f"{where}, field 'limits': expected a list of 'COMPONENT<=BOUND'")
        limits = tuple(_limit_from_text(t, where) for t in limits_raw)
        desc = spec.get("description", "")
        out.append(RewardDesign(str(name), w, limits, str(desc)))
    return out


__all__ = [
    "Audit",
    "Failure",
    "Limit",
    "PolicyAudit",
    "REWARD",
    "RewardDesign",
    "SimulatedRates",
    "audit",
    "check_design",
    "component_names",
    "designs_from_mapping",
    "measure_policy",
    "occupancy",
    "outcome_component",
    "pair_component",
    "parse_limit",
    "reweight",
    "shortcut_pairs",
    "simulate_rates",
    "spec_design",
    "start_distribution",
    "state_visits",
]
