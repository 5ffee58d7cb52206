"""Reward components, designs, occupancy measures and the audit (accessrl.rewards, accessrl.catalog.components)."""

import numpy as np
import pytest

from accessrl.catalog import CATALOG
from accessrl.catalog.components import (
    COMPONENTS,
    OUTCOME_AWARE,
    SPEED_ONLY,
    access_review_components,
    access_review_deny,
)
from accessrl.catalog.lesson import access_review_abandonment
from accessrl.errors import ModelError, SpecTypeError, SpecValueError
from accessrl.model.policies import uniform_policy
from accessrl.model.spec import compile_spec
from accessrl.planning.exact import policy_evaluation
from accessrl.planning.solver import solve
from accessrl.rewards.audits import audit
from accessrl.rewards.components import (
    Limit,
    RewardDesign,
    component_names,
    designs_from_mapping,
    occupancy,
    parse_limit,
    reweight,
    spec_design,
    state_visits,
)

LESSON = [RewardDesign("speed_only", SPEED_ONLY), RewardDesign("outcome_aware", OUTCOME_AWARE)]


def random_spec(rng, n_states=4, n_actions=3, gamma=0.9, terminal=True, n_out=2):
    """A random spec with components 'gain' and 'cost' (reward = gain)."""
    states = [f"s{i}" for i in range(n_states)]
    targets = [*states, "end"] if terminal else states
    trans = {}
    for s in states:
        acts = {}
        for a in range(n_actions):
            nxt = rng.choice(len(targets), size=n_out, replace=False)
            p = rng.dirichlet(np.ones(n_out))
            acts[f"a{a}"] = [
                {"next": targets[j], "p": float(pj),
                 "components": {"gain": float(rng.integers(-5, 10)), "cost": float(rng.integers(0, 4))}}
                for j, pj in zip(nxt, p, strict=True)
            ]
        trans[s] = acts
    spec = {"gamma": gamma, "start": "s0", "weights": {"gain": 1, "cost": 0}, "transitions": trans}
    if terminal:
        spec["terminal"] = ["end"]
    return spec


def test_components_model_compiles_to_the_lessons_rewards():
    # The lesson's teaching scores (-120, -4, -54, -18, +70, -10, +80), seed/lesson.txt tables.
    comp, lesson = access_review_components(), access_review_abandonment()
    np.testing.assert_allclose(comp.out_reward, lesson.out_reward, atol=1e-12)
    np.testing.assert_array_equal(comp.out_next, lesson.out_next)
    np.testing.assert_array_equal(comp.out_prob, lesson.out_prob)
    assert set(comp.components) == set(COMPONENTS)
    assert set(OUTCOME_AWARE) == set(COMPONENTS)


def test_lesson_score_tables_come_from_designs():
    mdp = access_review_components()
    s0 = mdp.state_index("new_request")
    lo, hi = int(mdp.sa_ptr[s0]), int(mdp.sa_ptr[s0 + 1])
    # lesson, reward-design listing: speed_only {100, 45, 15}; outcome_aware {-120, 31, 54}
    speed = solve(reweight(mdp, SPEED_ONLY)).q_values[lo:hi]
    aware = solve(reweight(mdp, OUTCOME_AWARE)).q_values[lo:hi]
    np.testing.assert_allclose(speed, [100, 45, 15], atol=1e-9)
    np.testing.assert_allclose(aware, [-120, 30.75, 54], atol=1e-9)  # lesson: 30.75 is request_evidence's value
    assert [round(v) for v in aware] == [-120, 31, 54]


def test_catalog_registers_both_models():
    assert CATALOG["access-review-components"] is access_review_components
    assert CATALOG["access-review-deny"] is access_review_deny


def test_deny_model_documented_weights_avoid_both_shortcuts():
    mdp = access_review_deny()
    res = solve(mdp)
    assert mdp.action_names[res.policy[mdp.state_index("new_request")]] == "human_review"
    q = res.q_values
    # unsupported approval: 0.7 (90 - 150) + 0.3 (90 - 150 - 200) = -120; denial: 0.7 (-150) = -105
    assert q[mdp.pair_index("new_request", "auto_approve")] == pytest.approx(-120)
    assert q[mdp.pair_index("new_request", "deny_request")] == pytest.approx(-105)
    assert q[mdp.pair_index("evidence_ready", "deny_request")] == pytest.approx(-135)
    fast = solve(reweight(mdp, SPEED_ONLY))
    assert mdp.action_names[fast.policy[mdp.state_index("new_request")]] == "auto_approve"


