"""What a learning run is given, checked once: algorithms, schedules, step sizes, masks (layer 1).

CleanRL's habit: a configuration is data with a docstring per field, checked before the
loop starts, so the engines (:mod:`~accessrl.learning.reference`, :mod:`~accessrl.learning.fast`)
see arrays only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from accessrl._types import BoolArray, FloatArray, IntArray
from accessrl.errors import ParameterError, SpecValueError
from accessrl.model.mdp import MDP
from accessrl.model.policies import start_distribution
from accessrl.simulation import check_episodes, check_max_steps, segment_count

ALGORITHMS = ("q-learning", "sarsa", "expected-sarsa", "double-q")
"""The targets the engine knows, in the order of their codes (0..3)."""

ENGINES = ("reference", "fast")
"""``reference``: readable Python (the lesson's); ``fast``: numba (:mod:`accessrl.learning.fast`)."""

EpisodeProgress = Callable[[int, int], None]
"""Called as ``progress(episodes_done, episodes_total)`` between chunks of a run."""


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
    """The model restricted to the ``allowed`` pairs (:meth:`~accessrl.model.MDP.restricted`).

    A ParameterError names a decision state left without any allowed action.
    """
    try:
        return mdp.restricted(allowed, why="never_explore")
    except SpecValueError as exc:
        raise ParameterError(str(exc)) from None


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
    allowed = (~unsafe if safe else np.ones(mdp.n_pairs, dtype=bool)) & mdp.allowed_pairs  # forbidden: never taken
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


__all__ = [
    "ALGORITHMS",
    "ENGINES",
    "EpsilonSchedule",
    "LearningResult",
    "Prepared",
    "EpisodeProgress",
    "StepSize",
    "allowed_model",
    "check_probability",
    "epsilon_values",
    "prepare",
    "step_size_from",
    "unsafe_mask",
]
