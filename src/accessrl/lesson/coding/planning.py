"""Checks of the planning exercises: returns, one backup, value iteration, policy iteration, abandonment.

Every expected number comes from the library's readable code on the same model compiled
(:func:`~accessrl.lesson.coding.models.to_mdp`): :func:`accessrl.model.discounted_return`,
:func:`accessrl.planning.q_values`, :func:`accessrl.planning.bellman_backup` sweep by sweep,
:func:`accessrl.planning.greedy_policy`, and :func:`accessrl.planning.sensitivity.probability_sweep`
for the breakeven.  The mistake models below (``_variant_*``) are what a common mistake computes;
a learner's answer that matches one names its hint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from accessrl.lesson.coding.base import Case, Finding, close, show
from accessrl.lesson.coding.models import (
    DictModel,
    generated_model,
    lesson_abandonment_model,
    lesson_model,
    perturbed_lesson_model,
    to_mdp,
)
from accessrl.model import compile_spec, discounted_return
from accessrl.model.mdp import MDP
from accessrl.planning import bellman_backup, greedy_policy, policy_iteration, q_values
from accessrl.planning.sensitivity import locate_outcome, with_probability

Values = dict[str, float]


def _vec(mdp: MDP, values: Mapping[str, float]) -> np.ndarray:
    return np.array([float(values[s]) for s in mdp.state_names])


def _names(mdp: MDP, v: np.ndarray) -> Values:
    return {s: float(x) for s, x in zip(mdp.state_names, v, strict=True)}


def reference_q(model: DictModel, values: Mapping[str, float]) -> dict[tuple[str, str], float]:
    """Q(s, a) for every available pair, by :func:`accessrl.planning.q_values`."""
    mdp = to_mdp(model)
    q = q_values(mdp, _vec(mdp, values))
    return {(s, a): float(q[mdp.pair_index(mdp.state_index(s), a)]) for s, acts in model.actions.items() for a in acts}


def reference_greedy(model: DictModel, values: Mapping[str, float]) -> dict[str, str]:
    """The greedy policy (first declared action among ties), by :func:`accessrl.planning.greedy_policy`."""
    mdp = to_mdp(model)
    pol = greedy_policy(mdp, _vec(mdp, values))
    return {s: mdp.action_names[int(pol[mdp.state_index(s)])] for s in model.actions}


def reference_sweeps(model: DictModel, sweeps: int) -> list[Values]:
    """V_1 .. V_sweeps from V_0 = 0, each one :func:`accessrl.planning.bellman_backup` of the last."""
    mdp = to_mdp(model)
    v = np.zeros(mdp.n_states)
    out = []
    for _ in range(sweeps):
        v = bellman_backup(mdp, v).values
        out.append(_names(mdp, v))
    return out


def reference_evaluation(model: DictModel, policy: Mapping[str, str], sweeps: int) -> list[Values]:
    """Iterative policy evaluation V_{k+1}(s) = Q_k(s, pi(s)) from V_0 = 0, by :func:`accessrl.planning.q_values`."""
    mdp = to_mdp(model)
    pairs = np.array([mdp.pair_index(mdp.state_index(s), policy[s]) for s in model.actions], dtype=np.int64)
    rows = np.array([mdp.state_index(s) for s in model.actions], dtype=np.int64)
    v = np.zeros(mdp.n_states)
    out = []
    for _ in range(sweeps):
        nv = np.zeros(mdp.n_states)
        nv[rows] = q_values(mdp, v)[pairs]
        v = nv
        out.append(_names(mdp, v))
    return out


# What common mistakes compute (readable Python over the dicts, as a learner would write them).

def _q_variant(model: DictModel, s: str, a: str, values: Mapping[str, float], mistake: str) -> float:
    g = model.gamma
    rows = model.transitions[(s, a)]
    if mistake == "missing-gamma":
        return sum(p * (r + values[n]) for p, n, r in rows)
    if mistake == "unweighted":
        return sum(r + g * values[n] for p, n, r in rows)
    if mistake == "reward-only":
        return sum(p * r for p, n, r in rows)
    if mistake == "discounted-reward":
        return sum(p * g * (r + values[n]) for p, n, r in rows)
    return sum(p * (r + g * values[n]) for p, n, r in rows)


def _max_variant(model: DictModel, s: str, values: Mapping[str, float], mistake: str) -> float:
    qs = [_q_variant(model, s, a, values, mistake) for a in model.actions[s]]
    return max([0.0, *qs]) if mistake == "max-from-zero" else max(qs)


def _vi_variant(model: DictModel, sweeps: int, mistake: str) -> list[Values]:
    values = {s: 0.0 for s in model.states}
    out = []
    for _ in range(sweeps):
        updated = values if mistake == "in-place" else dict(values)
        for s in model.states:
            if s in model.actions:
                updated[s] = _max_variant(model, s, updated if mistake == "in-place" else values, mistake)
        values = updated
        out.append(dict(values))
    return out


def _pe_variant(model: DictModel, policy: Mapping[str, str], sweeps: int, mistake: str) -> list[Values]:
    values = {s: 0.0 for s in model.states}
    out = []
    for _ in range(sweeps):
        updated = values if mistake == "in-place" else dict(values)
        for s in model.states:
            if s in model.actions:
                updated[s] = _q_variant(model, s, policy[s], updated if mistake == "in-place" else values, mistake)
        values = updated
        out.append(dict(values))
    return out


def _greedy_variant(model: DictModel, s: str, values: Mapping[str, float], mistake: str) -> Any:
    acts = model.actions[s]
    base = "reward-only" if mistake == "reward-only" else "missing-gamma" if mistake == "missing-gamma" else ""
    qs = [_q_variant(model, s, a, values, base) for a in acts]
    if mistake == "argmin":
        return acts[int(np.argmin(qs))]
    if mistake == "last-of-ties":
        best = max(qs)
        return [a for a, q in zip(acts, qs, strict=True) if q == best][-1]
    if mistake == "max-from-zero":
        best_a, best_q = None, 0.0
        for a, q in zip(acts, qs, strict=True):
            if q > best_q:
                best_a, best_q = a, q
        return best_a
    return acts[int(np.argmax(qs))]


def _same_values(given: Any, expected: Sequence[Values]) -> bool:
    try:
        return all(all(close(g.get(s), e[s]) for s in e) for g, e in zip(given, expected, strict=True))
    except (AttributeError, TypeError, ValueError):
        return False


def _error_hint(keys: Mapping[str, str]) -> Callable[[Mapping[str, Any]], str | None]:
    """A crash hint by the error's type and message: ``keys`` maps 'Type' or 'Type:text' to a hint."""

    def hint(error: Mapping[str, Any]) -> str | None:
        for k, h in keys.items():
            kind, _, text = k.partition(":")
            if error.get("type") == kind and text in str(error.get("message", "")):
                return h
        return None

    return hint


