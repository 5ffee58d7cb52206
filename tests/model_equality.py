"""One definition of "the same model", for round-trip tests (spec, .npz).

Two models are equal when every CSR array holds the same values, the names, gamma,
start and name agree, the weights and the components (names, order and values) agree,
and the optional per-outcome and per-pair annotations agree.  An absent annotation
equals an all-false (``severe``, ``forbidden``, ``unsafe``) or all-empty (``events``)
one, as :func:`~accessrl.model.spec.compile_spec` itself drops flags that are all off.
"""

from __future__ import annotations

import numpy as np

from accessrl.model.mdp import MDP

ARRAYS = ("terminal", "sa_ptr", "sa_action", "out_ptr", "out_next", "out_prob", "out_reward")


def _flags(x: object, n: int) -> np.ndarray:
    return np.zeros(n, dtype=bool) if x is None else np.asarray(x, dtype=bool)


def model_differences(a: MDP, b: MDP) -> list[str]:
    """What differs between two models (empty when they are equal)."""
    diffs: list[str] = []
    for k in ARRAYS:
        x, y = np.asarray(getattr(a, k)), np.asarray(getattr(b, k))
        if x.shape != y.shape or not np.array_equal(x, y):
            diffs.append(k)
    for k in ("name", "gamma", "start"):
        if getattr(a, k) != getattr(b, k):
            diffs.append(f"{k}: {getattr(a, k)!r} != {getattr(b, k)!r}")
    if tuple(a.state_names) != tuple(b.state_names):
        diffs.append("state_names")
    if tuple(a.action_names) != tuple(b.action_names):
        diffs.append("action_names")
    if dict(a.weights) != dict(b.weights):
        diffs.append(f"weights: {dict(a.weights)} != {dict(b.weights)}")
    if list(a.components) != list(b.components):
        diffs.append(f"components: {list(a.components)} != {list(b.components)}")
    else:
        diffs += [f"components[{c!r}]" for c in a.components
                  if not np.array_equal(np.asarray(a.components[c]), np.asarray(b.components[c]))]
    n, pairs = a.n_outcomes, a.n_pairs
    if a.n_outcomes == b.n_outcomes:
        if not np.array_equal(_flags(a.severe, n), _flags(b.severe, n)):
            diffs.append("severe")
        ev_a = ("",) * n if a.events is None else tuple(a.events)
        ev_b = ("",) * n if b.events is None else tuple(b.events)
        if ev_a != ev_b:
            diffs.append("events")
    if a.n_pairs == b.n_pairs:
        for k in ("forbidden", "unsafe"):
            if not np.array_equal(_flags(getattr(a, k), pairs), _flags(getattr(b, k), pairs)):
                diffs.append(k)
    return diffs


def assert_same_model(a: MDP, b: MDP) -> None:
    """Fail with the list of differences unless ``a`` and ``b`` are the same model."""
    diffs = model_differences(a, b)
    assert not diffs, f"models {a.name!r} and {b.name!r} differ in: {', '.join(diffs)}"
