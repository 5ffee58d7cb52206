"""Summaries of a per-state result that is too big to read row by row (layer 0).

:func:`summarise_policy` condenses a deterministic policy and its values into a frozen
:class:`PolicySummary`: how many states choose each action, the range of the values, the
share of state-action pairs visited (for a learned result), and, when the state names are
factored (``tier|review|evidence|...``, as the generated workflows name them), the
policy within each level of each factor.  A million-state result becomes a dozen lines.

>>> from accessrl.catalog import access_review
>>> from accessrl.planning.exact import policy_iteration
>>> mdp = access_review()
>>> res = policy_iteration(mdp)
>>> s = summarise_policy(mdp, res.policy, res.values)
>>> sorted((a.action, a.states) for a in s.by_action)
[('approve_rotation', 1), ('auto_approve', 1), ('request_evidence', 1)]
>>> s.value_min, s.value_max
(0.0, 80.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

FACTOR_SEPARATOR = "|"
"""The separator of factor levels in a factored state name."""

NAMED_FACTORS_LIMIT = 200_000
"""Up to this many states, factors are read from the names themselves (one split per name);
beyond it only names that carry their radix (the generated workflows') are decoded, in NumPy."""


@dataclass(frozen=True)
class ActionShare:
    """How many decision states (of those summarised) choose ``action``, and their share."""

    action: str
    states: int
    share: float


@dataclass(frozen=True)
class FactorLevel:
    """The policy within one level of one factor: the states at that level and their actions."""

    factor: int
    level: str
    states: int
    actions: tuple[ActionShare, ...]


@dataclass(frozen=True)
class PolicySummary:
    """A result in a few numbers (see the module docstring).

    ``by_action`` counts decision states per chosen action (most common first);
    ``value_*`` range over all states; ``visited_pairs`` / ``visited_states`` are shares
    (None when no visit counts were given); ``by_factor`` is empty when the names are not
    factored.
    """

    n_states: int
    n_decision_states: int
    by_action: tuple[ActionShare, ...]
    value_min: float
    value_median: float
    value_mean: float
    value_max: float
    visited_pairs: float | None = None
    visited_states: float | None = None
    by_factor: tuple[FactorLevel, ...] = ()


def _shares(actions: Any, names: Sequence[str]) -> tuple[ActionShare, ...]:
    counts = np.bincount(actions, minlength=len(names))
    total = int(counts.sum())
    order = np.argsort(-counts, kind="stable")
    return tuple(ActionShare(names[int(a)], int(counts[a]), float(counts[a]) / total if total else 0.0)
                 for a in order if counts[a] > 0)


def factor_codes(names: Sequence[str], states: Any) -> tuple[Any, list[tuple[Any, list[str]]]] | None:
    """``(covered, factors)`` for factored ``names``: ``covered`` marks the ``states`` whose
    names are factored, and for each factor the level code of each covered state and the
    level labels; None when the names are not factored (or too many to split)."""
    states = np.asarray(states, dtype=np.int64)
    if states.size == 0:
        return None
    radix = getattr(names, "radix", None)
    n_inner = getattr(names, "n_inner", None)
    first = names[int(states[0])]
    if FACTOR_SEPARATOR not in first:
        return None
    width = len(first.split(FACTOR_SEPARATOR))
    if radix is not None and n_inner is not None and len(radix) == width:
        covered = states < n_inner
        inner = states[covered]
        strides = [int(np.prod(radix[f + 1:], dtype=np.int64)) for f in range(width)]
        order = getattr(names, "name_order", tuple(range(width)))  # name field -> factor in state numbering
        out = []
        for field_, f in enumerate(order):
            r, stride = int(radix[f]), strides[f]
            codes = (inner // stride) % r
            labels = [names[d * stride].split(FACTOR_SEPARATOR)[field_] for d in range(r)]
            out.append((codes, labels))
        return covered, out
    if len(names) > NAMED_FACTORS_LIMIT:
        return None
    parts = [names[int(s)].split(FACTOR_SEPARATOR) for s in states]
    covered = np.array([len(p) == width for p in parts], dtype=bool)
    parts = [p for p in parts if len(p) == width]
    out = []
    for f in range(width):
        labels = sorted({p[f] for p in parts}, key=_natural)
        index = {lab: i for i, lab in enumerate(labels)}
        out.append((np.array([index[p[f]] for p in parts], dtype=np.int64), labels))
    return covered, out


def _natural(label: str) -> tuple[str, int]:
    head = label.rstrip("0123456789")
    tail = label[len(head):]
    return (head, int(tail) if tail else -1)


def summarise_policy(mdp: Any, policy: Any, values: Any, *, visits: Any = None) -> PolicySummary:
    """The :class:`PolicySummary` of a deterministic ``policy`` (``(S,)`` action indices,
    -1 where there is no decision) with ``values`` ``(S,)`` and optional per-pair ``visits``."""
    policy = np.asarray(policy, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    decided = np.flatnonzero(policy >= 0)
    acts = policy[decided]
    names = mdp.action_names
    by_factor: list[FactorLevel] = []
    coded = factor_codes(mdp.state_names, decided)
    if coded is not None:
        covered, factors = coded
        sub = acts[covered]
        for f, (codes, labels) in enumerate(factors):
            for level, label in enumerate(labels):
                here = sub[codes == level]
                if here.size:
                    by_factor.append(FactorLevel(f, label, int(here.size), _shares(here, names)))
    visited_pairs = visited_states = None
    if visits is not None:
        v = np.asarray(visits)
        visited_pairs = float((v > 0).mean()) if v.size else 0.0
        per_state = np.add.reduceat(v, mdp.sa_ptr[:-1][mdp.n_actions_of > 0]) if v.size else np.zeros(0)
        visited_states = float((per_state > 0).mean()) if per_state.size else 0.0
    finite = values[np.isfinite(values)]
    if finite.size:
        lo, med, mean, hi = float(finite.min()), float(np.median(finite)), float(finite.mean()), float(finite.max())
    else:
        lo = med = mean = hi = float("nan")
    return PolicySummary(
        n_states=int(mdp.n_states), n_decision_states=int(decided.size), by_action=_shares(acts, names),
        value_min=lo, value_median=med, value_mean=mean, value_max=hi,
        visited_pairs=visited_pairs, visited_states=visited_states, by_factor=tuple(by_factor),
    )


__all__ = ["FACTOR_SEPARATOR", "NAMED_FACTORS_LIMIT", "ActionShare", "FactorLevel", "PolicySummary", "factor_codes",
           "summarise_policy"]
