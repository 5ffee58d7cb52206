r"""Learning action values from sampled steps: the Q-learning family (layer 1).

One engine, four targets (Sutton & Barto 2018, ch. 6).  After a step
``(S, A) -> (R, S')`` the table moves toward a target,

.. math:: Q(S, A) \leftarrow Q(S, A) + \alpha_n\,[\,\mathrm{target} - Q(S, A)\,]

* ``q-learning`` (Watkins & Dayan 1992; S&B eq. 6.8): R + gamma max_a Q(S', a);
* ``sarsa`` (S&B eq. 6.7): R + gamma Q(S', A'), A' the next action actually chosen;
* ``expected-sarsa`` (S&B eq. 6.9): R + gamma sum_a pi(a | S') Q(S', a) under the
  epsilon-greedy policy;
* ``double-q`` (van Hasselt 2010; S&B §6.7): two tables; a fair coin picks the one to
  update, its argmax at S' is scored by the other; the behaviour is greedy on their sum.

At a terminal S' the future term is 0.  **Truncation is not termination**: an
episode cut at ``max_steps`` stops, but its last update still bootstraps from S'.

Behaviour is epsilon-greedy and reproduces the lesson's random stream: every decision
draws one uniform ``u``; if ``u < epsilon`` it explores, picking uniformly among the
state's allowed actions with ``rng.integers(0, n)`` (the draw ``rng.choice`` makes),
else it exploits, taking the first declared action among ties.  Environment steps
follow :mod:`accessrl.simulation` (a deterministic step draws nothing).

Step sizes after the n-th update of a pair: ``"visits"`` alpha = n^(-omega)
(omega = 0.6 as in the lesson; Robbins-Monro conditions hold for 0.5 < omega <= 1,
Even-Dar & Mansour 2003), ``"1/n"`` the sample average (S&B eq. 2.3), or a constant.

Safe exploration: pairs flagged ``unsafe`` in the model (the spec's
``never_explore``) or named in ``never_explore`` are, with ``safe=True``, never taken
by the behaviour, neither explored nor exploited (their estimates are never learned),
and the targets range over the allowed actions only: the learner solves the model
restricted to allowed actions.  With ``safe=False`` they are only counted.

>>> import numpy as np
>>> from accessrl.catalog import access_review_abandonment
>>> res = learn(access_review_abandonment(), episodes=20_000, epsilon=0.15,
...             rng=np.random.default_rng(13))
>>> [round(float(v), 1) for v in res.q[:3]]
[-120.0, 30.5, 54.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from accessrl.errors import AccessRLError, ParameterError
from accessrl.model import MDP
from accessrl.simulation import check_episodes, check_max_steps, segment_count, start_distribution, step_tables

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

ALGORITHMS = ("q-learning", "sarsa", "expected-sarsa", "double-q")
"""The targets the engine knows, in the order of their codes (0..3)."""

ENGINES = ("reference", "fast")
"""``reference``: readable Python (the lesson's); ``fast``: numba (:mod:`accessrl.learning_fast`)."""

Progress = Callable[[int, int], None]
"""Called as ``progress(episodes_done, episodes_total)`` between chunks of a run."""


# ------------------------------------------------------------- schedules
@dataclass(frozen=True)
class EpsilonSchedule:
    """Exploration rate per episode k = 0, 1, ...

    * ``constant``: epsilon_k = start;
    * ``linear``: from ``start`` to ``end`` over ``over`` episodes, then ``end``;
    * ``exponential``: geometric from ``start`` to ``end`` over ``over`` episodes
      (epsilon_k = start (end/start)^(k/over)), then ``end``.

    >>> EpsilonSchedule("linear", 1.0, 0.0, 4).values(6).tolist()
    [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """

    kind: str = "constant"
    start: float = 0.1
    end: float = 0.1
    over: int = 1

    def __post_init__(self) -> None:
        if self.kind not in ("constant", "linear", "exponential"):
            raise ParameterError(f"epsilon schedule: expected constant, linear or exponential, got {self.kind!r}")
        for name, v in (("start", self.start), ("end", self.end)):
            check_probability(v, f"epsilon {name}")
        if self.kind == "exponential" and (self.start <= 0 or self.end <= 0):
            raise ParameterError("epsilon schedule: an exponential schedule needs start and end above 0")
        if isinstance(self.over, bool) or not isinstance(self.over, (int, np.integer)) or self.over <= 0:
            raise ParameterError(f"epsilon schedule: 'over' must be a positive number of episodes, got {self.over!r}")

    def values(self, n: int) -> FloatArray:
        """epsilon_k for k = 0..n-1."""
        k = np.minimum(np.arange(n, dtype=np.float64), self.over) / self.over
        if self.kind == "constant":
            return np.full(n, float(self.start))
        if self.kind == "linear":
            return np.asarray(self.start + (self.end - self.start) * k, dtype=np.float64)
        return np.asarray(self.start * (self.end / self.start) ** k, dtype=np.float64)


@dataclass(frozen=True)
class StepSize:
    r"""alpha_n after the n-th update of a pair: ``visits`` n^(-omega), ``1/n``, or ``constant`` alpha.

    >>> StepSize("visits", omega=0.5).rate(4)
    0.5
    """

    kind: str = "visits"
    omega: float = 0.6
    alpha: float = 0.1

    def __post_init__(self) -> None:
        if self.kind not in ("visits", "1/n", "constant"):
            raise ParameterError(f"step size: expected visits, 1/n or a constant in (0, 1], got {self.kind!r}")
        if not 0.0 < self.omega <= 1.0:
            raise ParameterError(f"omega: expected a number in (0, 1], got {self.omega!r}")
        if not 0.0 < self.alpha <= 1.0:
            raise ParameterError(f"step size: expected a constant in (0, 1], got {self.alpha!r}")

    @property
    def code(self) -> int:
        """0 visits, 1 sample average, 2 constant (for the compiled engine)."""
        return ("visits", "1/n", "constant").index(self.kind)

    def rate(self, n: int) -> float:
        """alpha_n."""
        if self.kind == "visits":
            return float(n**-self.omega)
        if self.kind == "1/n":
            return 1.0 / n
        return self.alpha


def check_probability(value: Any, name: str) -> float:
    """A number in [0, 1], or a ParameterError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not (
        0.0 <= float(value) <= 1.0
    ):
        raise ParameterError(f"{name}: expected a number in [0, 1], got {value!r}")
    return float(value)


def step_size_from(value: str | float | StepSize, omega: float = 0.6) -> StepSize:
    """``"visits"``, ``"1/n"``, a constant in (0, 1] (number or numeric string) or a StepSize."""
    if isinstance(value, StepSize):
        return value
    if isinstance(value, str):
        if value in ("visits", "1/n"):
            return StepSize(value, omega=omega)
        try:
            value = float(value)
        except ValueError:
            raise ParameterError(f"step size: expected visits, 1/n or a constant in (0, 1], got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"step size: expected visits, 1/n or a constant in (0, 1], got {value!r}")
    return StepSize("constant", omega=omega, alpha=float(value))


def epsilon_values(epsilon: float | EpsilonSchedule | Sequence[float], n: int) -> FloatArray:
    """Per-episode exploration rates from a number, a schedule or a sequence of n numbers."""
    if isinstance(epsilon, EpsilonSchedule):
        return epsilon.values(n)
    if isinstance(epsilon, (int, float, np.floating, np.integer)) and not isinstance(epsilon, bool):
        return np.full(n, check_probability(epsilon, "epsilon"))
    arr = np.asarray(epsilon, dtype=np.float64) if not isinstance(epsilon, (str, bool)) else np.zeros(0)
    if arr.shape != (n,):
        raise ParameterError(f"epsilon: expected a number in [0, 1], a schedule or {n} per-episode values")
    if np.any(~(arr >= 0.0) | ~(arr <= 1.0)):
        raise ParameterError("epsilon: expected every value in [0, 1]")
    return arr


# ----------------------------------------------------------------- safety
def unsafe_mask(mdp: MDP, never_explore: Any = None) -> BoolArray:
    """(L,) pairs exploration must never pick: the model's ``unsafe`` flags plus
    ``never_explore`` (a (L,) boolean mask, or ``(state, action)`` pairs / ``"state:action"``
    strings by name or index).

    >>> from accessrl.catalog import access_review
    >>> unsafe_mask(access_review(), ["new_request:auto_approve"]).tolist()
    [True, False, False, False, False, False]
    """
    mask = np.zeros(mdp.n_pairs, dtype=bool) if mdp.unsafe is None else np.asarray(mdp.unsafe, dtype=bool).copy()
    if never_explore is None:
        return mask
    if isinstance(never_explore, np.ndarray) and never_explore.dtype == np.bool_:
        if never_explore.shape != (mdp.n_pairs,):
            raise ParameterError(f"never_explore: expected {mdp.n_pairs} pair flags, got shape {never_explore.shape}")
        return mask | never_explore
    for item in never_explore:
        if isinstance(item, str):
            if ":" not in item:
                raise ParameterError(f"never_explore: expected STATE:ACTION, got {item!r}")
            state, action = item.split(":", 1)
            mask[mdp.pair_index(state, action)] = True
        else:
            state, action = item
            mask[mdp.pair_index(state, action)] = True
    return mask


def allowed_model(mdp: MDP, allowed: BoolArray) -> MDP:
    """The model restricted to the ``allowed`` pairs (outcome annotations kept).

    A ParameterError names a decision state left without any allowed action.
    """
    keep = np.asarray(allowed, dtype=bool)
    if keep.all():
        return mdp
    per_state = segment_count(keep, mdp.sa_ptr)
    empty = mdp.decision_states[per_state[mdp.decision_states] == 0]
    if empty.size:
        raise ParameterError(
            f"never_explore: state {mdp.state_names[int(empty[0])]!r} would have no allowed action left"
        )
    counts = np.diff(mdp.out_ptr)
    out_keep = np.repeat(keep, counts)
    sa_counts = per_state
    sub = {
        "sa_ptr": np.concatenate(([0], np.cumsum(sa_counts))).astype(np.int64),
        "sa_action": mdp.sa_action[keep],
        "out_ptr": np.concatenate(([0], np.cumsum(counts[keep]))).astype(np.int64),
        "out_next": mdp.out_next[out_keep],
        "out_prob": mdp.out_prob[out_keep],
        "out_reward": mdp.out_reward[out_keep],
        "severe": None if mdp.severe is None else mdp.severe[out_keep],
        "events": None if mdp.events is None else tuple(e for e, k in zip(mdp.events, out_keep, strict=True) if k),
        "components": {c: v[out_keep] for c, v in mdp.components.items()},
        "forbidden": None if mdp.forbidden is None else mdp.forbidden[keep],
        "unsafe": None if mdp.unsafe is None else mdp.unsafe[keep],
        "name": f"{mdp.name} (allowed actions)",
    }
    return replace(mdp, **sub)


# ----------------------------------------------------------- the engine
@dataclass(frozen=True, eq=False)
class LearningResult:
    """What a run learned.

    ``q`` (L,) per-pair action values (Double Q: the mean of its two tables); ``policy``
    (S,) greedy over the allowed actions, first declared among ties (-1 terminal);
    ``visits`` (L,) updates per pair; ``episode_returns`` (n,) the discounted return
    each episode earned while learning (the learning curve) and ``episode_lengths``;
    ``truncated`` episodes cut at ``max_steps``; ``steps`` the number of updates;
    ``unsafe_actions`` how many steps took a pair flagged unsafe; ``allowed`` (L,) the
    pairs the behaviour could take; ``q_star`` and ``max_error`` = max over allowed
    pairs of |Q - Q*| against the exact solution (of the allowed model) when computed.
    """

    algorithm: str
    engine: str
    q: FloatArray
    policy: IntArray
    visits: IntArray
    episode_returns: FloatArray
    episode_lengths: IntArray
    truncated: int
    steps: int
    unsafe_actions: int
    allowed: BoolArray
    unsafe: BoolArray
    q_star: FloatArray | None = None
    max_error: float | None = None


@dataclass(frozen=True, eq=False)
class Prepared:
    """Validated inputs shared by both engines (arrays only)."""

    algorithm: int
    epsilons: FloatArray
    step: StepSize
    max_steps: int
    start: FloatArray
    allowed: BoolArray
    unsafe: BoolArray
    allow_ptr: IntArray
    allow_pair: IntArray
    initial_q: float


def prepare(
    mdp: MDP,
    *,
    episodes: int,
    algorithm: str,
    epsilon: float | EpsilonSchedule | Sequence[float],
    step_size: str | float | StepSize,
    omega: float,
    max_steps: int,
    start: Any,
    never_explore: Any,
    safe: bool,
    initial_q: float,
) -> Prepared:
    """Check every argument once and turn it into arrays."""
    n = check_episodes(episodes, "episodes")
    if algorithm not in ALGORITHMS:
        raise ParameterError(f"algorithm: expected one of {list(ALGORITHMS)}, got {algorithm!r}")
    unsafe = unsafe_mask(mdp, never_explore)
    allowed = ~unsafe if safe else np.ones(mdp.n_pairs, dtype=bool)
    allowed_model(mdp, allowed)  # raises if a state loses every action
    per_state = segment_count(allowed, mdp.sa_ptr)
    if not np.isfinite(initial_q):
        raise ParameterError(f"initial_q: expected a finite number, got {initial_q!r}")
    return Prepared(
        algorithm=ALGORITHMS.index(algorithm),
        epsilons=epsilon_values(epsilon, n),
        step=step_size_from(step_size, omega),
        max_steps=check_max_steps(max_steps),
        start=start_distribution(mdp, start),
        allowed=allowed,
        unsafe=unsafe,
        allow_ptr=np.concatenate(([0], np.cumsum(per_state))).astype(np.int64),
        allow_pair=np.flatnonzero(allowed).astype(np.int64),
        initial_q=float(initial_q),
    )


class _Engine:
    """The readable engine: one episode loop, the target chosen by ``algorithm``."""

    def __init__(self, mdp: MDP, prep: Prepared, rng: np.random.Generator) -> None:
        self.tab = step_tables(mdp)
        self.gamma = mdp.gamma
        self.prep = prep
        self.rng = rng
        self.alg = ALGORITHMS[prep.algorithm]
        self.allow_ptr: list[int] = prep.allow_ptr.tolist()
        self.allow_pair: list[int] = prep.allow_pair.tolist()
        self.unsafe: list[bool] = prep.unsafe.tolist()
        self.start_states = np.flatnonzero(prep.start > 0).tolist()
        self.start_probs: list[float] = prep.start.tolist()
        n_pairs = mdp.n_pairs
        self.q = [prep.initial_q] * n_pairs
        self.q2 = [prep.initial_q] * n_pairs  # Double Q's second table
        self.visits = [0] * n_pairs
        self.visits2 = [0] * n_pairs
        self.steps = self.truncated = self.unsafe_taken = 0

    # ---------------------------------------------------------- behaviour
    def value(self, pair: int) -> float:
        """The behaviour's estimate of a pair (Double Q: the sum of both tables)."""
        return self.q[pair] + self.q2[pair] if self.alg == "double-q" else self.q[pair]

    def greedy(self, table: list[float], state: int) -> int:
        """First allowed pair of ``state`` with the largest value in ``table``."""
        lo, hi = self.allow_ptr[state], self.allow_ptr[state + 1]
        best = self.allow_pair[lo]
        for j in range(lo + 1, hi):
            p = self.allow_pair[j]
            if table[p] > table[best]:
                best = p
        return best

    def choose(self, state: int, epsilon: float) -> int:
        """epsilon-greedy: one uniform; explore with rng.integers, else the first best."""
        lo, hi = self.allow_ptr[state], self.allow_ptr[state + 1]
        if self.rng.random() < epsilon:
            return self.allow_pair[lo + int(self.rng.integers(0, hi - lo))]
        if self.alg == "double-q":
            lo, hi = self.allow_ptr[state], self.allow_ptr[state + 1]
            best = self.allow_pair[lo]
            for j in range(lo + 1, hi):
                p = self.allow_pair[j]
                if self.q[p] + self.q2[p] > self.q[best] + self.q2[best]:
                    best = p
            return best
        return self.greedy(self.q, state)

    # ------------------------------------------------------------ targets
    def target(self, reward: float, nxt: int, done: bool, epsilon: float) -> tuple[float, int, int]:
        """(target, next pair for SARSA or -1, table to update: 0 first, 1 second)."""
        g = self.gamma
        if self.alg == "q-learning":
            return reward + (0.0 if done else g * self.q[self.greedy(self.q, nxt)]), -1, 0
        if self.alg == "sarsa":
            if done:
                return reward, -1, 0
            a2 = self.choose(nxt, epsilon)
            return reward + g * self.q[a2], a2, 0
        if self.alg == "expected-sarsa":
            if done:
                return reward, -1, 0
            lo, hi = self.allow_ptr[nxt], self.allow_ptr[nxt + 1]
            mean = sum(self.q[self.allow_pair[j]] for j in range(lo, hi)) / (hi - lo)
            best = self.q[self.greedy(self.q, nxt)]
            return reward + g * ((1.0 - epsilon) * best + epsilon * mean), -1, 0
        # double-q: the coin picks the table to update; the other one scores its argmax
        which = 0 if self.rng.random() < 0.5 else 1
        if done:
            return reward, -1, which
        own, other = (self.q, self.q2) if which == 0 else (self.q2, self.q)
        return reward + g * other[self.greedy(own, nxt)], -1, which

    def update(self, pair: int, target: float, which: int) -> None:
        table, visits = (self.q, self.visits) if which == 0 else (self.q2, self.visits2)
        visits[pair] += 1
        n = visits[pair]
        step = self.prep.step
        if step.kind == "1/n":
            table[pair] += (target - table[pair]) / n
        else:
            table[pair] += step.rate(n) * (target - table[pair])

    # ------------------------------------------------------------ episodes
    def run(self, first: int, last: int, returns: FloatArray, lengths: IntArray) -> None:
        tab, rng, g = self.tab, self.rng, self.gamma
        for ep in range(first, last):
            eps = float(self.prep.epsilons[ep])
            s = self.start_states[0] if len(self.start_states) == 1 else _draw_start(self.start_probs, rng)
            pair = -1
            total, disc, t = 0.0, 1.0, 0
            while not tab.ends[s]:
                if t >= self.prep.max_steps:
                    self.truncated += 1
                    break
                if pair < 0:
                    pair = self.choose(s, eps)
                if self.unsafe[pair]:
                    self.unsafe_taken += 1
                k = tab.outcome(pair, rng)
                nxt, r = tab.out_next[k], tab.out_reward[k]
                total += disc * r
                disc *= g
                t += 1
                target, next_pair, which = self.target(r, nxt, tab.ends[nxt], eps)
                self.update(pair, target, which)
                self.steps += 1
                s, pair = nxt, next_pair
            returns[ep] = total
            lengths[ep] = t


def _draw_start(probs: list[float], rng: np.random.Generator) -> int:
    u = rng.random()
    c = 0.0
    last = 0
    for s, p in enumerate(probs):
        if p > 0.0:
            c += p
            last = s
            if u < c:
                return s
    return last


def greedy_pairs(mdp: MDP, q: FloatArray, allowed: BoolArray) -> IntArray:
    """(S,) global action of the first allowed pair with the largest ``q`` (-1 where none)."""
    pol = np.full(mdp.n_states, -1, dtype=np.int64)
    for s in mdp.decision_states:
        lo, hi = int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1])
        rows = [k for k in range(lo, hi) if allowed[k]]
        if rows:
            best = rows[0]
            for k in rows[1:]:
                if q[k] > q[best]:
                    best = k
            pol[s] = mdp.sa_action[best]
    return pol


