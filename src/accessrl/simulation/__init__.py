r"""Sampling episodes from a compiled model, and their statistics (layer 1).

One rule for every random step, shared by simulation, learning and the gymnasium
adapter (see DESIGN.md, "declared order matters"):

* a **stochastic** step draws ONE uniform number ``u = rng.random()`` and picks the
  first outcome, in declared order, whose cumulative probability exceeds ``u``;
* a **deterministic** step (one outcome, or all the mass on one outcome) draws
  **nothing**.

The same rule picks an action from a stochastic policy.  This is what makes the
lesson's seeded figures come out of general code: the lesson's own step draws
``rng.random() < 0.75`` only for the abandonment branch.

:func:`sample_outcome` and :func:`step` are the single-step functions every engine
uses; :func:`simulate` runs whole episodes and :func:`summarize` gives the statistics
of a sample of returns (mean, standard deviation, 95% confidence interval, quantiles,
CVaR at 5% and the rate of severe outcomes).

>>> import numpy as np
>>> from accessrl.catalog import access_review_abandonment
>>> mdp = access_review_abandonment()
>>> sim = simulate(mdp, np.array([2, 0, 3, -1]), 4, rng=np.random.default_rng(0), severe_threshold=-100)
>>> sim.returns.tolist()
[54.0, 54.0, 54.0, 54.0]
>>> sim.stats.severe_rate
0.0
"""

from __future__ import annotations

import math
import weakref
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from accessrl._types import BoolArray, FloatArray, IntArray
from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.policies import pair_probabilities, start_distribution

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
"""The quantiles :func:`summarize` reports."""

CVAR_ALPHA = 0.05
"""The tail fraction of the reported CVaR (the worst 5% of returns)."""

Z95 = 1.959963984540054
"""The standard normal 97.5% quantile (two-sided 95% interval)."""


class StepTables:
    """Plain-Python copies of one model's arrays for fast single steps (read-only).

    ``only[k]`` is the sole outcome row of pair ``k`` when the step is deterministic
    (exactly one outcome with positive probability), else ``-1``.  ``ends[s]`` is true
    for terminal states and for states without actions (the episode stops there).
    Built once per model by :func:`step_tables`.
    """

    def __init__(self, mdp: MDP) -> None:
        self.sa_ptr: list[int] = mdp.sa_ptr.tolist()
        self.sa_action: list[int] = mdp.sa_action.tolist()
        self.out_ptr: list[int] = mdp.out_ptr.tolist()
        self.out_next: list[int] = mdp.out_next.tolist()
        self.out_prob: list[float] = mdp.out_prob.tolist()
        self.out_reward: list[float] = mdp.out_reward.tolist()
        self.ends: list[bool] = (mdp.terminal | (mdp.n_actions_of == 0)).tolist()
        self.only: list[int] = sole_outcome(mdp).tolist()

    def outcome(self, pair: int, rng: np.random.Generator) -> int:
        """The outcome row of one step from ``pair`` (the rule in the module docstring)."""
        k = self.only[pair]
        if k >= 0:
            return k
        u = rng.random()
        c = 0.0
        last = -1
        for j in range(self.out_ptr[pair], self.out_ptr[pair + 1]):
            p = self.out_prob[j]
            if p > 0.0:
                c += p
                last = j
                if u < c:
                    return j
        return last  # u beyond a total that rounding left just below 1


_TABLES: weakref.WeakKeyDictionary[MDP, StepTables] = weakref.WeakKeyDictionary()


def step_tables(mdp: MDP) -> StepTables:
    """The (cached) :class:`StepTables` of ``mdp``; the cache holds no results, only copies."""
    tab = _TABLES.get(mdp)
    if tab is None:
        tab = StepTables(mdp)
        _TABLES[mdp] = tab
    return tab