def _not_number(given: Any, what: str) -> Finding | None:
    if isinstance(given, bool) or not isinstance(given, (int, float)):
        return Finding(what, "a number", given, hint="not-a-number")
    return None


# 1. discounted_return(rewards, gamma)

RETURN_HINTS = {
    "missing-gamma": "your return is the plain sum of the rewards: multiply the reward k steps ahead by gamma**k",
    "first-discounted": "the first reward is discounted too: it should count in full (gamma**0 = 1; enumerate starts at 0)",
    "from-the-end": "you discounted from the end of the list: the FIRST reward gets gamma**0, the last gamma**(n-1)",
    "gamma-times-step": "gamma * step is not gamma**step: discounting multiplies by gamma once per step",
    "not-a-number": "return one number (a float), not a list or None",
}


def _return_variants(rewards: Sequence[float], g: float) -> dict[str, float]:
    n = len(rewards)
    return {
        "missing-gamma": float(sum(rewards)),
        "first-discounted": sum(g ** (k + 1) * r for k, r in enumerate(rewards)),
        "from-the-end": sum(g ** (n - 1 - k) * r for k, r in enumerate(rewards)),
        "gamma-times-step": sum(g * k * r for k, r in enumerate(rewards)),
    }


def return_cases(rng: np.random.Generator) -> list[Case]:
    inputs: list[tuple[str, list[float], float]] = [
        ("the lesson's auto_approve route", [-120.0], 0.9),
        ("the lesson's request_evidence route", [-4.0, 70.0], 0.9),
        ("the lesson's human_review route", [-18.0, 80.0], 0.9),
        ("an empty route", [], 0.9),
    ]
    for i in range(4):
        n = int(rng.integers(3, 9))
        g = float(rng.choice([0.5, 0.8, 0.95, 1.0]))
        inputs.append((f"generated route {i + 1}", [float(x) for x in rng.integers(-100, 101, size=n)], g))
    cases = []
    for label, rewards, g in inputs:
        expected = discounted_return(np.array(rewards), g) if rewards else 0.0

        def judge(res: Mapping[str, Any], rewards: list[float] = rewards, g: float = g,
                  expected: float = expected) -> Finding | None:
            where = f"rewards {show(rewards)}, gamma {g:g}"
            given = res["ok"]
            bad = _not_number(given, where)
            if bad is not None:
                return bad
            if close(given, expected):
                return None
            hint = next((k for k, v in _return_variants(rewards, g).items() if close(given, v)), None)
            return Finding(where, expected, given, hint=hint)

        cases.append(Case(label, {"fn": "discounted_return", "driver": "call", "args": [rewards, g]}, judge))
    return cases


