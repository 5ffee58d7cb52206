r"""A reward model learned from pairwise comparisons (Bradley–Terry).

InstructGPT (Ouyang et al. 2022, §3.5, eq. 1) trains a reward model :math:`r_\theta`
on labelled comparisons with

.. math:: \mathcal{L}(\theta) = -\frac{1}{\binom{K}{2}} E_{(x, y_w, y_l)}
   \left[\log \sigma\big(r_\theta(x, y_w) - r_\theta(x, y_l)\big)\right],

the Bradley–Terry model :math:`P(y_w \succ y_l) = \sigma(r(y_w) - r(y_l))`; a ranking
of K responses is expanded into all :math:`\binom{K}{2}` pairs
(:func:`~accessrl.llm.task.ranking_pairs`).

:class:`RewardModel` is deliberately small: a routing head (an MLP of the prompt's
facts and the response's decision) plus a bag-of-words term whose token weights
depend on the prompt,

.. math:: r(x, y) = f(x, \mathrm{decision}(y)) + \sum_{w} \mathrm{count}_y(w)\,(W x + b)_w .

It fits the comparisons it sees well, and — like large reward models — it is trusted
where it has seen no data: nothing in the comparisons shows a word said six times,
so the bag-of-words term keeps paying for each repetition.  That is the opening a
policy optimised without a KL penalty finds (Gao, Schulman & Hilton 2023).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from accessrl.errors import ParameterError
from accessrl.llm.task import DECISIONS, PROMPT_TOKENS, TOKEN, VOCAB, Comparisons, Prompt, prompt_features

_DECISION_IDS = [TOKEN[d] for d in DECISIONS]


def response_features(tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(decision one-hot incl. 'none' (B, 4), token counts after the first token (B, V))."""
    b = tokens.shape[0]
    first = tokens[:, 0]
    dec = torch.zeros(b, len(DECISIONS) + 1)
    for j, tid in enumerate(_DECISION_IDS):
        dec[:, j] = ((first == tid) & (mask[:, 0] > 0)).float()
    dec[:, -1] = 1.0 - dec[:, :-1].sum(dim=1)
    onehot = torch.nn.functional.one_hot(tokens[:, 1:], len(VOCAB)).float() * mask[:, 1:, None]
    return dec, onehot.sum(dim=1)


class RewardModel(nn.Module):
    """r(x, y) = routing head f(x, decision) + bag of words with prompt-dependent weights."""

    def __init__(self, generator: torch.Generator, *, hidden: int = 32) -> None:
        with torch.random.fork_rng(devices=[]):
            super().__init__()
            n_p = len(PROMPT_TOKENS)
            self.route = nn.Sequential(nn.Linear(n_p * (len(DECISIONS) + 1), hidden), nn.ReLU(), nn.Linear(hidden, 1))
            self.words = nn.Linear(n_p, len(VOCAB))
        self.register_buffer("offset", torch.zeros(()))
        with torch.no_grad():
            for p in self.parameters():
                if p.dim() > 1:
                    p.uniform_(-0.3, 0.3, generator=generator)
                else:
                    p.zero_()

    def forward(self, prompt_feats: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Scalar reward per response (B,)."""
        dec, counts = response_features(tokens, mask)
        joint = (prompt_feats[:, :, None] * dec[:, None, :]).flatten(1)
        out: torch.Tensor = self.route(joint).squeeze(-1) + (counts * self.words(prompt_feats)).sum(dim=1)
        offset: torch.Tensor = self.offset  # type: ignore[assignment]
        return out - offset

    def normalise(self, prompts: Sequence[Prompt], tokens: torch.Tensor, mask: torch.Tensor) -> None:
        """Shift r so that the demonstrations score 0 on average (as InstructGPT does before RL);
        Bradley–Terry fixes r only up to a constant."""
        with torch.no_grad():
            self.offset += self(prompt_matrix(prompts), tokens, mask).mean()


def prompt_matrix(prompts: Sequence[Prompt]) -> torch.Tensor:
    return torch.tensor(np.array([prompt_features(p) for p in prompts]), dtype=torch.float32)


def _pad(seqs: Sequence[tuple[int, ...]], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    tok = torch.zeros(len(seqs), max_len, dtype=torch.long)
    mask = torch.zeros(len(seqs), max_len)
    for i, s in enumerate(seqs):
        tok[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1.0
    return tok, mask


def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    r"""-mean log sigma(r_w - r_l) (InstructGPT eq. 1)."""
    return -torch.nn.functional.logsigmoid(r_chosen - r_rejected).mean()


@dataclass(frozen=True, eq=False)
class RewardModelFit:
    """A trained reward model and how often it agrees with held-out comparisons.

    ``label_agreement``: fraction of held-out pairs ranked as the (noisy) labeller
    ranked them; ``true_agreement``: as the hidden true reward ranks them (ties left out).
    """

    model: RewardModel
    train_loss: float
    label_agreement: float
    true_agreement: float
    n_train_pairs: int
    n_test_pairs: int


def score(model: RewardModel, prompts: Sequence[Prompt], seqs: Sequence[tuple[int, ...]], max_len: int) -> torch.Tensor:
    tok, mask = _pad(seqs, max_len)
    with torch.no_grad():
        out: torch.Tensor = model(prompt_matrix(prompts), tok, mask)
    return out


def agreement(model: RewardModel, data: Comparisons, max_len: int) -> tuple[float, float]:
    """(fraction agreeing with labels, fraction agreeing with the true reward)."""
    diff = (score(model, data.prompts, data.chosen, max_len) - score(model, data.prompts, data.rejected, max_len)).numpy()
    label = float(np.mean(diff > 0))
    live = data.true_margin != 0
    true = float(np.mean(np.sign(diff[live]) == np.sign(data.true_margin[live])))
    return label, true


def train_reward_model(
    train: Comparisons,
    test: Comparisons,
    generator: torch.Generator,
    *,
    max_len: int,
    steps: int = 300,
    lr: float = 0.03,
    weight_decay: float = 1e-4,
) -> RewardModelFit:
    """Fit :class:`RewardModel` to ``train`` by full-batch Adam on the Bradley–Terry loss."""
    if steps < 1:
        raise ParameterError(f"reward model steps: expected at least 1, got {steps}")
    model = RewardModel(generator)
    pf = prompt_matrix(train.prompts)
    tw, mw = _pad(train.chosen, max_len)
    tl, ml = _pad(train.rejected, max_len)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss = torch.tensor(0.0)
    for _ in range(steps):
        loss = bradley_terry_loss(model(pf, tw, mw), model(pf, tl, ml))
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
    for p in model.parameters():
        p.requires_grad_(False)
    label, true = agreement(model, test, max_len)
    return RewardModelFit(model, float(loss.detach()), label, true, len(train.prompts), len(test.prompts))


__all__ = [
    "RewardModel",
    "RewardModelFit",
    "agreement",
    "bradley_terry_loss",
    "prompt_matrix",
    "response_features",
    "score",
    "train_reward_model",
]
