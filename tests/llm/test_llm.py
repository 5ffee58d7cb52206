"""LLM post-training in miniature: task, reward model, KL estimators, RLOO/GRPO/PPO, the beta sweep."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason='accessrl.llm needs PyTorch: pip install "accessrl[llm]"')

from typer.testing import CliRunner  # noqa: E402

from accessrl.cli import app  # noqa: E402
from accessrl.errors import ParameterError  # noqa: E402
from accessrl.llm import (  # noqa: E402
    PROMPTS,
    DemoConfig,
    RLConfig,
    TokenMDP,
    TokenPolicy,
    bradley_terry_loss,
    evaluate,
    exact_kl,
    group_normalised_advantages,
    kl_estimate,
    leave_one_out_advantages,
    ranking_pairs,
    rl_train,
    run_demo,
    sample,
    true_reward,
)
from accessrl.llm.optimise import gae  # noqa: E402
from accessrl.llm.policy import demonstrations, frozen_copy, sequence_logits, supervised_fine_tune  # noqa: E402
from accessrl.llm.reward_model import train_reward_model  # noqa: E402
from accessrl.llm.task import TOKEN, Prompt, comparisons, encode  # noqa: E402

SMALL = DemoConfig(rl=RLConfig(steps=50, prompts_per_step=8), betas=(0.0, 0.2), n_demonstrations=600,
                   sft_steps=100, n_rankings=200, n_test_rankings=50, rm_steps=150)
"""A small budget for the tests (the CLI demo uses DemoConfig())."""


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def pipeline():
    rng = np.random.default_rng(0)
    prompts, tokens, mask = demonstrations(1000, rng, 8)
    sft = TokenPolicy(torch.Generator().manual_seed(1))
    supervised_fine_tune(sft, prompts, tokens, mask, torch.Generator().manual_seed(2), steps=150)
    ref = frozen_copy(sft)
    fit = train_reward_model(comparisons(300, rng), comparisons(150, rng), torch.Generator().manual_seed(3),
                             max_len=8, steps=200)
    fit.model.normalise(prompts, tokens, mask)
    return ref, fit


def test_true_reward_known_cases():
    p7 = Prompt("high", "weak", "P-7")  # P-7 needs review unless evidence is strong
    assert p7.correct_decision() == "human_review"
    assert true_reward(p7, encode(["human_review", "weak-evidence"])) == 2.5
    assert true_reward(p7, encode(["auto_approve"])) == -3.0  # approving what must be reviewed
    assert true_reward(p7, encode(["because"])) == -2.0  # no routing decision
    assert true_reward(p7, encode(["request_evidence", "strong-evidence"])) == -1.5
    # Repetition and verbosity cost what a bag of words cannot see:
    assert true_reward(p7, encode(["human_review"] + ["weak-evidence"] * 7)) == pytest.approx(2.5 - 6 * 0.6 - 3 * 0.3 - 0.5)
    assert len(PROMPTS) == 12


def test_token_mdp_is_explicit():
    m = TokenMDP(PROMPTS[0], max_len=3, beta=0.5)
    s = m.initial_state()
    assert s == PROMPTS[0].tokens() and not m.is_terminal(s)
    s1 = m.step(s, TOKEN["auto_approve"])
    assert m.reward(s, TOKEN["auto_approve"], kl_term=0.2) == pytest.approx(-0.1)  # -beta * kl, not final
    r_end = m.reward(s1, TOKEN["<eos>"], kl_term=0.0)
    assert r_end == true_reward(PROMPTS[0], (TOKEN["auto_approve"], TOKEN["<eos>"]), 3)
    with pytest.raises(ParameterError):
        m.step(m.step(s1, TOKEN["<eos>"]), TOKEN["because"])


def test_token_mdp_compiles_and_planning_finds_the_best_response():
    # One answer, two routes: value iteration on the token MDP = brute force over every response.
    import itertools

    from accessrl.llm.task import RESPONSE_TOKENS, as_mdp
    from accessrl.model.policies import policy_names
    from accessrl.planning.solver import solve

    prompt = Prompt("high", "weak", "P-7")
    m = as_mdp(prompt, max_len=4)
    eos = TOKEN["<eos>"]
    best = max(true_reward(prompt, seq, 4) for n in range(1, 5) for seq in itertools.product(RESPONSE_TOKENS, repeat=n)
               if eos not in seq[:-1] and (seq[-1] == eos or n == 4))
    res = solve(m)
    assert res.values[m.start] == pytest.approx(best) == 3.0  # the route (+2) and two true facts (+0.5 each)
    assert policy_names(m, res.policy)["<start>"] == "human_review"


def test_policy_has_tens_of_thousands_of_parameters():
    assert 10_000 <= TokenPolicy(torch.Generator().manual_seed(0)).n_params() < 100_000


def test_construction_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    TokenPolicy(torch.Generator().manual_seed(0))
    assert torch.equal(state, torch.get_rng_state())


def test_k_wise_rankings_expand_to_all_pairs():
    assert len(ranking_pairs(4)) == math.comb(4, 2) == 6
    data = comparisons(10, np.random.default_rng(0), k=4)
    assert len(data.prompts) == 60
    with pytest.raises(ParameterError):
        ranking_pairs(1)


def test_bradley_terry_loss_is_the_formula():
    a, b = torch.tensor([1.0, -0.5]), torch.tensor([0.0, 0.5])
    expected = np.mean(np.log1p(np.exp(-(np.array([1.0, -0.5]) - np.array([0.0, 0.5])))))
    assert float(bradley_terry_loss(a, b)) == pytest.approx(expected, rel=1e-6)


def test_reward_model_beats_chance_on_held_out_pairs(pipeline):
    _, fit = pipeline
    print(f"\nheld-out agreement: {fit.label_agreement:.1%} with labels, {fit.true_agreement:.1%} with the true reward")
    assert fit.label_agreement > 0.7
    assert fit.true_agreement > 0.75


def test_k3_is_non_negative_and_unbiased_on_sampled_tokens(pipeline):
    ref, _ = pipeline
    pi = TokenPolicy(torch.Generator().manual_seed(9))  # an untrained policy, far from the reference
    prompt = PROMPTS[5]
    pt = torch.tensor([prompt.tokens()])
    logits_pi = pi(pt)[0][0, -1].detach()
    logits_ref = ref(pt)[0][0, -1]
    lp, lq = torch.log_softmax(logits_pi, -1), torch.log_softmax(logits_ref, -1)
    exact = float(exact_kl(logits_pi, logits_ref))
    g = torch.Generator().manual_seed(4)
    tokens = torch.multinomial(lp.exp(), 40_000, replacement=True, generator=g)
    for est in ("k1", "k3"):
        k = kl_estimate(lp[tokens], lq[tokens], est).double().numpy()
        se = k.std(ddof=1) / np.sqrt(k.size)
        assert abs(k.mean() - exact) < 4 * se, (est, k.mean(), exact, se)
    k3 = kl_estimate(lp[tokens], lq[tokens], "k3")
    k2 = kl_estimate(lp[tokens], lq[tokens], "k2")
    assert float(k3.min()) >= 0.0 and float(k2.min()) >= 0.0
    assert float(kl_estimate(lp[tokens], lq[tokens], "k1").min()) < 0.0  # k1 can be negative; k3 cannot


def test_k3_sequence_kl_matches_exact_per_state_kl(pipeline):
    # Summed over a sampled response, k3 and the exact per-state KL estimate the same sequence KL.
    ref, _ = pipeline
    pi = TokenPolicy(torch.Generator().manual_seed(11))
    roll = sample(pi, [PROMPTS[i % 12] for i in range(3000)], 8, torch.Generator().manual_seed(5))
    with torch.no_grad():
        lg, _ = sequence_logits(pi, roll.prompt_tokens, roll.tokens)
        lr, _ = sequence_logits(ref, roll.prompt_tokens, roll.tokens)
    lp = torch.log_softmax(lg, -1).gather(-1, roll.tokens[..., None])[..., 0]
    lq = torch.log_softmax(lr, -1).gather(-1, roll.tokens[..., None])[..., 0]
    k3 = (kl_estimate(lp, lq, "k3") * roll.mask).sum(1).double().numpy()
    ex = (exact_kl(lg, lr) * roll.mask).sum(1).double().numpy()
    d = k3 - ex
    assert abs(d.mean()) < 4 * d.std(ddof=1) / np.sqrt(d.size)


def test_advantage_formulas():
    r = torch.tensor([[1.0, 2.0, 6.0, 3.0]])
    loo = leave_one_out_advantages(r)
    assert torch.allclose(loo, torch.tensor([[1 - 11 / 3, 2 - 10 / 3, 6 - 2.0, 3 - 3.0]]))
    # RLOO's baseline is (k/(k-1)) (R - mean): the same direction as mean-centering.
    assert torch.allclose(loo, (r - r.mean()) * 4 / 3)
    g = group_normalised_advantages(r)
    assert float(g.mean()) == pytest.approx(0.0, abs=1e-6) and float(g.std()) == pytest.approx(1.0, abs=1e-4)
    rew = torch.tensor([[0.0, 0.0, 1.0], [0.0, 2.0, 0.0]])
    val = torch.tensor([[0.5, 0.2, 0.1], [1.0, 0.3, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    # lambda = 1: GAE is the return-to-go minus the value.
    expected = torch.tensor([[1 - 0.5, 1 - 0.2, 1 - 0.1], [2 - 1.0, 2 - 0.3, 0.0]])
    assert torch.allclose(gae(rew, val, mask, 1.0), expected)


@pytest.mark.parametrize("algorithm", ["rloo", "grpo", "ppo"])
def test_each_algorithm_raises_the_proxy_reward(pipeline, algorithm):
    ref, fit = pipeline
    before = evaluate(ref, ref, fit.model, torch.Generator().manual_seed(7))
    res = rl_train(ref, ref, fit.model, RLConfig(algorithm=algorithm, beta=0.05, steps=40, prompts_per_step=8),
                   torch.Generator().manual_seed(8))
    print(f"\n{algorithm}: proxy {before.proxy_reward:.2f} -> {res.final.proxy_reward:.2f}, "
          f"true {before.true_reward:.2f} -> {res.final.true_reward:.2f}, clip fraction "
          f"{np.mean([h.clip_fraction for h in res.history]):.3f}")
    assert res.final.proxy_reward > before.proxy_reward + 0.5
    assert len(res.history) == 40 and all(np.isfinite(h.kl) and h.kl >= 0 for h in res.history)
    if algorithm == "rloo":
        assert all(h.clip_fraction == 0.0 for h in res.history)  # one on-policy step per batch


def test_demo_is_deterministic_under_a_seed():
    cfg = DemoConfig(rl=RLConfig(steps=5, prompts_per_step=4), betas=(0.1,), n_demonstrations=200, sft_steps=20,
                     n_rankings=50, n_test_rankings=20, rm_steps=20)
    a, b = run_demo(cfg, 3), run_demo(cfg, 3)
    assert a.runs[0].history == b.runs[0].history and a.runs[0].final == b.runs[0].final
    assert a.reward_model.true_agreement == b.reward_model.true_agreement


def test_demo_default_shows_over_optimisation_and_its_control():
    # The CLI's defaults: DemoConfig(), rloo, betas (0, 0.05, 0.2), seed 0.
    res = run_demo(DemoConfig(), 0)
    ref, zero, high = res.reference, res.runs[0], res.runs[-1]
    assert zero.config.beta == 0.0 and high.config.beta > 0
    print(f"\nreference proxy {ref.proxy_reward:.2f} true {ref.true_reward:.2f}; beta=0 proxy {zero.final.proxy_reward:.2f} "
          f"true {zero.final.true_reward:.2f} KL {zero.final.kl:.1f}; beta={high.config.beta} proxy "
          f"{high.final.proxy_reward:.2f} true {high.final.true_reward:.2f} KL {high.final.kl:.1f}")
    assert zero.final.proxy_reward > ref.proxy_reward + 2  # proxy climbs ...
    assert zero.final.true_reward < ref.true_reward  # ... while the true reward falls below the start
    peak = max(h.true_reward for h in zero.history)
    assert zero.final.true_reward < peak - 1.0
    assert zero.final.repeats > 1.0 and zero.final.length > ref.length + 2  # repetition and verbosity
    assert high.final.true_reward > zero.final.true_reward + 1.0  # the KL penalty keeps it up
    assert high.final.true_reward >= ref.true_reward
    assert high.final.kl < zero.final.kl


def test_beta_zero_loses_on_most_seeds():
    seeds = range(1, 6)
    wins = []
    for seed in seeds:
        res = run_demo(SMALL, seed)
        zero, pos = res.runs
        wins.append(zero.final.true_reward < pos.final.true_reward)
    print(f"\nbeta = 0 ends with lower true reward than beta = 0.2 on {sum(wins)} of {len(wins)} seeds")
    assert sum(wins) >= 4


@pytest.mark.parametrize("args, needle", [
    (["--beta", "-0.1"], "beta"),
    (["--algorithm", "dpo"], "algorithm"),
    (["--max-len", "0"], "sequence length"),
    (["--group-size", "0"], "group_size"),
    (["--algorithm", "grpo", "--group-size", "1"], "group_size"),
    (["--kl-estimator", "k4"], "kl_estimator"),
])
def test_demo_bad_input_is_one_line(args, needle):
    res = CliRunner().invoke(app, ["llm", "demo", *args])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in res.output, res.output


def test_demo_cli_prints_the_table_and_plots(tmp_path, monkeypatch):
    import accessrl.llm

    # Small budgets for SFT and the reward model (the CLI only sets the RL options).
    monkeypatch.setattr(accessrl.llm, "DemoConfig", lambda rl, betas: DemoConfig(
        rl=rl, betas=betas, n_demonstrations=200, sft_steps=20, n_rankings=50, n_test_rankings=20, rm_steps=20))
    out = tmp_path / "kl.png"
    res = CliRunner().invoke(app, ["llm", "demo", "--steps", "4", "--beta", "0", "--beta", "0.1",
                                   "--algorithm", "ppo", "--plot", str(out)])
    assert res.exit_code == 0, res.output
    assert "reward model" in res.output and "beta=0.1" in res.output and "final evaluation" in res.output
    assert out.exists() and out.stat().st_size > 1000


TINY = DemoConfig(rl=RLConfig(steps=5, prompts_per_step=4), betas=(0.0, 0.2), n_demonstrations=200, sft_steps=20,
                  n_rankings=50, n_test_rankings=20, rm_steps=20)
"""The smallest budget that runs every stage (for checks of the demo's plumbing, not its findings)."""


@pytest.mark.parametrize("algorithm", ["rloo", "grpo", "ppo"])
def test_trl_configs_are_the_engine_defaults(algorithm):
    from accessrl.llm.config import TRL_CONFIGS

    assert TRL_CONFIGS[algorithm]().to_rl_config() == RLConfig(algorithm=algorithm).resolved()


def test_trl_vocabulary_maps_field_by_field():
    from accessrl.llm import GRPOConfig, PPOConfig, RLOOConfig

    r = RLOOConfig(beta=0.3, num_generations=6, learning_rate=1e-3, max_steps=7, max_completion_length=5).to_rl_config()
    assert (r.algorithm, r.beta, r.group_size, r.lr, r.steps, r.max_len, r.epochs, r.kl_in) == \
        ("rloo", 0.3, 6, 1e-3, 7, 5, 1, "reward")
    g = GRPOConfig(num_iterations=3, epsilon=0.1, kl_estimator="k2").to_rl_config()
    assert (g.epochs, g.clip, g.kl_estimator, g.kl_in) == (3, 0.1, "k2", "loss")
    p = PPOConfig(kl_coef=0.05, num_ppo_epochs=2, cliprange=0.3, vf_coef=0.25, lam=0.9, response_length=6).to_rl_config()
    assert (p.beta, p.epochs, p.clip, p.value_coef, p.gae_lambda, p.max_len) == (0.05, 2, 0.3, 0.25, 0.9, 6)
    with pytest.raises(ParameterError, match="group_size"):
        RLOOConfig(num_generations=1).to_rl_config()


def test_demo_takes_a_trl_config_and_runs_the_same():
    from dataclasses import replace

    from accessrl.llm import RLOOConfig

    a = run_demo(TINY, 3)
    b = run_demo(replace(TINY, rl=RLOOConfig(max_steps=5, prompts_per_step=4)), 3)
    assert [r.history for r in a.runs] == [r.history for r in b.runs]


def test_demo_samples_are_decoded_and_scored():
    from accessrl.llm.demo import SAMPLE_PROMPTS, SAMPLES_PER_PROMPT, prompt_text, sample_lines

    res = run_demo(TINY, 1)
    assert [s.label for s in res.samples] == ["reference", "beta=0", "beta=0.2"]
    for ps in res.samples:
        assert len(ps.responses) == len(SAMPLE_PROMPTS) * SAMPLES_PER_PROMPT
        for i, r in enumerate(ps.responses):
            prompt = SAMPLE_PROMPTS[i // SAMPLES_PER_PROMPT]
            assert r.prompt == prompt_text(prompt)
            words = [] if r.response == "(empty)" else r.response.split()
            # the true reward recomputed from the printed words (encode is decode's inverse)
            assert r.true_reward == pytest.approx(true_reward(prompt, encode(words)))
    lines = sample_lines(res)
    assert lines[0] == f"prompt: {prompt_text(SAMPLE_PROMPTS[0])}" and any(line.startswith("  beta=0 ") for line in lines)
    # the samples come after every other draw: the runs are those of a run without them
    assert res.runs[0].final == run_demo(TINY, 1).runs[0].final


def test_demo_table_formats_the_final_evaluation():
    from accessrl.llm.demo import demo_table

    res = run_demo(TINY, 2)
    rows = demo_table(res).splitlines()
    assert rows[0].startswith("| policy | proxy reward") and len(rows) == 2 + 1 + len(res.runs)
    z = res.runs[0].final
    assert rows[3] == (f"| beta = 0 | {z.proxy_reward:.2f} | {z.true_reward:.2f} | {z.kl:.1f} | {z.length:.1f} | "
                       f"{z.repeats:.2f} |")


def test_demo_cli_prints_sample_responses_and_json_has_them(monkeypatch):
    import json

    import accessrl.llm

    monkeypatch.setattr(accessrl.llm, "DemoConfig", lambda rl, betas: DemoConfig(
        rl=rl, betas=betas, n_demonstrations=200, sft_steps=20, n_rankings=50, n_test_rankings=20, rm_steps=20))
    res = CliRunner().invoke(app, ["llm", "demo", "--steps", "3", "--beta", "0", "--beta", "0.2"])
    assert res.exit_code == 0, res.output
    assert "sample responses" in res.output and "prompt: tier:high evidence:weak policy:P-7" in res.output
    assert "no clip column" in res.output  # RLOO: one pass per batch
    res = CliRunner().invoke(app, ["llm", "demo", "--steps", "3", "--beta", "0", "--json"])
    data = json.loads(res.stdout)
    assert [s["policy"] for s in data["samples"]] == ["reference", "beta=0"]
    assert set(data["samples"][0]["responses"][0]) == {"prompt", "response", "proxy_reward", "true_reward"}


def test_policy_loss_token_and_sequence_ratios_agree_at_ratio_one():
    """One pass per batch: pi_old = pi, both ratios are 1, and the per-token (engine) and per-sequence
    (TRL's RLOO) losses have one gradient, REINFORCE's; their values are -mean(A |y|) and -mean(A)."""
    from accessrl.llm.optimise import policy_loss

    g = torch.Generator().manual_seed(0)
    theta = torch.randn(4, 5, generator=g, requires_grad=True)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0]], dtype=torch.float32)
    adv = torch.tensor([1.0, -2.0, 0.5, 0.5])[:, None].expand(4, 5)
    grads, values = [], []
    for ratio in ("token", "sequence"):
        logp = torch.nn.functional.logsigmoid(theta)
        loss = policy_loss(logp, logp.detach(), logp.detach(), adv, mask, aggregation="sequence-sum", ratio=ratio)
        (grad,) = torch.autograd.grad(loss, theta)
        grads.append(grad)
        values.append(float(loss))
    torch.testing.assert_close(grads[0], grads[1])
    reinforce = -(adv[:, 0] * (torch.nn.functional.logsigmoid(theta) * mask).sum(dim=1)).mean()
    torch.testing.assert_close(grads[0], torch.autograd.grad(reinforce, theta)[0])
    assert values[0] == pytest.approx(-(adv[:, 0] * mask.sum(dim=1)).mean().item())
    assert values[1] == pytest.approx(-adv[:, 0].mean().item())
    with pytest.raises(ParameterError):
        policy_loss(theta, theta, theta, adv, mask, aggregation="sequence-sum", ratio="word")
    with pytest.raises(ParameterError):
        policy_loss(theta, theta, theta, adv, mask, aggregation="median")
