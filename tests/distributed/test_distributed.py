"""The distributed workloads: the same numbers locally and on a two-node Ray cluster.

Local-backend tests check each workload against the one-process library call it
distributes; the cluster tests (``ray_cluster`` in conftest.py: ``ray start --head`` and
a second node) check that the cluster returns exactly the local numbers.
"""

import math

import numpy as np
import pytest

from accessrl.catalog import SPEED_ONLY, access_review_abandonment, access_review_components, access_review_deny
from accessrl.distributed.backend import LocalBackend, chunk_sizes, get_backend, task_seeds
from accessrl.distributed.grids import audit_designs, constrain_grid, sweep_grid
from accessrl.distributed.runs import learning_grid
from accessrl.distributed.simulation import simulate_at_scale
from accessrl.errors import ParameterError
from accessrl.learning import learn
from accessrl.model.policies import pair_probabilities
from accessrl.planning import solve
from accessrl.planning.sensitivity import probability_sweep
from accessrl.rewards import RewardDesign, audit, constrained_solve, parse_limit, spec_design

ABANDON = "new_request.request_evidence.closed"


def test_chunks_and_seeds_are_fixed_by_the_call():
    assert chunk_sizes(10, 4) == [4, 4, 2]
    assert chunk_sizes(8, 4) == [4, 4]
    a = [s.generate_state(2).tolist() for s in task_seeds(5, 3)]
    assert a == [s.generate_state(2).tolist() for s in task_seeds(5, 3)]
    assert len({tuple(x) for x in a}) == 3
    with pytest.raises(ParameterError):
        chunk_sizes(0, 4)


def test_get_backend_refuses_nonsense():
    assert isinstance(get_backend(None), LocalBackend)
    with pytest.raises(ParameterError, match="--ray"):
        get_backend("  ")
    with pytest.raises(ParameterError, match="backend"):
        get_backend(42)  # type: ignore[arg-type]


def test_simulation_at_scale_matches_the_exact_rates():
    # auto_approve at new_request closes every request with -120 (the lesson's unsupported approval):
    # with the severe threshold at -100 the exact severe rate of that first action is 1; from the
    # optimal policy it is 0; with request_evidence the exact abandonment share is p = 0.25.
    mdp = access_review_abandonment()
    r = simulate_at_scale(mdp, "optimal", 40_000, seed=11, chunk=7_000, first_action="request_evidence",
                          severe_threshold=-100)
    assert r.episodes == 40_000 and r.chunks == 6 and r.severe == 0
    lo, hi = r.event_ci["abandoned"]
    assert lo < 0.25 < hi
    exact = 0.75 * 0.9 * 70 + 0.25 * -54 + 0.75 * -4  # Q(new_request, request_evidence) at p = 0.25
    assert r.ci95[0] < exact < r.ci95[1]
    assert r.per_million_ci[0] == 0.0 and r.per_million_ci[1] < 100.0
    bad = simulate_at_scale(mdp, "optimal", 1_000, seed=1, chunk=300, first_action="auto_approve",
                            severe_threshold=-100)
    assert bad.severe == 1_000 and bad.per_million == 1e6


def test_simulation_at_scale_is_the_sum_of_its_chunks():
    mdp = access_review_abandonment()
    r = simulate_at_scale(mdp, "optimal", 9_000, seed=4, chunk=3_000, first_action="request_evidence")
    from accessrl.simulation import simulate

    total, ab = 0.0, 0
    for seed in task_seeds(4, 3):
        sim = simulate(mdp, pair_probabilities(mdp, solve(mdp).policy), 3_000, rng=np.random.default_rng(seed),
                       first_action="request_evidence", record=False)
        total += float(np.sum(sim.returns))
        ab += sim.event_counts["abandoned"]
    assert r.mean == total / 9_000
    assert r.event_rates["abandoned"] == ab / 9_000


def test_grid_sweep_agrees_with_the_one_parameter_sweep():
    mdp = access_review_abandonment()
    xs = np.linspace(0.0, 0.2, 9)
    grid = sweep_grid(mdp, {ABANDON: xs})
    one = probability_sweep(mdp, "new_request", "request_evidence", "closed", xs)
    assert [p.start_action for p in grid.points] == [mdp.action_names[int(p.policy[0])] for p in one.points]
    # The lesson's breakeven: human_review takes over above p = 5/113.
    assert all((p.start_action == "human_review") == (p.values[0] > 5 / 113) for p in grid.points)


