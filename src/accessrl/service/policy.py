r"""What the service plays in each state: the policy under guardrails and exploration.

For a decision state ``s`` with available pairs ``K(s)``, forbidden pairs ``F`` (the
spec's ``forbidden`` list) and never-explore pairs ``U`` (``never_explore``):

.. math::

    \pi_g(a|s) = \frac{\pi(a|s)\,[a \notin F]}{\sum_{b \in K(s) \setminus F} \pi(b|s)}, \qquad
    \mu(a|s) = (1-\varepsilon)\,\pi_g(a|s) + \varepsilon\,\frac{[a \in E(s)]}{|E(s)|}

with ``E(s) = K(s) \ F \ U`` the explorable actions (when ``E(s)`` is empty the
exploration mass stays on ``pi_g``; when the policy puts all its mass on forbidden
actions, ``pi_g`` is uniform over ``E(s)``, or over the allowed actions if none is
explorable: a guard's fallback never moves mass onto a never-explore action the policy
did not choose).  The served policy's ``mapping`` (what the service records as deployed,
and what ``promote`` scores as the incumbent) is ``pi_g``: the policy after guarding.  ``mu`` is what is sampled, and
``mu(a|s)`` is the propensity that is logged, so importance weights computed later from
the log are the true ones (Precup, Sutton & Singh 2000).  A forbidden action has
probability zero and is never returned.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from accessrl.errors import ModelError, ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.policies import pair_probabilities, policy_from_mapping, policy_mapping
from accessrl.model.spec import spec_from_mdp
from accessrl.planning.exact import policy_evaluation
from accessrl.simulation import pick_index


@dataclass(frozen=True)
class StateDecision:
    """Precomputed distribution of one decision state."""

    actions: tuple[str, ...]
    probabilities: tuple[float, ...]
    cumulative: tuple[float, ...]
    q_values: dict[str, float]
    allowed: tuple[str, ...]
    allowed_json: str = ""
    probabilities_json: str = ""
    q_json: str = ""

    def pick(self, u: float) -> int:
        """Index of the action drawn by the uniform number ``u`` (cumulative, declared order)."""
        return pick_index(self.cumulative, u)


@dataclass(frozen=True, eq=False)
class ServedPolicy:
    """A policy as served: guarded, with exploration, one :class:`StateDecision` per decision state."""

    policy_id: str
    version: str
    epsilon: float
    mapping: dict[str, dict[str, float]]
    decisions: dict[str, StateDecision]


def model_fingerprint(mdp: MDP) -> str:
    """A short hash of the model's spec (changes when any probability or reward changes)."""
    text = json.dumps(spec_from_mdp(mdp), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def serve_policy(mdp: MDP, probs: np.ndarray, policy_id: str, *, epsilon: float = 0.0) -> ServedPolicy:
    """Guard ``probs`` with the model's forbidden/never-explore flags and mix in exploration."""
    if not 0.0 <= epsilon <= 1.0:
        raise ParameterError(f"epsilon: expected a probability in [0, 1], got {epsilon!r}")
    p = pair_probabilities(mdp, probs)
    forbidden = mdp.forbidden if mdp.forbidden is not None else np.zeros(mdp.n_pairs, dtype=bool)
    unsafe = mdp.unsafe if mdp.unsafe is not None else np.zeros(mdp.n_pairs, dtype=bool)
    served = np.zeros(mdp.n_pairs)
    guarded = np.zeros(mdp.n_pairs)
    for s in mdp.decision_states:
        lo, hi = int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1])
        allowed = ~forbidden[lo:hi]
        if not allowed.any():
            raise ModelError(f"state {mdp.state_names[s]!r}: every action is forbidden; the service cannot decide there")
        explore = allowed & ~unsafe[lo:hi]
        base = np.where(allowed, p[lo:hi], 0.0)
        if base.sum() > 0:
            base = base / base.sum()
        else:
            fallback = explore if explore.any() else allowed
            base = fallback / fallback.sum()
        guarded[lo:hi] = base
        if explore.any() and epsilon > 0:
            base = (1.0 - epsilon) * base + epsilon * explore / explore.sum()
        served[lo:hi] = base
    q = policy_evaluation(mdp, served).q_values
    decisions: dict[str, StateDecision] = {}
    for s in mdp.decision_states:
        lo, hi = int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1])
        names = tuple(mdp.action_names[int(mdp.sa_action[k])] for k in range(lo, hi))
        probs_s = tuple(float(x) for x in served[lo:hi])
        decisions[mdp.state_names[s]] = StateDecision(
            actions=names,
            probabilities=probs_s,
            cumulative=tuple(float(x) for x in np.cumsum(probs_s)),
            q_values={n: float(q[k]) for n, k in zip(names, range(lo, hi), strict=False)},
            allowed=tuple(n for n, ok in zip(names, ~forbidden[lo:hi], strict=False) if ok),
        )
        d = decisions[mdp.state_names[s]]
        decisions[mdp.state_names[s]] = replace(
            d, allowed_json=json.dumps(d.allowed), probabilities_json=json.dumps(dict(zip(names, probs_s, strict=False))),
            q_json=json.dumps(d.q_values),
        )
    digest = hashlib.sha256()
    digest.update(model_fingerprint(mdp).encode())
    digest.update(np.ascontiguousarray(p).tobytes())
    digest.update(repr(float(epsilon)).encode())
    return ServedPolicy(
        policy_id=policy_id,
        version=digest.hexdigest()[:12],
        epsilon=float(epsilon),
        mapping=policy_mapping(mdp, guarded),
        decisions=decisions,
    )


def from_mapping(mdp: MDP, mapping: Any, policy_id: str, *, epsilon: float = 0.0) -> ServedPolicy:
    """Rebuild a served policy from its stored ``{state: {action: p}}`` mapping."""
    return serve_policy(mdp, policy_from_mapping(mdp, mapping, source=f"policy {policy_id}"), policy_id,
                        epsilon=epsilon)


__all__ = [
    "ServedPolicy",
    "StateDecision",
    "from_mapping",
    "model_fingerprint",
    "policy_mapping",
    "serve_policy",
]