# 2. q_value(state, action, values, transitions, gamma) and 3. greedy_action(...)

Q_HINTS = {
    "missing-gamma": "the next state's value must be discounted: p * (reward + gamma * values[next_state])",
    "unweighted": "each outcome counts with its probability: sum p * (...) over the outcomes, not the plain sum",
    "reward-only": "add the discounted value of where the action leads: reward + gamma * values[next_state]",
    "discounted-reward": "the immediate reward is not discounted: only the next state's value is (reward + gamma * V)",
    "terminal": "a terminal state (no actions) is worth 0: read values[next_state], which holds 0 for it",
    "not-a-number": "return one number (a float)",
}

GREEDY_HINTS = {
    "argmin": "you picked the action with the smallest value: the greedy action has the largest",
    "last-of-ties": "between actions with equal values the first one in actions[state] wins, as Python's max does",
    "max-from-zero": "when every action loses (all values below 0) the best is still one of them: start the max "
                     "from the first action (or use max(...)), not from 0 or None; only the state's available actions count",
    "reward-only": "compare reward + gamma * values[next_state] (the backup), not the immediate reward alone",
    "missing-gamma": "the backup discounts the next state's value by gamma",
    "not-an-action": "return the name of an action of the state (a string from actions[state])",
}


def _value_tables(model: DictModel, rng: np.random.Generator, n: int = 2) -> list[Values]:
    """Value estimates to back up (wide, so the discount and each outcome change which action wins)."""
    return [{s: (0.0 if s not in model.actions else float(rng.integers(-200, 201))) for s in model.states} for _ in range(n)]


def _backup_inputs(rng: np.random.Generator) -> list[tuple[DictModel, Values]]:
    det = lesson_model()
    star = {"new_request": 59.0, "evidence_ready": 70.0, "review_queue": 80.0, "closed": 0.0}
    # a reviewer queue worth 85: after evidence, human_review (-10 + 0.9 x 85 = 66.5) loses to auto_approve (70)
    # only because of the discount, so a backup without gamma picks the other action here
    out = [(det, star), (lesson_abandonment_model(), star), (det, {**star, "review_queue": 85.0})]
    for g in (0.5, None, None):
        m = generated_model(rng, gamma=g)
        out.extend((m, v) for v in _value_tables(m, rng))
    m = perturbed_lesson_model(rng)
    out.extend((m, v) for v in _value_tables(m, rng))
    return out


