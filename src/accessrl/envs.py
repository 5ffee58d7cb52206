"""gymnasium environments over compiled models, and models from toy-text environments (layer 2).

:class:`MDPEnv` wraps a spec, a ``catalog:NAME`` / file path, or an :class:`~accessrl.model.MDP`
as a ``gymnasium.Env`` with ``Discrete`` observation and action spaces (indices into the
model's state and action names).  It passes ``gymnasium.utils.env_checker.check_env``
without warnings.

* ``info["action_mask"]`` (int8, one entry per action name) marks the actions the
  current state allows, as gymnasium's masking convention expects.
* **Penalty outcome**: an action the state does not allow does not raise; the agent
  stays where it is, receives ``invalid_action_reward`` (default: the model's most
  negative reward, or -1 when it has none), the episode goes on, and
  ``info["invalid_action"]`` is True.
* ``P[s][a]`` lists ``(probability, next_state, reward, terminated)`` like the toy-text
  environments; a disallowed action lists its penalty outcome, a terminal state
  self-loops with reward 0 and ``terminated=True``.
* Steps sample by the one-uniform rule of :mod:`accessrl.simulation` from the
  environment's own seeded ``np_random``.

Registered ids (import :mod:`accessrl.envs` first, or use
``gymnasium.make("accessrl.envs:accessrl/AccessReview-v0")``):
``accessrl/AccessReview-v0`` and ``accessrl/AccessReviewAbandonment-v0``.

Conversely :func:`from_gymnasium` (also ``MDP.from_gymnasium``) reads a toy-text
environment's ``P`` (FrozenLake, CliffWalking, Taxi) into a compiled model.

>>> import gymnasium as gym
>>> env = MDPEnv("catalog:access-review-abandonment")
>>> obs, info = env.reset(seed=0)
>>> env.unwrapped.state_names[obs], info["action_mask"].tolist()
('new_request', [1, 1, 1, 0])
>>> mdp = from_gymnasium(gym.make("FrozenLake-v1"), gamma=0.99)
>>> mdp.n_states, int(mdp.terminal.sum())
(16, 5)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from accessrl._optional import dependency_error
from accessrl.errors import ParameterError
from accessrl.model.arrays import KNOWN_ACTION_NAMES
from accessrl.model.mdp import MDP
from accessrl.model.spec import compile_spec
from accessrl.simulation import step_tables

try:
    import gymnasium as gym
    from gymnasium import spaces
    from gymnasium.envs.registration import EnvSpec
except ImportError as exc:  # the [gym] extra
    raise dependency_error("gymnasium", "gym", "accessrl.envs (gymnasium environments)", exc) from exc


def _as_mdp(model: Any) -> MDP:
    if isinstance(model, MDP):
        return model
    if isinstance(model, Mapping):
        return compile_spec(model, source="MDPEnv")
    if isinstance(model, (str, Path)):
        from accessrl.specfile import load_model_ref

        return load_model_ref(model)
    raise ParameterError(f"MDPEnv: expected an MDP, a spec mapping, a path or catalog:NAME, got {type(model).__name__}")


class MDPEnv(gym.Env):
    """A compiled model as a gymnasium environment (see the module docstring).

    ``start`` overrides the model's start state (reset also accepts
    ``options={"state": name_or_index}``); ``max_episode_steps`` is left to
    gymnasium's ``TimeLimit`` wrapper (a time limit truncates, it does not terminate).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        spec_or_mdp: Any,
        *,
        invalid_action_reward: float | None = None,
        start: int | str | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.mdp = _as_mdp(spec_or_mdp)
        m = self.mdp
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ParameterError(f"render_mode: expected one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        if invalid_action_reward is None:
            low = float(m.out_reward.min()) if m.n_outcomes else 0.0
            invalid_action_reward = low if low < 0 else -1.0
        self.invalid_action_reward = float(invalid_action_reward)
        self.observation_space = spaces.Discrete(m.n_states)
        self.action_space = spaces.Discrete(m.n_actions)
        self.state_names = m.state_names
        self.action_names = m.action_names
        self._mask = m.action_mask().astype(np.int8)
        self._ends = np.asarray(m.terminal | (m.n_actions_of == 0))
        if start is None:
            self._start = m.start if m.start is not None else 0
        else:
            self._start = m.state_index(start) if isinstance(start, str) else int(start)
        self._pair = np.full((m.n_states, m.n_actions), -1, dtype=np.int64)
        self._pair[m.sa_state, m.sa_action] = np.arange(m.n_pairs)
        self._tab = step_tables(m)
        self.P = self._transition_table()
        self.state = self._start
        # gymnasium.make replaces this; a directly built env gets a spec that rebuilds it.
        self.spec = EnvSpec(
            id="accessrl/MDPEnv-v0", entry_point="accessrl.envs:MDPEnv",
            kwargs={"spec_or_mdp": m, "invalid_action_reward": self.invalid_action_reward, "start": self._start},
        )

    def _transition_table(self) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
        m, tab = self.mdp, self._tab
        table: dict[int, dict[int, list[tuple[float, int, float, bool]]]] = {}
        for s in range(m.n_states):
            row: dict[int, list[tuple[float, int, float, bool]]] = {}
            for a in range(m.n_actions):
                if self._ends[s]:
                    row[a] = [(1.0, s, 0.0, True)]
                    continue
                k = int(self._pair[s, a])
                if k < 0:
                    row[a] = [(1.0, s, self.invalid_action_reward, False)]
                    continue
                row[a] = [
                    (tab.out_prob[j], tab.out_next[j], tab.out_reward[j], bool(self._ends[tab.out_next[j]]))
                    for j in range(tab.out_ptr[k], tab.out_ptr[k + 1])
                ]
            table[s] = row
        return table

    def _info(self, **extra: Any) -> dict[str, Any]:
        return {"action_mask": self._mask[self.state].copy(), **extra}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """Start an episode at the start state (or ``options["state"]``)."""
        super().reset(seed=seed)
        s = self._start
        if options and "state" in options:
            st = options["state"]
            s = self.mdp.state_index(st) if isinstance(st, str) else int(st)
        self.state = int(s)
        return self.state, self._info()

    def step(self, action: Any) -> tuple[int, float, bool, bool, dict[str, Any]]:
        """One step; a disallowed action yields the penalty outcome (see the module docstring)."""
        a = int(action)
        if not 0 <= a < self.mdp.n_actions:
            raise ParameterError(f"action: expected an index in [0, {self.mdp.n_actions}), got {action!r}")
        s = self.state
        if self._ends[s]:
            return s, 0.0, True, False, self._info(invalid_action=False)
        k = int(self._pair[s, a])
        if k < 0:
            return s, self.invalid_action_reward, False, False, self._info(invalid_action=True)
        j = self._tab.outcome(k, self.np_random)
        self.state = int(self._tab.out_next[j])
        reward = float(self._tab.out_reward[j])
        event = self.mdp.events[j] if self.mdp.events is not None else ""
        return self.state, reward, bool(self._ends[self.state]), False, self._info(invalid_action=False, event=event)

    def render(self) -> str | None:
        """``ansi``: the current state's name and its allowed actions."""
        if self.render_mode != "ansi":
            return None
        allowed = [self.action_names[a] for a in np.flatnonzero(self._mask[self.state])]
        return f"{self.state_names[self.state]}  actions: {', '.join(allowed) or '(terminal)'}\n"


def from_gymnasium(env: Any, *, gamma: float = 1.0, name: str | None = None) -> MDP:
    """A compiled model from a toy-text environment's ``P[s][a]`` table (the same as
    :meth:`MDP.from_gymnasium <accessrl.model.MDP.from_gymnasium>`; the rules are in
    :func:`accessrl.model.arrays.from_transition_table`)."""
    return MDP.from_gymnasium(env, gamma=gamma, name=name)


def register_envs() -> None:
    """Register the catalog's environments with gymnasium (idempotent).

    Called when this module is imported, as gymnasium's own environment packages do, so
    ``gymnasium.make("accessrl.envs:accessrl/AccessReview-v0")`` works without a prior import.
    """
    for env_id, model in (
        ("accessrl/AccessReview-v0", "catalog:access-review"),
        ("accessrl/AccessReviewAbandonment-v0", "catalog:access-review-abandonment"),
    ):
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="accessrl.envs:MDPEnv", kwargs={"spec_or_mdp": model},
                         max_episode_steps=100)


register_envs()

__all__ = ["KNOWN_ACTION_NAMES", "MDPEnv", "from_gymnasium", "register_envs"]
