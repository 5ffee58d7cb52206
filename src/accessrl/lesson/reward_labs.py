"""Lab 8 (reward-design) and exercise 2 (deny_request), computed by the audit code.

The lesson's two score tables come from two reward designs applied to the catalog's
components model (:func:`accessrl.catalog.components.access_review_components`):

* ``outcome_aware`` = the model's documented weights; its Q* at ``new_request`` is
  (-120, 30.75, 54), which the lesson prints rounded (-120, 31, 54);
* ``speed_only`` = +100 per closed request, -10 per day waited; its Q* at
  ``new_request`` is (100, 45, 15).

Each design's policy is solved by :func:`accessrl.rewards.audit`; the lab prints the
start action each design chooses and that design's own (rounded) score for it.
"""

from __future__ import annotations

from accessrl.catalog.components import (
    COMPONENTS,
    OUTCOME_AWARE,
    SPEED_ONLY,
    access_review_components,
    access_review_deny,
)
from accessrl.model.mdp import MDP
from accessrl.planning.solver import solve
from accessrl.rewards.audits import Audit, audit
from accessrl.rewards.components import Limit, RewardDesign, reweight
from accessrl.rewards.constrained import constrained_solve

DESIGN_NOTES = {
    "speed_only": "+100 per closed request, -10 per day the requester waited",
    "outcome_aware": "the documented weights over every component",
}


def lesson_designs() -> list[RewardDesign]:
    """The lesson's two designs, in the order the lab prints them."""
    return [
        RewardDesign("speed_only", dict(SPEED_ONLY), description=DESIGN_NOTES["speed_only"]),
        RewardDesign("outcome_aware", dict(OUTCOME_AWARE), description=DESIGN_NOTES["outcome_aware"]),
    ]


def reward_design_audit(mdp: MDP | None = None) -> Audit:
    """The audit behind lab 8 (default model: the components workflow)."""
    return audit(access_review_components() if mdp is None else mdp, lesson_designs())


def reward_design_lab() -> list[str]:
    """Each design's optimal start action and its own score for it, rounded as the lesson prints."""
    result = reward_design_audit()
    lines = []
    for r in result.reports:
        score = round(r.start_q[r.start_action])
        lines.append(f"{r.design:13} chooses {r.start_action:13} reward={score:4}")
    return lines


def _illegitimate_share(mdp: MDP, state: str) -> float:
    """The probability that an approval at ``state`` goes to a request that should be refused."""
    k = mdp.pair_index(state, "auto_approve")
    abuse = mdp.components["abuse_risk"]
    return float(sum(mdp.out_prob[j] * abuse[j] for j in range(int(mdp.out_ptr[k]), int(mdp.out_ptr[k + 1]))))


def _q_line(name: str, q: dict[str, float], chosen: str) -> str:
    cells = " ".join(f"{a}={v:.2f}" for a, v in q.items())
    return f"    {name:13} {cells} -> {chosen}"


def deny_request_exercise() -> list[str]:
    """Exercise 2: deny_request with rewards that make both shortcuts lose, and the audit of speed-only."""
    mdp = access_review_deny()
    result = audit(mdp, lesson_designs())
    aware, fast = result.report("outcome_aware"), result.report("speed_only")
    shares = [_illegitimate_share(mdp, s) for s in ("new_request", "evidence_ready")]
    lines = [
        "exercise 2: add deny_request and choose rewards that discourage unsupported approvals and unfair denials",
        f"  model {mdp.name}: deny_request at new_request and evidence_ready; each router decision splits into",
        f"  a legitimate and an illegitimate outcome ({shares[0]:.0%} illegitimate before evidence, {shares[1]:.0%} after)",
        "  the reward, term by term (documented weights; reward = sum of weight x component):",
    ]
    for c, meaning in COMPONENTS.items():
        lines.append(f"    {c:17} weight {OUTCOME_AWARE[c]:7g}  {meaning}")
    deny_new = mdp.pair_index("new_request", "deny_request")
    deny_ev = mdp.pair_index("evidence_ready", "deny_request")
    aware_mdp = reweight(mdp, OUTCOME_AWARE)
    lines.append("  outcome rewards of the two shortcuts under the documented weights:")
    for k in (mdp.pair_index("new_request", "auto_approve"), deny_new, deny_ev):
        for j in range(int(mdp.out_ptr[k]), int(mdp.out_ptr[k + 1])):
            event = mdp.events[j] if mdp.events else ""
            lines.append(
                f"    {mdp.state_names[int(mdp.sa_state[k])]}:{mdp.action_names[int(mdp.sa_action[k])]} "
                f"-> {event} (p={mdp.out_prob[j]:g}): {aware_mdp.out_reward[j]:g}"
            )
    lines.append("  Q at new_request under each design (its optimal policy afterwards):")
    for r in (aware, fast):
        lines.append(_q_line(r.design, dict(r.start_q), r.start_action))
    ev = aware_mdp.state_index("evidence_ready")
    q_aware = solve(aware_mdp).q_values
    lines.append(
        f"  outcome_aware: neither shortcut is optimal: auto_approve ({aware.start_q['auto_approve']:g}) and "
        f"deny_request ({aware.start_q['deny_request']:g} at new_request, {q_aware[deny_ev]:g} at "
        f"{mdp.state_names[ev]}) lose to {aware.start_action} ({aware.start_q[aware.start_action]:g})"
    )
    for r in (aware, fast):
        verdict = f"FLAGGED: {r.reason}" if r.flagged else "not flagged"
        lines.append(
            f"  audit {r.design}: {r.violations_per_1000:g} policy violations and {r.severe_per_1000:g} severe "
            f"outcomes per 1,000 requests; {verdict}"
        )
        for f in r.rare_failures:
            if f.severe:
                lines.append(
                    f"    rare high-harm outcome: {f.event} after {f.state}:{f.action}, {f.per_1000:g} per 1,000 "
                    f"requests, scored {f.rewards['outcome_aware']:g} by outcome_aware and {f.rewards['speed_only']:g} "
                    "by speed_only"
                )
    fast_mdp = reweight(mdp, SPEED_ONLY)
    for limits in ([Limit("policy_violation", "<=", 0)],
                   [Limit("policy_violation", "<=", 0), Limit("unfair_denial", "<=", 0)]):
        res = constrained_solve(fast_mdp, limits)
        chosen = ", ".join(f"{a} {p:.0%}" for a, p in res.start_policy.items())
        prices = ", ".join(f"{c.limit} shadow price {c.shadow_price:g}" for c in res.constraints)
        lines.append(
            f"  speed_only limited to {' and '.join(map(str, limits))}: chooses {chosen} "
            f"(speed score {res.value:g}; {prices})"
        )
    return lines


__all__ = ["deny_request_exercise", "lesson_designs", "reward_design_audit", "reward_design_lab"]
