"""Constrained MDPs by LP (accessrl.rewards.constrained) against brute force over deterministic and mixed policies."""

import itertools
import re

import numpy as np
import pytest
from test_rewards import random_spec

from accessrl.catalog.components import SPEED_ONLY, access_review_deny
from accessrl.errors import InfeasibleError, SpecValueError
from accessrl.model.mdp import MDP
from accessrl.model.spec import compile_spec
from accessrl.planning.exact import policy_evaluation
from accessrl.planning.solver import solve
from accessrl.rewards.components import Limit, reweight
from accessrl.rewards.constrained import constrained_solve


def deterministic_policies(mdp: MDP):
    choices = [list(mdp.actions_of(s)) for s in mdp.decision_states]
    for combo in itertools.product(*choices):
        pol = np.full(mdp.n_states, -1, dtype=np.int64)
        pol[mdp.decision_states] = combo
        yield pol


def start_value(mdp: MDP, policy, weights) -> float:
    """V^pi(start) under a re-weighting, by the planning module's own evaluation (not occupancy)."""
    return float(policy_evaluation(reweight(mdp, weights), policy).values[mdp.start])


def brute_force_one_limit(mdp: MDP, bound: float) -> float:
    """Best return over mixtures of deterministic policies with E[cost] <= bound.

    The occupancy measures of stationary randomised policies are exactly the convex hull of
    the deterministic ones (Altman 1999, Thm 3.1; Puterman 1994, Thm 6.9.1); with one linear
    limit the optimum over that hull lies on a vertex or on an edge between two vertices
    where the limit binds, so checking every pair with its boundary mixture is exact.
    """
    pts = [(start_value(mdp, p, {"gain": 1}), start_value(mdp, p, {"cost": 1})) for p in deterministic_policies(mdp)]
    best = -np.inf
    for v, c in pts:
        if c <= bound + 1e-12:
            best = max(best, v)
    for (v1, c1), (v2, c2) in itertools.combinations(pts, 2):
        if (c1 - bound) * (c2 - bound) < 0:
            lam = (bound - c2) / (c1 - c2)
            best = max(best, lam * v1 + (1 - lam) * v2)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_one_limit_matches_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    mdp = compile_spec(random_spec(rng, n_states=3, n_actions=3, terminal=bool(seed % 3)))
    costs = [start_value(mdp, p, {"cost": 1}) for p in deterministic_policies(mdp)]
    bound = float(np.quantile(costs, 0.3))
    res = constrained_solve(mdp, [Limit("cost", "<=", bound)])
    assert res.value == pytest.approx(brute_force_one_limit(mdp, bound), abs=1e-6)
    # the returned (possibly randomised) policy, evaluated independently, meets the limit and the value
    assert start_value(mdp, res.policy, {"cost": 1}) <= bound + 1e-7
    assert start_value(mdp, res.policy, {"gain": 1}) == pytest.approx(res.value, abs=1e-7)
    assert len(res.randomised_states) <= 1  # at most one randomised state per binding limit


