"""Checks of the learning exercises: the Q-learning update, the ε-greedy episode loop, a REINFORCE step.

Q-learning is graded deterministically, as CS188 does, by replaying recorded experiences: the
update on a fixed list of transitions, and the learner's own loop by replaying the transitions
its run produced through the library's target (:func:`accessrl.learning.reference.q_learning_target`)
and the lesson's visit-count rate (:class:`accessrl.learning.config.StepSize`).  Exploration is
random on purpose, so it is checked statistically, with the error rate stated in
:data:`EXPLORATION_Z`.  REINFORCE is compared with :func:`accessrl.learning.policy_gradient.bandit_gradient`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from accessrl.learning.config import StepSize
from accessrl.learning.policy_gradient import bandit_gradient, softmax
from accessrl.learning.reference import q_learning_target
from accessrl.lesson.coding.base import Case, Finding, close, show
from accessrl.lesson.coding.models import DictModel, generated_model, lesson_abandonment_model, perturbed_lesson_model

OMEGA = 0.6
"""The lesson's learning-rate exponent: alpha = visits ** -0.6."""

EXPLORATION_Z = 4.9
"""The exploration check fails when the count of non-greedy actions is more than this many standard
deviations from what ε-greedy gives: a correct loop fails it with probability about 1e-6 (two-sided,
normal approximation to the sum of independent Bernoulli draws)."""

QTable = dict[str, dict[str, float]]
Experience = tuple[str, str, float, str]

# 8. q_learning_update(q, state, action, reward, next_state, gamma, learning_rate)

UPDATE_HINTS = {
    "missing-gamma": "the target is reward + gamma * max Q(next_state, .): discount the next state's best value",
    "overwrite": "move Q part of the way: q += learning_rate * (target - q), not q = target",
    "rate-on-target": "the update is q + learning_rate * (target - q): you wrote learning_rate * target",
    "sign": "the update moves towards the target: + learning_rate * (target - q), not minus",
    "mean-future": "Q-learning's target uses the BEST next action (max over q[next_state]), not the average",
    "terminal": "a next state without an entry in q is terminal: its future value is 0 (the lesson writes "
                "future = 0.0 if next_state == 'closed', but terminal states here have other names too)",
    "in-place": "update q itself (q[state][action] = ...): the grader reads the table you were given",
}


def _update_variant(q: QTable, e: Experience, gamma: float, lr: float, mistake: str) -> float:
    s, a, r, s2 = e
    nxt = list(q[s2].values()) if s2 in q else []
    best = max(nxt) if nxt else 0.0
    future = (sum(nxt) / len(nxt) if nxt else 0.0) if mistake == "mean-future" else best
    target = r + (1.0 if mistake == "missing-gamma" else gamma) * future
    old = q[s][a]
    return {"overwrite": target, "rate-on-target": lr * target, "sign": old - lr * (target - old)}.get(
        mistake, old + lr * (target - old))


def sample_experiences(model: DictModel, rng: np.random.Generator, n: int) -> list[Experience]:
    """Transitions of episodes from the start, uniform random actions (the recorded list to replay)."""
    out: list[Experience] = []
    s = model.start
    while len(out) < n:
        a = str(rng.choice(model.actions[s]))
        rows = model.transitions[(s, a)]
        k = int(rng.choice(len(rows), p=[p for p, _, _ in rows]))
        _, s2, r = rows[k]
        out.append((s, a, float(r), s2))
        s = model.start if s2 not in model.actions else s2
    return out


def replay_reference(q0: QTable, experiences: Sequence[Experience], gamma: float, rates: Sequence[float]) -> list[QTable]:
    """Q after each experience, by the library's target."""
    q = {s: dict(v) for s, v in q0.items()}
    out = []
    for (s, a, r, s2), lr in zip(experiences, rates, strict=True):
        done = s2 not in q or not q[s2]
        target = q_learning_target(r, gamma, 0.0 if done else max(q[s2].values()), done=done)
        q[s][a] += lr * (target - q[s][a])
        out.append({k: dict(v) for k, v in q.items()})
    return out


def _visit_rates(experiences: Sequence[Experience]) -> list[float]:
    rule = StepSize("visits", omega=OMEGA)
    n: dict[tuple[str, str], int] = {}
    out = []
    for s, a, _, _ in experiences:
        n[(s, a)] = n.get((s, a), 0) + 1
        out.append(rule.rate(n[(s, a)]))
    return out


def _crash_terminal(error: Mapping[str, Any]) -> str | None:
    msg = str(error.get("message", ""))
    if error.get("type") == "KeyError" or "empty" in msg or "terminal" in msg:
        return "terminal"
    return None