GREEDY_MISTAKES = ("last-of-ties", "max-from-zero", "reward-only", "missing-gamma", "argmin")
"""Checked in this order: the first mistake that explains every answer on a model names the hint."""


def q_value_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for model, values in _backup_inputs(rng):
        ref = reference_q(model, values)
        plain = model.plain()
        pairs = list(ref)

        def judge(res: Mapping[str, Any], model: DictModel = model, values: Values = values,
                  ref: dict[tuple[str, str], float] = ref, pairs: list[tuple[str, str]] = pairs) -> Finding | None:
            given = res["ok"]
            for (s, a), g in zip(pairs, given, strict=True):
                bad = _not_number(g, f"Q({s}, {a})")
                if bad is not None:
                    return bad
            wrong = [(p, g) for p, g in zip(pairs, given, strict=True) if not close(g, ref[p])]
            if not wrong:
                return None
            hint = next((k for k in ("missing-gamma", "unweighted", "reward-only", "discounted-reward")
                         if all(close(g, _q_variant(model, s, a, values, k)) for (s, a), g in zip(pairs, given, strict=True))),
                        None)
            (s, a), g = wrong[0]
            return Finding(f"Q({s}, {a})", ref[(s, a)], g, hint=hint, state=s, action=a,
                           note=f"outcomes {model.transitions[(s, a)]}, gamma {model.gamma:g}")

        items = [[s, a, dict(values), plain["transitions"], model.gamma] for s, a in pairs]
        cases.append(Case(model.name, {"fn": "q_value", "driver": "map", "args": [items]}, judge,
                          _error_hint({"KeyError": "terminal"})))
    return cases


def _policy_finding(model: DictModel, values: Values, given: Mapping[str, Any], expected: Mapping[str, str]) -> Finding | None:
    """The first state whose action differs, with the mistake that explains the whole policy."""
    qs = reference_q(model, values)
    wrong = [s for s in model.actions if given.get(s) != expected[s]]
    if not wrong:
        return None
    s = wrong[0]
    g = given.get(s, "missing")
    note = "Q: " + ", ".join(f"{a} {show(qs[(s, a)])}" for a in model.actions[s])
    hint: str | None
    if g not in model.actions[s]:
        hint = "max-from-zero" if g is None and all(qs[(s, a)] <= 0 for a in model.actions[s]) else "not-an-action"
        return Finding(f"state {s}", expected[s], g, hint=hint, state=s, note=note)
    hint = next((k for k in GREEDY_MISTAKES if all(_greedy_variant(model, t, values, k) == given.get(t) for t in model.actions)),
                None)
    return Finding(f"state {s}", expected[s], g, hint=hint, state=s, note=note)


def greedy_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for model, values in _backup_inputs(rng):
        expected = reference_greedy(model, values)
        plain = model.plain()
        states = list(model.actions)

        def judge(res: Mapping[str, Any], model: DictModel = model, values: Values = values, expected: dict[str, str] = expected,
                  states: list[str] = states) -> Finding | None:
            return _policy_finding(model, values, dict(zip(states, res["ok"], strict=True)), expected)

        items = [[s, plain["actions"], dict(values), plain["transitions"], model.gamma] for s in states]
        cases.append(Case(model.name, {"fn": "greedy_action", "driver": "map", "args": [items]}, judge,
                          _error_hint({"KeyError": "terminal"})))
    return cases


# 4. value_iteration(states, actions, transitions, gamma, sweeps) -> (history, policy)

