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

* :meth:`MDPEnv.action_masks` returns the same mask as booleans, the method
  sb3-contrib's ``MaskablePPO`` calls.
* **Discount**: ``env.unwrapped.gamma`` (also ``metadata["gamma"]`` and, for registered
  ids, ``gymnasium.spec(id).kwargs["gamma"]``).  Agents do not read it from the
  environment, so pass it on: ``PPO("MlpPolicy", env, gamma=env.unwrapped.gamma)``
  (SB3's default 0.99 is another objective than the model's discount).  ``gamma=`` in
  the constructor replaces the model's discount.
* **Rendering**: ``render_mode="ansi"`` (the state and its allowed actions as text) or
  ``"rgb_array"`` (a picture of the workflow, the current state highlighted, as a
  ``(H, W, 3)`` uint8 array drawn with matplotlib's Agg canvas).

Registered ids (import :mod:`accessrl.envs` first, or use
``gymnasium.make("accessrl.envs:accessrl/AccessReview-v0")``):
``accessrl/AccessReview-v0`` and ``accessrl/AccessReviewAbandonment-v0``, each with a
``vector_entry_point`` (:class:`MDPVectorEnv`, all copies stepped in NumPy at once) for
``gymnasium.make_vec(id, n, vectorization_mode="vector_entry_point")``.  SB3's
``make_vec_env(id)`` works with them as they are.

Conversely :func:`from_gymnasium` (also ``MDP.from_gymnasium``) reads a toy-text
environment's ``P`` (FrozenLake, CliffWalking, Taxi) into a compiled model.

>>> import gymnasium as gym
>>> env = MDPEnv("catalog:access-review-abandonment")
>>> obs, info = env.reset(seed=0)
>>> env.unwrapped.state_names[obs], info["action_mask"].tolist()
('new_request', [1, 1, 1, 0])
>>> env.unwrapped.gamma, env.action_masks().tolist()
(0.9, [True, True, True, False])
>>> mdp = from_gymnasium(gym.make("FrozenLake-v1"), gamma=0.99)
>>> mdp.n_states, int(mdp.terminal.sum())
(16, 5)
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from accessrl._optional import dependency_error
from accessrl.errors import ParameterError
from accessrl.model.arrays import KNOWN_ACTION_NAMES
from accessrl.model.mdp import MDP
from accessrl.model.spec import compile_spec
from accessrl.simulation import cumulative_rows, pick_rows, step_tables

try:
    import gymnasium as gym
    from gymnasium import spaces
    from gymnasium.envs.registration import EnvSpec
    from gymnasium.vector import AutoresetMode, VectorEnv
except ImportError as exc:  # the [gym] extra
    raise dependency_error("gymnasium", "gym", "accessrl.envs (gymnasium environments)", exc) from exc


RENDER_MODES = ["ansi", "rgb_array"]
"""The render modes of :class:`MDPEnv` and :class:`MDPVectorEnv`."""

PICTURE_MAX_STATES = 40
"""Above this many states ``rgb_array`` draws only the current state and its successors."""


def _as_mdp(model: Any, gamma: float | None = None) -> MDP:
    if isinstance(model, MDP):
        mdp = model
    elif isinstance(model, Mapping):
        mdp = compile_spec(model, source="MDPEnv")
    elif isinstance(model, (str, Path)):
        from accessrl.specfile import load_model_ref

        mdp = load_model_ref(model)
    else:
        raise ParameterError(f"MDPEnv: expected an MDP, a spec mapping, a path or catalog:NAME, got {type(model).__name__}")
    if gamma is not None and float(gamma) != mdp.gamma:
        mdp = dataclasses.replace(mdp, gamma=float(gamma))
    return mdp


def _check_render_mode(render_mode: str | None) -> str | None:
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ParameterError(f"render_mode: expected one of {RENDER_MODES}, got {render_mode!r}")
    return render_mode


def _start_index(mdp: MDP, start: int | str | None) -> int:
    if start is None:
        return mdp.start if mdp.start is not None else 0
    return mdp.state_index(start) if isinstance(start, str) else int(start)


def _layout(mdp: MDP, shown: list[int]) -> dict[int, tuple[float, float]]:
    """Positions for ``shown`` states: the column is the breadth-first depth from the first
    shown state along positive-probability transitions, rows spread within a column."""
    succ = _successors_of_all(mdp, shown)
    keep = set(shown)
    depth = {shown[0]: 0}
    queue = deque([shown[0]])
    while queue:
        s = queue.popleft()
        for t in succ.get(s, []):
            if t in keep and t not in depth:
                depth[t] = depth[s] + 1
                queue.append(t)
    last = max(depth.values()) + 1
    for s in shown:
        depth.setdefault(s, last)
    columns: dict[int, list[int]] = {}
    for s in shown:
        columns.setdefault(depth[s], []).append(s)
    pos: dict[int, tuple[float, float]] = {}
    for col, states in columns.items():
        for row, s in enumerate(states):
            pos[s] = (float(col), (len(states) - 1) / 2.0 - row)
    return pos


def workflow_picture(
    mdp: MDP, state: int, *, caption: str = "", width: int = 640, height: int = 360,
) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """The workflow as a ``(height, width, 3)`` uint8 picture with ``state`` highlighted.

    States are boxes laid out left to right by breadth-first depth from the model's start,
    arrows are transitions with positive probability, terminal states are grey and the
    current state orange with its allowed actions listed below.  Models with more than
    :data:`PICTURE_MAX_STATES` states show only the current state and its successors.

    >>> from accessrl.catalog.lesson import access_review
    >>> workflow_picture(access_review(), 0).shape
    (360, 640, 3)
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if mdp.n_states <= PICTURE_MAX_STATES:
        first = mdp.start if mdp.start is not None else 0
        shown = [first] + [s for s in range(mdp.n_states) if s != first]
        note = ""
    else:
        near = _successors_of_all(mdp, [state])[state][: PICTURE_MAX_STATES - 1]
        shown = [state, *near]
        note = f"  (showing {len(shown)} of {mdp.n_states} states)"
    pos = _layout(mdp, shown)
    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.12, 0.96, 0.78))
    ax.set_axis_off()
    succ = _successors_of_all(mdp, shown)
    for s, targets in succ.items():
        for t in targets:
            if t in pos:
                ax.annotate("", xy=pos[t], xytext=pos[s], arrowprops={"arrowstyle": "->", "color": "0.45", "shrinkA": 18,
                                                                      "shrinkB": 18, "connectionstyle": "arc3,rad=0.12"})
    for s, (x, y) in pos.items():
        face = "#f28e2b" if s == state else ("0.82" if mdp.terminal[s] else "#cfe2f3")
        ax.text(x, y, mdp.state_names[s], ha="center", va="center", fontsize=8,
                bbox={"boxstyle": "round,pad=0.4", "facecolor": face, "edgecolor": "black" if s == state else "0.4"})
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    fig.suptitle(f"{mdp.name}: {mdp.state_names[state]}{note}", fontsize=10)
    allowed = [mdp.action_names[a] for a in mdp.actions_of(state)]
    fig.text(0.5, 0.04, caption or ("actions: " + (", ".join(allowed) or "(terminal)")), ha="center", fontsize=8)
    canvas.draw()  # type: ignore[no-untyped-call]
    rgba = np.asarray(canvas.buffer_rgba())  # type: ignore[no-untyped-call]
    rgb: np.ndarray[Any, np.dtype[np.uint8]] = rgba[..., :3].copy()
    return rgb


def _successors_of_all(mdp: MDP, states: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for s in states:
        targets: set[int] = set()
        for k in range(int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1])):
            lo, hi = int(mdp.out_ptr[k]), int(mdp.out_ptr[k + 1])
            targets.update(int(t) for t, p in zip(mdp.out_next[lo:hi], mdp.out_prob[lo:hi], strict=True) if p > 0 and t != s)
        out[s] = sorted(targets)
    return out


class MDPEnv(gym.Env):
    """A compiled model as a gymnasium environment (see the module docstring).

    ``start`` overrides the model's start state (reset also accepts
    ``options={"state": name_or_index}``); ``max_episode_steps`` is left to
    gymnasium's ``TimeLimit`` wrapper (a time limit truncates, it does not terminate).
    """

    metadata: dict[str, Any] = {"render_modes": RENDER_MODES, "render_fps": 4}

    def __init__(
        self,
        spec_or_mdp: Any,
        *,
        invalid_action_reward: float | None = None,
        start: int | str | None = None,
        render_mode: str | None = None,
        gamma: float | None = None,
    ) -> None:
        self.mdp = _as_mdp(spec_or_mdp, gamma)
        m = self.mdp
        self.render_mode = _check_render_mode(render_mode)
        self.gamma = m.gamma
        self.metadata = {**type(self).metadata, "gamma": m.gamma}
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
        self._start = _start_index(m, start)
        self._pair = np.full((m.n_states, m.n_actions), -1, dtype=np.int64)
        self._pair[m.sa_state, m.sa_action] = np.arange(m.n_pairs)
        self._tab = step_tables(m)
        self.P = self._transition_table()
        self.state = self._start
        self._last = ""
        # gymnasium.make replaces this; a directly built env gets a spec that rebuilds it.
        self.spec = EnvSpec(
            id="accessrl/MDPEnv-v0", entry_point="accessrl.envs:MDPEnv",
            kwargs={"spec_or_mdp": m, "invalid_action_reward": self.invalid_action_reward, "start": self._start,
                    "gamma": m.gamma},
        )

    def action_masks(self) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """The actions the current state allows, as booleans (sb3-contrib's ``MaskablePPO``
        calls this; ``info["action_mask"]`` holds the same as int8)."""
        out: np.ndarray[Any, np.dtype[np.bool_]] = self._mask[self.state].astype(bool)
        return out

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
        self._last = ""
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
            self._last = f"{self.action_names[a]} is not allowed here: reward {self.invalid_action_reward:g}"
            return s, self.invalid_action_reward, False, False, self._info(invalid_action=True)
        j = self._tab.outcome(k, self.np_random)
        self.state = int(self._tab.out_next[j])
        reward = float(self._tab.out_reward[j])
        event = self.mdp.events[j] if self.mdp.events is not None else ""
        self._last = f"{self.action_names[a]} from {self.state_names[s]}: reward {reward:g}" + (f" ({event})" if event else "")
        return self.state, reward, bool(self._ends[self.state]), False, self._info(invalid_action=False, event=event)

    def render(self) -> Any:
        """``ansi``: the current state's name and its allowed actions; ``rgb_array``: the
        workflow picture of :func:`workflow_picture` with the last step as its caption."""
        if self.render_mode == "rgb_array":
            return workflow_picture(self.mdp, self.state, caption=self._last)
        if self.render_mode != "ansi":
            return None
        allowed = [self.action_names[a] for a in np.flatnonzero(self._mask[self.state])]
        return f"{self.state_names[self.state]}  actions: {', '.join(allowed) or '(terminal)'}\n"


class MDPVectorEnv(VectorEnv):
    """``num_envs`` copies of one model stepped together in NumPy (gymnasium's vector API).

    The rules of :class:`MDPEnv` per copy (penalty outcome, masks in
    ``infos["action_mask"]``), ``max_episode_steps`` truncates, and a copy that ended
    resets on the next step (``AutoresetMode.NEXT_STEP``, gymnasium's default: that step
    returns the reset observation with reward 0).  One generator, seeded by ``reset(seed=)``,
    draws one uniform per copy per step.
    """

    metadata: dict[str, Any] = {"render_modes": RENDER_MODES, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int,
        spec_or_mdp: Any,
        *,
        invalid_action_reward: float | None = None,
        start: int | str | None = None,
        render_mode: str | None = None,
        gamma: float | None = None,
        max_episode_steps: int | None = None,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ParameterError(f"num_envs: expected a positive integer, got {num_envs!r}")
        self.single = MDPEnv(spec_or_mdp, invalid_action_reward=invalid_action_reward, start=start,
                             render_mode=render_mode, gamma=gamma)
        m = self.mdp = self.single.mdp
        self.num_envs = num_envs
        self.gamma = m.gamma
        self.render_mode = render_mode
        self.metadata = {**type(self).metadata, "gamma": m.gamma}
        self.max_episode_steps = max_episode_steps
        self.single_observation_space = self.single.observation_space
        self.single_action_space = self.single.action_space
        self.observation_space = spaces.MultiDiscrete(np.full(num_envs, m.n_states))
        self.action_space = spaces.MultiDiscrete(np.full(num_envs, m.n_actions))
        self._cum = cumulative_rows(m.out_prob)
        self._events = np.asarray(m.events if m.events is not None else [""] * m.n_outcomes, dtype=object)
        self.states = np.full(num_envs, self.single._start, dtype=np.int64)
        self.steps = np.zeros(num_envs, dtype=np.int64)
        self._autoreset = np.zeros(num_envs, dtype=bool)

    def _infos(self, **extra: Any) -> dict[str, Any]:
        out = {"action_mask": self.single._mask[self.states].copy(), **extra}
        for key in list(out):
            out["_" + key] = np.ones(self.num_envs, dtype=bool)
        return out

    def action_masks(self) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """``(num_envs, n_actions)`` booleans: the actions each copy's state allows."""
        out: np.ndarray[Any, np.dtype[np.bool_]] = self.single._mask[self.states].astype(bool)
        return out

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Every copy to the start state (or ``options["state"]``)."""
        super().reset(seed=seed)
        s = self.single._start
        if options and "state" in options:
            st = options["state"]
            s = self.mdp.state_index(st) if isinstance(st, str) else int(st)
        self.states[:] = s
        self.steps[:] = 0
        self._autoreset[:] = False
        return self.states.copy(), self._infos()

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """One step of every copy (see the class docstring)."""
        m, single = self.mdp, self.single
        a = np.asarray(actions, dtype=np.int64).reshape(-1)
        if a.shape != (self.num_envs,) or ((a < 0) | (a >= m.n_actions)).any():
            raise ParameterError(f"actions: expected {self.num_envs} indices in [0, {m.n_actions}), got {actions!r}")
        u = self.np_random.random(self.num_envs)
        s = self.states
        rewards = np.zeros(self.num_envs)
        invalid = np.zeros(self.num_envs, dtype=bool)
        events = np.full(self.num_envs, "", dtype=object)
        pair = single._pair[s, a]
        live = ~self._autoreset & ~single._ends[s]
        invalid[live] = pair[live] < 0
        rewards[invalid] = single.invalid_action_reward
        move = live & ~invalid
        if move.any():
            k = pair[move]
            j = pick_rows(self._cum, m.out_ptr[k], m.out_ptr[k + 1], u[move])
            s = s.copy()
            s[move] = m.out_next[j]
            rewards[move] = m.out_reward[j]
            events[move] = self._events[j]
        self.steps[~self._autoreset] += 1
        s = np.where(self._autoreset, single._start, s)
        self.steps[self._autoreset] = 0
        self.states = s
        terminated = single._ends[s] & ~self._autoreset
        limit = self.max_episode_steps
        truncated = (self.steps >= limit) & ~terminated if limit is not None else np.zeros(self.num_envs, dtype=bool)
        self._autoreset = terminated | truncated
        return s.copy(), rewards, terminated, truncated, self._infos(invalid_action=invalid, event=events)

    def render(self) -> Any:
        """Each copy rendered as :meth:`MDPEnv.render` would (a tuple, gymnasium's vector
        convention; None without a render mode)."""
        if self.render_mode is None:
            return None
        frames = []
        for s in self.states:
            self.single.state = int(s)
            frames.append(self.single.render())
        return tuple(frames)


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
    from accessrl.specfile import load_model_ref

    for env_id, model in (
        ("accessrl/AccessReview-v0", "catalog:access-review"),
        ("accessrl/AccessReviewAbandonment-v0", "catalog:access-review-abandonment"),
    ):
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="accessrl.envs:MDPEnv", vector_entry_point="accessrl.envs:MDPVectorEnv",
                         kwargs={"spec_or_mdp": model, "gamma": load_model_ref(model).gamma}, max_episode_steps=100)


register_envs()

__all__ = ["KNOWN_ACTION_NAMES", "PICTURE_MAX_STATES", "RENDER_MODES", "MDPEnv", "MDPVectorEnv", "from_gymnasium",
           "register_envs", "workflow_picture"]
