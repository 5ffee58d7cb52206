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

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec

from accessrl.errors import ModelError, ParameterError
from accessrl.model import MDP, compile_spec
from accessrl.simulation import step_tables

KNOWN_ACTION_NAMES = {
    "FrozenLakeEnv": ("left", "down", "right", "up"),
    "CliffWalkingEnv": ("up", "right", "down", "left"),
    "TaxiEnv": ("south", "north", "east", "west", "pickup", "dropoff"),
}
"""Readable action names of gymnasium's toy-text environments (by class name)."""


def _as_mdp(model: Any) -> MDP:
    if isinstance(model, MDP):
        return model
    if isinstance(model, Mapping):
        return compile_spec(model, source="MDPEnv")
    if isinstance(model, (str, Path)):
        text = str(model)
        if text.startswith("catalog:"):
            from accessrl.catalog import load

            return load(text.split(":", 1)[1])
        from accessrl.specfile import load_model

        return load_model(Path(text))
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
    """A compiled model from an environment exposing a toy-text ``P[s][a]`` table.

    ``P[s][a]`` is a list of ``(p, next, reward, terminated)`` in gymnasium's order,
    which is kept (duplicates included) so steps sample as the environment does.
    Terminal states: those entered only by ``terminated=True`` transitions, and
    absorbing ones (every transition a reward-0 self-loop that terminates, like
    FrozenLake's holes and goal).  A terminating transition into a state that is
    otherwise not terminal is redirected to an added absorbing state ``"terminated"``.
    ``gamma`` defaults to 1 (toy-text tasks are episodic and undiscounted, Sutton &
    Barto Example 6.6); FrozenLake needs gamma < 1 to be solvable (rewards are
    non-negative, so some policies never end without penalty).
    """
    base = getattr(env, "unwrapped", env)
    table = getattr(base, "P", None)
    if not isinstance(table, Mapping) or not table:
        raise ModelError(f"from_gymnasium: {type(base).__name__} has no transition table P[s][a]")
    n_s = int(base.observation_space.n)
    n_a = int(base.action_space.n)

    def rows(s: int, a: int) -> list[tuple[float, int, float, bool]]:
        try:
            return [(float(p), int(n), float(r), bool(d)) for p, n, r, d in table[s][a]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"from_gymnasium: P[{s}][{a}] is not a list of (p, next, reward, terminated): {exc}") from None

    absorbing = np.array(
        [all(n == s and r == 0.0 and d for a in range(n_a) for _, n, r, d in rows(s, a)) for s in range(n_s)]
    )
    entered_done = np.zeros(n_s, dtype=bool)
    entered_live = np.zeros(n_s, dtype=bool)
    for s in range(n_s):
        if absorbing[s]:
            continue
        for a in range(n_a):
            for p, n, _, d in rows(s, a):
                if p > 0:
                    (entered_done if d else entered_live)[n] = True
    terminal = absorbing | (entered_done & ~entered_live)
    needs_sink = bool(np.any(entered_done & ~terminal))
    sink = n_s
    sa_ptr, sa_action, out_ptr = [0], [], [0]
    nxt, prob, rew = [], [], []
    for s in range(n_s):
        if not terminal[s]:
            for a in range(n_a):
                sa_action.append(a)
                for p, n, r, d in rows(s, a):
                    nxt.append(sink if d and not terminal[n] else n)
                    prob.append(p)
                    rew.append(r)
                out_ptr.append(len(nxt))
        sa_ptr.append(len(sa_action))
    if needs_sink:
        sa_ptr.append(len(sa_action))
    actions = KNOWN_ACTION_NAMES.get(type(base).__name__, tuple(f"a{a}" for a in range(n_a)))
    if len(actions) != n_a:
        actions = tuple(f"a{a}" for a in range(n_a))
    states = tuple(str(s) for s in range(n_s)) + (("terminated",) if needs_sink else ())
    start = None
    initial = getattr(base, "initial_state_distrib", None)
    if initial is not None and np.count_nonzero(initial) == 1:
        start = int(np.flatnonzero(initial)[0])
    spec_id = getattr(getattr(env, "spec", None), "id", None)
    return MDP(
        gamma=float(gamma),
        state_names=states,
        action_names=actions,
        terminal=np.concatenate([terminal, [True] * int(needs_sink)]).astype(bool),
        sa_ptr=np.asarray(sa_ptr, dtype=np.int64),
        sa_action=np.asarray(sa_action, dtype=np.int64),
        out_ptr=np.asarray(out_ptr, dtype=np.int64),
        out_next=np.asarray(nxt, dtype=np.int64),
        out_prob=np.asarray(prob, dtype=np.float64),
        out_reward=np.asarray(rew, dtype=np.float64),
        name=name or spec_id or type(base).__name__,
        start=start,
    )


def _register() -> None:
    for env_id, model in (
        ("accessrl/AccessReview-v0", "catalog:access-review"),
        ("accessrl/AccessReviewAbandonment-v0", "catalog:access-review-abandonment"),
    ):
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="accessrl.envs:MDPEnv", kwargs={"spec_or_mdp": model},
                         max_episode_steps=100)


_register()

__all__ = ["KNOWN_ACTION_NAMES", "MDPEnv", "from_gymnasium"]
