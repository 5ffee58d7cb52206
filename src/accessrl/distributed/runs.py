r"""Learning runs over seeds x algorithms x settings, and the best configuration's policy (layer 2).

Each run is one call of :func:`~accessrl.learning.learn` with its own seed
(``rng = default_rng(seed)``, so a run reproduces ``accessrl learn --seed SEED`` exactly)
and is scored by evaluating its greedy policy *exactly* on the model
(:func:`~accessrl.planning.exact.policy_evaluation`): the start value of what was
learned, not the noisy returns earned while exploring.  A configuration's score is the
mean start value over its seeds; the best configuration is the first with the highest
score, and its policy is the greedy policy of its best seed (first among ties).

This uses Ray Core tasks rather than Ray Tune: the grid is fixed in advance, every run
is short and deterministic, and nothing is stopped early or searched adaptively, which
is what Tune's trial scheduler and search algorithms are for.  Plain tasks keep the
local backend and the cluster running exactly the same function, so the results table
is identical on both.

>>> from accessrl.catalog import access_review_abandonment
>>> grid = learning_grid(access_review_abandonment(), algorithms=["q-learning"], seeds=[13],
...                      settings=[{"epsilon": 0.15}], episodes=20_000)
>>> run = grid.runs[0]
>>> run.algorithm, run.seed, round(run.start_value, 1), grid.best_policy["new_request"]
('q-learning', 13, 54.0, 'human_review')
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from accessrl.distributed.backend import Backend, get_backend
from accessrl.errors import ParameterError
from accessrl.learning.tabular import learn
from accessrl.model.mdp import MDP
from accessrl.model.policies import default_start
from accessrl.planning.exact import policy_evaluation
from accessrl.planning.solver import solve

SETTING_KEYS = ("epsilon", "step_size", "omega", "max_steps", "initial_q")
"""The :func:`~accessrl.learning.learn` arguments a setting may fix."""


@dataclass(frozen=True)
class Run:
    """One learning run: its configuration, seed and scores."""

    config: int
    algorithm: str
    setting: Mapping[str, Any]
    seed: int
    start_value: float
    max_error: float | None
    steps: int
    unsafe_actions: int
    policy: tuple[str, ...]


@dataclass(frozen=True)
class ConfigSummary:
    """A configuration (algorithm and setting) over its seeds."""

    config: int
    algorithm: str
    setting: Mapping[str, Any]
    mean_start_value: float
    min_start_value: float
    seeds: int


@dataclass(frozen=True)
class LearningGrid:
    """The result of :func:`learning_grid`: every run, every configuration, the best policy.

    ``best_policy`` maps each decision state to the action of the best configuration's
    best run (the file ``accessrl promote --candidate`` accepts, once written as YAML).
    """

    runs: tuple[Run, ...]
    configs: tuple[ConfigSummary, ...]
    best: int
    best_policy: Mapping[str, str]
    optimal_start_value: float
    backend: Mapping[str, Any]


def _run(shared: tuple[MDP, int, int, bool], task: tuple[int, str, dict[str, Any], int]) -> Run:
    mdp, episodes, s0, exact = shared
    config, algorithm, setting, seed = task
    res = learn(mdp, episodes=episodes, rng=np.random.default_rng(seed), algorithm=algorithm, exact=exact,
                engine="fast" if mdp.n_pairs > 10_000 else "reference", **setting)
    value = float(policy_evaluation(mdp, res.policy).values[s0])
    names = tuple(mdp.action_names[int(a)] if a >= 0 else "" for a in res.policy)
    return Run(config=config, algorithm=algorithm, setting=setting, seed=seed, start_value=value,
               max_error=res.max_error, steps=res.steps, unsafe_actions=res.unsafe_actions, policy=names)


def learning_grid(
    mdp: MDP,
    *,
    algorithms: Sequence[str],
    seeds: Sequence[int],
    settings: Sequence[Mapping[str, Any]] = ({},),
    episodes: int = 20_000,
    exact: bool = True,
    backend: str | Backend | None = None,
    start: int | str | None = None,
) -> LearningGrid:
    """Run every (algorithm, setting, seed) on ``backend`` and pick the best configuration."""
    if not algorithms or not seeds or not settings:
        raise ParameterError("learning grid: expected at least one algorithm, one seed and one setting")
    for st in settings:
        bad = sorted(set(st) - set(SETTING_KEYS))
        if bad:
            raise ParameterError(f"setting {dict(st)!r}: unknown key {bad[0]!r}; expected some of {list(SETTING_KEYS)}")
    s0 = default_start(mdp) if start is None else (mdp.state_index(start) if isinstance(start, str) else int(start))
    configs = list(itertools.product(algorithms, [dict(s) for s in settings]))
    tasks = [(c, alg, st, int(seed)) for c, (alg, st) in enumerate(configs) for seed in seeds]
    be = get_backend(backend)
    runs: list[Run] = be.map(_run, tasks, shared=(mdp, int(episodes), s0, exact))
    summaries = []
    for c, (alg, st) in enumerate(configs):
        vals = [r.start_value for r in runs if r.config == c]
        summaries.append(ConfigSummary(config=c, algorithm=alg, setting=st, mean_start_value=float(np.mean(vals)),
                                       min_start_value=float(np.min(vals)), seeds=len(vals)))
    best = max(summaries, key=lambda s: (s.mean_start_value, -s.config)).config
    best_run = max((r for r in runs if r.config == best), key=lambda r: (r.start_value, -seeds.index(r.seed)))
    decision = np.flatnonzero(np.diff(mdp.sa_ptr) > 0)
    policy = {mdp.state_names[int(s)]: best_run.policy[int(s)] for s in decision}
    return LearningGrid(runs=tuple(runs), configs=tuple(summaries), best=best, best_policy=policy,
                        optimal_start_value=float(solve(mdp).values[s0]), backend=be.describe())


__all__ = ["SETTING_KEYS", "ConfigSummary", "LearningGrid", "Run", "learning_grid"]