def test_deny_model_rejects_bad_probability():
    with pytest.raises(ValueError, match="p_illegitimate"):
        access_review_deny(p_illegitimate=1.5)


def test_reward_besides_components_wins_and_components_are_kept():
    spec = {"gamma": 0.9, "terminal": ["done"], "weights": {"x": 10},
            "transitions": {"s": {"go": {"next": "done", "reward": 3, "components": {"x": 1}},
                                  "alt": {"next": "done", "components": {"x": 2}}}}}
    mdp = compile_spec(spec)
    assert mdp.out_reward.tolist() == [3.0, 20.0]
    assert mdp.components["x"].tolist() == [1.0, 2.0]
    assert component_names(mdp) == ["x", "reward"]
    # "reward" is the spec's own scalar reward: a design can add a penalty to it
    assert reweight(mdp, {"reward": 1, "x": -1}).out_reward.tolist() == [2.0, 18.0]
    assert reweight(mdp, spec_design(mdp)).out_reward.tolist() == [10.0, 20.0]


def test_spec_design_without_weights_is_the_reward():
    mdp = access_review_abandonment()
    d = spec_design(mdp)
    assert dict(d.weights) == {"reward": 1.0}
    np.testing.assert_array_equal(reweight(mdp, d).out_reward, mdp.out_reward)


def test_reweight_is_linear(rng):
    mdp = compile_spec(random_spec(rng))
    a, b = reweight(mdp, {"gain": 2.0}), reweight(mdp, {"cost": -3.0})
    both = reweight(mdp, {"gain": 2.0, "cost": -3.0})
    np.testing.assert_allclose(both.out_reward, a.out_reward + b.out_reward)


@pytest.mark.parametrize("seed", range(5))
def test_occupancy_return_equals_policy_evaluation(seed):
    rng = np.random.default_rng(seed)
    mdp = compile_spec(random_spec(rng, n_states=5, terminal=bool(seed % 2)))
    for pol in (uniform_policy(mdp), solve(mdp).policy):
        x = occupancy(mdp, pol)
        v = policy_evaluation(mdp, pol).values
        assert x @ mdp.expected_reward == pytest.approx(v[mdp.start], rel=1e-10, abs=1e-10)


def test_visits_match_power_series(rng):
    mdp = compile_spec(random_spec(rng, n_states=4))
    probs = uniform_policy(mdp)
    mu = np.zeros(mdp.n_states)
    mu[0] = 1.0
    # readable reference: d = sum_t (P_pi^T)^t mu over non-terminal states
    pick = np.zeros((mdp.n_states, mdp.n_pairs))
    pick[mdp.sa_state, np.arange(mdp.n_pairs)] = probs
    p_pi = pick @ mdp.transition_matrix.toarray()
    p_pi[mdp.terminal] = 0.0
    p_pi[:, mdp.terminal] = 0.0
    d, term = np.zeros(mdp.n_states), mu.copy()
    for _ in range(5000):
        d += term
        term = p_pi.T @ term
    np.testing.assert_allclose(state_visits(mdp, probs, mu, 1.0), d, rtol=1e-8)


def test_visits_per_request_need_a_policy_that_ends():
    spec = {"gamma": 0.9, "start": "a", "terminal": ["end"],
            "transitions": {"a": {"stay": {"next": "a", "reward": 1}, "leave": {"next": "end", "reward": 0}}}}
    mdp = compile_spec(spec)
    stay = np.array([mdp.action_index("stay"), -1])
    with pytest.raises(ModelError, match="never end"):
        state_visits(mdp, stay, np.array([1.0, 0.0]), 1.0)
    # discounted visits are finite: 1 / (1 - 0.9)
    assert state_visits(mdp, stay, np.array([1.0, 0.0]), 0.9)[0] == pytest.approx(10.0)