VI_HINTS = {
    "in-place": "your values match in-place updates: during a sweep read only the previous sweep's values "
                "(updated = values.copy(); compute from values, write to updated), as the lesson does",
    "missing-gamma": "discount the next state's value: p * (reward + gamma * values[next_state])",
    "max-from-zero": "a state's value is the max over ITS available actions only: starting the max at 0 (or counting a "
                     "missing action as 0) makes a state whose every action loses look free",
    "terminal": "terminal states (those without an entry in actions) stay at 0 in every sweep, and have no action "
                "in the policy",
    "aliased": "every entry of your history holds the last sweep's values: append a snapshot per sweep (a new dict, "
               "e.g. values.copy()), not the one dict you keep updating",
    "history": "return a list with one dict of values per sweep: sweeps entries, the first being V_1 (after one "
               "sweep from all zeros), not V_0",
    "shape": "return two things: (history, policy), where history is a list of dicts and policy a dict",
    "policy-ties": "the policy's action is the first among equal best (max over actions[state] keeps the first)",
    "policy-stale": "compute the policy from the final values (the last sweep), with the same backup",
}


def _check_history(model: DictModel, given: Any, expected: list[Values], sweeps: int, variants: Callable[[str], list[Values]],
                   mistakes: Sequence[str]) -> Finding | None:
    if not isinstance(given, list) or not all(isinstance(v, dict) for v in given):
        return Finding("the history", f"a list of {sweeps} dicts", given, hint="history")
    if len(given) != sweeps:
        return Finding("the history", f"{sweeps} sweeps", f"{len(given)} entries", hint="history")
    for k, (g, e) in enumerate(zip(given, expected, strict=True)):
        for s in model.states:
            if s not in g:
                return Finding(f"sweep {k + 1}, state {s}", e[s], "missing", hint="terminal" if s not in model.actions else None,
                               sweep=k + 1, state=s)
            if not close(g[s], e[s]):
                hint: str | None = "terminal" if s not in model.actions else next(
                    (m for m in mistakes if _same_values(given, variants(m))), None)
                if hint is None and len(given) > 1 and all(h == given[-1] for h in given):
                    hint = "aliased"  # one dict appended every sweep: each entry shows the last values
                qs = reference_q(model, expected[k - 1] if k else dict.fromkeys(model.states, 0.0))
                note = "" if s not in model.actions else "from the previous sweep's values: " + ", ".join(
                    f"Q({s}, {a}) = {show(qs[(s, a)])}" for a in model.actions[s])
                return Finding(f"sweep {k + 1}, state {s}", e[s], g[s], hint=hint, sweep=k + 1, state=s, note=note,
                               diagram=_diagram(model, e, g, k + 1, s))
    return None


def _diagram(model: DictModel, expected: Values, given: Mapping[str, Any], sweep: int, state: str) -> dict[str, Any]:
    return {"model": model, "expected": dict(expected), "given": {s: given.get(s) for s in model.states}, "sweep": sweep,
            "state": state}


def _check_policy(model: DictModel, policy: Any, expected: Mapping[str, str], values: Values,
                  stale: Mapping[str, str] | None) -> Finding | None:
    if not isinstance(policy, dict):
        return Finding("the policy", "a dict state -> action", policy, hint="shape")
    for s in model.states:
        if s not in model.actions:
            if s in policy:
                return Finding(f"policy, state {s}", "no entry (a terminal state)", policy[s], hint="terminal", state=s)
            continue
        if policy.get(s) != expected[s]:
            qs = reference_q(model, values)
            tie = policy.get(s) in model.actions[s] and close(qs[(s, str(policy.get(s)))], qs[(s, expected[s])])
            hint = "policy-ties" if tie else "policy-stale" if stale is not None and policy.get(s) == stale.get(s) else None
            return Finding(f"policy, state {s}", expected[s], policy.get(s, "missing"), hint=hint, state=s,
                           note="Q from the final values: " + ", ".join(f"{a} {show(qs[(s, a)])}" for a in model.actions[s]))
    return None


def _vi_models(rng: np.random.Generator) -> list[tuple[DictModel, int]]:
    return [(lesson_model(), 3), (lesson_abandonment_model(), 4), (perturbed_lesson_model(rng), 5),
            (generated_model(rng), 6), (generated_model(rng), 8)]


