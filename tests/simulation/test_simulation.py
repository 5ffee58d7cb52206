"""Simulation: the one-uniform step rule, the lesson's seeded figures, statistics, and
Monte Carlo against exact values."""

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from accessrl.catalog import CATALOG
from accessrl.catalog.lesson import access_review, access_review_abandonment
from accessrl.cli import app
from accessrl.errors import ParameterError, PolicyError
from accessrl.model.policies import uniform_policy
from accessrl.model.spec import compile_spec
from accessrl.planning.exact import policy_evaluation, policy_iteration
from accessrl.simulation import cvar, sample_outcome, sample_pair, simulate, sole_outcome, step, summarize
from cli_checks import one_error_line

THREE_WAY = {
    "gamma": 0.9,
    "start": "s",
    "terminal": ["a", "b", "c"],
    "transitions": {
        "s": {
            "go": [
                {"next": "a", "p": 0.2, "reward": 1},
                {"next": "b", "p": 0.5, "reward": 2},
                {"next": "c", "p": 0.3, "reward": 3, "severe": True, "event": "lost"},
            ],
            "stay": [{"next": "a", "p": 0.0, "reward": 5}, {"next": "b", "p": 1.0, "reward": 0}],
        }
    },
}


def state_of(rng):
    return rng.bit_generator.state


def test_deterministic_step_draws_nothing():
    mdp = access_review_abandonment()
    rng = np.random.default_rng(1)
    before = state_of(rng)
    pair = mdp.pair_index("new_request", "human_review")
    assert mdp.out_next[sample_outcome(mdp, pair, rng)] == mdp.state_index("review_queue")
    assert state_of(rng) == before


def test_all_mass_on_one_outcome_draws_nothing():
    mdp = compile_spec(THREE_WAY)
    rng = np.random.default_rng(1)
    before = state_of(rng)
    k = sample_outcome(mdp, mdp.pair_index("s", "stay"), rng)
    assert mdp.state_names[mdp.out_next[k]] == "b"
    assert state_of(rng) == before
    assert sole_outcome(mdp).tolist() == [-1, 4]


def test_stochastic_step_draws_one_uniform_in_declared_order():
    mdp = compile_spec(THREE_WAY)
    pair = mdp.pair_index("s", "go")
    rng, twin = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(200):
        u = twin.random()
        k = sample_outcome(mdp, pair, rng)
        expected = 0 if u < 0.2 else (1 if u < 0.7 else 2)
        assert k == int(mdp.out_ptr[pair]) + expected
        assert state_of(rng) == state_of(twin)


def test_step_reports_transition():
    t = step(access_review(), 0, 1, np.random.default_rng(0))
    assert (t.next_state, t.reward, t.terminated) == (1, -4.0, False)


def test_sample_pair_single_support_draws_nothing():
    rng = np.random.default_rng(0)
    before = state_of(rng)
    assert sample_pair([0.0, 1.0, 0.0], 0, 3, rng) == 1
    assert state_of(rng) == before


def test_lesson_monte_carlo_figures():
    # lesson.txt, Monte Carlo listing: default_rng(7), 10,000 episodes ->
    # "request_evidence mean=30.33", "human_review mean=54.00", "abandoned evidence routes = 2537"
    mdp = access_review_abandonment()
    best = policy_iteration(mdp).policy
    rng = np.random.default_rng(7)
    ev = simulate(mdp, best, 10_000, rng=rng, first_action="request_evidence")
    hr = simulate(mdp, best, 10_000, rng=rng, first_action="human_review")
    assert f"{ev.stats.mean:5.2f}" == "30.33"
    assert f"{hr.stats.mean:5.2f}" == "54.00"
    assert ev.event_counts["abandoned"] == 2537
    assert int((ev.returns < 0).sum()) == 2537  # the lesson counts negative returns


@pytest.mark.parametrize("name", sorted(CATALOG))
@pytest.mark.parametrize("which", ["optimal", "uniform"])
def test_monte_carlo_mean_within_ci_of_exact(name, which):
    mdp = CATALOG[name]()
    pol = policy_iteration(mdp).policy if which == "optimal" else uniform_policy(mdp)
    exact = policy_evaluation(mdp, pol).values[mdp.start if mdp.start is not None else 0]
    sim = simulate(mdp, pol, 4000, rng=np.random.default_rng(2024), record=False)
    lo, hi = sim.stats.ci95
    # a deterministic route has zero spread: the interval collapses onto the exact value
    assert lo - 1e-9 <= exact <= hi + 1e-9


