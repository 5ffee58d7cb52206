r"""Estimating a workflow model from logged transitions (layer 1).

For every logged state-action pair (s, a) with n(s, a) decisions, of which n(s, a, s')
moved to s', the maximum-likelihood model is

.. math:: \hat p(s' \mid s, a) = n(s, a, s') / n(s, a), \qquad
          \hat r(s, a, s') = \text{mean reward of those } n(s, a, s') \text{ steps}

Each probability carries a 95% **Wilson score** interval (Wilson 1927; Brown, Cai &
DasGupta 2001, *Statistical Science* 16(2) recommend it over the Wald interval for small
n and p near 0 or 1):

.. math:: \frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n}

Pairs with fewer than ``min_support`` decisions are flagged; by option they are left
out of the spec (``low_support="drop"``) or kept and marked ``never_explore``
(``"mark"``).  States reached but never decided in the log become terminal (value 0)
and are listed in ``unobserved_states``.  :func:`drift_report` compares two periods
with a chi-square test of homogeneity per pair.

>>> import numpy as np
>>> lo, hi = wilson_interval(np.array([75]), np.array([100]))
>>> round(float(lo[0]), 4), round(float(hi[0]), 4)
(0.657, 0.8245)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from accessrl._types import FloatArray, IntArray
from accessrl.errors import DataError, ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.spec import compile_spec
from accessrl.offline.logged import LoggedSteps
from accessrl.simulation import Z95


def wilson_interval(k: Any, n: Any, z: float = Z95) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval for k successes in n trials, element-wise (n = 0 gives [0, 1])."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    safe = np.maximum(n, 1.0)
    p = k / safe
    denom = 1.0 + z * z / safe
    centre = (p + z * z / (2 * safe)) / denom
    half = z * np.sqrt(p * (1 - p) / safe + z * z / (4 * safe * safe)) / denom
    lo = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
    hi = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), 1.0)
    return lo, hi


@dataclass(frozen=True, eq=False)
class TransitionCounts:
    """Sufficient statistics of a log: one entry per observed (s, a, s').

    ``pair_state``/``pair_action``/``pair_count`` describe the P observed pairs;
    ``out_pair`` (index into the pairs), ``out_next``, ``out_count``, ``reward_sum`` and
    ``reward_sq`` the observed outcomes, grouped by pair.
    """

    state_names: tuple[str, ...]
    action_names: tuple[str, ...]
    pair_state: IntArray
    pair_action: IntArray
    pair_count: FloatArray
    out_pair: IntArray
    out_next: IntArray
    out_count: FloatArray
    reward_sum: FloatArray
    reward_sq: FloatArray
    terminal_next: IntArray
    start_counts: FloatArray


def count_transitions(steps: LoggedSteps, weights: FloatArray | None = None) -> TransitionCounts:
    """Count (s, a, s') and sum rewards with ``np.bincount`` (optionally weighted per row)."""
    if steps.n_steps == 0:
        raise DataError("estimate: the log has no decisions in the selected period")
    s_n, a_n = len(steps.state_names), len(steps.action_names)
    w = np.ones(steps.n_steps) if weights is None else np.asarray(weights, dtype=np.float64)
    key = (steps.state.astype(np.int64) * a_n + steps.action) * s_n + steps.next_state
    uniq, inv = np.unique(key, return_inverse=True)
    cnt = np.bincount(inv, weights=w, minlength=uniq.size)
    rsum = np.bincount(inv, weights=w * steps.reward, minlength=uniq.size)
    rsq = np.bincount(inv, weights=w * steps.reward**2, minlength=uniq.size)
    keep = cnt > 0
    uniq, cnt, rsum, rsq = uniq[keep], cnt[keep], rsum[keep], rsq[keep]
    pair_key = uniq // s_n
    pkeys, out_pair = np.unique(pair_key, return_inverse=True)
    pair_count = np.bincount(out_pair, weights=cnt, minlength=pkeys.size)
    term_rows = steps.terminated & ~steps.truncated
    terminal_next = np.unique(steps.next_state[term_rows]).astype(np.int64)
    first = steps.episode_ptr[:-1]
    start_counts = np.bincount(steps.state[first], weights=w[first], minlength=s_n).astype(np.float64)
    return TransitionCounts(
        state_names=steps.state_names, action_names=steps.action_names,
        pair_state=(pkeys // a_n).astype(np.int64), pair_action=(pkeys % a_n).astype(np.int64),
        pair_count=np.asarray(pair_count, dtype=np.float64), out_pair=out_pair.astype(np.int64),
        out_next=(uniq % s_n).astype(np.int64), out_count=np.asarray(cnt, dtype=np.float64),
        reward_sum=np.asarray(rsum, dtype=np.float64), reward_sq=np.asarray(rsq, dtype=np.float64),
        terminal_next=terminal_next, start_counts=start_counts,
    )


@dataclass(frozen=True)
class OutcomeEstimate:
    """One estimated transition with its count and 95% Wilson interval."""

    state: str
    action: str
    next_state: str
    count: int
    pair_count: int
    p: float
    p_low: float
    p_high: float
    reward: float
    reward_sd: float


@dataclass(frozen=True, eq=False)
class EstimatedModel:
    """A spec estimated from a log, with per-outcome counts and intervals."""

    spec: dict[str, Any]
    outcomes: tuple[OutcomeEstimate, ...]
    low_support: tuple[tuple[str, str, int], ...]
    unobserved_states: tuple[str, ...]
    min_support: int
    n_decisions: int
    n_episodes: int

    @property
    def mdp(self) -> MDP:
        """The estimated spec compiled."""
        return compile_spec(self.spec, source="estimated model")

    def report(self) -> dict[str, Any]:
        """A JSON-ready summary: every outcome with its count and interval."""
        return {
            "interval": "Wilson score, 95%",
            "min_support": self.min_support,
            "n_decisions": self.n_decisions,
            "n_episodes": self.n_episodes,
            "low_support": [{"state": s, "action": a, "count": n} for s, a, n in self.low_support],
            "unobserved_states": list(self.unobserved_states),
            "outcomes": [o.__dict__ for o in self.outcomes],
        }


def estimate_model(
    steps: LoggedSteps,
    *,
    gamma: float,
    min_support: int = 10,
    low_support: Literal["mark", "drop"] = "mark",
    name: str = "estimated",
) -> EstimatedModel:
    """Estimate a spec from ``steps`` (see the module docstring)."""
    if isinstance(min_support, bool) or not isinstance(min_support, int) or min_support < 0:
        raise ParameterError(f"min_support: expected a non-negative integer, got {min_support!r}")
    if low_support not in ("mark", "drop"):
        raise ParameterError(f"low_support: expected 'mark' or 'drop', got {low_support!r}")
    return estimate_from_counts(count_transitions(steps), gamma=gamma, min_support=min_support,
                                low_support=low_support, name=name, n_decisions=steps.n_steps,
                                n_episodes=steps.n_episodes)


def estimate_from_counts(
    c: TransitionCounts,
    *,
    gamma: float,
    min_support: int = 10,
    low_support: Literal["mark", "drop"] = "mark",
    name: str = "estimated",
    n_decisions: int,
    n_episodes: int,
) -> EstimatedModel:
    """:func:`estimate_model` from the counts alone (what partitions of a log can send and sum)."""
    if isinstance(min_support, bool) or not isinstance(min_support, int) or min_support < 0:
        raise ParameterError(f"min_support: expected a non-negative integer, got {min_support!r}")
    if low_support not in ("mark", "drop"):
        raise ParameterError(f"low_support: expected 'mark' or 'drop', got {low_support!r}")
    sn, an = c.state_names, c.action_names
    lo, hi = wilson_interval(c.out_count, c.pair_count[c.out_pair])
    p_hat = c.out_count / c.pair_count[c.out_pair]
    r_mean = c.reward_sum / c.out_count
    r_sd = np.sqrt(np.maximum(c.reward_sq / c.out_count - r_mean**2, 0.0))
    weak = c.pair_count < min_support
    decided = np.zeros(len(sn), dtype=bool)
    decided[c.pair_state] = True
    drop = np.zeros(c.pair_count.size, dtype=bool)
    if low_support == "drop":
        strong_states = np.zeros(len(sn), dtype=bool)
        strong_states[c.pair_state[~weak]] = True
        drop = weak & strong_states[c.pair_state]  # never leave a decided state without actions
    transitions: dict[str, dict[str, list[dict[str, Any]]]] = {}
    outcomes = []
    for j in range(c.out_count.size):
        k = int(c.out_pair[j])
        s, a, nx = sn[int(c.pair_state[k])], an[int(c.pair_action[k])], sn[int(c.out_next[j])]
        outcomes.append(OutcomeEstimate(s, a, nx, int(c.out_count[j]), int(c.pair_count[k]), float(p_hat[j]),
                                        float(lo[j]), float(hi[j]), float(r_mean[j]), float(r_sd[j])))
        if not drop[k]:
            transitions.setdefault(s, {}).setdefault(a, []).append({"next": nx, "p": float(p_hat[j]),
                                                                    "reward": float(r_mean[j])})
    reached = set(np.unique(c.out_next).tolist()) | set(np.flatnonzero(c.start_counts).tolist())
    terminal = {sn[int(t)] for t in c.terminal_next if not decided[int(t)]}
    unobserved = tuple(sorted(sn[s] for s in reached if not decided[s] and sn[s] not in terminal))
    terminal |= set(unobserved)
    spec: dict[str, Any] = {"name": name, "gamma": float(gamma)}
    start = int(np.argmax(c.start_counts))
    spec["start"] = sn[start]
    used = [x for x in sn if x in transitions or x in terminal]
    spec["states"] = used
    spec["terminal"] = sorted(terminal, key=sn.index)
    marked = [f"{sn[int(c.pair_state[k])]}:{an[int(c.pair_action[k])]}" for k in np.flatnonzero(weak & ~drop)]
    if marked:
        spec["never_explore"] = marked
    spec["transitions"] = transitions
    flagged = tuple((sn[int(c.pair_state[k])], an[int(c.pair_action[k])], int(c.pair_count[k]))
                    for k in np.flatnonzero(weak))
    return EstimatedModel(spec=spec, outcomes=tuple(outcomes), low_support=flagged, unobserved_states=unobserved,
                          min_support=min_support, n_decisions=n_decisions, n_episodes=n_episodes)


@dataclass(frozen=True)
class PairDrift:
    """How one state-action pair's outcome distribution changed between two periods."""

    state: str
    action: str
    n_before: int
    n_after: int
    p_before: dict[str, float]
    p_after: dict[str, float]
    max_change: float
    p_value: float
    drifted: bool


@dataclass(frozen=True)
class DriftReport:
    """Per-pair drift between two periods (chi-square test of homogeneity, level ``alpha``)."""

    pairs: tuple[PairDrift, ...]
    alpha: float

    @property
    def drifted(self) -> tuple[PairDrift, ...]:
        """The pairs whose outcome distribution changed significantly."""
        return tuple(p for p in self.pairs if p.drifted)


def drift_report(before: LoggedSteps, after: LoggedSteps, *, alpha: float = 0.01, min_count: int = 5) -> DriftReport:
    r"""Compare outcome distributions of every pair logged in both periods.

    For each (s, a) the 2 x K table of next-state counts is tested with Pearson's
    chi-square test of homogeneity (``scipy.stats.chi2_contingency``); a pair is
    ``drifted`` when p < ``alpha``.  Pairs with fewer than ``min_count`` decisions in either
    period are reported with p = 1 (too little data to say).
    """
    from scipy import stats  # scipy.stats takes 0.4 s to import: only drift reports need it
    if before.state_names != after.state_names or before.action_names != after.action_names:
        raise DataError("drift: the two periods use different state or action names")
    if not 0.0 < alpha < 1.0:
        raise ParameterError(f"alpha: expected a number in (0, 1), got {alpha!r}")
    cb, ca = count_transitions(before), count_transitions(after)
    sn, an = before.state_names, before.action_names

    def table(c: TransitionCounts) -> dict[tuple[int, int], dict[int, float]]:
        out: dict[tuple[int, int], dict[int, float]] = {}
        for j in range(c.out_count.size):
            k = int(c.out_pair[j])
            out.setdefault((int(c.pair_state[k]), int(c.pair_action[k])), {})[int(c.out_next[j])] = float(c.out_count[j])
        return out

    tb, ta = table(cb), table(ca)
    rows = []
    for key in sorted(set(tb) & set(ta)):
        nexts = sorted(set(tb[key]) | set(ta[key]))
        m = np.array([[tb[key].get(x, 0.0) for x in nexts], [ta[key].get(x, 0.0) for x in nexts]])
        n1, n2 = m.sum(axis=1)
        p1, p2 = m[0] / n1, m[1] / n2
        if len(nexts) > 1 and min(n1, n2) >= min_count:
            pv = float(stats.chi2_contingency(m, correction=False).pvalue)
        else:
            pv = 1.0
        rows.append(PairDrift(sn[key[0]], an[key[1]], int(n1), int(n2),
                              {sn[x]: float(v) for x, v in zip(nexts, p1, strict=True)},
                              {sn[x]: float(v) for x, v in zip(nexts, p2, strict=True)},
                              float(np.max(np.abs(p1 - p2))), pv, pv < alpha))
    return DriftReport(pairs=tuple(rows), alpha=alpha)


__all__ = [
    "DriftReport",
    "EstimatedModel",
    "OutcomeEstimate",
    "PairDrift",
    "TransitionCounts",
    "count_transitions",
    "drift_report",
    "estimate_from_counts",
    "estimate_model",
    "wilson_interval",
]
