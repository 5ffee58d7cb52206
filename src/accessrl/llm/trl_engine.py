r"""The demo's three steps through Hugging Face TRL on a tiny transformer (extra ``[trl]``).

The same task, the same data and the same reward model as :func:`~accessrl.llm.demo.run_demo`,
but the policy is a 2-layer GPT-2 (:func:`~accessrl.llm.hf.build_model`, about 0.1 M
parameters, built from a config) with a word-level tokenizer (:func:`~accessrl.llm.hf.build_tokenizer`),
and the trainers are TRL's:

1. **SFT**: ``trl.SFTTrainer`` on the demonstrations as a prompt-completion data set (the
   loss on completion tokens only).  The result is saved to ``workdir`` and read back: TRL
   builds the frozen reference model of the KL penalty from that folder.
2. **Reward model**: the library's Bradley–Terry model
   (:func:`~accessrl.llm.reward_model.train_reward_model`, the same comparisons as the
   built-in engine), wrapped as a TRL reward function (:class:`BradleyTerryReward`).  Not
   ``trl.RewardTrainer``: the demo is about over-optimising *this* reward model (its
   bag-of-words term keeps paying for repeats), and one reward model for both engines makes
   their proxy-reward columns the same measurement.
3. **RL**: ``trl.GRPOTrainer`` or ``trl.RLOOTrainer`` against that reward, once per
   :math:`\beta`, each from the SFT model.  Settings follow the built-in engine where TRL
   has the same knob (group size, prompts per step, steps, clip, constant learning rate,
   gradient clipping, KL estimator by algorithm) and TRL's own definitions otherwise
   (RLOO: k1 in the reward, one ratio per sequence; GRPO: ``loss_type="grpo"``, k3 in the
   loss, ``std + 1e-4``; see ``tests/llm/test_trl_equivalence.py`` for where they agree).

Evaluation is the built-in engine's: 16 fresh samples on each of the 12 prompts, drawn with
a ``torch.Generator`` by :func:`sample_hf` (tokens that are not actions are masked out, as
TRL's generation suppresses them), scored by the proxy and the hidden true reward, with the
exact KL to the SFT model summed over the sampled positions.

TRL's trainers seed and draw from the global random generators (``args.seed``) and write
to ``workdir``; the caller (the CLI) gives a scratch folder and sets the thread count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from accessrl._optional import require
from accessrl.errors import ParameterError
from accessrl.llm.demo import SAMPLE_PROMPTS, SAMPLES_PER_PROMPT, PolicySamples, SampleResponse, prompt_text
from accessrl.llm.hf import NON_RESPONSE_IDS, build_model, build_tokenizer, n_params, parse_prompt, prompt_string
from accessrl.llm.hf import response_ids as cut_response
from accessrl.llm.kl import entropy, exact_kl
from accessrl.llm.optimise import StepLog
from accessrl.llm.policy import demonstrations
from accessrl.llm.reward_model import RewardModel, RewardModelFit, prompt_matrix, train_reward_model
from accessrl.llm.task import EOS, PAD, PROMPTS, TOKEN, VOCAB, Prompt, comparisons, decode, true_reward_parts

TRL_ALGORITHMS = ("rloo", "grpo")


def _need(module: str) -> Any:
    return require(module, "trl", "the TRL engine", package="trl, transformers and tokenizers")


@dataclass(frozen=True)
class TRLDemoConfig:
    """Budgets and settings of the TRL demo (the defaults finish in a few minutes on 2 cores)."""

    algorithm: str = "rloo"
    """rloo | grpo (TRL's ``RLOOTrainer`` / ``GRPOTrainer``)."""
    betas: tuple[float, ...] = (0.0, 0.05, 0.2)
    """KL coefficients to sweep (TRL's ``beta``)."""
    max_steps: int = 150
    """RL optimisation steps per beta."""
    prompts_per_step: int = 16
    """Prompts per batch (``per_device_train_batch_size = prompts_per_step * num_generations``)."""
    num_generations: int = 4
    """Completions per prompt (the group)."""
    learning_rate: float = 2e-3
    """RL learning rate (constant schedule)."""
    max_completion_length: int = 8
    """Most completion tokens (``<eos>`` included)."""
    epsilon: float = 0.2
    """Ratio clip."""
    n_demonstrations: int = 2000
    """Demonstrations for SFT."""
    sft_epochs: float = 2.0
    """SFT passes over the demonstrations."""
    sft_learning_rate: float = 3e-3
    """SFT learning rate."""
    n_rankings: int = 600
    """Labelled rankings for the reward model."""
    n_test_rankings: int = 200
    """Held-out rankings for agreement."""
    label_noise: float = 0.5
    """Labeller noise on the true reward."""
    rm_steps: int = 300
    """Reward-model optimiser steps."""
    eval_samples_per_prompt: int = 16
    """Samples per prompt in the final evaluation."""

    def checked(self) -> TRLDemoConfig:
        """One clear error per bad field."""
        if self.algorithm not in TRL_ALGORITHMS:
            raise ParameterError(f"--engine trl: algorithm expected one of {list(TRL_ALGORITHMS)}, got {self.algorithm!r}")
        if not self.betas:
            raise ParameterError("betas: expected at least one KL coefficient")
        for b in self.betas:
            if not (np.isfinite(b) and b >= 0):
                raise ParameterError(f"beta: expected a KL coefficient >= 0, got {b!r}")
        for name in ("max_steps", "prompts_per_step", "n_demonstrations", "rm_steps", "eval_samples_per_prompt"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name}: expected at least 1, got {getattr(self, name)}")
        if self.num_generations < 2:
            raise ParameterError(f"num_generations: expected at least 2, got {self.num_generations}")
        if not 1 <= self.max_completion_length <= 11:
            raise ParameterError(f"max_completion_length: expected 1 to 11, got {self.max_completion_length}")
        return self


@dataclass(frozen=True)
class TRLRun:
    """One RL run: its beta, the trainer's logged reward and KL per logging step, the final evaluation."""

    algorithm: str
    beta: float
    log: tuple[tuple[int, float, float], ...]
    """(step, mean proxy reward of the batch, TRL's logged KL) per logged step."""
    final: StepLog


@dataclass(frozen=True, eq=False)
class TRLDemoResult:
    """Reference evaluation, reward-model fit, one run per beta, sample responses."""

    seed: int
    algorithm: str
    reference: StepLog
    reward_model: RewardModelFit
    runs: tuple[TRLRun, ...]
    n_params: int
    sft_loss: float
    samples: tuple[PolicySamples, ...]


class BradleyTerryReward:
    """The library's reward model as a TRL reward function: ``(prompts, completions, completion_ids) -> [float]``."""

    __name__ = "bradley_terry"  # TRL names a reward function's metrics by __name__

    def __init__(self, model: RewardModel, max_len: int) -> None:
        self.model = model
        self.max_len = max_len

    def __call__(self, prompts: Sequence[str], completions: Sequence[str], completion_ids: Sequence[Sequence[int]],
                 **_: Any) -> list[float]:
        ps = [parse_prompt(p) for p in prompts]
        tokens, mask = _pad([cut_response(c, self.max_len) for c in completion_ids], self.max_len)
        with torch.no_grad():
            return [float(x) for x in self.model(prompt_matrix(ps), tokens, mask)]


def _pad(seqs: Sequence[Sequence[int]], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    tok = torch.full((len(seqs), max_len), TOKEN[PAD], dtype=torch.long)
    mask = torch.zeros(len(seqs), max_len)
    for i, s in enumerate(seqs):
        if s:
            tok[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
            mask[i, : len(s)] = 1.0
    return tok, mask


_MASK = torch.full((len(VOCAB),), 0.0)
_MASK[list(NON_RESPONSE_IDS)] = -1e9


@dataclass(frozen=True, eq=False)
class HFRollout:
    """Sampled completions of a causal LM: tokens (B, T) padded after ``<eos>``, mask (B, T)."""

    prompts: tuple[Prompt, ...]
    prompt_tokens: torch.Tensor
    tokens: torch.Tensor
    mask: torch.Tensor


def _next_logits(model: Any, ids: torch.Tensor) -> torch.Tensor:
    out: torch.Tensor = model(input_ids=ids).logits
    return out + _MASK


@torch.no_grad()
def sample_hf(model: Any, prompts: Sequence[Prompt], max_len: int, generator: torch.Generator) -> HFRollout:
    """One completion per prompt from a causal LM, token by token, with ``generator``."""
    ptoks = torch.tensor([p.tokens() for p in prompts], dtype=torch.long)
    b = ptoks.shape[0]
    ids = ptoks
    tokens = torch.full((b, max_len), TOKEN[PAD], dtype=torch.long)
    mask = torch.zeros(b, max_len)
    alive = torch.ones(b, dtype=torch.bool)
    for t in range(max_len):
        logits = _next_logits(model, ids)[:, -1]
        nxt = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator).squeeze(1)
        nxt = torch.where(alive, nxt, torch.full_like(nxt, TOKEN[PAD]))
        tokens[:, t] = nxt
        mask[:, t] = alive.float()
        alive = alive & (nxt != TOKEN[EOS])
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        if not alive.any():
            break
    return HFRollout(tuple(prompts), ptoks, tokens, mask)


def _completion_logits(model: Any, roll: HFRollout) -> torch.Tensor:
    ids = torch.cat([roll.prompt_tokens, roll.tokens[:, :-1]], dim=1)
    return _next_logits(model, ids)[:, roll.prompt_tokens.shape[1] - 1 :]


@torch.no_grad()
def evaluate_hf(policy: Any, reference: Any, rm: RewardModel, generator: torch.Generator, *,
                samples_per_prompt: int = 16, max_len: int = 8, step: int = -1) -> StepLog:
    """The built-in engine's evaluation (:func:`~accessrl.llm.optimise.evaluate`) for a causal LM."""
    prompts = [p for p in PROMPTS for _ in range(samples_per_prompt)]
    roll = sample_hf(policy, prompts, max_len, generator)
    logits, ref_logits = _completion_logits(policy, roll), _completion_logits(reference, roll)
    proxy = rm(prompt_matrix(prompts), roll.tokens, roll.mask)
    parts = [true_reward_parts(p, roll.tokens[i].tolist(), max_len) for i, p in enumerate(prompts)]
    m = roll.mask
    return StepLog(
        step=step, proxy_reward=float(proxy.mean()), true_reward=float(np.mean([x.total for x in parts])),
        kl=float((exact_kl(logits, ref_logits) * m).sum(dim=1).mean()),
        entropy=float((entropy(logits) * m).sum() / m.sum().clamp(min=1.0)), length=float(m.sum(dim=1).mean()),
        clip_fraction=0.0, route_accuracy=float(np.mean([x.correct_route for x in parts])),
        repeats=float(np.mean([x.repeats for x in parts])),
    )


def sample_responses_hf(model: Any, rm: RewardModel, generator: torch.Generator, *, label: str,
                        max_len: int) -> PolicySamples:
    """:func:`~accessrl.llm.demo.sample_responses` for a causal LM."""
    batch = [p for p in SAMPLE_PROMPTS for _ in range(SAMPLES_PER_PROMPT)]
    roll = sample_hf(model, batch, max_len, generator)
    with torch.no_grad():
        proxy = rm(prompt_matrix(batch), roll.tokens, roll.mask)
    out = []
    for i, p in enumerate(batch):
        toks = [int(t) for t in roll.tokens[i]]
        parts = true_reward_parts(p, toks, max_len)
        out.append(SampleResponse(prompt_text(p), " ".join(decode(toks)) or "(empty)", float(proxy[i]), parts.total))
    return PolicySamples(label, tuple(out))


def _common_args(workdir: str, seed: int) -> dict[str, Any]:
    return {"output_dir": workdir, "report_to": "none", "use_cpu": True, "bf16": False, "disable_tqdm": True,
            "save_strategy": "no", "seed": seed, "data_seed": seed, "dataloader_num_workers": 0,
            "lr_scheduler_type": "constant", "warmup_steps": 0, "weight_decay": 0.0, "max_grad_norm": 1.0}


def _sft(cfg: TRLDemoConfig, seed: int, workdir: str, prompts: Sequence[Prompt], tokens: torch.Tensor,
         mask: torch.Tensor) -> tuple[str, Any, float]:
    datasets, trl = _need("datasets"), _need("trl")

    rows = {"prompt": [prompt_string(p) for p in prompts],
            "completion": [" ".join(VOCAB[int(t)] for t, m in zip(tokens[i], mask[i], strict=True) if m > 0)
                           for i in range(len(prompts))]}
    tok = build_tokenizer()
    args = trl.SFTConfig(**_common_args(f"{workdir}/sft", seed), num_train_epochs=cfg.sft_epochs,
                         per_device_train_batch_size=64, learning_rate=cfg.sft_learning_rate, logging_steps=10,
                         max_length=16, eos_token=EOS, pad_token=PAD, completion_only_loss=True)
    trainer = trl.SFTTrainer(model=build_model(seed), args=args, train_dataset=datasets.Dataset.from_dict(rows),
                             processing_class=tok)
    out = _silenced(trainer).train()
    path = f"{workdir}/sft-model"
    trainer.model.save_pretrained(path)
    tok.save_pretrained(path)
    return path, tok, float(out.training_loss)


def _load(path: str) -> Any:
    transformers = _need("transformers")
    model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.eval()
    return model


def _rl(cfg: TRLDemoConfig, beta: float, sft_path: str, tok: Any, reward: BradleyTerryReward, seed: int,
        workdir: str, rng: np.random.Generator) -> tuple[Any, tuple[tuple[int, float, float], ...]]:
    datasets, trl = _need("datasets"), _need("trl")

    n = cfg.max_steps * cfg.prompts_per_step
    ds = datasets.Dataset.from_dict({"prompt": [prompt_string(PROMPTS[int(i)]) for i in rng.integers(len(PROMPTS), size=n)]})
    common = {**_common_args(f"{workdir}/{cfg.algorithm}-beta{beta:g}", seed), "beta": float(beta),
              "num_generations": cfg.num_generations, "max_completion_length": cfg.max_completion_length,
              "per_device_train_batch_size": cfg.prompts_per_step * cfg.num_generations, "steps_per_generation": 1,
              "learning_rate": cfg.learning_rate, "max_steps": cfg.max_steps, "epsilon": cfg.epsilon,
              "temperature": 1.0, "top_p": 1.0, "top_k": 0, "logging_steps": 5, "shuffle_dataset": False,
              "generation_kwargs": {"suppress_tokens": list(NON_RESPONSE_IDS)}}
    if cfg.algorithm == "grpo":
        args = trl.GRPOConfig(**common, loss_type="grpo", scale_rewards="group", num_iterations=1)
        trainer_cls = trl.GRPOTrainer
    else:
        args = trl.RLOOConfig(**common, normalize_advantages=False)
        trainer_cls = trl.RLOOTrainer
    trainer = trainer_cls(model=_load(sft_path), reward_funcs=reward, args=args, train_dataset=ds,
                          processing_class=tok)
    _silenced(trainer).train()
    log = tuple((int(h["step"]), float(h.get("reward", np.nan)), float(h.get("kl", 0.0)))
                for h in trainer.state.log_history if "reward" in h)
    model = trainer.model
    model.eval()
    return model, log


def _silenced(trainer: Any) -> Any:
    """No per-step dictionaries or progress bars on stdout: the caller prints the tables."""
    transformers = _need("transformers")
    for cb in (transformers.PrinterCallback, transformers.ProgressCallback):
        trainer.remove_callback(cb)
    return trainer


def _gen(seed: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1000 + stream)


def run_trl_demo(config: TRLDemoConfig, seed: int, workdir: str) -> TRLDemoResult:
    """SFT with ``SFTTrainer``, the Bradley–Terry reward model, RL with TRL per beta; ``workdir`` is scratch."""
    cfg = config.checked()
    rng = np.random.default_rng(seed)
    max_len = cfg.max_completion_length
    d_prompts, d_tokens, d_mask = demonstrations(cfg.n_demonstrations, rng, max_len)
    sft_path, tok, sft_loss = _sft(cfg, seed, workdir, d_prompts, d_tokens, d_mask)
    reference = _load(sft_path)
    train = comparisons(cfg.n_rankings, rng, noise=cfg.label_noise, max_len=max_len)
    test = comparisons(cfg.n_test_rankings, rng, noise=cfg.label_noise, max_len=max_len)
    fit = train_reward_model(train, test, _gen(seed, 3), max_len=max_len, steps=cfg.rm_steps)
    fit.model.normalise(d_prompts, d_tokens, d_mask)  # the demonstrations score 0 on average, as in run_demo
    reward = BradleyTerryReward(fit.model, max_len)
    ref_eval = evaluate_hf(reference, reference, fit.model, _gen(seed, 4), max_len=max_len, step=0,
                           samples_per_prompt=cfg.eval_samples_per_prompt)
    runs, policies = [], []
    for b in cfg.betas:
        policy, log = _rl(cfg, float(b), sft_path, tok, reward, seed, workdir, np.random.default_rng([seed, 5]))
        final = evaluate_hf(policy, reference, fit.model, _gen(seed, 4), max_len=max_len, step=cfg.max_steps,
                            samples_per_prompt=cfg.eval_samples_per_prompt)
        runs.append(TRLRun(cfg.algorithm, float(b), log, final))
        policies.append(policy)
    samples = (sample_responses_hf(reference, fit.model, _gen(seed, 6), label="reference", max_len=max_len),
               *(sample_responses_hf(p, fit.model, _gen(seed, 6), label=f"beta={r.beta:g}", max_len=max_len)
                 for p, r in zip(policies, runs, strict=True)))
    return TRLDemoResult(seed=seed, algorithm=cfg.algorithm, reference=ref_eval, reward_model=fit, runs=tuple(runs),
                         n_params=n_params(reference), sft_loss=sft_loss, samples=samples)


__all__ = ["TRL_ALGORITHMS", "BradleyTerryReward", "HFRollout", "TRLDemoConfig", "TRLDemoResult", "TRLRun",
           "evaluate_hf", "run_trl_demo", "sample_hf", "sample_responses_hf"]