def test_monte_carlo_frozenlake_within_ci():
    gym = pytest.importorskip("gymnasium")
    from accessrl.envs import from_gymnasium

    mdp = from_gymnasium(gym.make("FrozenLake-v1"), gamma=0.95)
    for pol in (policy_iteration(mdp).policy, uniform_policy(mdp)):
        exact = policy_evaluation(mdp, pol).values[0]
        sim = simulate(mdp, pol, 5000, rng=np.random.default_rng(11), record=False)
        assert sim.stats.ci95[0] <= exact <= sim.stats.ci95[1]
        assert sim.stats.std > 0


def test_severe_flags_events_and_records():
    mdp = compile_spec(THREE_WAY)
    pol = np.array([mdp.action_index("go"), -1, -1, -1])
    sim = simulate(mdp, pol, 2000, rng=np.random.default_rng(5))
    assert sim.event_counts["lost"] == int(sim.severe.sum())
    assert abs(sim.stats.severe_rate - 0.3) < 0.04
    ep = sim.episodes
    assert ep is not None and ep.n_episodes == 2000
    assert ep.ptr[-1] == ep.state.size == 2000
    assert np.all(ep.action_prob == 1.0)
    assert np.allclose(ep.reward, sim.returns)


def test_severe_threshold_and_stats():
    mdp = access_review_abandonment()
    best = policy_iteration(mdp).policy
    sim = simulate(mdp, best, 1000, rng=np.random.default_rng(1), first_action="auto_approve", severe_threshold=-100)
    assert sim.stats.severe_rate == 1.0
    assert sim.stats.cvar05 == -120.0


def test_truncation_is_reported():
    spec = {"gamma": 0.5, "transitions": {"s": {"loop": {"next": "s", "reward": 1}}}}
    sim = simulate(compile_spec(spec), np.array([0]), 3, rng=np.random.default_rng(0), max_steps=4)
    assert not sim.terminated.any()
    assert sim.lengths.tolist() == [4, 4, 4]
    assert sim.returns[0] == 1 + 0.5 + 0.25 + 0.125


def test_cvar_and_summary_known_values():
    x = np.arange(1, 101, dtype=float)  # 1..100: the worst 5 are 1..5
    assert cvar(x, 0.05) == 3.0
    assert cvar(x, 0.025) == pytest.approx((1 + 2 + 0.5 * 3) / 2.5)
    s = summarize(x)
    assert s.mean == 50.5 and s.quantiles[0.5] == 50.5
    assert s.ci95[0] < 50.5 < s.ci95[1]
    assert np.isnan(s.severe_rate)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_bad_episode_counts(bad):
    with pytest.raises(ParameterError, match="^episodes: expected a positive whole number"):
        simulate(access_review(), np.array([2, 0, 3, -1]), bad, rng=np.random.default_rng(0))


def test_bad_policy():
    with pytest.raises(PolicyError):
        simulate(access_review(), np.array([3, 0, 3, -1]), 5, rng=np.random.default_rng(0))


runner = CliRunner()


def test_cli_simulate_json_reproduces_lesson():
    r = runner.invoke(app, ["simulate", "catalog:access-review-abandonment", "--episodes", "10000", "--seed", "7",
                            "--first-action", "request_evidence", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert round(out["mean"], 2) == 30.33
    assert out["event_counts"] == {"abandoned": 2537}
    assert out["exact_value"] == pytest.approx(30.75)
    assert out["ci95"][0] <= 30.75 <= out["ci95"][1]


def test_cli_simulate_table_and_plot(tmp_path):
    png = tmp_path / "h.png"
    r = runner.invoke(app, ["simulate", "catalog:access-review", "--policy", "uniform", "--episodes", "500",
                            "--plot", str(png)])
    assert r.exit_code == 0, r.output
    assert "CVaR 5%" in r.stdout and "exact value" in r.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("policy_text", "needle"),
    [("nowhere: auto_approve\n", "unknown state"), ("new_request: teleport\n", "unknown action")],
)
def test_cli_simulate_bad_policy_file(tmp_path, policy_text, needle):
    f = tmp_path / "p.yaml"
    f.write_text(policy_text)
    r = runner.invoke(app, ["simulate", "catalog:access-review", "--policy", str(f), "--episodes", "10"])
    assert r.exit_code == 1
    assert needle in one_error_line(r, code=None)


def test_cli_simulate_bad_probability(tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text("gamma: 0.9\nterminal: [done]\ntransitions:\n  s:\n    go:\n"
                 "      - {next: done, p: 1.5, reward: 1}\n      - {next: s, p: -0.5, reward: 0}\n")
    r = runner.invoke(app, ["simulate", str(f), "--episodes", "10"])
    assert r.exit_code in (1, 2)
    assert re.search(r"p|probabilit", one_error_line(r, code=None))


@pytest.mark.parametrize("n", ["0", "-5"])
def test_cli_simulate_bad_episode_count(n):
    r = runner.invoke(app, ["simulate", "catalog:access-review", "--episodes", n])
    assert r.exit_code == 2
    assert "--episodes" in one_error_line(r, code=None)