def _running_count(flags: Any) -> IntArray:
    """csum[i] = how many of flags[:i] are true (length n + 1), without an int64 copy of flags."""
    flags = np.asarray(flags)
    csum: IntArray = np.zeros(flags.size + 1, dtype=np.int64)
    np.cumsum(flags, dtype=np.int64, out=csum[1:])
    return csum


def segment_count(flags: Any, ptr: IntArray) -> IntArray:
    """How many true ``flags`` fall in each segment ``ptr[k]:ptr[k+1]``."""
    csum = _running_count(flags)
    out: IntArray = (csum[ptr[1:]] - csum[ptr[:-1]]).astype(np.int64)
    return out


def sole_outcome(mdp: MDP) -> IntArray:
    """(L,) the only positive-probability outcome row of each pair, or -1 if there are several.

    With ``csum`` the running count of positive outcomes, pair k has exactly one when
    csum[end] - csum[start] = 1, and it is then positive outcome number csum[start]."""
    positive = mdp.out_prob > 0.0
    csum = _running_count(positive)
    lo = csum[mdp.out_ptr[:-1]]
    single = np.flatnonzero(csum[mdp.out_ptr[1:]] - lo == 1)
    out = np.full(mdp.n_pairs, -1, dtype=np.int64)
    if single.size:
        out[single] = np.flatnonzero(positive)[lo[single]]
    return out


@dataclass(frozen=True)
class Transition:
    """One sampled step: ``(state, action) -> (next_state, reward)``, by index.

    ``pair`` and ``outcome`` are the model's row indices; ``terminated`` is true when
    ``next_state`` ends the episode (a terminal state or one without actions).
    """

    state: int
    action: int
    pair: int
    outcome: int
    next_state: int
    reward: float
    terminated: bool


def sample_outcome(mdp: MDP, pair: int, rng: np.random.Generator) -> int:
    """The outcome row ``k`` of one step from state-action ``pair``.

    Deterministic pairs draw nothing; stochastic ones draw one uniform ``u`` and take
    the first outcome (declared order) with cumulative probability above ``u``.

    >>> from accessrl.catalog import access_review_abandonment
    >>> mdp = access_review_abandonment()
    >>> pair = mdp.pair_index("new_request", "request_evidence")
    >>> rng = np.random.default_rng(7)
    >>> mdp.state_names[mdp.out_next[sample_outcome(mdp, pair, rng)]]
    'evidence_ready'
    """
    return step_tables(mdp).outcome(int(pair), rng)


def step(mdp: MDP, state: int, action: int, rng: np.random.Generator) -> Transition:
    """Take global ``action`` in ``state`` once (a :class:`~accessrl.errors.SpecValueError`
    if the action is not available there).

    >>> from accessrl.catalog import access_review
    >>> t = step(access_review(), 0, 2, np.random.default_rng(0))
    >>> (t.next_state, t.reward, t.terminated)
    (2, -18.0, False)
    """
    pair = mdp.pair_index(int(state), int(action))
    tab = step_tables(mdp)
    k = tab.outcome(pair, rng)
    nxt = tab.out_next[k]
    return Transition(int(state), int(action), pair, k, nxt, tab.out_reward[k], tab.ends[nxt])


def sample_pair(probs: FloatArray | list[float], lo: int, hi: int, rng: np.random.Generator) -> int:
    """A pair row among ``lo:hi`` drawn from pair probabilities by the one-uniform rule
    (no draw when one pair holds all the mass)."""
    live = [k for k in range(lo, hi) if probs[k] > 0.0]
    if len(live) == 1:
        return live[0]
    u = rng.random()
    c = 0.0
    for k in live:
        c += float(probs[k])
        if u < c:
            return k
    return live[-1]


