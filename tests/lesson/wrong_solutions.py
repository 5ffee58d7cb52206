"""Plausible wrong implementations of each coding exercise, each with the hint the grader must give.

Written the way a learner who copied the lesson's listing might slip, independently of the
grader's own mistake models (which are written over the compiled arrays' dict form in
``accessrl.lesson.coding``), so a test that matches a hint here checks the diagnosis end to end.
"""

from __future__ import annotations

VI_HEAD = '''
def value_iteration(states, actions, transitions, gamma, sweeps):
    def action_value(state, action, values):
        return sum(p * (r + gamma * values[n]) for p, n, r in transitions[(state, action)])
'''

WRONG: dict[str, list[tuple[str, str, str]]] = {
    "discounted-return": [
        ("plain sum", "missing-gamma", '''
def discounted_return(rewards, gamma):
    total = 0.0
    for reward in rewards:
        total += reward
    return total
'''),
        ("enumerate from 1", "first-discounted", '''
def discounted_return(rewards, gamma):
    return sum(gamma ** step * reward for step, reward in enumerate(rewards, start=1))
'''),
        ("discounting from the end", "from-the-end", '''
def discounted_return(rewards, gamma):
    g = 0.0
    for reward in rewards:
        g = gamma * g + reward
    return g
'''),
        ("gamma times step", "gamma-times-step", '''
def discounted_return(rewards, gamma):
    return sum(gamma * step * reward for step, reward in enumerate(rewards))
'''),
    ],
    "q-value": [
        ("no discount", "missing-gamma", '''
def q_value(state, action, values, transitions, gamma):
    return sum(p * (reward + values[nxt]) for p, nxt, reward in transitions[(state, action)])
'''),
        ("forgets the probabilities", "unweighted", '''
def q_value(state, action, values, transitions, gamma):
    total = 0
    for p, nxt, reward in transitions[(state, action)]:
        total += reward + gamma * values[nxt]
    return total
'''),
        ("immediate reward only", "reward-only", '''
def q_value(state, action, values, transitions, gamma):
    return sum(p * reward for p, nxt, reward in transitions[(state, action)])
'''),
        ("discounts the reward too", "discounted-reward", '''
def q_value(state, action, values, transitions, gamma):
    return sum(p * gamma * (reward + values[nxt]) for p, nxt, reward in transitions[(state, action)])
'''),
    ],
    "greedy-action": [
        ("min instead of max", "argmin", '''
def greedy_action(state, actions, values, transitions, gamma):
    def q(a):
        return sum(p * (r + gamma * values[n]) for p, n, r in transitions[(state, a)])
    return min(actions[state], key=q)
'''),
        ("ties go to the last action", "last-of-ties", '''
def greedy_action(state, actions, values, transitions, gamma):
    best, best_q = None, float("-inf")
    for a in actions[state]:
        q = sum(p * (r + gamma * values[n]) for p, n, r in transitions[(state, a)])
        if q >= best_q:
            best, best_q = a, q
    return best
'''),
        ("best starts at 0", "max-from-zero", '''
def greedy_action(state, actions, values, transitions, gamma):
    best, best_q = None, 0
    for a in actions[state]:
        q = sum(p * (r + gamma * values[n]) for p, n, r in transitions[(state, a)])
        if q > best_q:
            best, best_q = a, q
    return best
'''),
        ("greedy on the immediate reward", "reward-only", '''
def greedy_action(state, actions, values, transitions, gamma):
    return max(actions[state], key=lambda a: sum(p * r for p, n, r in transitions[(state, a)]))
'''),
    ],
    "value-iteration": [
        ("in-place updates", "in-place", VI_HEAD + '''
    values = {s: 0.0 for s in states}
    history = []
    for _ in range(sweeps):
        for state in states:
            if state in actions:
                values[state] = max(action_value(state, a, values) for a in actions[state])
        history.append(dict(values))
    policy = {s: max(actions[s], key=lambda a: action_value(s, a, values)) for s in actions}
    return history, policy
'''),
        ("no discount", "missing-gamma", '''
def value_iteration(states, actions, transitions, gamma, sweeps):
    def action_value(state, action, values):
        return sum(p * (r + values[n]) for p, n, r in transitions[(state, action)])
    values = {s: 0.0 for s in states}
    history = []
    for _ in range(sweeps):
        updated = values.copy()
        for state in actions:
            updated[state] = max(action_value(state, a, values) for a in actions[state])
        values = updated
        history.append(values)
    return history, {s: max(actions[s], key=lambda a: action_value(s, a, values)) for s in actions}
'''),
        ("max starts at 0", "max-from-zero", VI_HEAD + '''
    values = {s: 0.0 for s in states}
    history = []
    for _ in range(sweeps):
        updated = values.copy()
        for state in actions:
            best = 0.0
            for a in actions[state]:
                best = max(best, action_value(state, a, values))
            updated[state] = best
        values = updated
        history.append(values)
    return history, {s: max(actions[s], key=lambda a: action_value(s, a, values)) for s in actions}
'''),
        ("history starts with V_0", "history", VI_HEAD + '''
    values = {s: 0.0 for s in states}
    history = [values]
    for _ in range(sweeps):
        updated = values.copy()
        for state in actions:
            updated[state] = max(action_value(state, a, values) for a in actions[state])
        values = updated
        history.append(values)
    return history, {s: max(actions[s], key=lambda a: action_value(s, a, values)) for s in actions}
'''),
        ("the lesson's loop without the copy", "aliased", VI_HEAD + '''
    values = {s: 0.0 for s in states}
    history = []
    for _ in range(sweeps):
        updated = values
        for state in actions:
            updated[state] = max(action_value(state, a, values) for a in actions[state])
        values = updated
        history.append(values)
    return history, {s: max(actions[s], key=lambda a: action_value(s, a, values)) for s in actions}
'''),
        ("terminal states in the policy", "terminal", VI_HEAD + '''
    values = {s: 0.0 for s in states}
    history = []
    for _ in range(sweeps):
        updated = values.copy()
        for state in actions:
            updated[state] = max(action_value(state, a, values) for a in actions[state])
        values = updated
        history.append(values)
    policy = {}
    for s in states:
        policy[s] = max(actions.get(s, ["stop"]), key=lambda a: action_value(s, a, values) if s in actions else 0)
    return history, policy
'''),
    ],
    "policy-evaluation": [
        ("in-place updates", "in-place", '''
def policy_evaluation(policy, states, transitions, gamma, sweeps):
    values = dict.fromkeys(states, 0.0)
    history = []
    for _ in range(sweeps):
        for state in states:
            if state in policy:
                values[state] = sum(p * (r + gamma * values[n]) for p, n, r in transitions[(state, policy[state])])
        history.append(dict(values))
    return history
'''),
        ("no discount", "missing-gamma", '''
def policy_evaluation(policy, states, transitions, gamma, sweeps):
    values = dict.fromkeys(states, 0.0)
    history = []
    for _ in range(sweeps):
        values = {s: (sum(p * (r + values[n]) for p, n, r in transitions[(s, policy[s])]) if s in policy else 0.0)
                  for s in states}
        history.append(values)
    return history
'''),
        ("looks up terminal states in the policy", "terminal", '''
def policy_evaluation(policy, states, transitions, gamma, sweeps):
    values = dict.fromkeys(states, 0.0)
    history = []
    for _ in range(sweeps):
        updated = values.copy()
        for state in states:
            updated[state] = sum(p * (r + gamma * values[n]) for p, n, r in transitions[(state, policy[state])])
        values = updated
        history.append(values)
    return history
'''),
        ("returns only the last sweep", "history", '''
def policy_evaluation(policy, states, transitions, gamma, sweeps):
    values = dict.fromkeys(states, 0.0)
    for _ in range(sweeps):
        updated = values.copy()
        for state, action in policy.items():
            updated[state] = sum(p * (r + gamma * values[n]) for p, n, r in transitions[(state, action)])
        values = updated
    return values
'''),
    ],
    "policy-improvement": [
        ("min", "argmin", '''
def policy_improvement(values, states, actions, transitions, gamma):
    return {s: min(acts, key=lambda a: sum(p * (r + gamma * values[n]) for p, n, r in transitions[(s, a)]))
            for s, acts in actions.items()}
'''),
        ("immediate reward", "reward-only", '''
def policy_improvement(values, states, actions, transitions, gamma):
    return {s: max(acts, key=lambda a: sum(p * r for p, n, r in transitions[(s, a)])) for s, acts in actions.items()}
'''),
        ("no discount", "missing-gamma", '''
def policy_improvement(values, states, actions, transitions, gamma):
    return {s: max(acts, key=lambda a: sum(p * (r + values[n]) for p, n, r in transitions[(s, a)]))
            for s, acts in actions.items()}
'''),
        ("ties to the last", "last-of-ties", '''
def policy_improvement(values, states, actions, transitions, gamma):
    policy = {}
    for s, acts in actions.items():
        scores = {a: sum(p * (r + gamma * values[n]) for p, n, r in transitions[(s, a)]) for a in acts}
        best = max(scores.values())
        policy[s] = [a for a in acts if scores[a] == best][-1]
    return policy
'''),
    ],
    "abandonment-breakeven": [
        ("no discount", "missing-gamma", '''
def breakeven_probability(transitions, values, gamma):
    (_, ok_next, ok_r), (_, ab_next, ab_r) = transitions["request_evidence"]
    ok, ab = ok_r + values[ok_next], ab_r + values[ab_next]
    review = sum(p * (r + values[n]) for p, n, r in transitions["human_review"])
    p = (ok - review) / (ok - ab)
    return p if 0 <= p <= 1 else None
'''),
        ("p and 1 - p swapped", "swapped", '''
def breakeven_probability(transitions, values, gamma):
    (_, ok_next, ok_r), (_, ab_next, ab_r) = transitions["request_evidence"]
    ok, ab = ok_r + gamma * values[ok_next], ab_r + gamma * values[ab_next]
    review = sum(p * (r + gamma * values[n]) for p, n, r in transitions["human_review"])
    p = (ok - review) / (ok - ab)
    return 1 - p if 0 <= p <= 1 else None
'''),
        ("today's rate", "given-p", '''
def breakeven_probability(transitions, values, gamma):
    return transitions["request_evidence"][-1][0]
'''),
        ("never says there is no crossing", "no-crossing", '''
def breakeven_probability(transitions, values, gamma):
    (_, ok_next, ok_r), (_, ab_next, ab_r) = transitions["request_evidence"]
    ok, ab = ok_r + gamma * values[ok_next], ab_r + gamma * values[ab_next]
    review = sum(p * (r + gamma * values[n]) for p, n, r in transitions["human_review"])
    return (ok - review) / (ok - ab)
'''),
    ],
    "q-learning-update": [
        ("no discount", "missing-gamma", '''
def q_learning_update(q, state, action, reward, next_state, gamma, learning_rate):
    future = max(q[next_state].values()) if next_state in q else 0.0
    q[state][action] += learning_rate * (reward + future - q[state][action])
'''),
        ("overwrites", "overwrite", '''
def q_learning_update(q, state, action, reward, next_state, gamma, learning_rate):
    future = max(q[next_state].values()) if next_state in q else 0.0
    q[state][action] = reward + gamma * future
'''),
        ("the lesson's terminal test", "terminal", '''
def q_learning_update(q, state, action, reward, next_state, gamma, learning_rate):
    future = 0.0 if next_state == "closed" else max(q[next_state].values())
    q[state][action] += learning_rate * (reward + gamma * future - q[state][action])
'''),
        ("rate times target", "rate-on-target", '''
def q_learning_update(q, state, action, reward, next_state, gamma, learning_rate):
    future = max(q[next_state].values()) if next_state in q else 0.0
    q[state][action] = (1 - learning_rate) * 0 + learning_rate * (reward + gamma * future)
'''),
        ("returns instead of updating", "in-place", '''
def q_learning_update(q, state, action, reward, next_state, gamma, learning_rate):
    future = max(q[next_state].values()) if next_state in q else 0.0
    return q[state][action] + learning_rate * (reward + gamma * future - q[state][action])
'''),
    ],
    "q-learning": [
        ("per-state visit counter", "state-counter", '''
def q_learning(actions, step, start, episodes, gamma, epsilon, rng):
    q = {s: {a: 0.0 for a in acts} for s, acts in actions.items()}
    visits = {s: 0 for s in actions}
    for _ in range(episodes):
        state = start
        while state in actions:
            if rng.random() < epsilon:
                action = rng.choice(actions[state])
            else:
                action = max(actions[state], key=lambda a: q[state][a])
            nxt, reward = step(state, action)
            target = reward + gamma * (max(q[nxt].values()) if nxt in actions else 0.0)
            visits[state] += 1
            q[state][action] += visits[state] ** -0.6 * (target - q[state][action])
            state = nxt
    return q
'''),
        ("global step counter", "step-counter", '''
def q_learning(actions, step, start, episodes, gamma, epsilon, rng):
    q = {s: {a: 0.0 for a in acts} for s, acts in actions.items()}
    t = 0
    for _ in range(episodes):
        state = start
        while state in actions:
            if rng.random() < epsilon:
                action = rng.choice(actions[state])
            else:
                action = max(actions[state], key=lambda a: q[state][a])
            nxt, reward = step(state, action)
            target = reward + gamma * (max(q[nxt].values()) if nxt in actions else 0.0)
            t += 1
            q[state][action] += t ** -0.6 * (target - q[state][action])
            state = nxt
    return q
'''),
        ("the lesson's 'closed' test", "terminal", '''
def q_learning(actions, step, start, episodes, gamma, epsilon, rng):
    q = {s: {a: 0.0 for a in acts} for s, acts in actions.items()}
    visits = {s: {a: 0 for a in acts} for s, acts in actions.items()}
    for _ in range(episodes):
        state = start
        while state != "closed":
            if rng.random() < epsilon:
                action = rng.choice(actions[state])
            else:
                action = max(actions[state], key=lambda a: q[state][a])
            nxt, reward = step(state, action)
            future = 0.0 if nxt == "closed" else max(q[nxt].values())
            visits[state][action] += 1
            q[state][action] += visits[state][action] ** -0.6 * (reward + gamma * future - q[state][action])
            state = nxt
    return q
'''),
        ("never explores", "explore-rarely", '''
def q_learning(actions, step, start, episodes, gamma, epsilon, rng):
    q = {s: {a: 0.0 for a in acts} for s, acts in actions.items()}
    visits = {s: {a: 0 for a in acts} for s, acts in actions.items()}
    for _ in range(episodes):
        state = start
        while state in actions:
            action = max(actions[state], key=lambda a: q[state][a])
            nxt, reward = step(state, action)
            future = max(q[nxt].values()) if nxt in actions else 0.0
            visits[state][action] += 1
            q[state][action] += visits[state][action] ** -0.6 * (reward + gamma * future - q[state][action])
            state = nxt
    return q
'''),
        ("explores with 1 - epsilon", "explore-often", '''
def q_learning(actions, step, start, episodes, gamma, epsilon, rng):
    q = {s: {a: 0.0 for a in acts} for s, acts in actions.items()}
    visits = {s: {a: 0 for a in acts} for s, acts in actions.items()}
    for _ in range(episodes):
        state = start
        while state in actions:
            if rng.random() > epsilon:
                action = rng.choice(actions[state])
            else:
                action = max(actions[state], key=lambda a: q[state][a])
            nxt, reward = step(state, action)
            future = max(q[nxt].values()) if nxt in actions else 0.0
            visits[state][action] += 1
            q[state][action] += visits[state][action] ** -0.6 * (reward + gamma * future - q[state][action])
            state = nxt
    return q
'''),
        ("global numpy random", "rng", '''
import numpy as np


def q_learning(actions, step, start, episodes, gamma, epsilon, rng):
    q = {s: {a: 0.0 for a in acts} for s, acts in actions.items()}
    visits = {s: {a: 0 for a in acts} for s, acts in actions.items()}
    for _ in range(episodes):
        state = start
        while state in actions:
            if np.random.random() < epsilon:
                action = np.random.choice(actions[state])
            else:
                action = max(actions[state], key=lambda a: q[state][a])
            nxt, reward = step(state, action)
            future = max(q[nxt].values()) if nxt in actions else 0.0
            visits[state][action] += 1
            q[state][action] += visits[state][action] ** -0.6 * (reward + gamma * future - q[state][action])
            state = nxt
    return q
'''),
    ],
    "reinforce": [
        ("no baseline", "no-baseline", '''
import numpy as np


def reinforce_step(logits, actions, returns, learning_rate):
    logits = np.asarray(logits, dtype=float)
    z = np.exp(logits - logits.max())
    pi = z / z.sum()
    grad = np.mean([(np.eye(len(logits))[a] - pi) * g for a, g in zip(actions, returns)], axis=0)
    return logits + learning_rate * grad
'''),
        ("descends", "sign", '''
import numpy as np


def reinforce_step(logits, actions, returns, learning_rate):
    logits = np.asarray(logits, dtype=float)
    z = np.exp(logits - logits.max())
    pi = z / z.sum()
    adv = np.asarray(returns) - np.mean(returns)
    grad = ((np.eye(len(logits))[actions] - pi) * adv[:, None]).mean(axis=0)
    return logits - learning_rate * grad
'''),
        ("copies the lesson's np.eye rows", "lesson-rows", '''
import numpy as np


def reinforce_step(logits, actions, returns, learning_rate):
    logits = np.asarray(logits, dtype=float)
    z = np.exp(logits - logits.max())
    probabilities = z / z.sum()
    advantages = np.asarray(returns) - np.mean(returns)
    score_gradients = np.eye(len(logits)) - probabilities
    gradient = (score_gradients * advantages[:, None]).mean(axis=0)
    return logits + learning_rate * gradient
'''),
        ("softmax without the shift", "overflow", '''
import numpy as np


def reinforce_step(logits, actions, returns, learning_rate):
    logits = np.asarray(logits, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        pi = np.exp(logits) / np.exp(logits).sum()
    adv = np.asarray(returns) - np.mean(returns)
    grad = ((np.eye(len(logits))[actions] - pi) * adv[:, None]).mean(axis=0)
    return logits + learning_rate * grad
'''),
    ],
    "reward-design": [
        ("speed only", "violation", '''
def reward(components):
    return 100 * components["resolved"] - 10 * components["delay_days"]
'''),
        ("violations cost too little", "violation", '''
def reward(components):
    return components["user_outcome"] - 5 * components["policy_violation"] - 2 * components["delay_days"]
'''),
        ("no cost for unfair denials", "unfair", '''
def reward(components):
    return (-300 * components["policy_violation"] - 300 * components["abuse_risk"]
            - 10 * components["delay_days"] - components["reviewer_minutes"])
'''),
    ],
    "time-split": [
        ("by position", "position", '''
def time_split(episodes, valid_start, test_start):
    n = len(episodes)
    ids = [e["id"] for e in episodes]
    return ids[: int(0.6 * n)], ids[int(0.6 * n): int(0.8 * n)], ids[int(0.8 * n):]
'''),
        ("keeps late outcomes", "late-outcomes", '''
def time_split(episodes, valid_start, test_start):
    out = ([], [], [])
    for e in episodes:
        k = 0 if e["decided_at"] < valid_start else 1 if e["decided_at"] < test_start else 2
        begin = (None, valid_start, test_start)[k]
        if begin is not None and any(o["requester"] == e["requester"] and o["decided_at"] < begin for o in episodes):
            continue
        out[k].append(e["id"])
    return out
'''),
        ("keeps repeat requesters", "repeat-requesters", '''
def time_split(episodes, valid_start, test_start):
    out = ([], [], [])
    for e in episodes:
        k = 0 if e["decided_at"] < valid_start else 1 if e["decided_at"] < test_start else 2
        end = (valid_start, test_start, None)[k]
        if end is not None and e["outcome_at"] >= end:
            continue
        out[k].append(e["id"])
    return out
'''),
        ("cutoff day in the earlier period", "boundary", '''
def time_split(episodes, valid_start, test_start):
    out = ([], [], [])
    for e in episodes:
        k = 0 if e["decided_at"] <= valid_start else 1 if e["decided_at"] <= test_start else 2
        end = (valid_start, test_start, None)[k]
        if end is not None and e["outcome_at"] >= end:
            continue
        begin = (None, valid_start, test_start)[k]
        if begin is not None and any(o["requester"] == e["requester"] and o["decided_at"] < begin for o in episodes):
            continue
        out[k].append(e["id"])
    return out
'''),
    ],
}
"""Exercise -> (what goes wrong, the hint key the grader must give, the code)."""