TWO_RISKS = {
    "name": "two-risks", "gamma": 0.9, "start": "new_request", "terminal": ["closed"],
    "transitions": {
        "new_request": {
            "request_evidence": [{"next": "evidence_ready", "p": 0.75, "reward": -4},
                                 {"next": "closed", "p": 0.25, "reward": -54}],
            "human_review": [{"next": "review_queue", "p": 1.0, "reward": -18}],
        },
        "evidence_ready": {"auto_approve": [{"next": "closed", "p": 1.0, "reward": 70}]},
        "review_queue": {"approve_rotation": [{"next": "closed", "p": 0.9, "reward": 80},
                                              {"next": "new_request", "p": 0.1, "reward": -5}]},
    },
}


def test_grid_sweep_over_two_parameters_is_the_product():
    from accessrl.model import compile_spec
    from accessrl.planning.sensitivity import locate_outcome, with_probability

    mdp = compile_spec(TWO_RISKS)
    grid = {ABANDON: [0.0, 0.1, 0.3], "review_queue.approve_rotation.new_request": [0.0, 0.5]}
    got = sweep_grid(mdp, grid)
    assert [p.values for p in got.points] == [(a, b) for a in grid[ABANDON] for b in grid[list(grid)[1]]]
    for p in got.points:
        m = with_probability(mdp, *locate_outcome(mdp, "new_request", "request_evidence", "closed"), p.values[0])
        m = with_probability(m, *locate_outcome(m, "review_queue", "approve_rotation", "new_request"), p.values[1])
        ref = solve(m, tol=1e-10)
        assert p.start_value == pytest.approx(float(ref.values[0]), abs=1e-9)
        assert p.start_action == m.action_names[int(ref.policy[0])]
    assert len({p.start_action for p in got.points}) == 2  # the grid crosses a breakeven
    with pytest.raises(ParameterError, match="probabilities"):
        sweep_grid(mdp, {ABANDON: [1.5]})


def test_audit_over_designs_equals_the_audit():
    mdp = access_review_components()
    designs = [RewardDesign("speed_only", SPEED_ONLY), spec_design(mdp, "outcome_aware")]
    designs += [RewardDesign(f"speed_w{w}", {**SPEED_ONLY, "policy_violation": -float(w)}) for w in (10, 50, 400)]
    mine, ref = audit_designs(mdp, designs), audit(mdp, designs)
    assert [(r.design, r.start_action, r.flagged, r.reason) for r in mine.reports] == \
        [(r.design, r.start_action, r.flagged, r.reason) for r in ref.reports]
    for a, b in zip(mine.reports, ref.reports, strict=True):
        assert a.returns == b.returns and a.violations_per_1000 == b.violations_per_1000


def test_constrained_grid_equals_each_constrained_solve():
    mdp = access_review_deny()
    speed = RewardDesign("speed", {"resolved": 100, "delay_days": -10})
    settings = [[parse_limit("policy_violation<=0")], [parse_limit("policy_violation<=0"), parse_limit("delay_days<=1")]]
    got = constrain_grid(mdp, settings, design=speed)
    from accessrl.rewards import reweight

    for setting, row in zip(settings, got, strict=True):
        try:
            ref = constrained_solve(reweight(mdp, speed), setting)
        except Exception as exc:  # noqa: BLE001 - the library's own infeasibility message is the expected row
            assert row.value is None and row.error == str(exc)
        else:
            assert row.error is None and math.isclose(row.value, ref.value, rel_tol=0, abs_tol=1e-12)


def test_learning_grid_runs_reproduce_single_learn_calls():
    mdp = access_review_abandonment()
    grid = learning_grid(mdp, algorithms=["q-learning", "sarsa"], seeds=[13, 14], settings=[{"epsilon": 0.15}],
                         episodes=5_000)
    assert len(grid.runs) == 4 and len(grid.configs) == 2
    first = learn(mdp, episodes=5_000, rng=np.random.default_rng(13), epsilon=0.15)
    assert grid.runs[0].policy == tuple(mdp.action_names[a] if a >= 0 else "" for a in first.policy)
    assert grid.best_policy["new_request"] == "human_review"
    assert grid.optimal_start_value == pytest.approx(54.0, abs=1e-9)  # the lesson's V*(new_request) at p = 0.25
    with pytest.raises(ParameterError, match="unknown key"):
        learning_grid(mdp, algorithms=["q-learning"], seeds=[1], settings=[{"epsilonn": 0.1}])