def value_iteration_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for model, sweeps in _vi_models(rng):
        expected = reference_sweeps(model, sweeps)
        policy = reference_greedy(model, expected[-1])
        stale = reference_greedy(model, expected[-2]) if sweeps > 1 else None
        plain = model.plain()

        def judge(res: Mapping[str, Any], model: DictModel = model, sweeps: int = sweeps, expected: list[Values] = expected,
                  policy: dict[str, str] = policy, stale: dict[str, str] | None = stale) -> Finding | None:
            given = res["ok"]
            if not isinstance(given, (tuple, list)) or len(given) != 2:
                return Finding("the return value", "(history, policy)", given, hint="shape")
            found = _check_history(model, given[0], expected, sweeps, lambda m: _vi_variant(model, sweeps, m),
                                   ("in-place", "missing-gamma", "max-from-zero"))
            return found or _check_policy(model, given[1], policy, expected[-1], stale)

        cases.append(Case(f"{model.name}, {sweeps} sweeps", {
            "fn": "value_iteration", "driver": "call",
            "args": [plain["states"], plain["actions"], plain["transitions"], model.gamma, sweeps]}, judge,
            _error_hint({"KeyError": "terminal"})))
    return cases


# 5. policy_evaluation(policy, states, transitions, gamma, sweeps) and 6. policy_improvement(...)

PE_HINTS = {
    "in-place": "your values match in-place updates: compute sweep k+1 from sweep k's values only "
                "(updated = values.copy())",
    "missing-gamma": "discount the next state's value: p * (reward + gamma * values[next_state])",
    "terminal": "terminal states are not in the policy: they keep value 0 in every sweep (loop over the policy's "
                "states, or skip states without an action)",
    "aliased": "every entry of your history holds the last sweep's values: append a snapshot per sweep (a new dict, "
               "e.g. values.copy()), not the one dict you keep updating",
    "history": "return a list with one dict of values per sweep: sweeps entries, the first being V_1, not V_0",
}

PI_HINTS = {
    "argmin": "the improved policy takes the action with the LARGEST backed-up value",
    "last-of-ties": "between equal values the first action in actions[state] wins (Python's max keeps the first)",
    "reward-only": "improve on reward + gamma * values[next_state] (one backup), not on the immediate reward",
    "missing-gamma": "the backup discounts the next state's value by gamma",
    "max-from-zero": "when every action loses the best is still one of them: do not start the max from 0",
    "terminal": "terminal states (no entry in actions) get no action in the policy",
    "shape": "return a dict state -> action for every state that has actions",
    "not-an-action": "give every state with actions one of ITS actions (a name from actions[state])",
}


def _random_policy(model: DictModel, rng: np.random.Generator) -> dict[str, str]:
    return {s: str(rng.choice(acts)) for s, acts in model.actions.items()}


def policy_evaluation_cases(rng: np.random.Generator) -> list[Case]:
    det = lesson_model()
    inputs = [(det, {"new_request": "human_review", "evidence_ready": "auto_approve", "review_queue": "approve_rotation"}, 3),
              (lesson_abandonment_model(), {"new_request": "request_evidence", "evidence_ready": "human_review",
                                            "review_queue": "approve_rotation"}, 3)]
    for _ in range(2):
        m = generated_model(rng)
        inputs.append((m, _random_policy(m, rng), 6))
    cases = []
    for model, policy, sweeps in inputs:
        expected = reference_evaluation(model, policy, sweeps)
        plain = model.plain()

        def judge(res: Mapping[str, Any], model: DictModel = model, policy: dict[str, str] = policy, sweeps: int = sweeps,
                  expected: list[Values] = expected) -> Finding | None:
            return _check_history(model, res["ok"], expected, sweeps, lambda m: _pe_variant(model, policy, sweeps, m),
                                  ("in-place", "missing-gamma"))

        cases.append(Case(f"{model.name}, policy {policy}, {sweeps} sweeps", {
            "fn": "policy_evaluation", "driver": "call",
            "args": [dict(policy), plain["states"], plain["transitions"], model.gamma, sweeps]}, judge,
            _error_hint({"KeyError": "terminal"})))
    return cases


