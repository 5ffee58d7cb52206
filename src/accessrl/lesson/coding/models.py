"""The workflows the coding exercises are checked on, in the lesson's plain-dict form (layer 2).

A :class:`DictModel` is what the lesson's value-iteration listing writes out by hand:

* ``states`` — every state name, terminal ones included;
* ``actions`` — non-terminal state -> its available actions, in declared order (a terminal state
  is one without an entry);
* ``transitions`` — ``(state, action)`` -> a list of ``(probability, next_state, reward)``;
* ``gamma`` — the discount factor.

Plain dicts keep the learner's code as close as it can be to the lesson's listings (the learner
copies the lesson's loop and changes it); :func:`to_mdp` compiles the same model for the
library, whose readable code is the grader's reference.  :func:`generated_model` makes workflows
the learner has not seen (so hard-coding the lesson's numbers fails); they are built to expose
the common mistakes: a state whose every action loses (a max that starts at 0), successors listed
after the states that need them (in-place updates), several terminal states with other names
than ``closed``, exact ties between actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from accessrl.catalog.lesson import LESSON_GAMMA, access_review_abandonment_spec, access_review_spec
from accessrl.model.mdp import MDP
from accessrl.model.spec import compile_spec

Outcome = tuple[float, str, float]


@dataclass(frozen=True)
class DictModel:
    """A workflow as the lesson writes it (see the module docstring); ``name`` says where it came from."""

    name: str
    states: tuple[str, ...]
    actions: dict[str, list[str]]
    transitions: dict[tuple[str, str], list[Outcome]]
    gamma: float
    start: str

    @property
    def terminal(self) -> tuple[str, ...]:
        """States without actions, in ``states`` order."""
        return tuple(s for s in self.states if s not in self.actions)

    def plain(self) -> dict[str, Any]:
        """Fresh copies of the dicts (what a learner's function receives and may change)."""
        return {"states": list(self.states), "actions": {s: list(a) for s, a in self.actions.items()},
                "transitions": {k: [tuple(o) for o in v] for k, v in self.transitions.items()}, "gamma": self.gamma}


def from_spec(spec: dict[str, Any], name: str) -> DictModel:
    """A catalog spec mapping in the lesson's dict form (states in the spec's order)."""
    states: list[str] = []
    actions: dict[str, list[str]] = {}
    transitions: dict[tuple[str, str], list[Outcome]] = {}
    for s, acts in spec["transitions"].items():
        states.append(s)
        actions[s] = list(acts)
        for a, outs in acts.items():
            rows = outs if isinstance(outs, list) else [outs]
            transitions[(s, a)] = [(float(o.get("p", 1.0)), str(o["next"]), float(o["reward"])) for o in rows]
    for t in spec.get("terminal", []):
        if t not in states:
            states.append(t)
    return DictModel(name, tuple(states), actions, transitions, float(spec["gamma"]), str(spec["start"]))


def lesson_model() -> DictModel:
    """The lesson's deterministic workflow (its value-iteration listing)."""
    return from_spec(access_review_spec(LESSON_GAMMA), "the lesson's access-review workflow")


def lesson_abandonment_model(p_abandon: float = 0.25) -> DictModel:
    """The lesson's workflow with abandonment after request_evidence."""
    return from_spec(access_review_abandonment_spec(p_abandon, LESSON_GAMMA),
                     f"the lesson's workflow with abandonment (p = {p_abandon:g})")


def to_mdp(model: DictModel) -> MDP:
    """The same model compiled for the library (states in ``model.states`` order)."""
    spec: dict[str, Any] = {
        "name": "exercise", "gamma": model.gamma, "start": model.start, "states": list(model.states),
        "terminal": list(model.terminal),
        "transitions": {s: {a: [{"next": n, "p": p, "reward": r} for p, n, r in model.transitions[(s, a)]]
                            for a in acts} for s, acts in model.actions.items()},
    }
    return compile_spec(spec, source=model.name)


WORK_STATES = ("intake", "triage", "evidence_ready", "manager_review", "security_review", "review_queue",
               "escalated", "waiting_on_user")
END_STATES = ("denied", "withdrawn", "revoked", "expired")
"""Terminal names of generated workflows: never the lesson's "closed", so a test for it alone shows."""
ACTION_NAMES = ("auto_approve", "request_evidence", "human_review", "escalate", "deny_request", "wait",
                "approve_rotation", "ask_manager")


def _probabilities(rng: np.random.Generator, k: int) -> list[float]:
    """k probabilities that are multiples of 0.05 and sum to exactly 1."""
    if k == 1:
        return [1.0]
    cuts = sorted(rng.choice(np.arange(1, 20), size=k - 1, replace=False).tolist())
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, 20], strict=True)]
    return [p / 20 for p in parts]