def pick_index(cumulative: Sequence[float], u: float) -> int:
    """The index drawn by the uniform ``u`` from precomputed running totals ``cumulative``
    (the first entry whose cumulative probability exceeds ``u``: the same rule as
    :func:`sample_pair`, for callers that draw ``u`` themselves).

    >>> pick_index([0.25, 0.25, 1.0], 0.3)
    2
    >>> pick_index([1.0, 1.0], 0.9999)
    0
    """
    i = bisect_right(cumulative, u)
    # Rounding can leave the last total a hair below 1: step back to a positive entry.
    i = min(i, len(cumulative) - 1)
    while i > 0 and cumulative[i] == cumulative[i - 1]:
        i -= 1
    return i


def cumulative_rows(probs: FloatArray) -> FloatArray:
    """``[0, p_0, p_0 + p_1, ...]``: the running totals :func:`pick_rows` searches."""
    out: FloatArray = np.concatenate(([0.0], np.cumsum(probs)))
    return out


def pick_rows(cumulative: FloatArray, lo: IntArray, hi: IntArray, u: FloatArray) -> IntArray:
    """Vectorised picks: for each ``i`` the row ``k`` in ``[lo[i], hi[i])`` whose interval
    ``[cumulative[k], cumulative[k + 1])`` holds ``u[i]`` scaled onto the segment's total
    (``cumulative`` from :func:`cumulative_rows`).

    The rule of the scalar functions (first row whose cumulative probability exceeds
    ``u``), for many draws at once; the caller supplies one uniform per row, also where the
    pick is forced, so the number of draws does not depend on the model.

    >>> c = cumulative_rows(np.array([0.5, 0.5, 0.0, 1.0]))
    >>> pick_rows(c, np.array([0, 0, 2]), np.array([2, 2, 4]), np.array([0.2, 0.7, 0.1])).tolist()
    [0, 1, 3]
    """
    target = cumulative[lo] + u * (cumulative[hi] - cumulative[lo])
    k = np.searchsorted(cumulative, target, side="right") - 1
    out: IntArray = np.clip(k, lo, hi - 1)
    return out


@dataclass(frozen=True)
class ReturnStats:
    r"""Statistics of a sample of returns G_1..G_n.

    * ``mean`` and ``std`` (sample standard deviation, ddof = 1);
    * ``ci95``: mean ± z_{0.975} std / sqrt(n) (normal approximation, CLT);
    * ``quantiles``: {q: value} for :data:`QUANTILES` (linear interpolation);
    * ``cvar05``: mean of the worst 5% of returns, the lower-tail conditional value at
      risk with the boundary sample weighted fractionally (Acerbi & Tasche 2002);
    * ``severe_rate``: fraction of episodes with a severe outcome (``nan`` if unknown).
    """

    n: int
    mean: float
    std: float
    ci95: tuple[float, float]
    quantiles: Mapping[float, float]
    cvar05: float
    severe_rate: float


def cvar(returns: FloatArray, alpha: float = CVAR_ALPHA) -> float:
    r"""Lower-tail CVaR_alpha: the average of the worst ``alpha`` fraction of ``returns``.

    With sorted returns x_(1) <= ... <= x_(n) and m = alpha n:
    CVaR = (sum_{i <= floor m} x_(i) + (m - floor m) x_(floor m + 1)) / m.

    >>> cvar(np.array([-10.0, 0.0, 0.0, 0.0]), 0.25)
    -10.0
    >>> cvar(np.array([-10.0, 0.0, 0.0, 0.0]), 0.5)
    -5.0
    """
    if not 0.0 < alpha <= 1.0:
        raise ParameterError(f"alpha: expected a number in (0, 1], got {alpha!r}")
    x = np.sort(np.asarray(returns, dtype=np.float64))
    if x.size == 0:
        return float("nan")
    m = alpha * x.size
    whole = int(math.floor(m))
    total = float(x[:whole].sum())
    if whole < x.size and m > whole:
        total += (m - whole) * float(x[whole])
    return total / m


