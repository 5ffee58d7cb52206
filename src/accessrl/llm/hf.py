r"""The access-request task in Hugging Face's terms: a word-level tokenizer and a tiny GPT-2,
both built locally (extra ``[trl]``; nothing is downloaded from a hub).

* :func:`build_tokenizer` — a ``tokenizers`` word-level model over the task's vocabulary
  (:data:`~accessrl.llm.task.VOCAB`, one id per word, in the same order, so token ids are
  the engine's ids) with a whitespace pre-tokenizer, wrapped in
  ``transformers.PreTrainedTokenizerFast``; ``<pad>``, ``<bos>`` and ``<eos>`` are its
  special tokens, ``<sep>`` ends a prompt.
* :func:`build_model` — ``GPT2LMHeadModel`` from a ``GPT2Config`` (2 layers, width 64,
  4 heads, 16 positions, no dropout): about 0.1 M parameters.
* :func:`prompt_string` / :func:`response_ids` — a :class:`~accessrl.llm.task.Prompt` as the
  text the tokenizer reads (``<bos> tier:high evidence:weak policy:P-7 <sep>``, then a space), and a
  generated completion cut after its first ``<eos>``.

The imports are inside the functions: ``accessrl.llm`` works without the extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from accessrl._optional import require
from accessrl.llm.task import BOS, EOS, PAD, PROMPT_LEN, RESPONSE_TOKENS, SEP, TOKEN, VOCAB, Prompt

N_POSITIONS = 16
"""Longest prompt + response the model reads (5 prompt tokens + at most 11 response tokens)."""

NON_RESPONSE_IDS: tuple[int, ...] = tuple(i for i in range(len(VOCAB)) if i not in RESPONSE_TOKENS)
"""Tokens that are not actions of the token MDP (padding, ``<bos>``, ``<sep>``, prompt words):
generation suppresses them, as the engine's policy masks them out of its softmax."""


def _need(module: str) -> Any:
    return require(module, "trl", "the TRL engine", package="trl, transformers and tokenizers")


def build_tokenizer() -> Any:
    """A ``PreTrainedTokenizerFast`` whose ids are :data:`~accessrl.llm.task.TOKEN`'s."""
    tokenizers = _need("tokenizers")
    transformers = _need("transformers")
    model = tokenizers.models.WordLevel(vocab=dict(TOKEN), unk_token=PAD)
    tok = tokenizers.Tokenizer(model)
    tok.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    tok.decoder = tokenizers.decoders.WordPiece(prefix="##")  # joins words with spaces
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, bos_token=BOS, eos_token=EOS,
                                                unk_token=PAD, model_max_length=N_POSITIONS)
    fast.padding_side = "left"  # prompts are left-padded for generation (all 12 have the same length)
    return fast


def build_model(seed: int, *, n_layer: int = 2, n_embd: int = 64, n_head: int = 4) -> Any:
    """A ``GPT2LMHeadModel`` initialised from ``seed`` (its own generator; the global RNG is left alone)."""
    torch = _need("torch")
    transformers = _need("transformers")
    config = transformers.GPT2Config(
        vocab_size=len(VOCAB), n_positions=N_POSITIONS, n_embd=n_embd, n_layer=n_layer, n_head=n_head,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=TOKEN[BOS], eos_token_id=TOKEN[EOS],
        pad_token_id=TOKEN[PAD], tie_word_embeddings=True,
    )
    with torch.random.fork_rng(devices=[]):  # the default init must not move the global RNG
        model = transformers.GPT2LMHeadModel(config)
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():  # GPT-2's scheme (normal, sd 0.02; LayerNorm 1 and 0; biases 0) from our generator
        for name, p in model.named_parameters():
            if p.dim() > 1:
                p.normal_(0.0, config.initializer_range, generator=gen)
            elif ".ln_" in name and name.endswith("weight"):
                p.fill_(1.0)
            else:
                p.zero_()
    model.generation_config.pad_token_id = TOKEN[PAD]
    model.generation_config.eos_token_id = TOKEN[EOS]
    model.generation_config.suppress_tokens = list(NON_RESPONSE_IDS)
    return model


def prompt_string(prompt: Prompt) -> str:
    """``<bos> tier:high evidence:weak policy:P-7 <sep>`` and a space (the tokenizer gives
    :meth:`Prompt.tokens`): TRL's SFT joins prompt and completion without one."""
    return " ".join(VOCAB[t] for t in prompt.tokens()) + " "


def parse_prompt(text: str) -> Prompt:
    """The :class:`Prompt` of :func:`prompt_string`'s text."""
    words = text.split()
    if len(words) != PROMPT_LEN or words[0] != BOS or words[-1] != SEP:
        raise ValueError(f"not a task prompt: {text!r}")
    return Prompt(words[1].split(":", 1)[1], words[2].split(":", 1)[1], words[3].split(":", 1)[1])


def response_ids(ids: Sequence[int], max_len: int) -> tuple[int, ...]:
    """A completion's ids up to and including its first ``<eos>``, at most ``max_len``."""
    out: list[int] = []
    for t in list(ids)[:max_len]:
        out.append(int(t))
        if int(t) == TOKEN[EOS]:
            break
    return tuple(out)


def n_params(model: Any) -> int:
    """Parameters of a transformers model (tied embeddings counted once)."""
    return int(model.num_parameters())


__all__ = ["NON_RESPONSE_IDS", "N_POSITIONS", "build_model", "build_tokenizer", "n_params", "parse_prompt",
           "prompt_string", "response_ids"]
