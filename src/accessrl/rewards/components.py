r"""Reward designs over named components, and exact measures of a policy (layer 1).

**Components.**  An outcome of a spec may carry ``components: {name: number}`` instead
of, or besides, one ``reward`` (see :mod:`accessrl.model.spec`):

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

>>> from accessrl.catalog import access_review_components
>>> component_names(access_review_components())[:3]
['user_outcome', 'policy_violation', 'abuse_risk']
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from accessrl._types import FloatArray
from accessrl.errors import ModelError, SpecTypeError, SpecValueError
from accessrl.model.checks import number
from accessrl.model.mdp import MDP, segment_sum
from accessrl.model.policies import pair_probabilities, start_distribution
from accessrl.planning.structure import improper_states

REWARD = "reward"
"""The pseudo-component naming a model's own scalar reward in a design."""

VIOLATION = "policy_violation"
DELAY = "delay_days"
LOAD = "reviewer_minutes"
RATE_TOL = 1e-9
"""Rates per request closer than this count as equal when comparing designs."""


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


def check_design(mdp: MDP, design: RewardDesign, *, source: str = "design") -> RewardDesign:
    """Validate a design against a model: known components, finite numeric weights and limits."""
    where = f"{source}, design {design.name!r}"
    known = component_names(mdp)
    weights: dict[str, float] = {}
    for c, w in design.weights.items():
        if c not in known:
            raise SpecValueError(f"{where}, weights, component {c!r}: unknown component; expected one of {known}")
        weights[c] = number(w, f"{where}, weights, component {c!r}")
    for lim in design.limits:
        if lim.component not in known:
            raise SpecValueError(
                f"{where}, limit {lim.component!r}: unknown component; expected one of {known}"
            )
        if lim.op not in ("<=", ">="):
            raise SpecValueError(f"{where}, limit {lim.component!r}: expected '<=' or '>=', got {lim.op!r}")
        number(lim.bound, f"{where}, limit {lim.component!r}")
    return replace(design, weights=weights)


def spec_design(mdp: MDP, name: str = "spec") -> RewardDesign:
    """The design a model was compiled with: its spec's ``weights`` (or ``{reward: 1}`` if none)."""
    weights = dict(mdp.weights) if mdp.weights else {REWARD: 1.0}
    weights = {c: w for c, w in weights.items() if c in component_names(mdp)}
    return RewardDesign(name, weights, description="the spec's own reward")


def reweight(mdp: MDP, design: RewardDesign | Mapping[str, float]) -> MDP:
    r"""The model with outcome rewards :math:`r' = \sum_c w_c x_c` under ``design``.

    ``design`` may be a :class:`RewardDesign` or a plain mapping of weights.

    >>> from accessrl.catalog import access_review_components
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
        w = {str(c): number(v, f"{where}, weights, component {c!r}") for c, v in weights.items()}
        limits_raw = spec.get("limits", [])
        if not isinstance(limits_raw, list):
            raise SpecTypeError(f"{where}, field 'limits': expected a list of 'COMPONENT<=BOUND'")
        limits = tuple(_limit_from_text(t, where) for t in limits_raw)
        desc = spec.get("description", "")
        out.append(RewardDesign(str(name), w, limits, str(desc)))
    return out


__all__ = [
    "DELAY",
    "LOAD",
    "RATE_TOL",
    "REWARD",
    "VIOLATION",
    "Limit",
    "RewardDesign",
    "check_design",
    "component_names",
    "designs_from_mapping",
    "occupancy",
    "outcome_component",
    "pair_component",
    "parse_limit",
    "reweight",
    "spec_design",
    "state_visits",
]
