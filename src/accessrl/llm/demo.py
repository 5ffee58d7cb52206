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

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from accessrl.errors import ParameterError
from accessrl.llm.optimise import RLConfig, RLResult, StepLog, evaluate, rl_train
from accessrl.llm.policy import TokenPolicy, demonstrations, frozen_copy, supervised_fine_tune
from accessrl.llm.reward_model import RewardModelFit, train_reward_model
from accessrl.llm.task import comparisons

DEFAULT_BETAS = (0.0, 0.05, 0.2)


@dataclass(frozen=True)
class DemoConfig:
    """Budgets of the demo; the defaults run in well under a minute on one CPU thread."""

    rl: RLConfig = field(default_factory=RLConfig)
    """RL settings (``rl.beta`` is replaced by each value of ``betas``)."""
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


def _gen(seed: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1000 + stream)


def run_demo(config: DemoConfig, seed: int) -> DemoResult:
    """Run SFT, reward modelling and the beta sweep, all driven by ``seed``."""
    if not config.betas:
        raise ParameterError("betas: expected at least one KL coefficient")
    for b in config.betas:
        replace(config.rl, beta=b).resolved()
    rl = config.rl.resolved()
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
    return DemoResult(seed=seed, reference=ref_eval, reward_model=fit, runs=runs, n_params=sft.n_params())


__all__ = ["DEFAULT_BETAS", "DemoConfig", "DemoResult", "run_demo"]