def mixed_model(seed):
    """A 2-state, 2-action random model with a third component 'mixed' = cost - gain."""
    spec = random_spec(np.random.default_rng(seed), n_states=2, n_actions=2, terminal=True, n_out=2)
    for acts in spec["transitions"].values():
        for outs in acts.values():
            for o in outs:
                o["components"]["mixed"] = o["components"]["cost"] - o["components"]["gain"]
    spec["weights"]["mixed"] = 0
    return compile_spec(spec)


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_two_limits_match_a_grid_over_mixed_policies(seed):
    mdp = mixed_model(seed)
    # readable dense reference: every randomised policy on a 201 x 201 grid (P(first action) per state)
    comps = [reweight(mdp, {name: 1}).expected_reward for name in ("gain", "cost", "mixed")]
    p_full = mdp.transition_matrix.toarray()
    live = ~mdp.terminal
    start = int(np.flatnonzero(live).tolist().index(mdp.start))
    grid = np.linspace(0, 1, 201)
    g0, g1 = (a.ravel() for a in np.meshgrid(grid, grid, indexing="ij"))
    pick = np.zeros((g0.size, mdp.n_states, mdp.n_pairs))
    pick[:, mdp.sa_state, np.arange(mdp.n_pairs)] = np.stack([g0, 1 - g0, g1, 1 - g1], axis=1)
    p_pi = (pick @ p_full)[:, live][:, :, live]
    rows = np.linalg.inv(np.eye(live.sum()) - mdp.gamma * p_pi)[:, start]
    pts = np.stack([np.einsum("ns,ns->n", rows, (pick @ comp)[:, live]) for comp in comps], axis=1)
    b1, b2 = float(np.quantile(pts[:, 1], 0.4)), float(np.quantile(pts[:, 2], 0.6))
    grid_best = pts[(pts[:, 1] <= b1) & (pts[:, 2] <= b2), 0].max()
    res = constrained_solve(mdp, [Limit("cost", "<=", b1), Limit("mixed", "<=", b2)])
    assert res.value >= grid_best - 1e-9  # the LP is at least as good as any grid policy
    assert res.value - grid_best < 0.02 * (abs(grid_best) + 1)  # and the grid step bounds the gap
    assert start_value(mdp, res.policy, {"cost": 1}) <= b1 + 1e-7
    assert start_value(mdp, res.policy, {"mixed": 1}) <= b2 + 1e-7
    assert start_value(mdp, res.policy, {"gain": 1}) == pytest.approx(res.value, abs=1e-7)
    assert len(res.randomised_states) <= 2


def test_slack_limit_gives_the_unconstrained_optimum(rng):
    mdp = compile_spec(random_spec(rng, n_states=30, n_actions=4, n_out=3))
    res = constrained_solve(mdp, [Limit("cost", "<=", 1e9)])
    assert res.value == pytest.approx(solve(mdp).values[mdp.start], rel=1e-8)
    assert res.constraints[0].shadow_price == 0.0 and res.randomised_states == ()


def test_shadow_price_is_the_derivative_of_the_optimum():
    rng = np.random.default_rng(3)
    mdp = compile_spec(random_spec(rng, n_states=4, n_actions=3))
    costs = [start_value(mdp, p, {"cost": 1}) for p in deterministic_policies(mdp)]
    bound = float(np.quantile(costs, 0.3))
    eps = 1e-4
    lo = constrained_solve(mdp, [Limit("cost", "<=", bound)])
    hi = constrained_solve(mdp, [Limit("cost", "<=", bound + eps)])
    assert lo.constraints[0].binding
    assert lo.constraints[0].shadow_price == pytest.approx((hi.value - lo.value) / eps, rel=1e-4, abs=1e-6)


def test_ge_limit_price_sign(rng):
    mdp = compile_spec(random_spec(rng, n_states=4, n_actions=3))
    gains = [start_value(mdp, p, {"cost": 1}) for p in deterministic_policies(mdp)]
    floor = float(np.quantile(gains, 0.9))
    res = constrained_solve(mdp, [Limit("cost", ">=", floor)])
    assert start_value(mdp, res.policy, {"cost": 1}) >= floor - 1e-7
    if res.constraints[0].binding:
        assert res.constraints[0].shadow_price <= 1e-12


def test_infeasible_names_the_limit_and_the_tightest_value():
    rng = np.random.default_rng(11)
    mdp = compile_spec(random_spec(rng, n_states=3, n_actions=2))
    tightest = min(start_value(mdp, p, {"cost": 1}) for p in deterministic_policies(mdp))
    with pytest.raises(InfeasibleError, match=r"limit cost<=.*: infeasible; the tightest achievable value is") as exc:
        constrained_solve(mdp, [Limit("cost", "<=", tightest - 0.5)])
    value = float(re.search(r"value is (\S+)", str(exc.value)).group(1))
    assert value == pytest.approx(tightest, rel=1e-5)
    assert "\n" not in str(exc.value)


