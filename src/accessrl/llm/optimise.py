r"""Policy optimisation against a learned reward with a KL penalty: RLOO, GRPO, PPO-clip.

Every algorithm maximises the KL-regularised objective of InstructGPT (Ouyang et al.
2022, eq. 2, without the pre-training term):

.. math:: J(\pi) = E_{x,\, y \sim \pi}\big[r_\phi(x, y)\big]
   - \beta\, \mathrm{KL}\big(\pi(\cdot \mid x) \,\|\, \pi_{ref}(\cdot \mid x)\big)

with :math:`r_\phi` the learned (proxy) reward.  The KL term enters either
**in the reward** (per token :math:`-\beta\,\hat k_t`, summed over the sequence) or **in the
loss** (:math:`+\beta\,\hat k_t` added to the per-token loss, differentiated), with
:math:`\hat k_t` one of :func:`~accessrl.llm.kl.kl_estimate`'s k1, k2, k3.

For each prompt, ``group_size`` responses :math:`y_1..y_k` are sampled.

* **RLOO** (Ahmadian et al. 2024; Kool et al. 2019): sequence-level REINFORCE with the
  leave-one-out baseline,
  :math:`A_i = R_i - \frac{1}{k-1}\sum_{j \ne i} R_j`,
  loss :math:`-\frac1k \sum_i A_i \sum_t \log \pi(y_{i,t} \mid s_{i,t})`.
  Default: KL (k1) in the reward, one gradient step per batch.
* **GRPO** (Shao et al. 2024, DeepSeekMath, eqs. 3–4): group-normalised advantages
  :math:`A_i = (R_i - \mathrm{mean}(R)) / \mathrm{std}(R)` for every token of
  :math:`y_i`, PPO's clipped ratio, per-sequence token averages
  :math:`\frac{1}{|y_i|}\sum_t`, and KL (k3) in the loss.
* **PPO-clip** (Schulman et al. 2017) as in InstructGPT: per-token rewards
  :math:`-\beta\,k1_t` plus :math:`r_\phi(x, y)` on the last token, a learned value
  head, GAE(:math:`\gamma = 1, \lambda`) advantages, whitened, and the clipped surrogate
  :math:`\min(\rho_t A_t, \mathrm{clip}(\rho_t, 1 \pm \epsilon) A_t)`.

Logged per step (:class:`StepLog`): proxy reward, true reward, KL to the reference
(the sum over the sampled positions of the exact per-state KL), entropy, response
length, clip fraction, route accuracy and repeated tokens.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from accessrl.errors import ParameterError
from accessrl.llm.kl import KL_ESTIMATORS, entropy, exact_kl, kl_estimate
from accessrl.llm.policy import Rollout, TokenPolicy, sample, sequence_logits, token_log_probs
from accessrl.llm.reward_model import RewardModel, prompt_matrix
from accessrl.llm.task import DEFAULT_MAX_LEN, PROMPTS, Prompt, true_reward_parts

ALGORITHMS = ("rloo", "grpo", "ppo")
_DEFAULTS = {  # algorithm: (epochs, KL estimator, where the KL goes)
    "rloo": (1, "k1", "reward"),
    "grpo": (2, "k3", "loss"),
    "ppo": (4, "k1", "reward"),
}


@dataclass(frozen=True)
class RLConfig:
    """Settings of one RL run.  ``None`` fields take the algorithm's default."""

    algorithm: str = "rloo"
    """rloo | grpo | ppo."""
    beta: float = 0.1
    """KL coefficient (>= 0)."""
    steps: int = 150
    """Optimisation steps (one sampled batch each)."""
    prompts_per_step: int = 16
    """Prompts per batch."""
    group_size: int = 4
    """Responses per prompt (RLOO and GRPO need at least 2)."""
    max_len: int = DEFAULT_MAX_LEN
    """Most response tokens (<eos> included)."""
    lr: float = 3e-3
    """Adam learning rate."""
    epochs: int | None = None
    """Passes over each batch (1 / 2 / 4 by default)."""
    clip: float = 0.2
    """PPO/GRPO ratio clip epsilon."""
    kl_estimator: str | None = None
    """k1 | k2 | k3 (default k1 for RLOO and PPO, k3 for GRPO)."""
    kl_in: str | None = None
    """reward | loss (default reward for RLOO and PPO, loss for GRPO)."""
    gae_lambda: float = 0.95
    """PPO's GAE lambda."""
    value_coef: float = 0.5
    """PPO's value-loss weight."""
    max_grad_norm: float = 1.0
    """Gradient clipping."""

    def resolved(self) -> RLConfig:
        """Check every field and fill the algorithm's defaults (one clear error per problem)."""
        if self.algorithm not in ALGORITHMS:
            raise ParameterError(f"algorithm: expected one of {list(ALGORITHMS)}, got {self.algorithm!r}")
        if not (isinstance(self.beta, (int, float)) and np.isfinite(self.beta) and self.beta >= 0):
            raise ParameterError(f"beta: expected a KL coefficient >= 0, got {self.beta!r}")
        if self.max_len < 1:
            raise ParameterError(f"max_len: expected a sequence length of at least 1, got {self.max_len}")
        if self.group_size < 1:
            raise ParameterError(f"group_size: expected at least 1, got {self.group_size}")
        if self.algorithm in ("rloo", "grpo") and self.group_size < 2:
            raise ParameterError(
                f"group_size: {self.algorithm} compares responses within a group; expected at least 2, got {self.group_size}"
            )
        for name in ("steps", "prompts_per_step"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name}: expected at least 1, got {getattr(self, name)}")
        epochs, est, where = _DEFAULTS[self.algorithm]
        out = replace(
            self,
            epochs=epochs if self.epochs is None else self.epochs,
            kl_estimator=est if self.kl_estimator is None else self.kl_estimator,
            kl_in=where if self.kl_in is None else self.kl_in,
        )
        if out.kl_estimator not in KL_ESTIMATORS:
            raise ParameterError(f"kl_estimator: expected one of {list(KL_ESTIMATORS)}, got {out.kl_estimator!r}")
        if out.kl_in not in ("reward", "loss"):
            raise ParameterError(f"kl_in: expected 'reward' or 'loss', got {out.kl_in!r}")
        if out.epochs is None or out.epochs < 1:
            raise ParameterError(f"epochs: expected at least 1, got {out.epochs}")
        if not self.lr > 0 or not self.clip > 0:
            raise ParameterError(f"lr and clip: expected positive numbers, got {self.lr} and {self.clip}")
        return out


