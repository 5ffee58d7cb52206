r"""Estimators of KL(pi || pi_ref) from tokens sampled from pi (Schulman 2020).

With :math:`r = \pi_{ref}(y) / \pi(y)` at a token :math:`y \sim \pi`:

* ``k1`` :math:`= -\log r` — unbiased, high variance, can be negative;
* ``k2`` :math:`= \tfrac12 (\log r)^2` — non-negative, biased (exact to second order);
* ``k3`` :math:`= (r - 1) - \log r` — non-negative (since :math:`e^u \ge 1 + u`) and
  unbiased (:math:`E_\pi[r] = 1`).  DeepSeekMath's GRPO (Shao et al. 2024, eq. 4)
  puts ``k3`` in the loss; InstructGPT (Ouyang et al. 2022, eq. 2) puts ``k1`` in the
  reward.

>>> import torch
>>> lp, lq = torch.log(torch.tensor([0.5, 0.25])), torch.log(torch.tensor([0.25, 0.5]))
>>> [round(float(v), 4) for v in kl_estimate(lp, lq, "k3")]
[0.1931, 0.3069]
"""

from __future__ import annotations

import torch

from accessrl.errors import ParameterError

KL_ESTIMATORS = ("k1", "k2", "k3")


def kl_estimate(logp: torch.Tensor, logp_ref: torch.Tensor, estimator: str = "k3") -> torch.Tensor:
    """Per-token estimate of KL(pi || pi_ref) from log-probabilities of sampled tokens."""
    log_r = logp_ref - logp
    if estimator == "k1":
        return -log_r
    if estimator == "k2":
        return 0.5 * log_r**2
    if estimator == "k3":
        return torch.expm1(log_r) - log_r
    raise ParameterError(f"KL estimator: expected one of {list(KL_ESTIMATORS)}, got {estimator!r}")


def exact_kl(logits: torch.Tensor, ref_logits: torch.Tensor) -> torch.Tensor:
    """KL(pi(.|s) || pi_ref(.|s)) = sum_v pi(v) log(pi(v)/pi_ref(v)) at every state (..., )."""
    lp = torch.log_softmax(logits, dim=-1)
    lq = torch.log_softmax(ref_logits, dim=-1)
    return (lp.exp() * (lp - lq)).sum(dim=-1)


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """-sum_v pi(v) log pi(v) at every state."""
    lp = torch.log_softmax(logits, dim=-1)
    return -(lp.exp() * lp).sum(dim=-1)


__all__ = ["KL_ESTIMATORS", "entropy", "exact_kl", "kl_estimate"]