def update_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for model, n in ((lesson_abandonment_model(), 30), (generated_model(rng), 40), (generated_model(rng), 40)):
        exps = sample_experiences(model, rng, n)
        rates = _visit_rates(exps)
        q0 = {s: {a: float(rng.integers(-50, 51)) for a in acts} for s, acts in model.actions.items()}
        expected = replay_reference(q0, exps, model.gamma, rates)

        def judge(res: Mapping[str, Any], model: DictModel = model, exps: list[Experience] = exps, rates: list[float] = rates,
                  q0: QTable = q0, expected: list[QTable] = expected) -> Finding | None:
            snaps = res["ok"]
            before = q0
            for t, (snap, ref) in enumerate(zip(snaps, expected, strict=True)):
                s, a, r, s2 = exps[t]
                where = f"experience {t + 1} of {len(exps)} ({s}, {a}, reward {show(r)}, next {s2}), learning rate {rates[t]:.4f}"
                for st, acts in ref.items():
                    for ac, e in acts.items():
                        g = snap.get(st, {}).get(ac) if isinstance(snap.get(st), dict) else None
                        if close(g, e):
                            continue
                        hint = None
                        if (st, ac) == (s, a):
                            if close(g, before[s][a]):
                                hint = "in-place"
                            else:
                                hint = next((m for m in ("missing-gamma", "overwrite", "rate-on-target", "sign", "mean-future")
                                             if close(g, _update_variant(before, exps[t], model.gamma, rates[t], m))), None)
                        return Finding(f"{where}: Q({st}, {ac})", e, g, hint=hint, sweep=t + 1, state=st, action=ac,
                                       note=f"Q before this update: {show(before[s][a])}")
                before = ref
            return None

        cases.append(Case(f"{len(exps)} recorded experiences on {model.name}", {
            "fn": "q_learning_update", "driver": "replay",
            "args": [{s: dict(v) for s, v in q0.items()}, exps, model.gamma, rates]}, judge, _crash_terminal))
    return cases


# 9. q_learning(actions, step, start, episodes, gamma, epsilon, rng)

LOOP_HINTS = {
    **{k: v for k, v in UPDATE_HINTS.items() if k in ("missing-gamma", "overwrite", "rate-on-target", "sign", "terminal")},
    "state-counter": "count visits per state-action pair: visits[state][action] += 1 before the update, "
                     "rate visits[state][action] ** -0.6 (you counted visits per state)",
    "step-counter": "the learning rate counts visits of this state-action pair, not all steps so far",
    "episode-counter": "the learning rate counts visits of this state-action pair, not episodes",
    "after-increment": "count the visit before computing the rate: the first update of a pair uses 1 ** -0.6 = 1",
    "unavailable-action": "choose among the state's own actions (actions[state]), exploring or not",
    "episode-start": "every episode starts at start and runs until a state without actions",
    "episodes": "run exactly the number of episodes asked for",
    "explore-rarely": "your loop explores less than epsilon-greedy does: with probability epsilon (rng.random() < epsilon) "
                      "take rng.choice(actions[state]), otherwise the greedy action",
    "explore-often": "your loop takes non-greedy actions more often than epsilon-greedy: explore only when "
                     "rng.random() < epsilon, then choose uniformly among ALL the state's actions",
    "rng": "draw every random number from the rng you were given (rng.random(), rng.choice(...)): two runs with "
           "the same seed should match",
    "rng-ignored": "your loop gives the same run for different seeds: use the rng you were given, not a fixed seed",
    "shape": "return the table q: a dict state -> dict action -> value, for every state that has actions",
}

COUNTERS = ("state-counter", "step-counter", "episode-counter", "after-increment")


def replay_loop(model: DictModel, record: Sequence[Experience], *, counter: str = "pair", gamma: float | None = None
                ) -> tuple[QTable, list[QTable]]:
    """The Q table a correct loop ends with on ``record`` (and the table before each step)."""
    g = model.gamma if gamma is None else gamma
    q = {s: dict.fromkeys(acts, 0.0) for s, acts in model.actions.items()}
    pair: dict[tuple[str, str], int] = {}
    state: dict[str, int] = {}
    episode = 1
    before = []
    for t, (s, a, r, s2) in enumerate(record):
        before.append({k: dict(v) for k, v in q.items()})
        pair[(s, a)] = pair.get((s, a), 0) + 1
        state[s] = state.get(s, 0) + 1
        n = {"pair": pair[(s, a)], "state-counter": state[s], "step-counter": t + 1, "episode-counter": episode,
             "after-increment": pair[(s, a)] + 1}[counter]
        done = s2 not in model.actions
        target = q_learning_target(r, g, 0.0 if done else max(q[s2].values()), done=done)
        q[s][a] += n ** -OMEGA * (target - q[s][a])
        if done:
            episode += 1
    return q, before


