"""Policies as arrays, their conversion from and to names, and where episodes start (layer 0).

A *deterministic* policy is an integer array (S,) of global action indices (``-1`` for
terminal states).  A *stochastic* policy is a float array (L,) of probabilities over
the state-action pairs, summing to 1 within each decision state.  Every algorithm
normalises either form with :func:`pair_probabilities`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from accessrl._types import FloatArray, IntArray
from accessrl.errors import ParameterError, PolicyError
from accessrl.model.mdp import MDP, segment_sum


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
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:  # no float(): 10**400
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


def policy_mapping(mdp: MDP, policy: Any, *, compact: bool = False) -> dict[str, Any]:
    """``{state: {action: p}}`` of any policy (deterministic or pair probabilities), non-zero entries
    only: the form :func:`policy_from_mapping` reads back and a policy file holds.

    ``compact=True`` writes a state whose policy is deterministic as ``state: action``
    (the other form a policy file may use).

    >>> from accessrl.catalog import access_review
    >>> policy_mapping(access_review(), uniform_policy(access_review()))["evidence_ready"]
    {'auto_approve': 0.5, 'human_review': 0.5}
    >>> policy_mapping(access_review(), uniform_policy(access_review()), compact=True)["review_queue"]
    'approve_rotation'
    """
    probs = pair_probabilities(mdp, policy)
    out: dict[str, Any] = {}
    for s in mdp.decision_states:
        lo, hi = int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1])
        acts = {mdp.action_names[int(mdp.sa_action[k])]: float(probs[k]) for k in range(lo, hi) if probs[k] > 0}
        out[mdp.state_names[s]] = next(iter(acts)) if compact and len(acts) == 1 else acts
    return out


def default_start(mdp: MDP) -> int:
    """The state an episode starts in when nothing says otherwise.

    The model's own ``start`` when it has one; otherwise its first decision state in
    declared order (a spec's first state in ``transitions``, state 0 of an array model), and
    state 0 when every state is terminal.  Every sampler and every exact measure uses this
    one rule, so a simulated mean and an occupancy-measure rate describe the same requests.
    """
    if mdp.start is not None:
        return int(mdp.start)
    ds = mdp.decision_states
    return int(ds[0]) if ds.size else 0


def start_distribution(mdp: MDP, start: Any = None) -> FloatArray:
    """(S,) start probabilities from a state index or name, a distribution, or ``None``
    (:func:`default_start`).

    >>> from accessrl.catalog import access_review
    >>> start_distribution(access_review()).tolist()
    [1.0, 0.0, 0.0, 0.0]
    """
    dist = np.zeros(mdp.n_states)
    if start is None:
        dist[default_start(mdp)] = 1.0
        return dist
    if isinstance(start, str):
        dist[mdp.state_index(start)] = 1.0
        return dist
    if isinstance(start, (int, np.integer)) and not isinstance(start, bool):
        if not 0 <= int(start) < mdp.n_states:
            raise ParameterError(f"start: expected a state index in [0, {mdp.n_states}), got {start}")
        dist[int(start)] = 1.0
        return dist
    try:
        arr = np.asarray(start, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"start: expected a state or {mdp.n_states} probabilities summing to 1, "
                             f"got {type(start).__name__}") from None
    if arr.shape != (mdp.n_states,) or np.any(~np.isfinite(arr)) or np.any(arr < 0) or abs(arr.sum() - 1) > 1e-9:
        raise ParameterError(f"start: expected a state or {mdp.n_states} probabilities summing to 1")
    return arr


__all__ = [
    "default_start",
    "pair_probabilities",
    "pairs_of",
    "policy_from_mapping",
    "policy_mapping",
    "policy_names",
    "start_distribution",
    "uniform_policy",
]
