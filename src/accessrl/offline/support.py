r"""Support of a candidate policy, judged from the logged propensities (layer 1).

Importance sampling estimates V^pi from decisions logged under a behaviour mu without bias
when mu(a | x) > 0 wherever pi(a | s) > 0 (Precup, Sutton & Singh 2000; Owen 2013,
*Monte Carlo theory, methods and examples*, §9.1): the condition is on the *probabilities*
the behaviour gave, not on what a finite sample happened to contain.  A rare action
(mu = 0.0002) is supported — the episodes that took it carry the weight 1 / mu — and an
action the sample never drew is still supported if the behaviour could have drawn it: its
importance weights are simply zero in this sample.  What the sample contains decides how
*much* evidence there is (matching episodes, effective sample size; see
:mod:`~accessrl.offline.evidence`), never whether the estimate is defined.

A decision log records the behaviour's probability of every action at each decision
(``action_probabilities``; :attr:`~accessrl.offline.logged.LoggedSteps.action_probabilities`).
For each state the held-out decisions visit, :func:`policy_support` lists the actions the
candidate needs there that the behaviour gave probability 0 — at every decision of the state
(``unlogged``) or at some of them (``partly``, with a count: an action offered to some
requests only) — and states where the candidate has no action at all.  A log that recorded
only the taken action's propensity falls back to the sample: a pair is logged when some
decision took it (``basis="sample"``, said in the report).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from accessrl._types import FloatArray
from accessrl.offline.logged import LoggedSteps


@dataclass(frozen=True)
class StateSupport:
    """One visited state: its decisions, the actions the candidate needs, and which of them
    the behaviour never (``unlogged``) or not always (``partly``: action, decisions without it) offered."""

    state: str
    decisions: int
    needed: tuple[str, ...]
    unlogged: tuple[str, ...] = ()
    partly: tuple[tuple[str, int], ...] = ()

    @property
    def no_action(self) -> bool:
        """The candidate has no action in this state."""
        return not self.needed

    @property
    def ok(self) -> bool:
        """Every action the candidate needs here had positive probability at every decision."""
        return bool(self.needed) and not self.unlogged and not self.partly

    def reason(self) -> str:
        """One clause saying what is missing here ('' when supported)."""
        if self.no_action:
            return f"the policy has no action for state {self.state!r}, which the logs visit"
        parts = [f"the behavior never gave {a!r} a positive probability in state {self.state!r}" for a in self.unlogged]
        parts += [f"{a!r} had probability 0 at {k} of {self.decisions} decisions in state {self.state!r}"
                  for a, k in self.partly]
        return "; ".join(parts)


@dataclass(frozen=True)
class SupportReport:
    """The support of one policy on one period: per visited state, and how it was judged."""

    basis: Literal["propensities", "sample"]
    states: tuple[StateSupport, ...]

    @property
    def supported(self) -> bool:
        """True when every visited state supports the policy."""
        return all(s.ok for s in self.states)

    @property
    def gaps(self) -> tuple[StateSupport, ...]:
        """The visited states that do not support the policy."""
        return tuple(s for s in self.states if not s.ok)

    @property
    def first_gap(self) -> tuple[str, str | None] | None:
        """(state, action) of the first gap (action ``None``: no action there); ``None`` when supported."""
        for s in self.gaps:
            if s.no_action:
                return s.state, None
            return s.state, (s.unlogged or tuple(a for a, _ in s.partly))[0]
        return None

    def reason(self) -> str:
        """The one-line "no support" reason ('' when supported)."""
        gaps = self.gaps
        if not gaps:
            return ""
        head = "no support" + (" (judged from the sample: the log has no action probabilities)"
                               if self.basis == "sample" else "")
        return f"{head}: " + "; ".join(s.reason() for s in gaps)

    def to_json(self) -> dict[str, Any]:
        """Per visited state: decisions, needed, unlogged and partly logged actions (names and counts)."""
        return {"basis": self.basis, "supported": self.supported,
                "states": [{"state": s.state, "decisions": s.decisions, "needed": list(s.needed),
                            "unlogged": list(s.unlogged), "partly": {a: k for a, k in s.partly}} for s in self.states]}


def positive_probabilities(steps: LoggedSteps) -> tuple[np.ndarray, Literal["propensities", "sample"]]:
    """(N, A) booleans: whether the behaviour could take each action at each decision, from the
    logged probabilities; without them, from the sample (the pairs some decision took)."""
    probs = steps.action_probabilities
    if probs is not None:
        return probs > 0, "propensities"
    logged = np.zeros((len(steps.state_names), len(steps.action_names)), dtype=bool)
    logged[steps.state, steps.action] = True
    return logged[steps.state], "sample"


def offered_counts(steps: LoggedSteps) -> tuple[np.ndarray, np.ndarray, Literal["propensities", "sample"]]:
    """The sufficient statistics of support: decisions per state (S,), and per (state, action)
    the decisions at which the behaviour could take the action (S, A) — counts, so the
    partitions of a log can add them (:mod:`accessrl.distributed.partitions`)."""
    s_n, a_n = len(steps.state_names), len(steps.action_names)
    positive, basis = positive_probabilities(steps)
    offered = np.zeros((s_n, a_n), dtype=np.int64)
    if steps.n_steps:
        np.add.at(offered, steps.state, positive.astype(np.int64))
    return np.bincount(steps.state, minlength=s_n).astype(np.int64), offered, basis


def support_from_counts(decisions: np.ndarray, offered: np.ndarray, target: FloatArray, state_names: tuple[str, ...],
                        action_names: tuple[str, ...],
                        basis: Literal["propensities", "sample"] = "propensities") -> SupportReport:
    """The :class:`SupportReport` of ``target`` (S, A) from :func:`offered_counts`."""
    needed = np.asarray(target, dtype=np.float64) > 0
    out = []
    for s in np.flatnonzero(decisions):
        n = int(decisions[s])
        gap = np.where(needed[s], n - offered[s], 0)
        need = tuple(action_names[int(a)] for a in np.flatnonzero(needed[s]))
        unlogged = tuple(action_names[int(a)] for a in np.flatnonzero(gap >= n))
        partly = tuple((action_names[int(a)], int(gap[a])) for a in np.flatnonzero((gap > 0) & (gap < n)))
        out.append(StateSupport(state_names[int(s)], n, need, unlogged, partly))
    return SupportReport(basis, tuple(out))


def policy_support(steps: LoggedSteps, target: FloatArray) -> SupportReport:
    """The support of ``target`` (S, A) on the decisions of ``steps`` (module docstring)."""
    decisions, offered, basis = offered_counts(steps)
    return support_from_counts(decisions, offered, target, steps.state_names, steps.action_names, basis)


def logged_behavior(steps: LoggedSteps) -> FloatArray:
    """(S, A): the behaviour's mean logged probability of each action over the decisions in each
    state (the empirical action frequencies when the log has no action probabilities)."""
    s_n, a_n = len(steps.state_names), len(steps.action_names)
    total = np.zeros((s_n, a_n))
    probs = steps.action_probabilities
    if probs is None:
        np.add.at(total, (steps.state, steps.action), 1.0)
    else:
        np.add.at(total, steps.state, probs)
    n = np.bincount(steps.state, minlength=s_n).astype(np.float64)[:, None]
    return np.divide(total, n, out=np.zeros_like(total), where=n > 0)


__all__ = ["StateSupport", "SupportReport", "logged_behavior", "offered_counts", "policy_support",
           "positive_probabilities", "support_from_counts"]