@pytest.mark.parametrize("factory", [access_review_components, access_review_deny])
def test_audit_flags_speed_only_and_not_outcome_aware(factory):
    result = audit(factory(), LESSON)
    fast, aware = result.report("speed_only"), result.report("outcome_aware")
    assert fast.flagged and "new_request:auto_approve" in fast.reason and "outcome_aware" in fast.reason
    assert not aware.flagged and aware.shortcuts == ()
    assert fast.start_action == "auto_approve" and aware.start_action == "human_review"
    assert fast.violations_per_1000 == pytest.approx(1000.0)
    assert aware.violations_per_1000 == 0.0 and aware.severe_per_1000 == 0.0
    # cross-evaluation: the speed-only policy scores -120 under the outcome-aware design (lesson)
    assert fast.returns["outcome_aware"] == pytest.approx(-120.0)
    assert aware.returns["speed_only"] == pytest.approx(15.0)
    # human_review: 3 days queue + 5 days review; 30 reviewer minutes
    assert aware.mean_delay == pytest.approx(8.0) and aware.reviewer_load == pytest.approx(30.0)


def test_rare_failures_reported_one_by_one():
    fast = audit(access_review_deny(), LESSON).report("speed_only")
    by_event = {f.event: f for f in fast.rare_failures}
    # 30% of unsupported approvals go to requests that should be refused: 300 per 1,000, severe
    assert by_event["illegitimate_access"].severe and by_event["illegitimate_access"].per_1000 == pytest.approx(300)
    assert by_event["illegitimate_access"].rewards == {"speed_only": 100.0, "outcome_aware": -260.0}
    assert not by_event["approved"].severe and by_event["approved"].per_1000 == pytest.approx(700)
    assert fast.severe_per_1000 == pytest.approx(300)


def test_audit_with_limits_uses_the_constrained_policy():
    d = RewardDesign("speed_within_policy", SPEED_ONLY, (Limit("policy_violation", "<=", 0), Limit("unfair_denial", "<=", 0)))
    r = audit(access_review_deny(), [*LESSON, d]).report("speed_within_policy")
    assert r.constrained and r.start_action == "request_evidence" and r.violations_per_1000 == 0
    # approvals after evidence: 0.75 x 10% illegitimate = 75 severe per 1,000; outcome_aware has none
    assert r.severe_per_1000 == pytest.approx(75) and r.flagged


def test_single_design_is_never_flagged():
    r = audit(access_review_components(), [LESSON[0]]).reports[0]
    assert r.shortcuts == ("new_request:auto_approve",) and not r.flagged


def test_unknown_component_is_one_line():
    with pytest.raises(SpecValueError, match=r"design 'typo', weights, component 'speed': unknown component; expected one of"):
        audit(access_review_components(), [RewardDesign("typo", {"speed": 1})])


def test_designs_from_mapping_errors():
    msg = r"d.yaml, design 'x', weights, component 'delay_days': expected a number, got the string 'fast'"
    with pytest.raises(SpecTypeError, match=msg):
        designs_from_mapping({"designs": {"x": {"weights": {"delay_days": "fast"}}}}, source="d.yaml")
    with pytest.raises(SpecTypeError, match="expected a mapping with a 'designs' field"):
        designs_from_mapping([1, 2], source="d.yaml")
    with pytest.raises(SpecValueError, match="unknown field"):
        designs_from_mapping({"designs": {"x": {"weights": {"a": 1}, "weight": 2}}})
    with pytest.raises(SpecTypeError, match="expected a number after <="):
        designs_from_mapping({"designs": {"x": {"weights": {"a": 1}, "limits": ["a<=lots"]}}})
    with pytest.raises(SpecValueError, match="duplicate design name"):
        audit(access_review_components(), [LESSON[0], LESSON[0]])


def test_parse_limit():
    assert parse_limit("policy_violation<=0") == Limit("policy_violation", "<=", 0.0)
    assert parse_limit(" reviewer_minutes >= 2.5") == Limit("reviewer_minutes", ">=", 2.5)
    with pytest.raises(SpecValueError):
        parse_limit("policy_violation < 0")


