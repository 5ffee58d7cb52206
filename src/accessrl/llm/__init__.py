r"""LLM post-training in the same vocabulary, small enough for a CPU (layer 1, extra ``[llm]``).

The lesson ends with REINFORCE on one decision; here the same ideas run on a tiny
language model whose prompts are access requests and whose responses are a routing
decision plus a justification.  Each piece and its counterpart:

================================  ==========================================================
accessrl.llm                      counterpart
================================  ==========================================================
:mod:`~accessrl.llm.task`         token-level MDP: state = prompt + prefix, action = next
                                  token, reward at the end (InstructGPT §3.5); a hidden
                                  "true" reward plays the human labeller
:mod:`~accessrl.llm.policy`       the policy and the SFT reference (InstructGPT step 1)
:mod:`~accessrl.llm.reward_model` Bradley–Terry reward model from K-wise rankings expanded
                                  to pairs, :math:`-\log\sigma(r_w - r_l)` (InstructGPT eq. 1)
:mod:`~accessrl.llm.kl`           KL estimators k1, k2, k3 (Schulman 2020; GRPO eq. 4)
:mod:`~accessrl.llm.optimise`     RLOO (Ahmadian et al. 2024), GRPO (Shao et al. 2024),
                                  PPO-clip with a KL penalty (InstructGPT eq. 2)
:mod:`~accessrl.llm.demo`         the beta sweep that shows reward over-optimisation
                                  (Gao, Schulman & Hilton 2023), with sample responses
:mod:`~accessrl.llm.config`       the algorithms' settings in TRL's vocabulary
                                  (``RLOOConfig``, ``GRPOConfig``, ``PPOConfig``)
:mod:`~accessrl.llm.hf`           the task in Hugging Face's terms: a word-level tokenizer and a
                                  2-layer GPT-2 built locally (extra ``[trl]``)
:mod:`~accessrl.llm.trl_engine`   the demo through TRL's ``SFTTrainer``, ``RLOOTrainer`` and
                                  ``GRPOTrainer`` (``accessrl llm demo --engine trl``)
================================  ==========================================================

:func:`~accessrl.llm.optimise.policy_loss` is the loss both engines minimise, a pure function:
``tests/llm/test_trl_equivalence.py`` checks it, value and gradient, against TRL's own
``compute_loss`` on one fixed batch.

Randomness comes from explicit ``numpy.random.Generator`` (data) and
``torch.Generator`` (initialisation, sampling) arguments, or a ``seed``; nothing here
seeds or reads the global generators.  For speed and bit-for-bit repeatability call
``torch.set_num_threads(1)`` in the program that uses this package (the CLI does).
"""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:  # the [llm] extra
    from accessrl._optional import dependency_error

    raise dependency_error("torch", "llm", "accessrl.llm", exc, package="PyTorch (the CPU build is enough)") from exc

from accessrl.llm.config import GRPOConfig, PPOConfig, RLOOConfig
from accessrl.llm.demo import DEFAULT_BETAS, DemoConfig, DemoResult, run_demo, sample_lines
from accessrl.llm.kl import KL_ESTIMATORS, entropy, exact_kl, kl_estimate
from accessrl.llm.optimise import (
    ALGORITHMS,
    RLConfig,
    RLResult,
    StepLog,
    evaluate,
    group_normalised_advantages,
    leave_one_out_advantages,
    policy_loss,
    rl_train,
)
from accessrl.llm.policy import TokenPolicy, sample, supervised_fine_tune
from accessrl.llm.reward_model import RewardModel, RewardModelFit, bradley_terry_loss, train_reward_model
from accessrl.llm.task import PROMPTS, Prompt, TokenMDP, as_mdp, comparisons, ranking_pairs, true_reward

__all__ = [
    "ALGORITHMS",
    "DEFAULT_BETAS",
    "KL_ESTIMATORS",
    "PROMPTS",
    "DemoConfig",
    "DemoResult",
    "GRPOConfig",
    "PPOConfig",
    "Prompt",
    "RLOOConfig",
    "RLConfig",
    "RLResult",
    "RewardModel",
    "RewardModelFit",
    "StepLog",
    "TokenMDP",
    "TokenPolicy",
    "as_mdp",
    "bradley_terry_loss",
    "comparisons",
    "entropy",
    "evaluate",
    "exact_kl",
    "group_normalised_advantages",
    "kl_estimate",
    "leave_one_out_advantages",
    "policy_loss",
    "ranking_pairs",
    "rl_train",
    "run_demo",
    "sample",
    "sample_lines",
    "supervised_fine_tune",
    "train_reward_model",
    "true_reward",
]
