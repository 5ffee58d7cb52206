r"""The whole pipeline in one call: SFT reference, reward model, RL at several betas.

1. **SFT** (InstructGPT step 1): fit :class:`~accessrl.llm.policy.TokenPolicy` to
   demonstrations; the result is the reference :math:`\pi_{ref}` and RL's start.
2. **Reward model** (step 2): Bradley–Terry on K-wise rankings of candidate responses
   labelled by the hidden true reward plus noise; held-out agreement is reported.
3. **RL** (step 3): RLOO, GRPO or PPO against the learned reward, once per
   :math:`\beta`, all from the same reference, reward model and seed.

The point is the sweep (Gao, Schulman & Hilton 2023, "Scaling laws for reward model
overoptimization"): with :math:`\beta = 0` the proxy reward keeps climbing while the
true reward falls — the policy repeats the words the reward model pays for, runs long,
and may drop the right route; a KL penalty keeps the policy near the reference and the
true reward up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from accessrl.errors import ParameterError
from accessrl.llm.config import GRPOConfig, PPOConfig, RLOOConfig, as_rl_config
from accessrl.llm.optimise import RLConfig, RLResult, StepLog, evaluate, rl_train
from accessrl.llm.policy import TokenPolicy, demonstrations, frozen_copy, sample, supervised_fine_tune
from accessrl.llm.reward_model import RewardModel, RewardModelFit, prompt_matrix, train_reward_model
from accessrl.llm.task import Prompt, comparisons, decode, true_reward

DEFAULT_BETAS = (0.0, 0.05, 0.2)

SAMPLE_PROMPTS = (Prompt("high", "weak", "P-7"), Prompt("low", "none", "standard"), Prompt("high", "strong", "standard"))
"""The requests whose responses the demo shows: one for each route the hidden rule wants
(human_review, auto_approve, auto_approve on strong evidence)."""

SAMPLES_PER_PROMPT = 2
"""Responses shown per prompt and policy."""


@dataclass(frozen=True)
class SampleResponse:
    """One sampled response, as text, with its learned (proxy) and true reward."""

    prompt: str
    response: str
    proxy_reward: float
    true_reward: float


@dataclass(frozen=True)
class PolicySamples:
    """The responses of one policy (``"reference"``, ``"beta=0"``, ...) to :data:`SAMPLE_PROMPTS`."""

    label: str
    responses: tuple[SampleResponse, ...]


def prompt_text(prompt: Prompt) -> str:
    """``tier:high evidence:weak policy:P-7``."""
    return f"tier:{prompt.tier} evidence:{prompt.evidence} policy:{prompt.policy}"


def sample_responses(policy: TokenPolicy, rm: RewardModel, generator: torch.Generator, *, label: str,
                     max_len: int, prompts: tuple[Prompt, ...] = SAMPLE_PROMPTS,
                     per_prompt: int = SAMPLES_PER_PROMPT) -> PolicySamples:
    """``per_prompt`` sampled responses of ``policy`` to each of ``prompts``, decoded to words."""
    batch = [p for p in prompts for _ in range(per_prompt)]
    roll = sample(policy, batch, max_len, generator)
    with torch.no_grad():
        proxy = rm(prompt_matrix(batch), roll.tokens, roll.mask)
    out = []
    for i, p in enumerate(batch):
        toks = [int(t) for t in roll.tokens[i]]
        out.append(SampleResponse(prompt_text(p), " ".join(decode(toks)) or "(empty)", float(proxy[i]),
                                  true_reward(p, toks, max_len)))
    return PolicySamples(label, tuple(out))


@dataclass(frozen=True)
class DemoConfig:
    """Budgets of the demo; the defaults run in well under a minute on one CPU thread."""

    rl: RLConfig | RLOOConfig | GRPOConfig | PPOConfig = field(default_factory=RLConfig)
    """RL settings, in the engine's terms or TRL's (the KL coefficient is replaced by each
    value of ``betas``)."""
    betas: tuple[float, ...] = DEFAULT_BETAS
    """KL coefficients to sweep."""
    n_demonstrations: int = 2000
    """Demonstrations for SFT."""
    sft_steps: int = 300
    """SFT optimiser steps."""
    n_rankings: int = 600
    """Labelled rankings for the reward model (each K = 4 responses -> 6 pairs)."""
    n_test_rankings: int = 200
    """Held-out rankings for agreement."""
    label_noise: float = 0.5
    """Standard deviation of the labeller's noise on the true reward."""
    rm_steps: int = 300
    """Reward-model optimiser steps."""


