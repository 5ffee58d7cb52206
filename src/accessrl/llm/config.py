"""The RL algorithms' settings in TRL's vocabulary (``trl.RLOOConfig``, ``trl.GRPOConfig``,
``trl.PPOConfig``): the field names a TRL user already knows, each mapped onto the one
engine setting :class:`~accessrl.llm.optimise.RLConfig` that :func:`~accessrl.llm.optimise.rl_train` runs.

=========================  ==========================  ======================================
TRL field                  here                        meaning
=========================  ==========================  ======================================
``beta`` (RLOO, GRPO)      ``beta``                    KL coefficient
``kl_coef`` (PPO)          ``kl_coef``                 KL coefficient
``num_generations``        ``num_generations``         responses sampled per prompt (the group)
``num_iterations`` (GRPO)  ``num_iterations``          passes over each batch (mu)
``num_ppo_epochs`` (PPO)   ``num_ppo_epochs``          passes over each batch
``epsilon`` (GRPO)         ``epsilon``                 ratio clip
``cliprange`` (PPO)        ``cliprange``               ratio clip
``vf_coef``, ``lam``       ``vf_coef``, ``lam``        PPO's value-loss weight, GAE lambda
``learning_rate``          ``learning_rate``           Adam step size
``max_steps``              ``max_steps``               optimisation steps
``max_completion_length``  ``max_completion_length``   most response tokens (``response_length`` in PPO)
``max_grad_norm``          ``max_grad_norm``           gradient clipping
=========================  ==========================  ======================================

``prompts_per_step`` has no TRL twin: TRL's ``per_device_train_batch_size`` counts
completions, which here is ``prompts_per_step * num_generations``.  RLOO makes one pass per
batch, so its probability ratio is 1 and its clip fraction is 0 by construction (TRL's
RLOO does the same); GRPO and PPO clip.

>>> RLOOConfig(beta=0.0).to_rl_config() == RLConfig(algorithm="rloo", beta=0.0).resolved()
True
"""

from __future__ import annotations

from dataclasses import dataclass

from accessrl.llm.optimise import RLConfig
from accessrl.llm.task import DEFAULT_MAX_LEN

_DEFAULT = RLConfig()


@dataclass(frozen=True)
class RLOOConfig:
    """REINFORCE leave-one-out (Ahmadian et al. 2024), KL k1 in the reward, one pass per batch."""

    beta: float = _DEFAULT.beta
    """KL coefficient (>= 0)."""
    num_generations: int = _DEFAULT.group_size
    """Responses per prompt; the leave-one-out baseline needs at least 2."""
    learning_rate: float = _DEFAULT.lr
    """Adam step size."""
    max_steps: int = _DEFAULT.steps
    """Optimisation steps (one sampled batch each)."""
    prompts_per_step: int = _DEFAULT.prompts_per_step
    """Prompts per batch."""
    max_completion_length: int = DEFAULT_MAX_LEN
    """Most response tokens (<eos> included)."""
    kl_estimator: str = "k1"
    """k1 | k2 | k3."""
    max_grad_norm: float = _DEFAULT.max_grad_norm
    """Gradient clipping."""

    def to_rl_config(self) -> RLConfig:
        """The engine's settings (checked)."""
        return RLConfig(algorithm="rloo", beta=self.beta, steps=self.max_steps, prompts_per_step=self.prompts_per_step,
                        group_size=self.num_generations, max_len=self.max_completion_length, lr=self.learning_rate,
                        epochs=1, kl_estimator=self.kl_estimator, kl_in="reward",
                        max_grad_norm=self.max_grad_norm).resolved()


@dataclass(frozen=True)
class GRPOConfig:
    """Group relative policy optimisation (Shao et al. 2024): group-normalised advantages,
    clipped ratio, KL k3 in the loss."""

    beta: float = _DEFAULT.beta
    """KL coefficient (>= 0)."""
    num_generations: int = _DEFAULT.group_size
    """Responses per prompt (the group; at least 2)."""
    num_iterations: int = 2
    """Passes over each batch (mu in the paper)."""
    epsilon: float = _DEFAULT.clip
    """Ratio clip."""
    learning_rate: float = _DEFAULT.lr
    """Adam step size."""
    max_steps: int = _DEFAULT.steps
    """Optimisation steps."""
    prompts_per_step: int = _DEFAULT.prompts_per_step
    """Prompts per batch."""
    max_completion_length: int = DEFAULT_MAX_LEN
    """Most response tokens (<eos> included)."""
    kl_estimator: str = "k3"
    """k1 | k2 | k3."""
    max_grad_norm: float = _DEFAULT.max_grad_norm
    """Gradient clipping."""

    def to_rl_config(self) -> RLConfig:
        """The engine's settings (checked)."""
        return RLConfig(algorithm="grpo", beta=self.beta, steps=self.max_steps, prompts_per_step=self.prompts_per_step,
                        group_size=self.num_generations, max_len=self.max_completion_length, lr=self.learning_rate,
                        epochs=self.num_iterations, clip=self.epsilon, kl_estimator=self.kl_estimator, kl_in="loss",
                        max_grad_norm=self.max_grad_norm).resolved()


@dataclass(frozen=True)
class PPOConfig:
    """PPO-clip as in InstructGPT: per-token KL k1 in the reward, a value head, GAE (gamma 1)."""

    kl_coef: float = _DEFAULT.beta
    """KL coefficient (>= 0; TRL's PPO calls it ``kl_coef``)."""
    num_ppo_epochs: int = 4
    """Passes over each batch."""
    cliprange: float = _DEFAULT.clip
    """Ratio clip."""
    vf_coef: float = _DEFAULT.value_coef
    """Value-loss weight."""
    lam: float = _DEFAULT.gae_lambda
    """GAE lambda (the discount is 1 over a response)."""
    num_generations: int = _DEFAULT.group_size
    """Responses per prompt."""
    learning_rate: float = _DEFAULT.lr
    """Adam step size."""
    max_steps: int = _DEFAULT.steps
    """Optimisation steps."""
    prompts_per_step: int = _DEFAULT.prompts_per_step
    """Prompts per batch."""
    response_length: int = DEFAULT_MAX_LEN
    """Most response tokens (<eos> included)."""
    kl_estimator: str = "k1"
    """k1 | k2 | k3."""
    max_grad_norm: float = _DEFAULT.max_grad_norm
    """Gradient clipping."""

    def to_rl_config(self) -> RLConfig:
        """The engine's settings (checked)."""
        return RLConfig(algorithm="ppo", beta=self.kl_coef, steps=self.max_steps, prompts_per_step=self.prompts_per_step,
                        group_size=self.num_generations, max_len=self.response_length, lr=self.learning_rate,
                        epochs=self.num_ppo_epochs, clip=self.cliprange, kl_estimator=self.kl_estimator,
                        kl_in="reward", gae_lambda=self.lam, value_coef=self.vf_coef,
                        max_grad_norm=self.max_grad_norm).resolved()


TRL_CONFIGS = {"rloo": RLOOConfig, "grpo": GRPOConfig, "ppo": PPOConfig}
"""The TRL-vocabulary config class of each algorithm."""


def as_rl_config(config: RLConfig | RLOOConfig | GRPOConfig | PPOConfig) -> RLConfig:
    """The engine's :class:`RLConfig` of any of the configs (an ``RLConfig`` is returned resolved)."""
    if isinstance(config, RLConfig):
        return config.resolved()
    return config.to_rl_config()


__all__ = ["TRL_CONFIGS", "GRPOConfig", "PPOConfig", "RLOOConfig", "as_rl_config"]