def summarize(returns: Any, *, severe: Any = None, severe_threshold: float | None = None) -> ReturnStats:
    """The :class:`ReturnStats` of a sample of returns.

    An episode is *severe* when ``severe`` (a per-episode boolean array) marks it or
    its return is at or below ``severe_threshold``; with neither given the rate is nan.

    >>> s = summarize([-54.0, 59.0, 59.0, 59.0], severe_threshold=-100)
    >>> (s.mean, s.severe_rate)
    (30.75, 0.0)
    """
    x = np.asarray(returns, dtype=np.float64)
    n = int(x.size)
    if n == 0:
        raise ParameterError("returns: expected at least one episode")
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if n > 1 else 0.0
    half = Z95 * std / math.sqrt(n)
    flags: BoolArray | None = None
    if severe is not None:
        flags = np.asarray(severe, dtype=bool)
    if severe_threshold is not None:
        by_return = x <= float(severe_threshold)
        flags = by_return if flags is None else (flags | by_return)
    return ReturnStats(
        n=n,
        mean=mean,
        std=std,
        ci95=(mean - half, mean + half),
        quantiles={q: float(np.quantile(x, q)) for q in QUANTILES},
        cvar05=cvar(x, CVAR_ALPHA),
        severe_rate=float(flags.mean()) if flags is not None else float("nan"),
    )


@dataclass(frozen=True, eq=False)
class Episodes:
    """Recorded trajectories, flat: the steps of episode ``i`` are ``ptr[i]:ptr[i+1]``.

    Per step: ``state``, ``action`` (global index), ``pair``, ``action_prob`` (the
    behaviour policy's probability of that action, for importance weights),
    ``reward``, ``next_state`` and ``outcome`` (the model's outcome row).
    """

    ptr: IntArray
    state: IntArray
    action: IntArray
    pair: IntArray
    action_prob: FloatArray
    reward: FloatArray
    next_state: IntArray
    outcome: IntArray

    @property
    def n_episodes(self) -> int:
        """Number of episodes recorded."""
        return int(self.ptr.size - 1)


@dataclass(frozen=True, eq=False)
class Simulation:
    """The result of :func:`simulate`.

    ``returns`` (n,) discounted returns from the start; ``lengths`` steps taken;
    ``terminated`` false for an episode cut at ``max_steps`` (truncated, not ended);
    ``severe`` whether the episode passed through an outcome the spec marks severe or
    its return is at or below the threshold; ``event_counts`` how many episodes saw
    each outcome ``event`` (e.g. ``"abandoned"``); ``episodes`` the trajectories when
    recorded.
    """

    returns: FloatArray
    lengths: IntArray
    terminated: BoolArray
    severe: BoolArray
    event_counts: Mapping[str, int]
    stats: ReturnStats
    episodes: Episodes | None = None
    severe_threshold: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


MAX_EPISODES = 10**9
"""Most episodes one run may ask for (each is recorded: 10^9 returns are 8 GB)."""


def check_episodes(n_episodes: Any, name: str = "episodes") -> int:
    """A whole number of episodes in [1, :data:`MAX_EPISODES`], or a ParameterError naming ``name``."""
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, (int, np.integer)) or n_episodes <= 0:
        raise ParameterError(f"{name}: expected a positive whole number of episodes, got {n_episodes!r}")
    if n_episodes > MAX_EPISODES:
        raise ParameterError(f"{name}: expected at most {MAX_EPISODES} episodes, got {n_episodes}")
    return int(n_episodes)


def check_max_steps(max_steps: Any) -> int:
    """A positive whole number of steps."""
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps <= 0:
        raise ParameterError(f"max_steps: expected a positive whole number, got {max_steps!r}")
    if max_steps >= 2**62:  # the engines count steps in int64
        raise ParameterError(f"max_steps: expected a number below 2**62, got {max_steps}")
    return int(max_steps)