def _exploration(model: DictModel, record: Sequence[Experience], before: Sequence[QTable], epsilon: float) -> Finding | None:
    x, mean, var, n = 0, 0.0, 0.0, 0
    for (s, a, _, _), q in zip(record, before, strict=True):
        acts = model.actions[s]
        if len(acts) < 2:
            continue
        best = max(q[s].values())
        greedy = [b for b in acts if q[s][b] >= best - 1e-12 * max(1.0, abs(best))]
        p = epsilon * (1 - len(greedy) / len(acts))
        x += a not in greedy
        mean += p
        var += p * (1 - p)
        n += 1
    if var == 0 or abs(x - mean) <= EXPLORATION_Z * math.sqrt(var):
        return None
    return Finding(f"exploration over {n} decisions in states with two or more actions", f"{mean:.0f} non-greedy actions "
                   f"(within {EXPLORATION_Z * math.sqrt(var):.0f}, ε = {epsilon:g})", f"{x} non-greedy actions",
                   hint="explore-rarely" if x < mean else "explore-often",
                   note=f"a correct loop fails this check with probability about 1e-6 (|z| > {EXPLORATION_Z})")


def _episodes(model: DictModel, record: Sequence[Experience], start: str, episodes: int) -> Finding | None:
    count, fresh = 0, True
    for t, (s, _, _, s2) in enumerate(record):
        if fresh:
            if s != start:
                return Finding(f"step {t + 1}: the first state of an episode", start, s, hint="episode-start")
            count += 1
        fresh = s2 not in model.actions
    if count != episodes or not fresh:
        return Finding("episodes run", episodes, count if fresh else f"{count} (the last one unfinished)", hint="episodes")
    return None


def loop_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    setups = [(lesson_abandonment_model(), 600, 0.3), (generated_model(rng), 400, 0.3), (perturbed_lesson_model(rng), 300, 0.3)]
    for i, (model, episodes, eps) in enumerate(setups):
        seed = int(rng.integers(2**31))
        seeds = [seed, seed, seed + 1] if i == 0 else [seed]
        plain = model.plain()

        def judge(res: Mapping[str, Any], model: DictModel = model, episodes: int = episodes, eps: float = eps) -> Finding | None:
            record = [tuple(e) for e in res["records"][0]]
            q = res["ok"]
            found = _episodes(model, record, model.start, episodes)
            if found:
                return found
            ref, before = replay_loop(model, record)
            if not isinstance(q, dict):
                return Finding("the return value", "the table q (dict state -> dict action -> value)", q, hint="shape")
            for s, acts in ref.items():
                for a, e in acts.items():
                    g = q.get(s, {}).get(a) if isinstance(q.get(s), dict) else None
                    if g is None:
                        return Finding(f"Q({s}, {a})", e, "missing", hint="shape", state=s, action=a)
                    if close(g, e):
                        continue
                    hint = next((c for c in COUNTERS if close(g, replay_loop(model, record, counter=c)[0][s][a])), None)
                    if hint is None and close(g, replay_loop(model, record, gamma=1.0)[0][s][a]):
                        hint = "missing-gamma"
                    return Finding(f"Q({s}, {a}) after replaying your run's {len(record)} transitions", e, g, hint=hint,
                                   state=s, action=a)
            found = _exploration(model, record, before, eps)
            if found:
                return found
            recs = res["records"]
            if len(recs) == 3:
                again, other = [tuple(e) for e in recs[1]], [tuple(e) for e in recs[2]]
                if again != record[:len(again)]:
                    return Finding("a second run with the same seed", "the same transitions", "other transitions", hint="rng")
                if other == record[:len(other)]:
                    return Finding("a run with another seed", "other transitions", "the same transitions", hint="rng-ignored")
            return None

        def crash(error: Mapping[str, Any]) -> str | None:
            msg = str(error.get("message", ""))
            if "not available" in msg:
                return "unavailable-action"
            if "terminal state" in msg or "more than" in msg or error.get("type") == "KeyError":
                return "terminal"
            if error.get("type") == "ZeroDivisionError":
                return "after-increment"
            return None

        cases.append(Case(f"{episodes} episodes on {model.name}, epsilon {eps:g}", {
            "fn": "q_learning", "driver": "episodes",
            "args": [{"actions": plain["actions"], "transitions": plain["transitions"]}, model.start, episodes, model.gamma,
                     eps, seeds, int(rng.integers(2**31)), 40 * episodes + 1000]}, judge, crash))
    return cases


# 10. reinforce_step(logits, actions, returns, learning_rate)

