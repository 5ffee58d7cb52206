"""Labs 1-4 (returns, Bellman backup, value iteration, abandonment) and exercise 1."""

from __future__ import annotations

from fractions import Fraction

from accessrl.catalog.lesson import access_review, access_review_abandonment
from accessrl.model.policies import policy_names
from accessrl.model.returns import discounted_return, route_rewards
from accessrl.planning.exact import bellman_backup, policy_iteration, value_iteration
from accessrl.planning.sensitivity import probability_sweep


def _short(state: str) -> str:
    return state.split("_")[0]


def returns_lab() -> list[str]:
    """Discounted return of each route from the start: first action, then the best policy."""
    mdp = access_review()
    best = policy_iteration(mdp).policy
    s0 = mdp.start if mdp.start is not None else 0
    lines = []
    for a in mdp.actions_of(s0):
        rewards = route_rewards(mdp, s0, int(a), best)
        lines.append(f"{mdp.action_names[a]:14} return={discounted_return(rewards, mdp.gamma):6.1f}")
    return lines


def bellman_backup_lab() -> list[str]:
    """One Bellman backup at the start state from the successors' optimal values."""
    mdp = access_review()
    successor_values = policy_iteration(mdp).values
    backup = bellman_backup(mdp, successor_values)
    s0 = mdp.start if mdp.start is not None else 0
    lines = []
    for k in range(int(mdp.sa_ptr[s0]), int(mdp.sa_ptr[s0 + 1])):
        name = mdp.action_names[int(mdp.sa_action[k])]
        lines.append(f"Q({mdp.state_names[s0]}, {name:13}) = {backup.q_values[k]:5.1f}")
    lines.append(f"greedy action = {mdp.action_names[int(backup.policy[s0])]}")
    return lines


def value_iteration_lab() -> list[str]:
    """Synchronous value iteration from zeros, one line per sweep, then the greedy policy."""
    mdp = access_review()
    res = value_iteration(mdp, record=True)
    shown = [int(s) for s in mdp.decision_states]
    lines = []
    for k, values in enumerate(res.sweeps, start=1):
        cells = " ".join(f"{_short(mdp.state_names[s])}={values[s]:5.1f}" for s in shown)
        lines.append(f"sweep {k}: {cells}")
    lines.append(f"policy = {policy_names(mdp, res.policy)}")
    return lines


def abandonment_lab() -> list[str]:
    """Expected returns of the deterministic model's best start action and the risk-aware one."""
    det, risky = access_review(), access_review_abandonment()
    s0 = risky.start if risky.start is not None else 0
    backup = bellman_backup(risky, policy_iteration(risky).values)
    compared = {int(policy_iteration(det).policy[s0]), int(backup.policy[s0])}
    lines = []
    for k in range(int(risky.sa_ptr[s0]), int(risky.sa_ptr[s0 + 1])):
        a = int(risky.sa_action[k])
        if a in compared:
            lines.append(f"{risky.action_names[a]:13} expected return={backup.q_values[k]:5.2f}")
    lines.append(f"risk-aware action = {risky.action_names[int(backup.policy[s0])]}")
    return lines


def abandonment_breakeven() -> list[str]:
    """Exercise 1: the abandonment probability where human_review overtakes request_evidence."""
    mdp = access_review_abandonment()
    res = probability_sweep(mdp, "new_request", "request_evidence", "closed", [0.0, 0.25, 1.0])
    lines = ["exercise 1: at what abandonment probability does human_review overtake request_evidence?"]
    for b in res.breakevens:
        frac = Fraction(b.value).limit_denominator(1000)
        lines.append(
            f"  at {mdp.state_names[b.state]}, {mdp.action_names[b.to_action]} overtakes "
            f"{mdp.action_names[b.from_action]} when p(abandon) > {b.value:.6f} (= {frac})"
        )
    # Explain with the model's own numbers: each outcome's r + gamma V(next).
    values = policy_iteration(mdp).values
    s0 = mdp.state_index("new_request")
    pair = mdp.pair_index(s0, "request_evidence")
    (n_ok, _, r_ok), (n_ab, _, r_ab) = mdp.outcomes(pair)
    stay = r_ok + mdp.gamma * values[n_ok]
    leave = r_ab + mdp.gamma * values[n_ab]
    other = bellman_backup(mdp, values).q_values[mdp.pair_index(s0, "human_review")]
    lines.append(
        f"  request_evidence is worth (1 - p)({stay:g}) + p({leave:g}) = {stay:g} - {stay - leave:g}p; "
        f"human_review is worth {other:g}, so the switch is at p = {stay - other:g}/{stay - leave:g}"
    )
    return lines