@dataclass(frozen=True, eq=False)
class DemoResult:
    """Reference evaluation, reward-model fit and one RL run per beta."""

    seed: int
    reference: StepLog
    reward_model: RewardModelFit
    runs: tuple[RLResult, ...]
    n_params: int
    samples: tuple[PolicySamples, ...] = ()
    """Responses of the reference and of each run's policy to the same prompts, drawn with
    the same random numbers (a fresh generator of one seed per policy)."""


def _gen(seed: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1000 + stream)


def run_demo(config: DemoConfig, seed: int) -> DemoResult:
    """Run SFT, reward modelling and the beta sweep, all driven by ``seed``."""
    if not config.betas:
        raise ParameterError("betas: expected at least one KL coefficient")
    rl = as_rl_config(config.rl)
    for b in config.betas:
        replace(rl, beta=b).resolved()
    rng = np.random.default_rng(seed)
    prompts, tokens, mask = demonstrations(config.n_demonstrations, rng, rl.max_len)
    sft = TokenPolicy(_gen(seed, 1))
    supervised_fine_tune(sft, prompts, tokens, mask, _gen(seed, 2), steps=config.sft_steps)
    reference = frozen_copy(sft)
    train = comparisons(config.n_rankings, rng, noise=config.label_noise, max_len=rl.max_len)
    test = comparisons(config.n_test_rankings, rng, noise=config.label_noise, max_len=rl.max_len)
    fit = train_reward_model(train, test, _gen(seed, 3), max_len=rl.max_len, steps=config.rm_steps)
    fit.model.normalise(prompts, tokens, mask)
    ref_eval = evaluate(reference, reference, fit.model, _gen(seed, 4), max_len=rl.max_len, step=0)
    runs = tuple(
        rl_train(reference, reference, fit.model, replace(rl, beta=float(b)), _gen(seed, 5)) for b in config.betas
    )
    # drawn after everything else, from their own stream: the numbers above do not depend on them
    samples = (sample_responses(reference, fit.model, _gen(seed, 6), label="reference", max_len=rl.max_len),
               *(sample_responses(r.policy, fit.model, _gen(seed, 6), label=f"beta={r.config.beta:g}",
                                  max_len=rl.max_len) for r in runs))
    return DemoResult(seed=seed, reference=ref_eval, reward_model=fit, runs=runs, n_params=sft.n_params(),
                      samples=samples)


def demo_table(result: DemoResult) -> str:
    """The final evaluation as the README's Markdown table (two decimals, one decimal for KL
    and length): what ``python benchmarks/readme_llm_table.py`` writes and the tests compare."""
    rows = ["| policy | proxy reward | true reward | KL (nats) | length | repeated tokens |",
            "|---|---|---|---|---|---|"]

    def row(label: str, e: StepLog) -> str:
        kl = "0" if e.kl == 0 else f"{e.kl:.1f}"
        return (f"| {label} | {e.proxy_reward:.2f} | {e.true_reward:.2f} | {kl} | {e.length:.1f} | "
                f"{e.repeats:.2f} |")

    rows.append(row("reference (SFT)", result.reference))
    rows += [row(f"beta = {r.config.beta:g}", r.final) for r in result.runs]
    return "\n".join(rows) + "\n"


def sample_lines(result: DemoResult) -> list[str]:
    """The sample responses as text, one block per prompt (what ``accessrl llm demo`` prints)."""
    return format_samples(result.samples)


def format_samples(samples: Sequence[PolicySamples]) -> list[str]:
    """Responses of several policies to the same prompts, one block per prompt (both engines print this)."""
    lines: list[str] = []
    if not samples:
        return lines
    n = len(samples[0].responses)
    per = SAMPLES_PER_PROMPT
    for start in range(0, n, per):
        lines.append(f"prompt: {samples[0].responses[start].prompt}")
        for ps in samples:
            for r in ps.responses[start:start + per]:
                lines.append(f"  {ps.label:<10} {r.response}  (proxy {r.proxy_reward:+.2f}, true {r.true_reward:+.2f})")
    return lines


__all__ = ["DEFAULT_BETAS", "SAMPLES_PER_PROMPT", "SAMPLE_PROMPTS", "DemoConfig", "DemoResult", "PolicySamples",
           "SampleResponse", "demo_table", "format_samples", "prompt_text", "run_demo", "sample_lines", "sample_responses"]
