r"""A small autoregressive policy over the token MDP, and supervised fine-tuning.

:class:`TokenPolicy` is a one-layer GRU language model (embedding 32, hidden 64:
about 21,000 parameters) with a value head for PPO.  It reads the prompt
``<bos> tier evidence policy <sep>`` and then generates response tokens; tokens that
are not actions of the token MDP (padding, prompt tokens) are masked out of its
softmax.

Supervised fine-tuning (the SFT stage of InstructGPT, Ouyang et al. 2022, §3.5)
maximises :math:`\sum_t \log \pi(y_t \mid x, y_{<t})` over demonstrations; the
result is both the starting point of RL and the frozen *reference* policy of the KL
penalty.

Randomness comes only from the caller's ``torch.Generator`` (parameter
initialisation, sampling); module construction does not disturb the global RNG.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from accessrl.errors import ParameterError
from accessrl.llm.task import EOS, PAD, PROMPT_LEN, RESPONSE_TOKENS, TOKEN, VOCAB, Prompt, demonstration, encode

_NEG = -1e9


class TokenPolicy(nn.Module):
    """GRU policy pi(y_t | x, y_<t) with a scalar value head V(s_t)."""

    def __init__(self, generator: torch.Generator, *, embed: int = 32, hidden: int = 64) -> None:
        with torch.random.fork_rng(devices=[]):  # default init must not move the global RNG
            super().__init__()
            self.embed = nn.Embedding(len(VOCAB), embed)
            self.gru = nn.GRU(embed, hidden, batch_first=True)
            self.head = nn.Linear(hidden, len(VOCAB))
            self.value_head = nn.Linear(hidden, 1)
        with torch.no_grad():
            for p in self.parameters():
                bound = 1.0 / np.sqrt(hidden) if p.dim() > 1 else 0.0
                if bound:
                    p.uniform_(-bound, bound, generator=generator)
                else:
                    p.zero_()
        mask = torch.full((len(VOCAB),), _NEG)
        mask[list(RESPONSE_TOKENS)] = 0.0
        self.register_buffer("action_mask", mask)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Masked logits (B, L, V) and values (B, L) after reading ``tokens`` (B, L)."""
        out, _ = self.gru(self.embed(tokens))
        return self.head(out) + self.action_mask, self.value_head(out).squeeze(-1)

    def n_params(self) -> int:
        return int(sum(p.numel() for p in self.parameters()))


@dataclass(frozen=True, eq=False)
class Rollout:
    """A batch of sampled responses: ``tokens`` (B, T) with ``<pad>`` after ``<eos>``,
    ``mask`` (B, T) 1 for generated positions (``<eos>`` included)."""

    prompts: tuple[Prompt, ...]
    prompt_tokens: torch.Tensor
    tokens: torch.Tensor
    mask: torch.Tensor

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(dim=1)


def prompt_tensor(prompts: Sequence[Prompt]) -> torch.Tensor:
    return torch.tensor([p.tokens() for p in prompts], dtype=torch.long)


@torch.no_grad()
def sample(
    policy: TokenPolicy, prompts: Sequence[Prompt], max_len: int, generator: torch.Generator
) -> Rollout:
    """Sample one response per prompt, token by token: s_{t+1} = s_t + (y_t,)."""
    if max_len < 1:
        raise ParameterError(f"max_len: expected a sequence length of at least 1, got {max_len}")
    ptoks = prompt_tensor(prompts)
    b = ptoks.shape[0]
    out, h = policy.gru(policy.embed(ptoks))
    logits = policy.head(out[:, -1]) + policy.action_mask
    tokens = torch.full((b, max_len), TOKEN[PAD], dtype=torch.long)
    alive = torch.ones(b, dtype=torch.bool)
    mask = torch.zeros(b, max_len)
    for t in range(max_len):
        nxt = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator).squeeze(1)
        nxt = torch.where(alive, nxt, torch.full_like(nxt, TOKEN[PAD]))
        tokens[:, t] = nxt
        mask[:, t] = alive.float()
        alive = alive & (nxt != TOKEN[EOS])
        if not alive.any():
            break
        out, h = policy.gru(policy.embed(nxt)[:, None], h)
        logits = policy.head(out[:, -1]) + policy.action_mask
    return Rollout(tuple(prompts), ptoks, tokens, mask)


def sequence_logits(policy: TokenPolicy, prompt_tokens: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (B, T, V) and values (B, T) at the state before each response token."""
    seq = torch.cat([prompt_tokens, tokens[:, :-1]], dim=1)
    logits, values = policy(seq)
    return logits[:, PROMPT_LEN - 1 :], values[:, PROMPT_LEN - 1 :]


def token_log_probs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log pi(y_t | s_t) of the taken tokens (B, T)."""
    return torch.log_softmax(logits, dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def frozen_copy(policy: TokenPolicy) -> TokenPolicy:
    """A copy with gradients switched off (the reference policy)."""
    ref = copy.deepcopy(policy)
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def demonstrations(
    n: int, rng: np.random.Generator, max_len: int
) -> tuple[tuple[Prompt, ...], torch.Tensor, torch.Tensor]:
    """``n`` demonstrations on random prompts as padded (tokens, mask) tensors."""
    from accessrl.llm.task import PROMPTS

    prompts = tuple(PROMPTS[int(i)] for i in rng.integers(len(PROMPTS), size=n))
    tokens = torch.full((n, max_len), TOKEN[PAD], dtype=torch.long)
    mask = torch.zeros(n, max_len)
    for i, p in enumerate(prompts):
        ids = encode(demonstration(p, rng), max_len)
        tokens[i, : len(ids)] = torch.tensor(ids)
        mask[i, : len(ids)] = 1.0
    return prompts, tokens, mask


def supervised_fine_tune(
    policy: TokenPolicy,
    prompts: Sequence[Prompt],
    tokens: torch.Tensor,
    mask: torch.Tensor,
    generator: torch.Generator,
    *,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 1e-2,
) -> list[float]:
    """Behaviour cloning: minimise -mean_t log pi(y_t | x, y_<t) over demonstrations.

    Returns the loss per step.  Minibatches are drawn with ``generator``.
    """
    if steps < 1 or batch_size < 1:
        raise ParameterError(f"SFT: expected positive steps and batch size, got {steps} and {batch_size}")
    ptoks = prompt_tensor(prompts)
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    losses = []
    n = tokens.shape[0]
    for _ in range(steps):
        idx = torch.randint(n, (min(batch_size, n),), generator=generator)
        logits, _ = sequence_logits(policy, ptoks[idx], tokens[idx])
        lp = token_log_probs(logits, tokens[idx])
        loss = -(lp * mask[idx]).sum() / mask[idx].sum()
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        losses.append(float(loss.detach()))
    return losses


__all__ = [
    "Rollout",
    "TokenPolicy",
    "demonstrations",
    "frozen_copy",
    "prompt_tensor",
    "sample",
    "sequence_logits",
    "supervised_fine_tune",
    "token_log_probs",
]
