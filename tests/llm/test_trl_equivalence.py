"""The engine's RLOO and GRPO losses equal TRL's own on one fixed batch, values and gradients.

One tiny GPT-2 (built locally), one batch: 3 prompts x 4 completions of different lengths,
fixed rewards, "old" log-probabilities a little off the model's (so the ratio is not 1 and
GRPO's clip bites) and reference log-probabilities.  TRL's side is the trainer's own
``compute_loss`` on the batch dict its ``_generate_and_score_completions`` would produce;
the engine's side is :func:`accessrl.llm.optimise.policy_loss` with the advantages of
:func:`~accessrl.llm.optimise.leave_one_out_advantages` /
:func:`~accessrl.llm.optimise.group_normalised_advantages`.

Where the definitions differ, both sides are set to match, and the test says which:

* GRPO: TRL's default ``loss_type`` is ``"dapo"`` (a token mean over the batch); the
  engine's GRPO is DeepSeekMath's per-sequence mean, TRL's ``loss_type="grpo"``.
  TRL's ``use_bias_correction_kl=True`` (default) multiplies k3 by the ratio; the engine
  does not (``kl_weighted_by_ratio=False``): both settings are checked.
  TRL divides by ``std + 1e-4``, the engine by ``std + 1e-6`` by default: ``eps=1e-4`` here.
  Both use k3 in the loss and the unbiased (n - 1) standard deviation within the group.
* RLOO: TRL uses one probability ratio per sequence; the engine one per token
  (``ratio="sequence"`` reproduces TRL's value and gradient; at ratio 1 the engine's own
  per-token loss has the same gradient and a different value, checked too).  Both put
  beta * sum_t k1 in the reward before the leave-one-out baseline; TRL's
  ``normalize_advantages=False`` (its default) matches the engine.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason='accessrl.llm needs PyTorch: pip install "accessrl[llm]"')
pytest.importorskip("trl", reason='the TRL engine needs trl: pip install "accessrl[trl]"')
pytest.importorskip("transformers", reason='the TRL engine needs transformers: pip install "accessrl[trl]"')

import torch  # noqa: E402

from accessrl.llm.hf import build_model, build_tokenizer, prompt_string  # noqa: E402
from accessrl.llm.kl import kl_estimate  # noqa: E402
from accessrl.llm.optimise import group_normalised_advantages, leave_one_out_advantages, policy_loss  # noqa: E402
from accessrl.llm.task import PROMPTS, TOKEN, encode  # noqa: E402

K = 4
BETA = 0.1
RESPONSES = [  # 3 prompts x 4 completions of 1..6 tokens
    ["human_review", "weak-evidence"], ["auto_approve"], ["human_review", "because", "policy-P7", "high-tier"],
    ["request_evidence", "because", "because", "because", "weak-evidence"],
    ["auto_approve", "low-tier"], ["auto_approve", "because", "standard-policy"], ["human_review"],
    ["request_evidence", "no-evidence"],
    ["request_evidence", "high-tier", "no-evidence"], ["auto_approve", "strong-evidence"], ["human_review", "because"],
    ["request_evidence", "because", "high-tier", "no-evidence", "standard-policy"],
]
REWARDS = torch.tensor([1.5, -3.0, 2.75, -0.8, 2.5, 2.75, -1.0, 1.0, 0.5, 0.501, 0.4995, 0.5])
"""The third group nearly ties (std 7e-4): there the 1e-4 in TRL's (std + 1e-4) matters."""