def policy_improvement_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for model, values in _backup_inputs(rng):
        expected = reference_greedy(model, values)
        plain = model.plain()

        def judge(res: Mapping[str, Any], model: DictModel = model, values: Values = values,
                  expected: dict[str, str] = expected) -> Finding | None:
            given = res["ok"]
            if not isinstance(given, dict):
                return Finding("the policy", "a dict state -> action", given, hint="shape")
            for s in model.terminal:
                if s in given:
                    return Finding(f"state {s}", "no entry (a terminal state)", given[s], hint="terminal", state=s)
            return _policy_finding(model, values, given, expected)

        cases.append(Case(model.name, {"fn": "policy_improvement", "driver": "call",
                                       "args": [dict(values), plain["states"], plain["actions"], plain["transitions"],
                                                model.gamma]}, judge, _error_hint({"KeyError": "terminal"})))
    return cases


# 7. breakeven_probability(transitions, values, gamma)

BREAKEVEN_HINTS = {
    "missing-gamma": "the values of the next states are discounted: each outcome is worth reward + gamma * V(next)",
    "swapped": "p is the probability of request_evidence's LAST outcome (abandonment); the other outcome has 1 - p",
    "given-p": "the probability written in transitions is today's rate, not the answer: solve for the p at which both "
               "actions are worth the same",
    "no-crossing": "when one action wins for every p in [0, 1] there is no breakeven: return None",
    "not-a-number": "return the probability as a number (or None when there is no crossing)",
}


def reference_breakeven(transitions: Mapping[str, Sequence[tuple[float, str, float]]], values: Mapping[str, float],
                        gamma: float) -> float | None:
    """The abandonment probability where the two actions are equal, from the library's backups
    (:func:`~accessrl.planning.q_values`) on a one-decision model whose successors are worth ``values``."""
    states = sorted({n for rows in transitions.values() for _, n, _ in rows})
    spec: dict[str, Any] = {"name": "breakeven", "gamma": gamma, "start": "decide", "terminal": ["end"],
                            "states": ["decide", *[f"s_{n}" for n in states], "end"], "transitions": {"decide": {}}}
    for a in ("request_evidence", "human_review"):
        rows = transitions[a]
        spec["transitions"]["decide"][a] = [{"next": f"s_{n}", "p": p, "reward": r} for p, n, r in rows]
    for n in states:  # a successor worth V(n): one step to the end paying V(n)
        spec["transitions"][f"s_{n}"] = {"stay": {"next": "end", "reward": float(values[n])}}
    # the abandonment outcome needs a successor of its own so its probability can move alone
    rows = transitions["request_evidence"]
    spec["states"].insert(1, "abandon")
    spec["transitions"]["decide"]["request_evidence"] = [
        {"next": f"s_{rows[0][1]}", "p": rows[0][0], "reward": rows[0][2]},
        {"next": "abandon", "p": rows[1][0], "reward": rows[1][2]}]
    spec["transitions"]["abandon"] = {"stay": {"next": "end", "reward": float(values[rows[1][1]])}}
    mdp = compile_spec(spec, source="breakeven")
    # Q(request_evidence) is linear in p, Q(human_review) does not depend on it: the library's backup at
    # p = 0 and p = 1 fixes both lines (the tests check this against probability_sweep's bisection)
    pair, outcome = locate_outcome(mdp, "decide", "request_evidence", "abandon")
    s0 = mdp.state_index("decide")
    ends = []
    for p in (0.0, 1.0):
        at = with_probability(mdp, pair, outcome, p)
        q = q_values(at, policy_iteration(at).values)
        ends.append((float(q[at.pair_index(s0, "request_evidence")]), float(q[at.pair_index(s0, "human_review")])))
    (re0, hr), (re1, _) = ends
    if re0 == re1:
        return None
    p = (re0 - hr) / (re0 - re1)
    return p if 0.0 <= p <= 1.0 else None