def generated_model(rng: np.random.Generator, *, n_work: int | None = None, gamma: float | None = None) -> DictModel:
    """A random workflow the learner has not seen (see the module docstring for what it is built to expose)."""
    n = int(n_work if n_work is not None else rng.integers(3, 6))
    work = [str(s) for s in rng.choice(WORK_STATES, size=n, replace=False)]
    ends = [str(s) for s in rng.choice(END_STATES, size=int(rng.integers(1, 3)), replace=False)]
    g = float(gamma if gamma is not None else rng.choice([0.5, 0.8, 0.9, 0.95]))
    actions: dict[str, list[str]] = {}
    transitions: dict[tuple[str, str], list[Outcome]] = {}
    for i, s in enumerate(work):
        k = int(rng.integers(1, 4))
        names = [str(a) for a in rng.choice(ACTION_NAMES, size=k, replace=False)]
        actions[s] = names
        for a in names:
            m = int(rng.integers(1, 3))
            # later work states and end states only, so every episode ends; a loop back is added below
            pool = work[i + 1:] + ends
            nxt = [str(x) for x in rng.choice(pool, size=min(m, len(pool)), replace=False)]
            ps = _probabilities(rng, len(nxt))
            transitions[(s, a)] = [(p, x, float(rng.integers(-60, 81))) for p, x in zip(ps, nxt, strict=True)]
    # a state whose every action loses: a max that starts at 0 gets it wrong
    losing = work[-1]
    for a in actions[losing]:
        transitions[(losing, a)] = [(p, x, -float(rng.integers(5, 40))) for p, x, _ in transitions[(losing, a)]]
    # a loop back to the first state (with gamma < 1 values stay finite), so values take many sweeps
    first, back = work[0], work[min(1, n - 1)]
    a0 = actions[back][0]
    p0, x0, r0 = transitions[(back, a0)][0]
    transitions[(back, a0)] = [(p0 * 0.7, x0, r0), (p0 * 0.3, first, float(rng.integers(-30, 10))),
                               *transitions[(back, a0)][1:]]
    # an exact tie: a copy of the first action under another name (the first declared must win)
    tied = work[int(rng.integers(0, n))]
    spare = [a for a in ACTION_NAMES if a not in actions[tied]]
    if spare and len(actions[tied]) < 4:
        twin = str(rng.choice(spare))
        actions[tied].append(twin)
        transitions[(tied, twin)] = list(transitions[(tied, actions[tied][0])])
    # successors before the states that need them, and the ends mixed in: in-place updates show
    states = list(reversed(work))
    for e in ends:
        states.insert(int(rng.integers(0, len(states) + 1)), e)
    return DictModel(f"a generated workflow ({n} working states, gamma = {g:g})", tuple(states), actions, transitions,
                     g, first)


def perturbed_lesson_model(rng: np.random.Generator) -> DictModel:
    """The lesson's abandonment workflow with other rewards, probability and discount."""
    p = float(rng.choice([0.05, 0.1, 0.15, 0.3, 0.4]))
    base = lesson_abandonment_model(p)
    shift = {k: [(pp, n, r + float(rng.integers(-15, 16))) for pp, n, r in v] for k, v in base.transitions.items()}
    g = float(rng.choice([0.8, 0.85, 0.95]))
    return DictModel(f"the lesson's workflow, perturbed (p = {p:g}, gamma = {g:g}, other rewards)", base.states,
                     base.actions, shift, g, base.start)


__all__ = ["DictModel", "Outcome", "from_spec", "generated_model", "lesson_abandonment_model", "lesson_model",
           "perturbed_lesson_model", "to_mdp"]