def test_infeasible_with_several_limits():
    fast = reweight(access_review_deny(), SPEED_ONLY)
    lims = [Limit("policy_violation", "<=", 0), Limit("unfair_denial", "<=", 0), Limit("delay_days", "<=", 0)]
    # with no unfair denials and no waiting, only auto_approve is left: one violation per request
    msg = r"policy_violation<=0: infeasible; the tightest achievable value given the other limits is 1 "
    with pytest.raises(InfeasibleError, match=msg):
        constrained_solve(fast, lims)
    # listed first, the waiting limit is the one named: request_evidence waits 0.75 x 2 + 0.25 x 3 days
    msg = r"delay_days<=0: infeasible; the tightest achievable value given the other limits is 2\.25"
    with pytest.raises(InfeasibleError, match=msg):
        constrained_solve(fast, lims[::-1])


def test_deny_exercise_constraints():
    fast = reweight(access_review_deny(), SPEED_ONLY)
    # forbidding violations alone moves speed-only to the other shortcut: deny_request (speed 100)
    res = constrained_solve(fast, [Limit("policy_violation", "<=", 0)])
    assert res.start_policy == {"deny_request": 1.0} and res.value == pytest.approx(100)
    # allowing 0.05 expected unfair denials randomises at new_request: deny with 0.05 / 0.7
    res = constrained_solve(fast, [Limit("policy_violation", "<=", 0), Limit("unfair_denial", "<=", 0.05)])
    assert res.start_policy["deny_request"] == pytest.approx(0.05 / 0.7)
    assert res.randomised_states == ("new_request",)
    # prices: a unit of violation buys auto_approve over request_evidence (100 - 45); a unit of
    # unfair denial buys 1/0.7 of a deny_request over request_evidence
    assert [c.shadow_price for c in res.constraints] == pytest.approx([55.0, 55.0 / 0.7])


def test_unknown_limit_component():
    with pytest.raises(SpecValueError, match=r"limit 'speed': unknown component"):
        constrained_solve(access_review_deny(), [Limit("speed", "<=", 1)])


def test_episodic_gamma_one_matches_brute_force():
    rng = np.random.default_rng(5)
    spec = random_spec(rng, n_states=3, n_actions=2, gamma=1.0)
    # make every action reach the terminal state with positive probability so every policy ends
    for acts in spec["transitions"].values():
        for outs in acts.values():
            outs[0]["next"] = "end"
    mdp = compile_spec(spec)
    costs = [start_value(mdp, p, {"cost": 1}) for p in deterministic_policies(mdp)]
    bound = float(np.quantile(costs, 0.5))
    res = constrained_solve(mdp, [Limit("cost", "<=", bound)])
    assert res.value == pytest.approx(brute_force_one_limit(mdp, bound), abs=1e-6)
    assert res.basis == "expected total per request"


def with_review_component(mdp: MDP) -> MDP:
    """The model plus a component 'reviews': 1 on every outcome of human_review or escalate."""
    from dataclasses import replace

    review = np.isin(mdp.sa_action, [mdp.action_index("human_review"), mdp.action_index("escalate")])
    per_outcome = np.repeat(review, np.diff(mdp.out_ptr)).astype(np.float64)
    return replace(mdp, components={"reviews": per_outcome})


def test_generated_workflow_with_a_review_budget():
    from accessrl.catalog.workflows import access_review_workflow, workflow_params_for

    mdp = with_review_component(access_review_workflow(workflow_params_for(2000)))
    best = solve(mdp)
    used = start_value(mdp, best.policy, {"reviews": 1})
    assert used > 0
    res = constrained_solve(mdp, [Limit("reviews", "<=", used / 2)])
    assert start_value(mdp, res.policy, {"reviews": 1}) == pytest.approx(used / 2, rel=1e-6)
    assert start_value(mdp, res.policy, {"reward": 1}) == pytest.approx(res.value, rel=1e-7, abs=1e-9)
    assert res.value < best.values[mdp.start]
    assert res.constraints[0].binding and res.constraints[0].shadow_price > 0
    assert len(res.randomised_states) <= 1