@pytest.fixture(scope="module")
def batch():
    prompts = [PROMPTS[i] for i in (1, 2, 5) for _ in range(K)]
    prompt_ids = torch.tensor([p.tokens() for p in prompts])
    t = max(len(encode(r)) for r in RESPONSES)
    completion_ids = torch.full((len(RESPONSES), t), TOKEN["<pad>"])
    mask = torch.zeros(len(RESPONSES), t)
    for i, r in enumerate(RESPONSES):
        ids = encode(r)
        completion_ids[i, : len(ids)] = torch.tensor(ids)
        mask[i, : len(ids)] = 1
    g = torch.Generator().manual_seed(7)
    model = build_model(0)
    with torch.no_grad():
        logp = model_logps(model, prompt_ids, completion_ids)
    old = logp + 0.3 * torch.randn(logp.shape, generator=g)  # ratio away from 1: the clip matters
    ref = logp + 0.5 * torch.randn(logp.shape, generator=g)
    return {"prompts": prompts, "prompt_ids": prompt_ids, "completion_ids": completion_ids, "mask": mask,
            "old": old * mask, "ref": ref * mask}


def model_logps(model, prompt_ids, completion_ids):
    """log pi(y_t | x, y_<t) of each completion token, read from the model's logits (the engine's way)."""
    ids = torch.cat([prompt_ids, completion_ids], dim=1)
    logits = model(input_ids=ids).logits[:, prompt_ids.shape[1] - 1 : -1]
    return torch.log_softmax(logits, dim=-1).gather(-1, completion_ids.unsqueeze(-1)).squeeze(-1)


def trainer(kind: str, model, tmp_path, **config):
    """TRL's trainer on ``model``; it builds its reference model from the model's folder, so the
    model is saved to (and read back from) a local one first."""
    import datasets
    import transformers
    import trl

    model.save_pretrained(tmp_path / "model")
    model = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "model")

    ds = datasets.Dataset.from_dict({"prompt": [prompt_string(p) for p in PROMPTS]})
    common = {"output_dir": str(tmp_path), "report_to": "none", "num_generations": K, "per_device_train_batch_size": K,
              "max_completion_length": 8, "use_cpu": True, "disable_tqdm": True, "logging_strategy": "no",
              "save_strategy": "no", "beta": BETA, "bf16": False}  # TRL defaults to bf16 autocast
    cls_cfg, cls_tr = (trl.GRPOConfig, trl.GRPOTrainer) if kind == "grpo" else (trl.RLOOConfig, trl.RLOOTrainer)
    args = cls_cfg(**common, **config)
    tr = cls_tr(model=model, reward_funcs=lambda completions, **kw: [0.0] * len(completions), args=args,
                train_dataset=ds, processing_class=build_tokenizer())
    tr.model.eval()  # eval mode: no gradient-accumulation divisor (and the model has no dropout)
    return tr


def grads(model):
    return [p.grad.detach().clone() for p in model.parameters() if p.grad is not None]


def engine_side(model, b, loss_fn):
    model.zero_grad()
    logp = model_logps(model, b["prompt_ids"], b["completion_ids"])
    loss = loss_fn(logp)
    loss.backward()
    return float(loss.detach()), grads(model)


def trl_side(tr, inputs):
    tr.model.zero_grad()
    loss = tr.compute_loss(tr.model, inputs)
    loss.backward()
    return float(loss.detach()), grads(tr.model)