def exact_q(mdp: MDP, allowed: BoolArray) -> FloatArray | None:
    """Q* of the model restricted to ``allowed`` pairs, scattered back to (L,) (nan elsewhere);
    None when the restricted model cannot be solved (e.g. gamma = 1 without termination)."""
    from accessrl.planning import policy_iteration

    sub = allowed_model(mdp, allowed)
    try:
        qs = policy_iteration(sub).q_values
    except AccessRLError:
        return None
    out = np.full(mdp.n_pairs, np.nan)
    out[np.flatnonzero(allowed)] = qs
    return out


def learn(
    mdp: MDP,
    *,
    episodes: int,
    rng: np.random.Generator,
    algorithm: str = "q-learning",
    epsilon: float | EpsilonSchedule | Sequence[float] = 0.15,
    step_size: str | float | StepSize = "visits",
    omega: float = 0.6,
    max_steps: int = 10_000,
    start: Any = None,
    never_explore: Any = None,
    safe: bool = True,
    initial_q: float = 0.0,
    exact: bool = False,
    engine: str = "reference",
    progress: Progress | None = None,
    chunks: int = 50,
) -> LearningResult:
    """Learn Q from ``episodes`` sampled episodes of ``mdp`` (see the module docstring).

    ``engine="fast"`` runs the numba engine of :mod:`accessrl.learning_fast`, which
    draws the same random stream and gives the same numbers.  ``exact=True`` also
    solves the (allowed) model and reports max|Q - Q*|.  ``progress`` is called
    between ``chunks`` equal slices of the run.
    """
    if engine not in ENGINES:
        raise ParameterError(f"engine: expected one of {list(ENGINES)}, got {engine!r}")
    prep = prepare(
        mdp, episodes=episodes, algorithm=algorithm, epsilon=epsilon, step_size=step_size, omega=omega,
        max_steps=max_steps, start=start, never_explore=never_explore, safe=safe, initial_q=initial_q,
    )
    n = int(prep.epsilons.size)
    returns = np.zeros(n)
    lengths = np.zeros(n, dtype=np.int64)
    bounds = np.unique(np.linspace(0, n, max(1, min(chunks, n)) + 1).astype(np.int64))
    if engine == "fast":
        from accessrl.learning_fast import FastEngine

        runner: Any = FastEngine(mdp, prep, rng)
    else:
        runner = _Engine(mdp, prep, rng)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        runner.run(int(a), int(b), returns, lengths)
        if progress is not None:
            progress(int(b), n)
    q1, q2 = np.asarray(runner.q, dtype=np.float64), np.asarray(runner.q2, dtype=np.float64)
    visits = np.asarray(runner.visits, dtype=np.int64) + np.asarray(runner.visits2, dtype=np.int64)
    q = (q1 + q2) / 2.0 if algorithm == "double-q" else q1
    q_star = exact_q(mdp, prep.allowed) if exact else None
    max_error = None
    if q_star is not None:
        diff = np.abs(q - q_star)[prep.allowed]
        max_error = float(diff.max()) if diff.size else 0.0
    return LearningResult(
        algorithm=algorithm,
        engine=engine,
        q=q,
        policy=greedy_pairs(mdp, q, prep.allowed),
        visits=visits,
        episode_returns=returns,
        episode_lengths=lengths,
        truncated=int(runner.truncated),
        steps=int(runner.steps),
        unsafe_actions=int(runner.unsafe_taken),
        allowed=prep.allowed,
        unsafe=prep.unsafe,
        q_star=q_star,
        max_error=max_error,
    )