REINFORCE_HINTS = {
    "no-baseline": "subtract the baseline, the mean of the batch's returns: advantage = return - mean(returns)",
    "sign": "gradient ASCENT: logits + learning_rate * gradient (raise the probability of better-than-average actions)",
    "sum": "average the per-sample terms over the batch (mean over samples), as the lesson does, not their sum",
    "lesson-rows": "the lesson's batch held one sample per action, in order, so it could use np.eye(K); here use the "
                   "one-hot row of each SAMPLED action, np.eye(K)[actions] (actions repeat, and N need not be K)",
    "overflow": "softmax overflows for large logits: subtract the largest logit before exp (the lesson's shifted softmax)",
    "shape": "return the new logits: one number per action",
}


def _reinforce_variants(logits: np.ndarray, actions: np.ndarray, returns: np.ndarray, lr: float) -> dict[str, np.ndarray]:
    pi = softmax(logits)
    onehot = np.eye(logits.size)[actions]
    adv = returns - returns.mean()
    return {
        "no-baseline": logits + lr * ((onehot - pi) * returns[:, None]).mean(axis=0),
        "sign": logits - lr * ((onehot - pi) * adv[:, None]).mean(axis=0),
        "sum": logits + lr * ((onehot - pi) * adv[:, None]).sum(axis=0),
        "lesson-rows": logits + lr * ((np.eye(logits.size) - pi) * adv[: logits.size, None]).mean(axis=0)
        if adv.size >= logits.size else np.full(logits.size, np.nan),
    }


def reinforce_inputs(rng: np.random.Generator) -> list[tuple[str, list[float], list[int], list[float], float]]:
    out = [("the lesson's batch (one route per action)", [0.0, 0.0, 0.0], [0, 1, 2], [-120.0, 30.75, 54.0], 0.03)]
    for i in range(3):
        k = int(rng.integers(2, 6))
        n = int(rng.integers(4, 13))
        logits = [float(x) for x in rng.normal(0, 1.5, size=k).round(3)]
        out.append((f"generated batch {i + 1} ({k} actions, {n} samples)", logits,
                    [int(a) for a in rng.integers(0, k, size=n)], [float(x) for x in rng.integers(-100, 101, size=n)],
                    float(rng.choice([0.01, 0.05, 0.1]))))
    out.append(("as many samples as actions, not one per action", [0.5, -0.5, 0.0], [2, 2, 0], [12.0, -3.0, 40.0], 0.05))
    out.append(("large logits (a softmax must not overflow)", [800.0, 805.0, 790.0], [0, 1, 1, 2],
                [10.0, 40.0, 20.0, -30.0], 0.1))
    return out


def _reinforce_crash(error: Mapping[str, Any]) -> str | None:
    msg = str(error.get("message", ""))
    if "overflow" in msg:
        return "overflow"
    if "broadcast" in msg or "shape" in msg:
        return "lesson-rows"
    return None


def reinforce_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for label, logits, acts, rets, lr in reinforce_inputs(rng):
        expected = np.asarray(logits) + lr * bandit_gradient(np.asarray(logits), np.asarray(acts), np.asarray(rets)).mean

        def judge(res: Mapping[str, Any], logits: list[float] = logits, acts: list[int] = acts, rets: list[float] = rets,
                  lr: float = lr, expected: np.ndarray = expected) -> Finding | None:
            given = res["ok"]
            where = f"logits {logits}, actions {acts}, returns {rets}, learning rate {lr:g}"
            if not isinstance(given, (list, tuple)) or len(given) != len(logits):
                return Finding(where, f"{len(logits)} new logits", given, hint="shape")
            for j, (g, e) in enumerate(zip(given, expected, strict=True)):
                if close(g, float(e)):
                    continue
                if isinstance(g, float) and not math.isfinite(g):
                    hint: str | None = "overflow"
                else:
                    variants = _reinforce_variants(np.asarray(logits), np.asarray(acts), np.asarray(rets), lr)
                    hint = next((k for k, v in variants.items()
                                 if all(close(x, float(y)) for x, y in zip(given, v, strict=True))), None)
                return Finding(f"{where}: new logit of action {j}", float(e), g, hint=hint, action=str(j))
            return None

        cases.append(Case(label, {"fn": "reinforce_step", "driver": "call", "args": [logits, acts, rets, lr]}, judge,
                          _reinforce_crash))
    return cases


__all__ = [
    "EXPLORATION_Z",
    "LOOP_HINTS",
    "OMEGA",
    "REINFORCE_HINTS",
    "UPDATE_HINTS",
    "loop_cases",
    "reinforce_cases",
    "replay_loop",
    "replay_reference",
    "sample_experiences",
    "update_cases",
]