def simulate(
    mdp: MDP,
    policy: Any,
    episodes: int,
    *,
    rng: np.random.Generator,
    start: Any = None,
    first_action: int | str | None = None,
    max_steps: int = 10_000,
    severe_threshold: float | None = None,
    record: bool = True,
    engine: str = "auto",
) -> Simulation:
    r"""Run ``episodes`` episodes of ``policy`` and return their discounted returns (``episodes``, as in
    :func:`~accessrl.learning.learn` and ``--episodes``).

    ``policy``: (S,) action indices or (L,) pair probabilities (see
    :mod:`accessrl.model.policies`).  ``start``: a state, a start distribution, or the
    model's start.  ``first_action`` forces the first action (by index or name), then
    ``policy`` continues — the Monte Carlo estimate of Q^pi(start, first_action)
    (Sutton & Barto 2018, §5.2).  An episode stops at a terminal state or, truncated,
    after ``max_steps`` steps.  Each episode's return is G_0 = sum_t gamma^t R_{t+1}
    accumulated as R_1 + gamma (R_2 + gamma (...)).

    Random draws, in order per episode: the start state (only if the distribution has
    more than one state), then per step the action (only where the policy is
    stochastic in that state) and the outcome (only where the step is stochastic).

    >>> from accessrl.catalog import access_review_abandonment
    >>> mdp = access_review_abandonment()
    >>> best = np.array([2, 0, 3, -1])
    >>> sim = simulate(mdp, best, 10_000, rng=np.random.default_rng(7), first_action="request_evidence")
    >>> round(sim.stats.mean, 2), sim.event_counts["abandoned"]
    (30.33, 2537)

    ``engine``: ``"reference"`` runs the readable loop below; ``"fast"`` the compiled loop
    of :mod:`accessrl.simulation.fast` (the same draws, picks and arithmetic, so the same
    numbers for the same seed; other bit generators than PCG64 take the readable loop);
    ``"auto"`` (default) the compiled loop from :data:`FAST_FROM` episodes on (below
    that, loading numba costs more than it saves).
    """
    n = check_episodes(episodes, "episodes")
    max_steps = check_max_steps(max_steps)
    if engine not in ("auto", "fast", "reference"):
        raise ParameterError(f"engine: expected one of ['auto', 'fast', 'reference'], got {engine!r}")
    probs_arr = pair_probabilities(mdp, policy)
    dist = start_distribution(mdp, start)
    forced: int | None = None
    if first_action is not None:
        forced = mdp.action_index(first_action) if isinstance(first_action, str) else int(first_action)
    if engine == "fast" or (engine == "auto" and n >= FAST_FROM):
        from accessrl.simulation.fast import run_episodes, sole_outcome_compiled

        got = run_episodes(mdp, np.ascontiguousarray(probs_arr, dtype=np.float64), dist, forced, n, max_steps,
                           record, rng, sole_outcome_compiled(mdp))
        if got is not None:
            return _finish(mdp, got, severe_threshold, record)
    probs = probs_arr.tolist()
    tab = step_tables(mdp)
    g = mdp.gamma
    severe_out = mdp.severe.tolist() if mdp.severe is not None else None
    events = mdp.events
    start_states = np.flatnonzero(dist > 0)
    start_probs = dist.tolist()

    returns = np.empty(n)
    lengths = np.empty(n, dtype=np.int64)
    terminated = np.empty(n, dtype=bool)
    severe = np.zeros(n, dtype=bool)
    seen: dict[str, int] = {}
    rec: dict[str, list[Any]] = {k: [] for k in ("state", "action", "pair", "prob", "reward", "next", "outcome")}
    ptr = [0]
    for i in range(n):
        if start_states.size == 1:
            s = int(start_states[0])
        else:
            s = sample_pair(start_probs, 0, mdp.n_states, rng)
        rewards: list[float] = []
        ev_here: set[str] = set()
        t = 0
        while not tab.ends[s] and t < max_steps:
            lo, hi = tab.sa_ptr[s], tab.sa_ptr[s + 1]
            if t == 0 and forced is not None:
                pair, p_act = mdp.pair_index(s, forced), 1.0
            else:
                pair = sample_pair(probs, lo, hi, rng)
                p_act = probs[pair]
            k = tab.outcome(pair, rng)
            nxt, r = tab.out_next[k], tab.out_reward[k]
            rewards.append(r)
            if severe_out is not None and severe_out[k]:
                severe[i] = True
            if events is not None and events[k]:
                ev_here.add(events[k])
            if record:
                for key, val in (("state", s), ("action", tab.sa_action[pair]), ("pair", pair), ("prob", p_act),
                                 ("reward", r), ("next", nxt), ("outcome", k)):
                    rec[key].append(val)
            s = nxt
            t += 1
        total = 0.0
        for r in reversed(rewards):
            total = r + g * total
        returns[i] = total
        lengths[i] = t
        terminated[i] = bool(tab.ends[s])
        for e in ev_here:
            seen[e] = seen.get(e, 0) + 1
        ptr.append(ptr[-1] + t)
    if severe_threshold is not None:
        severe |= returns <= float(severe_threshold)
    known_severe = severe_threshold is not None or mdp.severe is not None
    stats = summarize(returns, severe=severe if known_severe else None)
    if events is not None:
        for e in sorted({e for e in events if e}):
            seen.setdefault(e, 0)
    recorded = None
    if record:
        recorded = Episodes(
            ptr=np.asarray(ptr, dtype=np.int64),
            state=np.asarray(rec["state"], dtype=np.int64),
            action=np.asarray(rec["action"], dtype=np.int64),
            pair=np.asarray(rec["pair"], dtype=np.int64),
            action_prob=np.asarray(rec["prob"], dtype=np.float64),
            reward=np.asarray(rec["reward"], dtype=np.float64),
            next_state=np.asarray(rec["next"], dtype=np.int64),
            outcome=np.asarray(rec["outcome"], dtype=np.int64),
        )
    return Simulation(
        returns=returns,
        lengths=lengths,
        terminated=terminated,
        severe=severe,
        event_counts=dict(sorted(seen.items())),
        stats=stats,
        episodes=recorded,
        severe_threshold=severe_threshold,
    )