def assert_same(a, b):
    (la, ga), (lb, gb) = a, b
    assert la == pytest.approx(lb, rel=2e-6, abs=1e-8)
    assert len(ga) == len(gb) > 0
    for x, y in zip(ga, gb, strict=True):
        torch.testing.assert_close(x, y, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("bias_correction", [False, True])
def test_grpo_loss_and_gradient_equal_trl(batch, tmp_path, bias_correction):
    b = batch
    adv = group_normalised_advantages(REWARDS.view(-1, K), eps=1e-4).reshape(-1)  # TRL's 1e-4
    tr = trainer("grpo", build_model(0), tmp_path, loss_type="grpo", scale_rewards="group", epsilon=0.2,
                 use_bias_correction_kl=bias_correction)
    inputs = {"prompt_ids": b["prompt_ids"], "prompt_mask": torch.ones_like(b["prompt_ids"]),
              "completion_ids": b["completion_ids"], "completion_mask": b["mask"].long(), "advantages": adv,
              "old_per_token_logps": b["old"], "ref_per_token_logps": b["ref"], "num_items_in_batch": b["mask"].sum()}
    theirs = trl_side(tr, inputs)
    ours = engine_side(build_model(0), b, lambda logp: policy_loss(
        logp, b["old"], b["ref"], adv[:, None].expand_as(logp), b["mask"], aggregation="sequence-mean", clip=0.2,
        beta=BETA, kl_estimator="k3", kl_weighted_by_ratio=bias_correction))
    assert_same(ours, theirs)
    # the clip is active on this batch, so the test would see a wrong clip
    rho = torch.exp(model_logps(build_model(0), b["prompt_ids"], b["completion_ids"]).detach() - b["old"])
    assert ((rho - 1).abs()[b["mask"] > 0] > 0.2).any()


def test_grpo_advantages_equal_trl_formula():
    # TRL 1.16 GRPOTrainer: (r - mean_group) / (nanstd_group + 1e-4), nanstd with Bessel's correction
    from trl.trainer.utils import nanstd

    g = REWARDS.view(-1, K)
    theirs = (g - g.mean(dim=1, keepdim=True)) / (nanstd(g, dim=1).unsqueeze(1) + 1e-4)
    torch.testing.assert_close(group_normalised_advantages(g, eps=1e-4), theirs)


def rloo_inputs(b):
    """What RLOOTrainer._generate_and_score_completions hands compute_loss: advantages from the
    KL-penalised rewards (beta * sum_t k1, k1 = log pi_old - log pi_ref) and the old sequence log-prob."""
    kl = (kl_estimate(b["old"], b["ref"], "k1") * b["mask"]).sum(dim=1)
    adv = leave_one_out_advantages((REWARDS - BETA * kl).view(-1, K)).reshape(-1)
    return adv, {"prompt_ids": b["prompt_ids"], "prompt_mask": torch.ones_like(b["prompt_ids"]),
                 "completion_ids": b["completion_ids"], "completion_mask": b["mask"].long(), "advantages": adv,
                 "old_logps": (b["old"] * b["mask"]).sum(dim=1)}


def test_rloo_loss_and_gradient_equal_trl(batch, tmp_path):
    b = batch
    adv, inputs = rloo_inputs(b)
    theirs = trl_side(trainer("rloo", build_model(0), tmp_path, epsilon=0.2), inputs)
    ours = engine_side(build_model(0), b, lambda logp: policy_loss(
        logp, b["old"], b["ref"], adv[:, None].expand_as(logp), b["mask"], aggregation="sequence-sum", clip=0.2,
        ratio="sequence"))
    assert_same(ours, theirs)


def test_rloo_at_ratio_one_engine_gradient_equals_trl(batch, tmp_path):
    """One pass per batch (both engines' RLOO default): pi_old = pi, so both ratios are 1; the
    engine's per-token loss then has TRL's gradient, and its value is -mean(A_i |y_i|), not -mean(A_i)."""
    b = batch
    with torch.no_grad():
        now = model_logps(build_model(0), b["prompt_ids"], b["completion_ids"]) * b["mask"]
    at_one = {**b, "old": now}
    adv, inputs = rloo_inputs(at_one)
    theirs = trl_side(trainer("rloo", build_model(0), tmp_path), inputs)
    ours = engine_side(build_model(0), at_one, lambda logp: policy_loss(
        logp, now, b["ref"], adv[:, None].expand_as(logp), b["mask"], aggregation="sequence-sum"))
    for x, y in zip(ours[1], theirs[1], strict=True):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-6)
    assert ours[0] == pytest.approx(-(adv * b["mask"].sum(dim=1)).mean().item(), rel=1e-5)
    assert theirs[0] == pytest.approx(-adv.mean().item(), rel=1e-5, abs=1e-6)


def test_rloo_advantages_equal_trl_formula():
    # TRL 1.16 RLOOTrainer: baseline = (sum of the group - own reward) / (k - 1)
    g = REWARDS.view(-1, K)
    theirs = g - (g.sum(dim=1, keepdim=True) - g) / (K - 1)
    torch.testing.assert_close(leave_one_out_advantages(g), theirs)