def test_simulated_rates_agree_with_exact_ones():
    from accessrl.rewards.audits import simulate_rates

    mdp = access_review_deny()
    d = RewardDesign("speed_within_policy", SPEED_ONLY, (Limit("policy_violation", "<=", 0), Limit("unfair_denial", "<=", 0.05)))
    result = audit(mdp, [*LESSON, d], episodes=4000, rng=np.random.default_rng(2024))
    for r in result.reports:
        sim = r.simulated
        assert sim is not None and sim.episodes == 4000 and sim.truncated == 0
        # exact occupancy figures lie inside the seeded 95% interval (widened by 1.5 for a fixed seed)
        assert abs(sim.severe_per_1000 - r.severe_per_1000) <= 1.5 * sim.severe_ci + 1e-9
        assert abs(sim.violations_per_1000 - r.violations_per_1000) <= 1.5 * sim.violations_ci + 1e-9
    # the randomised constrained policy: 0.05/0.7 of requests denied, 70% of those unfairly
    r = result.report("speed_within_policy")
    assert r.severe_per_1000 > 0 and r.simulated.severe_ci > 0
    with pytest.raises(SpecValueError, match="needs rng"):
        audit(mdp, LESSON, episodes=10)
    rates = simulate_rates(mdp, solve(mdp).policy, 100, rng=np.random.default_rng(0))
    assert rates.violations_per_1000 == 0.0 and rates.severe_per_1000 == 0.0


def test_simulated_rates_on_a_random_model(rng):
    from accessrl.rewards.audits import simulate_rates

    spec = random_spec(rng, n_states=4)
    for acts in spec["transitions"].values():
        for outs in acts.values():
            outs[0]["severe"] = True
            outs[-1]["components"]["policy_violation"] = 1
    spec["weights"]["policy_violation"] = 0
    mdp = compile_spec(spec)
    probs = uniform_policy(mdp)
    report = audit(mdp, [RewardDesign("gain", {"gain": 1})]).reports[0]
    exact_v = 1000 * occupancy(mdp, probs, discount=1.0) @ reweight(mdp, {"policy_violation": 1}).expected_reward
    sim = simulate_rates(mdp, probs, 3000, rng=np.random.default_rng(5))
    assert abs(sim.violations_per_1000 - exact_v) <= 1.5 * sim.violations_ci
    # the optimal policy here may loop for ever (gamma < 1): then the rates are discounted, and say so
    assert (report.basis == "expected total per request") == report.terminates


def test_example_files_match_the_catalog(root):
    from accessrl.specfile import load_model, read_mapping_file

    spec_model, catalog_model = load_model(root / "examples/access_review_deny.yaml"), access_review_deny()
    np.testing.assert_allclose(spec_model.out_reward, catalog_model.out_reward)
    np.testing.assert_array_equal(spec_model.out_prob, catalog_model.out_prob)
    for c in COMPONENTS:
        np.testing.assert_allclose(spec_model.components[c], catalog_model.components[c])
    np.testing.assert_array_equal(spec_model.severe, catalog_model.severe)
    designs = designs_from_mapping(read_mapping_file(root / "examples/designs.yaml"))
    assert [d.name for d in designs] == ["speed_only", "outcome_aware", "speed_within_policy"]
    assert dict(designs[0].weights) == SPEED_ONLY
    assert {c: w for c, w in OUTCOME_AWARE.items() if w} == dict(designs[1].weights)


def test_results_are_frozen_dataclasses():
    import dataclasses

    from accessrl import rewards
    from accessrl.rewards import constrained

    for cls in (rewards.RewardDesign, rewards.Limit, rewards.PolicyAudit, rewards.Audit, rewards.Failure,
                rewards.SimulatedRates, constrained.ConstrainedResult, constrained.ConstraintReport):
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen


def test_reward_in_a_reweighted_model_still_means_the_specs_reward():
    from accessrl.rewards.constrained import constrained_solve

    mdp = access_review_abandonment()
    doubled = reweight(mdp, {"reward": 2})
    np.testing.assert_array_equal(reweight(doubled, {"reward": 1}).out_reward, mdp.out_reward)
    # a limit on "reward" bounds the spec's return (54 at best), whatever the design's scale
    res = constrained_solve(doubled, [Limit("reward", ">=", 54)])
    assert res.value == pytest.approx(108) and res.constraints[0].value == pytest.approx(54)