# ---------------------------------------------------------------- bandits
def one_state_bandit(mdp: MDP, q: FloatArray, state: int | str | None = None) -> MDP:
    """Collapse ``mdp`` at ``state`` (default: its start) into a one-state bandit whose arm
    ``a`` pays Q(state, a) deterministically and ends the episode (the lesson's
    exploration lab: "collapse the completed routes into one-state action returns").

    >>> from accessrl.catalog import access_review_abandonment
    >>> from accessrl.planning import policy_iteration
    >>> m = access_review_abandonment()
    >>> b = one_state_bandit(m, policy_iteration(m).q_values)
    >>> [round(r, 2) for r in b.out_reward.tolist()]
    [-120.0, 30.75, 54.0]
    """
    s = mdp.state_index(state) if isinstance(state, str) else (
        int(state) if state is not None else (mdp.start if mdp.start is not None else 0))
    lo, hi = int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1])
    if hi == lo:
        raise ParameterError(f"state {mdp.state_names[s]!r}: a terminal state has no arms")
    k = hi - lo
    q = np.asarray(q, dtype=np.float64)
    actions = tuple(mdp.action_names[int(a)] for a in mdp.sa_action[lo:hi])
    return MDP(
        gamma=mdp.gamma,
        state_names=(mdp.state_names[s], "done"),
        action_names=actions,
        terminal=np.array([False, True]),
        sa_ptr=np.array([0, k, k], dtype=np.int64),
        sa_action=np.arange(k, dtype=np.int64),
        out_ptr=np.arange(k + 1, dtype=np.int64),
        out_next=np.ones(k, dtype=np.int64),
        out_prob=np.ones(k),
        out_reward=q[lo:hi].copy(),
        name=f"{mdp.name} bandit at {mdp.state_names[s]}",
        start=0,
    )


__all__ = [
    "ALGORITHMS",
    "ENGINES",
    "EpsilonSchedule",
    "LearningResult",
    "StepSize",
    "allowed_model",
    "check_probability",
    "epsilon_values",
    "exact_q",
    "greedy_pairs",
    "learn",
    "one_state_bandit",
    "step_size_from",
    "unsafe_mask",
]