def _breakeven_variants(transitions: Mapping[str, Sequence[tuple[float, str, float]]], values: Mapping[str, float],
                        gamma: float) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key, g in (("missing-gamma", 1.0), ("ok", gamma)):
        (_, n_ok, r_ok), (p_ab, n_ab, r_ab) = transitions["request_evidence"]
        a = r_ok + g * values[n_ok]
        b = r_ab + g * values[n_ab]
        h = sum(p * (r + g * values[n]) for p, n, r in transitions["human_review"])
        p = (a - h) / (a - b) if a != b else None
        if key == "ok":
            out["swapped"] = None if p is None else 1 - p
            out["no-crossing"] = p
            out["given-p"] = p_ab
        else:
            out[key] = p
    return out


def breakeven_inputs(rng: np.random.Generator) -> list[tuple[str, dict[str, list[tuple[float, str, float]]], Values, float]]:
    lesson = {"request_evidence": [(0.75, "evidence_ready", -4.0), (0.25, "closed", -54.0)],
              "human_review": [(1.0, "review_queue", -18.0)]}
    star = {"closed": 0.0, "evidence_ready": 70.0, "review_queue": 80.0}
    out = [("the lesson's abandonment listing", lesson, star, 0.9)]
    for i in range(3):
        ev, rq = float(rng.integers(40, 100)), float(rng.integers(30, 90))
        t = {"request_evidence": [(0.8, "evidence_ready", -float(rng.integers(1, 10))),
                                  (0.2, "withdrawn", -float(rng.integers(20, 80)))],
             "human_review": [(0.9, "review_queue", -float(rng.integers(5, 30))),
                              (0.1, "escalated", -float(rng.integers(10, 40)))]}
        vals = {"evidence_ready": ev, "review_queue": rq, "withdrawn": 0.0, "escalated": float(rng.integers(0, 40))}
        out.append((f"generated rewards and values {i + 1}", t, vals, float(rng.choice([0.8, 0.9, 0.95]))))
    # human_review wins whatever p is: no breakeven
    out.append(("a case where human_review always wins",
                {"request_evidence": [(0.9, "evidence_ready", -4.0), (0.1, "closed", -54.0)],
                 "human_review": [(1.0, "review_queue", -18.0)]},
                {"closed": 0.0, "evidence_ready": 20.0, "review_queue": 80.0}, 0.9))
    return out


def breakeven_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for label, t, vals, g in breakeven_inputs(rng):
        expected = reference_breakeven(t, vals, g)

        def judge(res: Mapping[str, Any], t: dict[str, list[tuple[float, str, float]]] = t, vals: Values = vals, g: float = g,
                  expected: float | None = expected) -> Finding | None:
            given = res["ok"]
            where = f"transitions {t}, values {vals}, gamma {g:g}"
            if expected is None:
                if given is None:
                    return None
                return Finding(where, None, given, hint="no-crossing")
            bad = _not_number(given, where)
            if bad is not None:
                return bad
            if close(given, expected):
                return None
            hint = next((k for k, v in _breakeven_variants(t, vals, g).items() if v is not None and k != "no-crossing"
                         and close(given, v)), None)
            return Finding(where, expected, given, hint=hint)

        cases.append(Case(label, {"fn": "breakeven_probability", "driver": "call", "args": [t, dict(vals), g]}, judge))
    return cases


__all__ = [
    "BREAKEVEN_HINTS",
    "GREEDY_HINTS",
    "PE_HINTS",
    "PI_HINTS",
    "Q_HINTS",
    "RETURN_HINTS",
    "VI_HINTS",
    "breakeven_cases",
    "greedy_cases",
    "policy_evaluation_cases",
    "policy_improvement_cases",
    "q_value_cases",
    "reference_breakeven",
    "reference_evaluation",
    "reference_greedy",
    "reference_q",
    "reference_sweeps",
    "return_cases",
    "value_iteration_cases",
]