def test_workloads_on_a_two_node_cluster_equal_local(ray_cluster):
    import ray

    mdp = access_review_abandonment()
    sim_l = simulate_at_scale(mdp, "optimal", 30_000, seed=8, chunk=5_000, first_action="request_evidence")
    sim_r = simulate_at_scale(mdp, "optimal", 30_000, seed=8, chunk=5_000, first_action="request_evidence",
                              backend=ray_cluster)
    assert sim_r.backend["backend"] == "ray" and sim_r.backend["nodes"] == 2
    assert (sim_r.mean, sim_r.std, sim_r.event_rates, sim_r.severe) == (sim_l.mean, sim_l.std, sim_l.event_rates,
                                                                       sim_l.severe)
    # Both nodes can run the library: spread tasks that import it and report their node.
    def where() -> str:
        import accessrl.distributed  # noqa: F401

        return ray.get_runtime_context().get_node_id()

    spread = ray.remote(num_cpus=1, scheduling_strategy="SPREAD")(where)
    assert len(set(ray.get([spread.remote() for _ in range(4)]))) == 2

    xs = np.linspace(0.0, 0.2, 6)
    assert sweep_grid(mdp, {ABANDON: xs}, backend=ray_cluster).points == sweep_grid(mdp, {ABANDON: xs}).points

    comp = access_review_components()
    designs = [RewardDesign("speed_only", SPEED_ONLY), spec_design(comp, "outcome_aware")]
    a_r, a_l = audit_designs(comp, designs, backend=ray_cluster), audit_designs(comp, designs)
    assert [(r.design, r.flagged, r.returns) for r in a_r.reports] == [(r.design, r.flagged, r.returns)
                                                                      for r in a_l.reports]

    deny = access_review_deny()
    settings = [[parse_limit("policy_violation<=0")], [parse_limit("unfair_denial<=0.05")]]
    speed = RewardDesign("speed", {"resolved": 100, "delay_days": -10})
    assert constrain_grid(deny, settings, design=speed, backend=ray_cluster) == constrain_grid(deny, settings,
                                                                                             design=speed)

    kw = {"algorithms": ["q-learning", "expected-sarsa"], "seeds": [1, 2], "settings": [{"epsilon": 0.1}],
          "episodes": 3_000}
    g_r, g_l = learning_grid(mdp, backend=ray_cluster, **kw), learning_grid(mdp, **kw)
    assert g_r.runs == g_l.runs and g_r.best_policy == g_l.best_policy


def test_a_library_error_inside_a_ray_task_is_the_same_one_line_error(ray_cluster):
    mdp = access_review_abandonment()
    with pytest.raises(ParameterError, match="probability"):
        from accessrl.distributed.grids import _grid_point  # noqa: PLC2701 - the task function itself

        get_backend(ray_cluster).map(_grid_point, [(2.0,)], shared=(mdp, [(1, 1)], 0))


def test_a_task_that_fails_after_its_retries_is_one_line(ray_cluster):
    """Before: Ray's retries exhausted ended in a 69-line traceback.  Now a BackendError naming the
    failure (here a task fed garbage, whose TypeError is not the library's own)."""
    from accessrl.distributed.grids import _grid_point  # noqa: PLC2701 - the task function itself
    from accessrl.errors import BackendError

    with pytest.raises(BackendError, match=r"^Ray: a task failed after its retries \(TypeError") as info:
        get_backend(ray_cluster).map(_grid_point, [("not a point",)], shared=None)
    assert "\n" not in str(info.value)


def test_ray_local_on_the_command_line_starts_a_private_ray(ray_cluster):
    """`--ray local` is documented as a private local Ray instance: it used to run in this process.
    (Ray is already initialised by the cluster fixture here, so the backend joins it: the point is
    that the command reports Ray, not 'this process', and that stdout is one JSON document.)"""
    import json

    from typer.testing import CliRunner

    from accessrl.cli import app

    r = CliRunner().invoke(app, ["scale", "simulate", "catalog:access-review", "--episodes", "2000", "--ray", "local",
                                 "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)  # exactly one JSON document, nothing of Ray's around it
    assert data["backend"]["backend"] == "ray"
