"""Policies as arrays, and their conversion from names (layer 0).

A *deterministic* policy is an integer array (S,) of global action indices (``-1`` for
terminal states).  A *stochastic* policy is a float array (L,) of probabilities over
the state-action pairs, summing to 1 within each decision state.  Every algorithm
normalises either form with :func:`pair_probabilities`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from accessrl.errors import PolicyError
from accessrl.model import MDP, segment_sum

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def pairs_of(mdp: MDP, policy: IntArray) -> IntArray:
    """The pair row chosen in each state by a deterministic policy (-1 for terminal)."""
    pol = np.asarray(policy, dtype=np.int64)
    if pol.shape != (mdp.n_states,):
        raise PolicyError(f"policy: expected {mdp.n_states} actions (one per state), got shape {pol.shape}")
    out = np.full(mdp.n_states, -1, dtype=np.int64)
    ds = mdp.decision_states
    # Compare against every pair of the state; pick the first matching row.
    match = mdp.sa_action == pol[mdp.sa_state]
    big = mdp.n_pairs
    first = np.minimum.reduceat(np.where(match, np.arange(big), big), mdp.sa_ptr[ds]) if ds.size else ds
    bad = ds[first >= big] if ds.size else ds
    if bad.size:
        s = int(bad[0])
        raise PolicyError(
            f"policy, state {mdp.state_names[s]!r}: action index {int(pol[s])} is not available there; "
            f"expected one of {[mdp.action_names[a] for a in mdp.actions_of(s)]}"
        )
    out[ds] = first
    return out


def pair_probabilities(mdp: MDP, policy: Any) -> FloatArray:
    """Normalise a policy (deterministic (S,) ints or stochastic (L,) floats) to (L,) floats."""
    arr = np.asarray(policy)
    if arr.dtype.kind in "iu":
        probs = np.zeros(mdp.n_pairs)
        rows = pairs_of(mdp, arr)
        probs[rows[rows >= 0]] = 1.0
        return probs
    probs = np.asarray(arr, dtype=np.float64)
    if probs.shape != (mdp.n_pairs,):
        raise PolicyError(f"policy: expected {mdp.n_pairs} pair probabilities, got shape {probs.shape}")
    if np.any(~np.isfinite(probs)) or np.any(probs < 0):
        raise PolicyError("policy: probabilities must be finite and non-negative")
    sums = segment_sum(probs, mdp.sa_ptr)[mdp.decision_states]
    bad = np.flatnonzero(np.abs(sums - 1.0) > 1e-9)
    if bad.size:
        s = int(mdp.decision_states[bad[0]])
        raise PolicyError(
            f"policy, state {mdp.state_names[s]!r}: probabilities sum to {sums[bad[0]]:.12g}, expected 1"
        )
    return probs


def uniform_policy(mdp: MDP) -> FloatArray:
    """Equal probability over each state's available actions."""
    n = mdp.n_actions_of[mdp.sa_state].astype(np.float64)
    return 1.0 / n


def policy_from_mapping(mdp: MDP, mapping: Any, *, source: str = "policy") -> FloatArray:
    """Pair probabilities from ``{state: action}`` or ``{state: {action: probability}}``.

    Every decision state must appear; unknown states or actions are errors.
    """
    if not isinstance(mapping, Mapping):
        raise PolicyError(f"{source}: expected a mapping of state -> action, got {type(mapping).__name__}")
    probs = np.zeros(mdp.n_pairs)
    for state, choice in mapping.items():
        if not isinstance(state, str) or state not in mdp._state_lookup:
            raise PolicyError(f"{source}, state {state!r}: unknown state; expected one of {list(mdp.state_names)}")
        s = mdp.state_index(state)
        if mdp.terminal[s]:
            raise PolicyError(f"{source}, state {state!r}: a terminal state takes no action")
        names = [mdp.action_names[a] for a in mdp.actions_of(s)]
        items: list[tuple[Any, Any]]
        if isinstance(choice, str):
            items = [(choice, 1.0)]
        elif isinstance(choice, Mapping):
            items = list(choice.items())
        else:
            raise PolicyError(
                f"{source}, state {state!r}: expected an action name or a mapping action -> probability, "
                f"got {type(choice).__name__}"
            )
        total = 0.0
        for action, p in items:
            if action not in names:
                raise PolicyError(f"{source}, state {state!r}: unknown action {action!r}; expected one of {names}")
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 1.0:
                raise PolicyError(
                    f"{source}, state {state!r}, action {action!r}: expected a probability in [0, 1], got {p!r}"
                )
            probs[mdp.pair_index(s, action)] += float(p)
            total += float(p)
        if abs(total - 1.0) > 1e-9:
            raise PolicyError(f"{source}, state {state!r}: probabilities sum to {total:.12g}, expected 1")
    missing = [mdp.state_names[s] for s in mdp.decision_states if probs[mdp.sa_ptr[s] : mdp.sa_ptr[s + 1]].sum() == 0]
    if missing:
        raise PolicyError(f"{source}: missing state {missing[0]!r}; every non-terminal state needs an action")
    return probs


def policy_names(mdp: MDP, policy: IntArray) -> dict[str, str]:
    """``{state: action}`` for the decision states of a deterministic policy."""
    return {mdp.state_names[s]: mdp.action_names[int(policy[s])] for s in mdp.decision_states}


def deterministic_or_none(mdp: MDP, probs: FloatArray) -> IntArray | None:
    """The (S,) action array if ``probs`` puts all mass on one action per state."""
    if not np.all((probs == 0.0) | (probs == 1.0)):
        return None
    pol = np.full(mdp.n_states, -1, dtype=np.int64)
    rows = np.flatnonzero(probs == 1.0)
    pol[mdp.sa_state[rows]] = mdp.sa_action[rows]
    return pol


__all__ = [
    "deterministic_or_none",
    "pair_probabilities",
    "pairs_of",
    "policy_from_mapping",
    "policy_names",
    "uniform_policy",
]
