"""The Q-learning family: lesson figures, reference vs numba engine, known answers
(cliff walking, FrozenLake), truncation, safe exploration, bad input, CLI."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from accessrl.catalog.lesson import access_review_abandonment, access_review_abandonment_spec
from accessrl.cli import app
from accessrl.errors import ParameterError, SpecValueError
from accessrl.learning.config import ALGORITHMS, EpsilonSchedule, StepSize, allowed_model, unsafe_mask
from accessrl.learning.tabular import learn, one_state_bandit
from accessrl.model.mdp import MDP
from accessrl.model.spec import compile_spec
from accessrl.planning.exact import policy_iteration
from accessrl.simulation import simulate
from cli_checks import one_error_line

GYM_EXTRA = 'the toy-text models need gymnasium: pip install "accessrl[gym]"'


@pytest.fixture(scope="module")
def frozen():
    gym = pytest.importorskip("gymnasium", reason=GYM_EXTRA)
    return MDP.from_gymnasium(gym.make("FrozenLake-v1"), gamma=0.95)


@pytest.fixture(scope="module")
def cliff():
    gym = pytest.importorskip("gymnasium", reason=GYM_EXTRA)
    return MDP.from_gymnasium(gym.make("CliffWalking-v1"))


def test_lesson_q_learning_figures():
    # lesson.txt, Q-learning listing: default_rng(13), epsilon 0.15, visits^-0.6, 20,000 episodes ->
    # Q(new_request, .) = -120.0 / 30.5 / 54.0, learned start action = human_review
    mdp = access_review_abandonment()
    for engine in ("reference", "fast"):
        res = learn(mdp, episodes=20_000, epsilon=0.15, rng=np.random.default_rng(13), engine=engine, exact=True)
        assert [f"{v:.1f}" for v in res.q[:3]] == ["-120.0", "30.5", "54.0"]
        assert mdp.action_names[res.policy[0]] == "human_review"
        assert res.max_error < 0.5


def test_lesson_exploration_figures():
    # lesson.txt, exploration listing: default_rng(5), 400 steps ->
    # eps 0.00: visits 1/399/0, selects request_evidence; eps 0.10: 19/24/357, selects human_review
    mdp = access_review_abandonment()
    bandit = one_state_bandit(mdp, policy_iteration(mdp).q_values)
    assert bandit.out_reward.tolist() == pytest.approx([-120.0, 30.75, 54.0])
    a = learn(bandit, episodes=400, epsilon=0.0, step_size="1/n", rng=np.random.default_rng(5))
    b = learn(bandit, episodes=400, epsilon=0.10, step_size="1/n", rng=np.random.default_rng(5))
    assert a.visits.tolist() == [1, 399, 0] and a.policy[0] == 1
    assert b.visits.tolist() == [19, 24, 357] and b.policy[0] == 2


CASES = [
    (alg, step, eps)
    for alg in ALGORITHMS
    for step, eps in (("visits", 0.3), ("1/n", EpsilonSchedule("linear", 1.0, 0.05, 300)), (0.4, 0.2))
]


@pytest.mark.parametrize(("algorithm", "step", "epsilon"), CASES)
def test_fast_engine_draws_the_same_stream(algorithm, step, epsilon, frozen):
    for mdp, n in ((access_review_abandonment(), 1500), (frozen, 400)):
        kw = dict(episodes=n, algorithm=algorithm, step_size=step, epsilon=epsilon, max_steps=60)
        ref_rng, fast_rng = np.random.default_rng(99), np.random.default_rng(99)
        a = learn(mdp, rng=ref_rng, **kw)
        b = learn(mdp, rng=fast_rng, engine="fast", **kw)
        np.testing.assert_array_equal(a.q, b.q)
        np.testing.assert_array_equal(a.visits, b.visits)
        np.testing.assert_array_equal(a.episode_returns, b.episode_returns)
        assert (a.steps, a.truncated) == (b.steps, b.truncated)
        assert ref_rng.random() == fast_rng.random()  # both left the generator in the same state


def test_fast_engine_same_stream_with_never_explore():
    mdp = access_review_abandonment()
    kw = dict(episodes=2000, epsilon=0.5, never_explore=["new_request:auto_approve"])
    a = learn(mdp, rng=np.random.default_rng(4), **kw)
    b = learn(mdp, rng=np.random.default_rng(4), engine="fast", **kw)
    np.testing.assert_array_equal(a.q, b.q)


@pytest.mark.parametrize("algorithm", ["q-learning", "double-q"])
def test_fast_engine_converges_on_catalog_model(algorithm):
    # Off-policy: any exploring behaviour.  Sample-average step sizes: the error of the stochastic
    # pair shrinks like sigma / sqrt(visits) (sigma ~ 49 here).
    mdp = access_review_abandonment()
    res = learn(mdp, episodes=200_000, epsilon=0.5, algorithm=algorithm, step_size="1/n",
                rng=np.random.default_rng(1), engine="fast", exact=True)
    assert res.max_error < 1.0  # Q* spans -120..80
    assert res.policy.tolist() == policy_iteration(mdp).policy.tolist()


@pytest.mark.parametrize("algorithm", ["sarsa", "expected-sarsa"])
def test_on_policy_converges_with_glie_schedule(algorithm):
    # On-policy targets follow Q of the epsilon-greedy policy; with epsilon -> 0 (GLIE,
    # Singh et al. 2000) they approach Q*.  The evidence route is then visited only by rare
    # exploration, so its estimate keeps a sampling error of order sigma sqrt(alpha / 2).
    mdp = access_review_abandonment()
    res = learn(mdp, episodes=200_000, epsilon=EpsilonSchedule("exponential", 1.0, 0.001, 100_000),
                algorithm=algorithm, rng=np.random.default_rng(1), engine="fast", exact=True)
    assert res.max_error < 3.0
    assert res.policy.tolist() == policy_iteration(mdp).policy.tolist()


def test_reduces_to_q_learning_without_exploration():
    # epsilon = 0: Expected SARSA's expectation is the max, so the target is Q-learning's;
    # SARSA's next action is the greedy one (no self-loops here, so it is chosen from the same Q).
    mdp = access_review_abandonment()
    runs = {alg: learn(mdp, episodes=300, epsilon=0.0, algorithm=alg, rng=np.random.default_rng(2))
            for alg in ("q-learning", "expected-sarsa", "sarsa")}
    np.testing.assert_array_equal(runs["q-learning"].q, runs["expected-sarsa"].q)
    np.testing.assert_array_equal(runs["q-learning"].q, runs["sarsa"].q)


def test_frozenlake_greedy_policy_is_optimal(frozen):
    # FrozenLake 4x4 slippery: Q-learning's greedy action is optimal in every state
    # (exact optimum from policy iteration; states with exact ties accept any tied action).
    exact = policy_iteration(frozen)
    res = learn(frozen, episodes=200_000, epsilon=1.0, rng=np.random.default_rng(0), engine="fast", exact=True)
    for s in frozen.decision_states:
        k = frozen.pair_index(int(s), int(res.policy[s]))
        assert exact.q_values[k] >= exact.values[s] - 1e-9, frozen.state_names[s]
    assert res.max_error < 0.1


def test_cliff_walking_sarsa_vs_q_learning(cliff):
    # Sutton & Barto (2018) Example 6.6: epsilon 0.1, alpha 0.5, gamma 1, 500 episodes.
    # Q-learning learns the optimal path along the cliff (return -13); SARSA the safer path,
    # and SARSA earns more online (about -25 vs -50 per episode in Figure 6.4).
    assert policy_iteration(cliff).values[cliff.start] == -13.0
    online_q, online_s = [], []
    for seed in range(3):
        q = learn(cliff, episodes=500, epsilon=0.1, step_size=0.5, rng=np.random.default_rng(seed), engine="fast")
        s = learn(cliff, episodes=500, epsilon=0.1, step_size=0.5, algorithm="sarsa",
                  rng=np.random.default_rng(seed), engine="fast")
        greedy_q = simulate(cliff, q.policy, 1, rng=np.random.default_rng(0), max_steps=200).returns[0]
        greedy_s = simulate(cliff, s.policy, 1, rng=np.random.default_rng(0), max_steps=200).returns[0]
        assert greedy_q == -13.0
        assert -25.0 <= greedy_s < -13.0  # reaches the goal on a longer path away from the cliff
        online_q.append(q.episode_returns.mean())
        online_s.append(s.episode_returns.mean())
    assert np.mean(online_s) > np.mean(online_q) + 10


def test_truncation_is_not_termination():
    # One state looping with reward 1, gamma 0.5, episodes cut after one step:
    # bootstrapping gives Q = 1 / (1 - 0.5) = 2; treating the cut as an end would give 1.
    mdp = compile_spec({"gamma": 0.5, "transitions": {"s": {"loop": {"next": "s", "reward": 1}}}})
    for engine in ("reference", "fast"):
        res = learn(mdp, episodes=200, epsilon=0.0, step_size=0.5, max_steps=1, rng=np.random.default_rng(0),
                    engine=engine)
        assert res.truncated == 200
        assert res.q[0] == pytest.approx(2.0)


def test_safe_exploration_counts_and_optimality():
    mdp = access_review_abandonment()
    flag = ["new_request:auto_approve"]
    free = learn(mdp, episodes=5000, epsilon=0.3, rng=np.random.default_rng(3), never_explore=flag, safe=False)
    safe = learn(mdp, episodes=5000, epsilon=0.3, rng=np.random.default_rng(3), never_explore=flag, exact=True,
                 step_size="1/n")
    assert free.unsafe_actions > 0
    assert safe.unsafe_actions == 0
    assert safe.visits[mdp.pair_index("new_request", "auto_approve")] == 0
    restricted = allowed_model(mdp, safe.allowed)
    best = policy_iteration(restricted).policy
    assert safe.policy.tolist() == best.tolist()
    assert safe.max_error < 2.5  # sampling noise of the evidence route (sd ~49, ~1000 visits)


def test_never_explore_in_spec():
    spec = access_review_abandonment_spec()
    spec["never_explore"] = ["new_request:auto_approve"]
    mdp = compile_spec(spec)
    assert unsafe_mask(mdp).sum() == 1
    res = learn(mdp, episodes=2000, epsilon=0.5, rng=np.random.default_rng(0), engine="fast")
    assert res.unsafe_actions == 0
    assert learn(mdp, episodes=2000, epsilon=0.5, rng=np.random.default_rng(0), safe=False).unsafe_actions > 0


def test_never_explore_every_action_is_an_error():
    mdp = access_review_abandonment()
    with pytest.raises(ParameterError, match="review_queue"):
        learn(mdp, episodes=10, rng=np.random.default_rng(0), never_explore=["review_queue:approve_rotation"])


def test_schedules_and_step_sizes():
    assert EpsilonSchedule("exponential", 1.0, 0.01, 2).values(4).tolist() == pytest.approx([1.0, 0.1, 0.01, 0.01])
    assert StepSize("1/n").rate(4) == 0.25
    assert StepSize("constant", alpha=0.3).rate(9) == 0.3


@pytest.mark.parametrize(
    "kwargs",
    [{"epsilon": -0.1}, {"epsilon": 1.5}, {"episodes": 0}, {"episodes": -4}, {"algorithm": "td-lambda"},
     {"step_size": "fast"}, {"step_size": 0.0}, {"omega": 0.0}, {"max_steps": 0}, {"engine": "gpu"},
     {"epsilon": [0.1, 2.0]}],
)
def test_bad_arguments(kwargs):
    args = {"episodes": 2, "rng": np.random.default_rng(0), **kwargs}
    with pytest.raises(ParameterError):
        learn(access_review_abandonment(), **args)


def test_unknown_never_explore_names():
    with pytest.raises(SpecValueError, match="nowhere"):
        learn(access_review_abandonment(), episodes=2, rng=np.random.default_rng(0), never_explore=["nowhere:x"])


runner = CliRunner()


def test_cli_learn_json():
    r = runner.invoke(app, ["learn", "catalog:access-review-abandonment", "--episodes", "20000", "--epsilon",
                            "0.15", "--seed", "13", "--json", "--engine", "reference"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert round(out["q_values"]["new_request"]["request_evidence"]["q"], 1) == 30.5
    assert out["policy"]["new_request"] == "human_review"
    assert out["max_abs_error"] < 0.5


def test_cli_never_explore(tmp_path):
    base = ["learn", "catalog:access-review-abandonment", "--episodes", "3000", "--epsilon", "0.3", "--json",
            "--never-explore", "new_request:auto_approve"]
    safe = json.loads(runner.invoke(app, base).stdout)
    free = json.loads(runner.invoke(app, [*base, "--allow-unsafe"]).stdout)
    assert safe["unsafe_actions"] == 0 and free["unsafe_actions"] > 0
    assert safe["policy"]["new_request"] == "human_review"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_cli_learn_algorithms_and_plot(tmp_path, algorithm):
    png = tmp_path / "c.png"
    r = runner.invoke(app, ["learn", "catalog:access-review", "--algorithm", algorithm, "--episodes", "500",
                            "--plot", str(png)])
    assert r.exit_code == 0, r.output
    assert "max |Q - Q*|" in r.stdout
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--epsilon", "1.5"], 2, "--epsilon"),
        (["--epsilon", "-0.1"], 2, "--epsilon"),
        (["--episodes", "0"], 2, "--episodes"),
        (["--algorithm", "magic"], 2, "--algorithm"),
        (["--never-explore", "nowhere:auto_approve"], 1, "nowhere"),
        (["--never-explore", "new_request:teleport"], 1, "teleport"),
        (["--never-explore", "justastate"], 2, "STATE:ACTION"),
        (["--step-size", "2"], 2, "step size"),
    ],
)
def test_cli_learn_bad_input(args, code, needle):
    r = runner.invoke(app, ["learn", "catalog:access-review-abandonment", "--episodes", "10", *args])
    assert r.exit_code == code, r.output
    assert needle in one_error_line(r, code=None)


def test_fast_engine_respects_a_buffered_half_and_other_bit_generators():
    mdp = access_review_abandonment()
    kw = dict(episodes=3000, epsilon=0.4, step_size="visits")
    # a generator that already holds half of a 64-bit output for its next 32-bit draw
    a_rng, b_rng = np.random.default_rng(8), np.random.default_rng(8)
    a_rng.integers(0, 3)
    b_rng.integers(0, 3)
    assert a_rng.bit_generator.state["has_uint32"] == 1
    a = learn(mdp, rng=a_rng, **kw)
    b = learn(mdp, rng=b_rng, engine="fast", **kw)
    np.testing.assert_array_equal(a.q, b.q)
    assert a_rng.bit_generator.state == b_rng.bit_generator.state
    # MT19937 is not PCG64: the fast engine falls back to the reference loop, same numbers
    c = learn(mdp, rng=np.random.Generator(np.random.MT19937(8)), **kw)
    d = learn(mdp, rng=np.random.Generator(np.random.MT19937(8)), engine="fast", **kw)
    np.testing.assert_array_equal(c.q, d.q)


def test_cli_epsilon_schedule_and_bad_plot_name(tmp_path):
    r = runner.invoke(app, ["learn", "catalog:access-review-abandonment", "--episodes", "4000", "--json",
                            "--epsilon", "1.0", "--epsilon-schedule", "exponential", "--epsilon-end", "0.01"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["policy"]["new_request"] == "human_review"
    r = runner.invoke(app, ["learn", "catalog:access-review", "--episodes", "10", "--epsilon-end", "3"])
    assert r.exit_code == 2 and "--epsilon-end" in one_error_line(r, code=None)
    r = runner.invoke(app, ["learn", "catalog:access-review", "--episodes", "10", "--plot", str(tmp_path / "c.txt")])
    assert r.exit_code == 2 and ".png" in one_error_line(r, code=None)


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 6), st.integers(1, 3), st.integers(0, 2**31), st.sampled_from(ALGORITHMS),
       st.floats(0.0, 1.0))
def test_engines_agree_on_random_models(n_states, n_actions, seed, algorithm, epsilon):
    # Random dense models (every state continuing, so episodes end by truncation).
    g = np.random.default_rng(seed)
    P = g.dirichlet(np.ones(n_states), size=(n_actions, n_states))
    R = g.normal(size=(n_states, n_actions)).round(2)
    mdp = MDP.from_arrays(P, R, 0.9)
    kw = dict(episodes=30, algorithm=algorithm, epsilon=epsilon, max_steps=25, start=int(g.integers(n_states)))
    a = learn(mdp, rng=np.random.default_rng(seed), **kw)
    b = learn(mdp, rng=np.random.default_rng(seed), engine="fast", **kw)
    np.testing.assert_array_equal(a.q, b.q)
    assert a.truncated == b.truncated == 30


@pytest.mark.parametrize("seed", range(4))
def test_engines_agree_with_a_start_distribution(seed):
    """The fast engine draws the start by binary search over the running totals; the
    reference scans them: same states, same stream (zeros in the distribution included)."""
    g = np.random.default_rng(seed)
    n_states, n_actions = 40, 3
    P = g.dirichlet(np.ones(n_states), size=(n_actions, n_states))
    R = g.normal(size=(n_states, n_actions)).round(2)
    mdp = MDP.from_arrays(P, R, 0.9)
    start = g.random(n_states) * (g.random(n_states) < 0.6)
    start /= start.sum()
    kw = dict(episodes=200, epsilon=0.2, max_steps=5, start=start)
    a = learn(mdp, rng=np.random.default_rng(seed), **kw)
    b = learn(mdp, rng=np.random.default_rng(seed), engine="fast", **kw)
    np.testing.assert_array_equal(a.q, b.q)
    np.testing.assert_array_equal(a.visits, b.visits)
    np.testing.assert_array_equal(a.episode_returns, b.episode_returns)


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_greedy_policy_matches_the_loop(seed):
    from accessrl.catalog.workflows import access_review_workflow
    from accessrl.learning.tabular import greedy_allowed_policy, greedy_allowed_policy_loop

    g = np.random.default_rng(seed)
    mdp = access_review_workflow(max_days=3, max_reminders=1, queue_capacity=2, max_escalation=1)
    q = g.integers(-3, 3, size=mdp.n_pairs).astype(float)  # many exact ties: the first must win
    allowed = g.random(mdp.n_pairs) < (0.3 if seed == 0 else 0.9)
    from accessrl.learning.fast import greedy_policy_compiled

    fast = greedy_allowed_policy(mdp, q, allowed)
    assert np.array_equal(fast, greedy_allowed_policy_loop(mdp, q, allowed))
    assert np.array_equal(greedy_policy_compiled(mdp, q, allowed), fast)
    q[g.integers(mdp.n_pairs, size=5)] = np.nan  # NaN: the loop's rule, by the loop
    assert np.array_equal(greedy_allowed_policy(mdp, q, allowed), greedy_allowed_policy_loop(mdp, q, allowed))
    assert np.array_equal(greedy_policy_compiled(mdp, q, allowed), greedy_allowed_policy_loop(mdp, q, allowed))
