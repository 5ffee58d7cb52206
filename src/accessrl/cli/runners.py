"""What ``accessrl learn`` hands a learner and gets back: the runner interface.

A runner is a function of a :class:`LearnRequest` returning a :class:`LearnReport`;
:data:`accessrl.cli.learning.ALGORITHMS` lists them by ``--algorithm`` name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from accessrl.model.mdp import MDP


@dataclass(frozen=True)
class LearnRequest:
    """Everything ``accessrl learn`` parsed, for one runner."""

    mdp: MDP
    algorithm: str
    episodes: int
    epsilon: Any
    seed: int
    step_size: str
    omega: float
    max_steps: int
    never_explore: tuple[str, ...]
    safe: bool
    engine: str
    progress: Callable[[int, int], None] | None = None
    baseline: str | None = None


@dataclass(frozen=True)
class LearnReport:
    """What a runner learned, in the form the command prints.

    ``policy`` (S,) greedy actions (-1 terminal); ``episode_returns`` the learning
    curve; ``q``/``visits`` per pair when the learner keeps them; ``extra`` more
    JSON fields.
    """

    algorithm: str
    policy: np.ndarray
    episode_returns: np.ndarray
    q: np.ndarray | None = None
    visits: np.ndarray | None = None
    unsafe_actions: int | None = None
    max_error: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Runner = Callable[[LearnRequest], LearnReport]


__all__ = ["LearnReport", "LearnRequest", "Runner"]
