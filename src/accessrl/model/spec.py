"""Spec validation and compilation (layer 0; no I/O).

The schema, shared by YAML and JSON::

    name: str                      optional
    gamma: number in (0, 1]        required
    start: state                   optional
    states: [state, ...]           optional: fixes the state order
    actions: [action, ...]         optional: fixes the action order (and may name unused ones)
    terminal: [state, ...]         optional (a continuing task has none)
    weights: {component: number}   optional: scalar reward from named components
    forbidden: ["state:action"]    optional: never chosen by a served policy
    never_explore: ["state:action"] optional: never picked by exploration
    transitions:
      state:
        action: outcome | [outcome, ...]
    outcome: {next: state, p: number (default 1 for a lone outcome),
              reward: number, components: {name: number}, severe: bool, event: str}

Reward of an outcome: ``reward`` alone is the scalar reward; ``components`` alone give
``sum(weights[c] * value)`` (each component named needs a weight); with both, ``reward`` is
the scalar reward and the components are kept beside it unweighted (for audits and
re-weighting, :mod:`accessrl.rewards`).  A component an outcome does not name is 0 there.

States are ordered by first appearance as a key of ``transitions``, then the states
that appear only as a ``next`` or in ``terminal``; an explicit ``states`` list wins.
Actions are numbered in order of first appearance, unless an ``actions`` list is given.

:func:`spec_from_mdp` is the inverse: ``compile_spec(spec_from_mdp(m))`` has the same
arrays, names, order, start, weights, components and flags as ``m``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from accessrl.errors import SpecTypeError, SpecValueError
from accessrl.model.checks import PROB_TOL, kind_of
from accessrl.model.checks import name as _name
from accessrl.model.checks import number as _number
from accessrl.model.mdp import MDP

_TOP_KEYS = {
    "name", "gamma", "start", "states", "actions", "terminal", "weights", "forbidden",
    "never_explore", "transitions", "description", "components_doc",
}
_OUTCOME_KEYS = {"next", "p", "reward", "components", "severe", "event"}

MAX_STATES = 2_000_000
"""Most states a spec may have (a larger model belongs in the binary ``.npz`` form)."""

MAX_OUTCOMES = 20_000_000
"""Most outcomes a spec may expand to (YAML aliases can repeat a list without repeating its text)."""


class SpecCompiler:
    """Validates a spec mapping and builds the CSR arrays."""

    def __init__(self, spec: Any, source: str) -> None:
        self.spec = spec
        self.src = source

    def at(self, *parts: str) -> str:
        return ", ".join([self.src, *parts])

    def compile(self) -> MDP:
        spec = self.spec
        if not isinstance(spec, Mapping):
            raise SpecTypeError(f"{self.src}: expected a mapping at the top level, got {kind_of(spec)}")
        unknown = sorted(set(map(str, spec)) - _TOP_KEYS)
        if unknown:
            raise SpecValueError(
                f"{self.at('field ' + repr(unknown[0]))}: unknown field; expected one of "
                f"{sorted(_TOP_KEYS)}"
            )
        name = spec.get("name", "workflow")
        if not isinstance(name, str):
            raise SpecTypeError(f"{self.at('field name')}: expected a string, got {kind_of(name)}")
        if "gamma" not in spec:
            raise SpecValueError(f"{self.at('field gamma')}: missing; expected a number in (0, 1]")
        gamma = _number(spec["gamma"], self.at("field gamma"))
        if not 0.0 < gamma <= 1.0:
            raise SpecValueError(f"{self.at('field gamma')}: expected a number in (0, 1], got {spec['gamma']!r}")
        trans = spec.get("transitions")
        if not isinstance(trans, Mapping):
            raise SpecTypeError(
                f"{self.at('field transitions')}: expected a mapping of state -> action -> outcomes, "
                f"got {kind_of(trans)}"
            )
        if not trans:
            raise SpecValueError(f"{self.at('field transitions')}: expected at least one state")
        terminal_list = self._name_list(spec.get("terminal", []), "terminal")
        weights = self._weights(spec.get("weights", {}))

        order: list[str] = []
        seen: set[str] = set()

        def add(n: str) -> None:
            if n not in seen:
                seen.add(n)
                order.append(n)

        if "states" in spec:
            explicit = self._name_list(spec["states"], "states")
            for n in explicit:
                add(n)
        for s in trans:
            add(_name(s, self.at("field transitions")))
        for acts in trans.values():
            if isinstance(acts, Mapping):
                for outs in acts.values():
                    for o in outs if isinstance(outs, list) else [outs]:
                        if isinstance(o, Mapping) and isinstance(o.get("next"), str):
                            add(o["next"])
        for t in terminal_list:
            add(t)
        if "states" in spec and len(order) != len(spec["states"]):
            extra = order[len(spec["states"]) :]
            raise SpecValueError(
                f"{self.at('field states')}: missing {extra[0]!r}, which the transitions use"
            )
        if len(order) > MAX_STATES:
            raise SpecValueError(f"{self.at('field transitions')}: {len(order)} states, over the limit of {MAX_STATES}; "
                                 "write a model this large as .npz")
        index = {n: i for i, n in enumerate(order)}
        terminal = np.zeros(len(order), dtype=bool)
        for t in terminal_list:
            terminal[index[t]] = True

        action_names: list[str] = []
        action_index: dict[str, int] = {}
        fixed_actions = "actions" in spec
        if fixed_actions:
            action_names = self._name_list(spec["actions"], "actions", what="action")
            action_index = {a: i for i, a in enumerate(action_names)}
        sa_ptr = [0]
        sa_action: list[int] = []
        out_ptr = [0]
        nxt: list[int] = []
        prob: list[float] = []
        rew: list[float] = []
        severe: list[bool] = []
        events: list[str] = []
        comps: dict[str, list[float]] = {}
        comp_rows: list[dict[str, float]] = []
        for s in order:
            acts = trans.get(s)
            where_s = self.at(f"state {s!r}")
            if terminal[index[s]]:
                if acts is not None and not (isinstance(acts, (Mapping, list)) and not acts):
                    got = f"{len(acts)}" if isinstance(acts, (Mapping, list)) else kind_of(acts)
                    raise SpecValueError(f"{where_s}: a terminal state has no actions, got {got}")
                sa_ptr.append(len(sa_action))
                continue
            if s not in trans:
                raise SpecValueError(f"{where_s}: a non-terminal state needs at least one action")
            if not isinstance(acts, Mapping):
                raise SpecTypeError(f"{where_s}: expected a mapping of action -> outcomes, got {kind_of(acts)}")
            if not acts:
                raise SpecValueError(f"{where_s}: a non-terminal state needs at least one action")
            for a, outs in acts.items():
                a = _name(a, where_s)
                where_a = self.at(f"state {s!r}", f"action {a!r}")
                if a not in action_index:
                    if fixed_actions:
                        raise SpecValueError(
                            f"{self.at('field actions')}: missing {a!r}, which state {s!r} uses"
                        )
                    action_index[a] = len(action_names)
                    action_names.append(a)
                sa_action.append(action_index[a])
                if isinstance(outs, Mapping):
                    outs_l = [outs]
                    lone = True
                elif isinstance(outs, list):
                    outs_l = outs
                    lone = len(outs) == 1
                else:
                    raise SpecTypeError(f"{where_a}: expected an outcome mapping or a list of them, got {kind_of(outs)}")
                if not outs_l:
                    raise SpecValueError(f"{where_a}: expected at least one outcome")
                if len(nxt) + len(outs_l) > MAX_OUTCOMES:
                    raise SpecValueError(f"{where_a}: over {MAX_OUTCOMES} outcomes in all; write a model this large as .npz")
                total = 0.0
                for j, o in enumerate(outs_l):
                    where_o = f"{where_a}, outcome {j + 1}"
                    if not isinstance(o, Mapping):
                        raise SpecTypeError(f"{where_o}: expected a mapping with next, p, reward, got {kind_of(o)}")
                    bad = sorted(set(map(str, o)) - _OUTCOME_KEYS)
                    if bad:
                        raise SpecValueError(f"{where_o}, field {bad[0]!r}: unknown field; "
                                             f"expected one of {sorted(_OUTCOME_KEYS)}")
                    if "next" not in o:
                        raise SpecValueError(f"{where_o}, field 'next': missing; expected a state name")
                    n = _name(o["next"], f"{where_o}, field 'next'")
                    if n not in trans and not terminal[index[n]]:
                        raise SpecValueError(
                            f"{where_o}, field 'next': unknown state {n!r}; expected a key of "
                            "transitions or a terminal state"
                        )
                    if "p" in o:
                        p = _number(o["p"], f"{where_o}, field 'p'")
                    elif lone:
                        p = 1.0
                    else:
                        raise SpecValueError(f"{where_o}, field 'p': missing; required when an action has several outcomes")
                    if p < 0.0 or p > 1.0:
                        raise SpecValueError(f"{where_o}, field 'p': expected a probability in [0, 1], got {o['p']!r}")
                    total += p
                    r, row = self._reward(o, weights, where_o)
                    nxt.append(index[n])
                    prob.append(p)
                    rew.append(r)
                    comp_rows.append(row)
                    for c in row:
                        comps.setdefault(c, [])
                    sv = o.get("severe", False)
                    if not isinstance(sv, bool):
                        raise SpecTypeError(f"{where_o}, field 'severe': expected true or false, got {kind_of(sv)}")
                    severe.append(sv)
                    ev = o.get("event", "")
                    if not isinstance(ev, str):
                        raise SpecTypeError(f"{where_o}, field 'event': expected a string, got {kind_of(ev)}")
                    events.append(ev)
                if abs(total - 1.0) > PROB_TOL:
                    raise SpecValueError(
                        f"{where_a}: probabilities sum to {total:.12g}, expected 1 "
                        f"(off by {total - 1.0:+.3g})"
                    )
                out_ptr.append(len(nxt))
            sa_ptr.append(len(sa_action))
        for s in trans:
            if s not in index:  # pragma: no cover - every key was added
                raise SpecValueError(f"{self.at(f'state {s!r}')}: not in states")
        if spec.get("start") is not None:
            st = _name(spec["start"], self.at("field start"))
            if st not in index:
                raise SpecValueError(f"{self.at('field start')}: unknown state {st!r}")
            start: int | None = index[st]
        else:
            start = None
        comp_arrays = {
            c: np.array([row.get(c, 0.0) for row in comp_rows], dtype=np.float64) for c in comps
        }
        mdp = MDP(
            gamma=gamma,
            state_names=tuple(order),
            action_names=tuple(action_names),
            terminal=terminal,
            sa_ptr=np.asarray(sa_ptr, dtype=np.int64),
            sa_action=np.asarray(sa_action, dtype=np.int64),
            out_ptr=np.asarray(out_ptr, dtype=np.int64),
            out_next=np.asarray(nxt, dtype=np.int64),
            out_prob=np.asarray(prob, dtype=np.float64),
            out_reward=np.asarray(rew, dtype=np.float64),
            name=name,
            start=start,
            severe=np.asarray(severe, dtype=bool) if any(severe) else None,
            components=comp_arrays,
            events=tuple(events) if any(events) else None,
            weights=dict(weights),
        )
        flags: dict[str, Any] = {}
        for key, attr in (("forbidden", "forbidden"), ("never_explore", "unsafe")):
            if key in spec:
                flags[attr] = self._pair_flags(mdp, spec[key], key)
        if flags:
            from dataclasses import replace

            mdp = replace(mdp, **flags)
        return mdp

    def _name_list(self, x: Any, fieldname: str, what: str = "state") -> list[str]:
        if not isinstance(x, list):
            raise SpecTypeError(f"{self.at('field ' + fieldname)}: expected a list of {what} names, got {kind_of(x)}")
        out = [_name(v, self.at("field " + fieldname)) for v in x]
        seen: set[str] = set()
        for v in out:
            if v in seen:
                raise SpecValueError(f"{self.at('field ' + fieldname)}: duplicate {what} name {v!r}")
            seen.add(v)
        return out

    def _weights(self, x: Any) -> dict[str, float]:
        if not isinstance(x, Mapping):
            raise SpecTypeError(f"{self.at('field weights')}: expected a mapping of component -> number, got {kind_of(x)}")
        return {str(k): _number(v, self.at("field weights", f"component {k!r}")) for k, v in x.items()}

    def _reward(self, o: Mapping[str, Any], weights: Mapping[str, float], where: str) -> tuple[float, dict[str, float]]:
        row: dict[str, float] = {}
        if "components" in o:
            c = o["components"]
            if not isinstance(c, Mapping):
                raise SpecTypeError(f"{where}, field 'components': expected a mapping of name -> number, got {kind_of(c)}")
            for k, v in c.items():
                row[str(k)] = _number(v, f"{where}, component {k!r}")
        if "reward" in o:
            return _number(o["reward"], f"{where}, field 'reward'"), row
        if row:
            missing = [k for k in row if k not in weights]
            if missing:
                raise SpecValueError(
                    f"{where}, component {missing[0]!r}: no weight for it in the spec's weights and no reward given"
                )
            total = float(sum(weights[k] * v for k, v in row.items()))
            if not np.isfinite(total):
                raise SpecValueError(f"{where}, field 'components': the weighted sum is not finite ({total})")
            return total, row
        raise SpecValueError(f"{where}, field 'reward': missing; expected a number")

    def _pair_flags(self, mdp: MDP, x: Any, key: str) -> np.ndarray:
        where = self.at("field " + key)
        if not isinstance(x, list):
            raise SpecTypeError(f"{where}: expected a list of 'state:action' strings, got {kind_of(x)}")
        flags = np.zeros(mdp.n_pairs, dtype=bool)
        for item in x:
            if not isinstance(item, str) or ":" not in item:
                raise SpecTypeError(f"{where}: expected 'state:action', got {kind_of(item)}")
            s, a = item.rsplit(":", 1)
            try:
                flags[mdp.pair_index(s, a)] = True
            except SpecValueError as exc:
                raise SpecValueError(f"{where}: {exc}") from None
        return flags


def compile_spec(spec: Mapping[str, Any], *, source: str = "<spec>") -> MDP:
    """Compile a workflow spec (the mapping parsed from YAML or JSON) into an :class:`MDP`.

    Every problem raises a :class:`~accessrl.errors.SpecError` whose message names
    ``source``, the place (state, action, outcome, field) and what was expected.

    >>> spec = {"gamma": 0.9, "terminal": ["done"],
    ...         "transitions": {"s": {"go": {"next": "done", "reward": 1}}}}
    >>> compile_spec(spec).state_names
    ('s', 'done')
    """
    return SpecCompiler(spec, source).compile()


def spec_from_mdp(mdp: MDP) -> dict[str, Any]:
    """The spec mapping of a compiled model (inverse of :func:`compile_spec`).

    ``compile_spec(spec_from_mdp(m))`` has ``m``'s arrays, names, state and action order,
    start, weights, components, severe flags, events, ``forbidden`` and ``unsafe`` pairs
    (written as ``never_explore``).  An outcome with components keeps its ``reward``
    unless the weights recompute exactly the same number from the components.  A model
    no spec can express (a non-terminal state without actions, an
    action twice in one state, a flagged action name containing ``:``) raises a
    :class:`~accessrl.errors.SpecValueError`.

    >>> from accessrl.catalog import access_review_components
    >>> m = access_review_components()
    >>> spec = spec_from_mdp(m)
    >>> first = spec["transitions"].get("review_queue").get("approve_rotation")[0]
    >>> sorted(spec["weights"]) == sorted(m.weights), "reward" in first
    (True, False)
    >>> bool((compile_spec(spec).out_reward == m.out_reward).all())
    True
    """
    names = mdp.state_names
    acts_names = mdp.action_names
    comp_names = list(mdp.components)
    comp_values = {c: np.asarray(mdp.components[c], dtype=np.float64).tolist() for c in comp_names}
    weights = {str(k): float(v) for k, v in mdp.weights.items()}
    weighable = bool(comp_names) and all(c in weights for c in comp_names)
    sa_ptr = np.asarray(mdp.sa_ptr).tolist()
    sa_action = np.asarray(mdp.sa_action).tolist()
    out_ptr = np.asarray(mdp.out_ptr).tolist()
    out_next = np.asarray(mdp.out_next).tolist()
    out_prob = np.asarray(mdp.out_prob, dtype=np.float64).tolist()
    out_reward = np.asarray(mdp.out_reward, dtype=np.float64).tolist()
    terminal = np.asarray(mdp.terminal, dtype=bool)
    severe = None if mdp.severe is None else np.asarray(mdp.severe, dtype=bool)
    transitions: dict[str, Any] = {}
    first_seen: dict[int, None] = {}
    for s in range(mdp.n_states):
        lo, hi = sa_ptr[s], sa_ptr[s + 1]
        if terminal[s]:  # owns no pairs (the constructor checks)
            continue
        if hi == lo:
            raise SpecValueError(
                f"{mdp.name}: state {names[s]!r} is not terminal and has no actions; a spec cannot express that"
            )
        acts: dict[str, Any] = {}
        for k in range(lo, hi):
            a = sa_action[k]
            if acts_names[a] in acts:
                raise SpecValueError(f"{mdp.name}: state {names[s]!r} has action {acts_names[a]!r} twice")
            first_seen.setdefault(a)
            outs = []
            for j in range(out_ptr[k], out_ptr[k + 1]):
                o: dict[str, Any] = {"next": names[out_next[j]], "p": out_prob[j]}
                r = out_reward[j]
                if comp_names:
                    row = {c: comp_values[c][j] for c in comp_names}
                    # exactly the sum compile_spec computes for an outcome without a reward
                    if not (weighable and float(sum(weights[c] * v for c, v in row.items())) == r):
                        o["reward"] = _plain(r)
                    o["components"] = {c: _plain(v) for c, v in row.items()}
                else:
                    o["reward"] = _plain(r)
                if severe is not None and severe[j]:
                    o["severe"] = True
                if mdp.events is not None and mdp.events[j]:
                    o["event"] = str(mdp.events[j])
                outs.append(o)
            acts[acts_names[a]] = outs
        transitions[names[s]] = acts
    out: dict[str, Any] = {"name": str(mdp.name), "gamma": float(mdp.gamma)}
    if mdp.start is not None:
        out["start"] = names[int(mdp.start)]
    out["states"] = list(names)
    if list(first_seen) != list(range(mdp.n_actions)):  # first appearance would number them differently
        out["actions"] = list(acts_names)
    out["terminal"] = [names[s] for s in np.flatnonzero(terminal)]
    if weights:
        out["weights"] = {c: _plain(v) for c, v in weights.items()}
    for attr, key in (("forbidden", "forbidden"), ("unsafe", "never_explore")):
        arr = getattr(mdp, attr)
        if arr is not None and np.any(arr):
            pairs = []
            for k in np.flatnonzero(arr).tolist():
                act = acts_names[sa_action[k]]
                if ":" in act:
                    raise SpecValueError(f"{mdp.name}: action {act!r} contains ':' and cannot be listed in {key}")
                pairs.append(f"{names[int(mdp.sa_state[k])]}:{act}")
            out[key] = pairs
    out["transitions"] = transitions
    return out


def _plain(x: float) -> float | int:
    return int(x) if float(x).is_integer() and abs(x) < 2**53 else x


__all__ = ["MAX_OUTCOMES", "MAX_STATES", "SpecCompiler", "compile_spec", "spec_from_mdp"]