@dataclass(frozen=True)
class StepLog:
    """What one step (or one evaluation) measured, averaged over its responses."""

    step: int
    proxy_reward: float
    true_reward: float
    kl: float
    entropy: float
    length: float
    clip_fraction: float
    route_accuracy: float
    repeats: float


@dataclass(frozen=True, eq=False)
class RLResult:
    """The trained policy, the per-step log and a final evaluation on every prompt."""

    config: RLConfig
    policy: TokenPolicy
    history: tuple[StepLog, ...]
    final: StepLog


def leave_one_out_advantages(rewards: torch.Tensor) -> torch.Tensor:
    """RLOO: A_i = R_i - mean_{j != i} R_j within each row (groups of k >= 2).

    >>> leave_one_out_advantages(torch.tensor([[1.0, 2.0, 6.0]])).tolist()
    [[-3.0, -1.5, 4.5]]
    """
    k = rewards.shape[-1]
    return rewards - (rewards.sum(dim=-1, keepdim=True) - rewards) / (k - 1)


def group_normalised_advantages(rewards: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """GRPO: A_i = (R_i - mean(R)) / (std(R) + eps) within each row."""
    mean = rewards.mean(dim=-1, keepdim=True)
    return (rewards - mean) / (rewards.std(dim=-1, keepdim=True) + eps)


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, lam: float) -> torch.Tensor:
    """GAE(gamma = 1, lambda) per token (B, T); value 0 after the last token."""
    adv = torch.zeros_like(rewards)
    last = torch.zeros(rewards.shape[0])
    t_max = rewards.shape[1]
    for t in range(t_max - 1, -1, -1):
        next_v = values[:, t + 1] * mask[:, t + 1] if t + 1 < t_max else torch.zeros(rewards.shape[0])
        delta = rewards[:, t] + next_v - values[:, t]
        last = (delta + lam * last * (mask[:, t + 1] if t + 1 < t_max else 0.0)) * mask[:, t]
        adv[:, t] = last
    return adv


