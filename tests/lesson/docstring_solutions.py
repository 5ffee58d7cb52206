"""Second solutions, written from the starters' docstrings alone and in another style than the worked
solutions (loops instead of comprehensions, other tie handling that the docstring allows, other
random calls with the same distribution): if the docstrings left a convention unsaid, these fail."""

from __future__ import annotations

ALTERNATIVES: dict[str, str] = {
    "discounted-return": '''
def discounted_return(rewards, gamma):
    total, weight = 0.0, 1.0
    for r in rewards:
        total += weight * r
        weight *= gamma
    return total
''',
    "q-value": '''
def q_value(state, action, values, transitions, gamma):
    q = 0.0
    for probability, next_state, reward in transitions[(state, action)]:
        q += probability * reward + probability * gamma * values[next_state]
    return q
''',
    "greedy-action": '''
def greedy_action(state, actions, values, transitions, gamma):
    best_action, best_value = None, None
    for a in actions[state]:
        v = sum(p * (r + gamma * values[n]) for p, n, r in transitions[(state, a)])
        if best_value is None or v > best_value:
            best_action, best_value = a, v
    return best_action
''',
    "value-iteration": '''
def value_iteration(states, actions, transitions, gamma, sweeps):
    def backup(s, a, v):
        return sum(p * (r + gamma * v[n]) for p, n, r in transitions[(s, a)])

    v = dict.fromkeys(states, 0.0)
    history = []
    for _ in range(sweeps):
        v = {s: (max(backup(s, a, v) for a in actions[s]) if s in actions else 0.0) for s in states}
        history.append(v)
    policy = {}
    for s in actions:
        scores = [backup(s, a, v) for a in actions[s]]
        policy[s] = actions[s][scores.index(max(scores))]
    return history, policy
''',
    "policy-evaluation": '''
def policy_evaluation(policy, states, transitions, gamma, sweeps):
    history = []
    v = {s: 0.0 for s in states}
    for _ in range(sweeps):
        new = {}
        for s in states:
            if s not in policy:
                new[s] = 0.0
                continue
            new[s] = sum(p * (r + gamma * v[n]) for p, n, r in transitions[(s, policy[s])])
        history.append(new)
        v = new
    return history
''',
    "policy-improvement": '''
def policy_improvement(values, states, actions, transitions, gamma):
    policy = {}
    for s in states:
        if s not in actions:
            continue
        scores = {a: sum(p * (r + gamma * values[n]) for p, n, r in transitions[(s, a)]) for a in actions[s]}
        policy[s] = max(scores, key=scores.get)
    return policy
''',
    "abandonment-breakeven": '''
def breakeven_probability(transitions, values, gamma):
    ok_row, abandon_row = transitions["request_evidence"]
    ok = ok_row[2] + gamma * values[ok_row[1]]
    abandon = abandon_row[2] + gamma * values[abandon_row[1]]
    review = 0.0
    for p, n, r in transitions["human_review"]:
        review += p * (r + gamma * values[n])
    # value(p) = ok + p * (abandon - ok); set equal to review
    slope = abandon - ok
    if slope == 0:
        return None
    p = (review - ok) / slope
    if p < 0 or p > 1:
        return None
    return p
''',
    "q-learning-update": '''
def q_learning_update(q, state, action, reward, next_state, gamma, learning_rate):
    if next_state in q:
        target = reward + gamma * max(q[next_state].values())
    else:
        target = reward
    old = q[state][action]
    q[state][action] = (1 - learning_rate) * old + learning_rate * target
''',
    "q-learning": '''
def q_learning(actions, step, start, episodes, gamma, epsilon, rng):
    q, n = {}, {}
    for s, acts in actions.items():
        q[s] = {a: 0.0 for a in acts}
        n[s] = {a: 0 for a in acts}
    for episode in range(episodes):
        s = start
        while s in actions:
            acts = actions[s]
            if rng.random() < epsilon:
                a = acts[int(rng.integers(len(acts)))]  # uniform over the state's actions, as rng.choice is
            else:
                a = max(acts, key=lambda b: q[s][b])
            s2, r = step(s, a)
            target = r if s2 not in actions else r + gamma * max(q[s2].values())
            n[s][a] += 1
            q[s][a] += (1 / n[s][a] ** 0.6) * (target - q[s][a])
            s = s2
    return q
''',
    "reinforce": '''
import math


def reinforce_step(logits, actions, returns, learning_rate):
    k = len(logits)
    top = max(logits)
    weights = [math.exp(x - top) for x in logits]
    total = sum(weights)
    probs = [w / total for w in weights]
    baseline = sum(returns) / len(returns)
    gradient = [0.0] * k
    for a, g in zip(actions, returns):
        for j in range(k):
            gradient[j] += ((1.0 if j == a else 0.0) - probs[j]) * (g - baseline) / len(actions)
    return [x + learning_rate * d for x, d in zip(logits, gradient)]
''',
    "reward-design": '''
def reward(components):
    harm = 500 * components["policy_violation"] + 500 * components["abuse_risk"] + 300 * components["unfair_denial"]
    return components["user_outcome"] - harm - components["delay_days"] - 0.2 * components["reviewer_minutes"]
''',
    "time-split": '''
def time_split(episodes, valid_start, test_start):
    train, valid, test = [], [], []
    seen_before = {valid_start: set(), test_start: set()}
    for e in episodes:
        for cut in seen_before:
            if e["decided_at"] < cut:
                seen_before[cut].add(e["requester"])
    for e in episodes:
        t = e["decided_at"]
        if t < valid_start:
            if e["outcome_at"] < valid_start:
                train.append(e["id"])
        elif t < test_start:
            if e["outcome_at"] < test_start and e["requester"] not in seen_before[valid_start]:
                valid.append(e["id"])
        elif e["requester"] not in seen_before[test_start]:
            test.append(e["id"])
    return train, valid, test
''',
}
"""Exercise -> a second solution written from its docstring."""