def _finish(mdp: MDP, got: Mapping[str, Any], severe_threshold: float | None, record: bool) -> Simulation:
    """The :class:`Simulation` of the compiled loop's arrays (the readable loop's epilogue)."""
    returns, severe = got["returns"], got["severe"]
    if severe_threshold is not None:
        severe |= returns <= float(severe_threshold)
    known_severe = severe_threshold is not None or mdp.severe is not None
    stats = summarize(returns, severe=severe if known_severe else None)
    episodes = None
    if record:
        rec = got["record"]
        ptr = np.concatenate(([0], np.cumsum(got["lengths"]))).astype(np.int64)
        episodes = Episodes(ptr=ptr, state=rec["state"], action=rec["action"], pair=rec["pair"],
                            action_prob=rec["prob"], reward=rec["reward"], next_state=rec["next"],
                            outcome=rec["outcome"])
    return Simulation(returns=returns, lengths=got["lengths"], terminated=got["terminated"], severe=severe,
                      event_counts=dict(sorted(got["events"].items())), stats=stats, episodes=episodes,
                      severe_threshold=severe_threshold)


FAST_FROM = 2000
"""From this many episodes ``simulate(engine="auto")`` runs the compiled loop."""


__all__ = [
    "CVAR_ALPHA",
    "FAST_FROM",
    "QUANTILES",
    "Episodes",
    "ReturnStats",
    "Simulation",
    "StepTables",
    "Transition",
    "check_episodes",
    "cumulative_rows",
    "cvar",
    "pick_index",
    "pick_rows",
    "sample_outcome",
    "sample_pair",
    "simulate",
    "segment_count",
    "sole_outcome",
    "step",
    "step_tables",
    "summarize",
]