def _true_parts(prompts: Sequence[Prompt], tokens: torch.Tensor, max_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts = [true_reward_parts(p, tokens[i].tolist(), max_len) for i, p in enumerate(prompts)]
    return (np.array([x.total for x in parts]), np.array([x.correct_route for x in parts], dtype=float),
            np.array([x.repeats for x in parts], dtype=float))


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


AGGREGATIONS = {"rloo": "sequence-sum", "grpo": "sequence-mean", "ppo": "token-mean"}
"""How each algorithm turns per-token losses into one number (:func:`policy_loss`'s ``aggregation``)."""


def aggregate(per_token: torch.Tensor, mask: torch.Tensor, aggregation: str) -> torch.Tensor:
    r"""Per-token losses (B, T) to one number.

    ``sequence-sum``: sum over each response, mean over responses (RLOO's REINFORCE);
    ``sequence-mean``: mean over each response's tokens, then over responses (GRPO's
    :math:`\frac{1}{|y_i|}\sum_t`; TRL ``loss_type="grpo"``); ``token-mean``: mean over
    every token of the batch (PPO; TRL ``loss_type="bnpo"``).
    """
    if aggregation == "sequence-sum":
        return (per_token * mask).sum(dim=1).mean()
    if aggregation == "sequence-mean":
        return ((per_token * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)).mean()
    if aggregation == "token-mean":
        return _masked_mean(per_token, mask)
    raise ParameterError(f"aggregation: expected one of {sorted(set(AGGREGATIONS.values()))}, got {aggregation!r}")


def policy_loss(
    logp: torch.Tensor, logp_old: torch.Tensor, logp_ref: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
    *, aggregation: str, clip: float = 0.2, beta: float = 0.0, kl_estimator: str = "k3", ratio: str = "token",
    kl_weighted_by_ratio: bool = False,
) -> torch.Tensor:
    r"""The clipped surrogate with an optional KL term in the loss: what :func:`rl_step` minimises.

    With :math:`\rho = \pi / \pi_{old}` and advantages :math:`A` (B, T) (a sequence's
    advantage repeated on its tokens for RLOO and GRPO),

    .. math:: \ell_t = -\min(\rho_t A_t, \mathrm{clip}(\rho_t, 1 \pm \epsilon) A_t)
       + \beta\, \hat k_t, \qquad \mathcal{L} = \mathrm{aggregate}(\ell, \text{mask}).

    ``ratio="token"`` (this engine): one ratio per token.  ``ratio="sequence"`` (TRL's
    ``RLOOTrainer``): one ratio per response, :math:`\rho_i = \exp\sum_t(\log\pi - \log\pi_{old})`,
    applied to the sequence advantage ``advantages[:, 0]`` and averaged over responses
    (``aggregation`` then only sums the KL term).  At :math:`\pi = \pi_{old}` (one pass
    per batch, RLOO's default) both ratios are 1 and the gradients are the same:
    REINFORCE's :math:`-\frac1B\sum_i A_i \nabla\sum_t \log\pi(y_{i,t})`; only the
    values differ (:math:`-\overline{A_i |y_i|}` against :math:`-\overline{A_i}`).
    ``kl_weighted_by_ratio``: multiply :math:`\hat k_t` by :math:`\rho_t` (TRL GRPO's
    ``use_bias_correction_kl=True``, its default); this engine does not.
    """
    if ratio == "sequence":
        seq_ratio = torch.exp(((logp - logp_old) * mask).sum(dim=1))
        a = advantages[:, 0]
        loss = -torch.min(seq_ratio * a, torch.clamp(seq_ratio, 1 - clip, 1 + clip) * a).mean()
        if beta > 0:
            loss = loss + aggregate(beta * kl_estimate(logp, logp_ref, kl_estimator), mask, aggregation)
        return loss
    if ratio != "token":
        raise ParameterError(f"ratio: expected 'token' or 'sequence', got {ratio!r}")
    rho = torch.exp(logp - logp_old)
    per_token = -torch.min(rho * advantages, torch.clamp(rho, 1 - clip, 1 + clip) * advantages)
    if beta > 0:
        kl = kl_estimate(logp, logp_ref, kl_estimator)
        per_token = per_token + beta * (kl * rho if kl_weighted_by_ratio else kl)
    return aggregate(per_token, mask, aggregation)


@dataclass(frozen=True, eq=False)
class _Batch:
    roll: Rollout
    logp_old: torch.Tensor
    logp_ref: torch.Tensor
    values_old: torch.Tensor
    proxy: torch.Tensor
    kl_exact: torch.Tensor
    entropy: torch.Tensor


def _collect(
    policy: TokenPolicy, reference: TokenPolicy, rm: RewardModel, prompts: Sequence[Prompt], max_len: int,
    generator: torch.Generator,
) -> _Batch:
    roll = sample(policy, prompts, max_len, generator)
    with torch.no_grad():
        logits, values = sequence_logits(policy, roll.prompt_tokens, roll.tokens)
        ref_logits, _ = sequence_logits(reference, roll.prompt_tokens, roll.tokens)
        proxy = rm(prompt_matrix(prompts), roll.tokens, roll.mask)
        return _Batch(
            roll=roll, logp_old=token_log_probs(logits, roll.tokens), logp_ref=token_log_probs(ref_logits, roll.tokens),
            values_old=values, proxy=proxy,
            kl_exact=(exact_kl(logits, ref_logits) * roll.mask).sum(dim=1),
            entropy=_masked_mean(entropy(logits), roll.mask),
        )


def _log(step: int, batch: _Batch, max_len: int, clip_fraction: float) -> StepLog:
    true, right, reps = _true_parts(batch.roll.prompts, batch.roll.tokens, max_len)
    return StepLog(
        step=step, proxy_reward=float(batch.proxy.mean()), true_reward=float(true.mean()),
        kl=float(batch.kl_exact.mean()), entropy=float(batch.entropy), length=float(batch.roll.lengths.mean()),
        clip_fraction=clip_fraction, route_accuracy=float(right.mean()), repeats=float(reps.mean()),
    )


def _advantages(cfg: RLConfig, b: _Batch) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token advantages (B, T) and, for PPO, value targets."""
    mask = b.roll.mask
    assert cfg.kl_estimator is not None
    kl_tok = kl_estimate(b.logp_old, b.logp_ref, cfg.kl_estimator) * mask
    in_reward = cfg.kl_in == "reward"
    if cfg.algorithm == "ppo":
        rew = -cfg.beta * kl_tok if in_reward else torch.zeros_like(mask)
        last = (mask.sum(dim=1) - 1).long().clamp(min=0)
        rew = rew.clone()
        rew[torch.arange(rew.shape[0]), last] += b.proxy
        adv = gae(rew, b.values_old, mask, cfg.gae_lambda)
        targets = adv + b.values_old
        mu, sd = _masked_mean(adv, mask), torch.sqrt(_masked_mean((adv - _masked_mean(adv, mask)) ** 2, mask))
        return (adv - mu) / (sd + 1e-8) * mask, targets
    seq_r = b.proxy - (cfg.beta * kl_tok.sum(dim=1) if in_reward else 0.0)
    groups = seq_r.view(-1, cfg.group_size)
    adv = leave_one_out_advantages(groups) if cfg.algorithm == "rloo" else group_normalised_advantages(groups)
    return adv.reshape(-1, 1).expand_as(mask) * mask, None


def rl_step(
    policy: TokenPolicy, reference: TokenPolicy, rm: RewardModel, opt: torch.optim.Optimizer, cfg: RLConfig,
    step: int, generator: torch.Generator,
) -> StepLog:
    """Sample one batch, compute advantages, and take ``epochs`` clipped gradient steps."""
    idx = torch.randint(len(PROMPTS), (cfg.prompts_per_step,), generator=generator)
    prompts = [PROMPTS[int(i)] for i in idx for _ in range(cfg.group_size)]
    b = _collect(policy, reference, rm, prompts, cfg.max_len, generator)
    adv, targets = _advantages(cfg, b)
    mask = b.roll.mask
    clipped: list[float] = []
    assert cfg.epochs is not None and cfg.kl_estimator is not None
    for _ in range(cfg.epochs):
        logits, values = sequence_logits(policy, b.roll.prompt_tokens, b.roll.tokens)
        logp = token_log_probs(logits, b.roll.tokens)
        ratio = torch.exp(logp - b.logp_old)
        loss = policy_loss(logp, b.logp_old, b.logp_ref, adv, mask, aggregation=AGGREGATIONS[cfg.algorithm],
                           clip=cfg.clip, beta=cfg.beta if cfg.kl_in == "loss" else 0.0, kl_estimator=cfg.kl_estimator)
        if targets is not None:
            loss = loss + cfg.value_coef * _masked_mean((values - targets) ** 2, mask)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
        opt.step()
        clipped.append(float(_masked_mean(((ratio - 1).abs() > cfg.clip).float(), mask)))
    return _log(step, b, cfg.max_len, float(np.mean(clipped)))


def evaluate(
    policy: TokenPolicy, reference: TokenPolicy, rm: RewardModel, generator: torch.Generator, *,
    samples_per_prompt: int = 16, max_len: int = DEFAULT_MAX_LEN, step: int = -1,
) -> StepLog:
    """Proxy and true reward, KL, entropy, length of fresh samples on every prompt."""
    prompts = [p for p in PROMPTS for _ in range(samples_per_prompt)]
    return _log(step, _collect(policy, reference, rm, prompts, max_len, generator), max_len, 0.0)


def rl_train(
    init: TokenPolicy, reference: TokenPolicy, rm: RewardModel, config: RLConfig, generator: torch.Generator,
) -> RLResult:
    """Optimise a copy of ``init`` against ``rm`` with a KL penalty to ``reference``."""
    cfg = config.resolved()
    policy = copy.deepcopy(init)
    for p in policy.parameters():
        p.requires_grad_(True)
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    history = tuple(rl_step(policy, reference, rm, opt, cfg, s, generator) for s in range(cfg.steps))
    final = evaluate(policy, reference, rm, generator, max_len=cfg.max_len, step=cfg.steps)
    return RLResult(cfg, policy, history, final)


__all__ = [
    "AGGREGATIONS",
    "ALGORITHMS",
    "RLConfig",
    "RLResult",
    "StepLog",
    "aggregate",
    "evaluate",
    "gae",
    "group_normalised_advantages",
    "leave_one_out_advantages",
    "policy_loss",
    "rl_step",
    "rl_train",
]
