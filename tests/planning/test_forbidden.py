"""A forbidden pair is not an action, for every planner, learner, simulator and the log simulator.

Cross-check: planning on a model with forbidden pairs equals planning on the same model with
those pairs deleted (``MDP.restricted``, the readable route), for every method of ``solve``.
"""

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from accessrl.catalog import access_review_abandonment, rand
from accessrl.errors import SpecValueError
from accessrl.learning import ALGORITHMS, ENGINES, learn
from accessrl.model.spec import compile_spec, spec_from_mdp
from accessrl.offline.logsim import exploring_policy, simulate_logs
from accessrl.planning import SOLVERS, backward_induction, solve
from accessrl.specfile import resolve_policy, save_spec


def lesson_with_forbidden() -> tuple:
    """The lesson's abandonment model with its optimal first action (request_evidence) forbidden."""
    mdp = access_review_abandonment()
    best = solve(mdp).policy[0]
    forbidden = np.zeros(mdp.n_pairs, dtype=bool)
    forbidden[mdp.pair_index(0, int(best))] = True
    return replace(mdp, forbidden=forbidden), int(best)


def random_with_forbidden(n: int = 300, gamma: float = 0.9) -> tuple:
    mdp = rand(n, 4, 5, gamma=gamma, rng=np.random.default_rng(7))
    rng = np.random.default_rng(8)
    forbidden = rng.random(mdp.n_pairs) < 0.4
    forbidden[mdp.sa_ptr[:-1]] = False  # every state keeps its first action
    return replace(mdp, forbidden=forbidden), None


def forbidden_actions_chosen(mdp, policy) -> int:
    chosen = np.flatnonzero(policy >= 0)
    return sum(bool(mdp.forbidden[mdp.pair_index(int(s), int(policy[s]))]) for s in chosen)


@pytest.mark.parametrize("method", ["auto", *SOLVERS])
@pytest.mark.parametrize("build", [lesson_with_forbidden, random_with_forbidden])
def test_solve_equals_solving_the_model_without_the_forbidden_pairs(method, build):
    mdp, _ = build()
    deleted = mdp.restricted(~mdp.forbidden)
    a, b = solve(mdp, method, tol=1e-9), solve(deleted, method, tol=1e-9)
    assert forbidden_actions_chosen(mdp, a.policy) == 0
    np.testing.assert_allclose(a.values, b.values, atol=1e-6)
    assert np.array_equal(a.policy, b.policy)
    assert a.q_values.shape == (mdp.n_pairs,)
    assert np.all(a.q_values[mdp.forbidden] == -np.inf)
    np.testing.assert_allclose(a.q_values[~mdp.forbidden], b.q_values, atol=1e-6)


def test_the_lesson_forbidden_optimum_is_the_best_allowed_action():
    mdp, best = lesson_with_forbidden()
    res = solve(mdp)
    assert res.policy[0] != best
    allowed = [int(a) for a in mdp.actions_of(0) if a != best]
    unforbidden = solve(access_review_abandonment())
    assert res.values[0] < unforbidden.values[0]
    assert res.policy[0] in allowed


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("engine", ENGINES)
def test_learning_never_takes_a_forbidden_action(algorithm, engine):
    mdp, best = lesson_with_forbidden()
    res = learn(mdp, episodes=300, rng=np.random.default_rng(1), algorithm=algorithm, engine=engine,
                epsilon=0.5, safe=False, exact=True)
    k = mdp.pair_index(0, best)
    assert res.visits[k] == 0 and not res.allowed[k]
    assert forbidden_actions_chosen(mdp, res.policy) == 0


def test_backward_induction_and_policy_resolver_skip_forbidden_pairs():
    mdp, best = lesson_with_forbidden()
    fh = backward_induction(mdp, 5)
    assert np.all(fh.policies[:, 0] != best)
    probs = resolve_policy(mdp, "optimal").probabilities
    assert probs[mdp.pair_index(0, best)] == 0.0


def test_log_simulator_behaviour_never_logs_a_forbidden_action():
    mdp, best = lesson_with_forbidden()
    k = mdp.pair_index(0, best)
    everything_on_forbidden = np.zeros(mdp.n_pairs)
    everything_on_forbidden[k] = 1.0
    for s in range(1, mdp.n_states):
        if mdp.sa_ptr[s + 1] > mdp.sa_ptr[s]:
            everything_on_forbidden[mdp.sa_ptr[s]] = 1.0
    unsafe = np.zeros(mdp.n_pairs, dtype=bool)
    unsafe[mdp.pair_index(0, "auto_approve")] = True
    guarded = replace(mdp, unsafe=unsafe)
    for eps in (0.0, 0.5, 1.0):
        b = exploring_policy(guarded, everything_on_forbidden, eps)
        assert b[k] == 0.0
        lo, hi = int(mdp.sa_ptr[0]), int(mdp.sa_ptr[1])
        assert abs(b[lo:hi].sum() - 1.0) < 1e-12
        if eps == 0.0:  # all mass was forbidden: it goes to the allowed, explorable actions only
            assert b[mdp.pair_index(0, "auto_approve")] == 0.0
    log = simulate_logs(mdp, everything_on_forbidden, n_requests=300, start_us=0,
                        rng=np.random.default_rng(3), epsilon=0.3)
    assert log.behavior[k] == 0.0
    steps = log.steps
    names = [steps.state_names[i] for i in steps.state], [steps.action_names[i] for i in steps.action]
    assert len(names[0]) > 0
    assert not any(s == mdp.state_names[0] and a == mdp.action_names[best] for s, a in zip(*names, strict=True))


def test_a_state_whose_every_action_is_forbidden_is_refused():
    mdp = access_review_abandonment()
    forbidden = np.zeros(mdp.n_pairs, dtype=bool)
    forbidden[mdp.sa_ptr[0]:mdp.sa_ptr[1]] = True
    with pytest.raises(SpecValueError, match="every action of state 'new_request' is forbidden"):
        replace(mdp, forbidden=forbidden)


def test_cli_solve_and_simulate_optimal_honour_forbidden(tmp_path):
    from accessrl.cli import app

    mdp, best = lesson_with_forbidden()
    path = tmp_path / "m.yaml"
    save_spec(spec_from_mdp(mdp), path)
    assert compile_spec(spec_from_mdp(mdp)).forbidden is not None
    runner = CliRunner()
    r = runner.invoke(app, ["solve", str(path), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["policy"][mdp.state_names[0]] != mdp.action_names[best]
    r = runner.invoke(app, ["simulate", str(path), "--policy", "optimal", "--episodes", "50", "--json"])
    assert r.exit_code == 0, r.output


def test_constrained_lp_and_reinforce_never_use_a_forbidden_pair(tmp_path):
    from accessrl.cli import app
    from accessrl.rewards import constrained_solve

    mdp, best = lesson_with_forbidden()
    k = mdp.pair_index(0, best)
    res = constrained_solve(mdp, [])
    assert res.policy[k] == 0.0 and res.occupancy[k] == 0.0
    np.testing.assert_allclose(res.value, solve(mdp).values[0], atol=1e-6)  # no limits: the allowed optimum
    path = tmp_path / "m.yaml"
    save_spec(spec_from_mdp(mdp), path)
    r = CliRunner().invoke(app, ["reinforce", str(path), "--episodes", "64", "--json"])
    assert r.exit_code == 0, r.output
    first_state = json.loads(r.stdout)["probabilities"][mdp.state_names[0]]
    assert first_state and mdp.action_names[best] not in first_state
