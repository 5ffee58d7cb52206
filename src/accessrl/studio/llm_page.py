"""The studio's LLM page: lab 9's policy gradient on a language model (a FastAPI router).

* **The token-level MDP for one request**: the state is the prompt and the prefix generated so
  far, an action is the next token (one of :data:`~accessrl.llm.task.RESPONSE_TOKENS`), the
  reward arrives at ``<eos>`` (:class:`~accessrl.llm.task.TokenMDP`); drawn for a demonstrator's
  response to the chosen request.
* **A quick run** of the built-in engine (:func:`~accessrl.llm.demo.run_demo` on a small budget,
  beta 0 and 0.2) in ``app.state.compute``, started by the first request and cached: the page
  polls until it is ready.  It gives proxy and true reward against KL per step, the final
  table, responses before and after, and the learned reward model's scores of candidate responses
  beside the hidden true reward.
* **One question** on what the run shows, graded here from the run's own numbers.

PyTorch (extra ``[llm]``) is needed for the run; without it the page says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi import APIRouter, Body, Request
from fastapi.responses import HTMLResponse, JSONResponse

from accessrl.errors import AccessRLError, ParameterError

QUICK_SEED = 0
QUICK_TIMEOUT = 240.0
"""Seconds the quick run may take in a worker (it runs in the background; the page polls)."""

CANDIDATES = (  # (label, words) for the request "tier:high evidence:weak policy:P-7"
    ("right route, true facts", ("human_review", "because", "weak-evidence", "policy-P7")),
    ("the same facts said twice", ("human_review", "because", "weak-evidence", "policy-P7", "weak-evidence",
                                   "policy-P7")),
    ("'because' said five times", ("human_review", "because", "because", "because", "because", "because")),
    ("wrong route", ("auto_approve", "because", "weak-evidence")),
    ("no routing decision", ("because", "weak-evidence", "policy-P7")),
)
CANDIDATE_PROMPT = 3  # PROMPTS[3] = Prompt("high", "weak", "P-7")


def mdp_path(prompt_index: int, seed: int = 0) -> dict[str, Any]:
    """The token MDP walked along a demonstrator's response to ``PROMPTS[prompt_index]``."""
    from accessrl.llm.task import PROMPTS, RESPONSE_TOKENS, VOCAB, TokenMDP, demonstration, encode, true_reward

    if not 0 <= prompt_index < len(PROMPTS):
        raise ParameterError(f"prompt: expected 0-{len(PROMPTS) - 1}, got {prompt_index}")
    prompt = PROMPTS[prompt_index]
    mdp = TokenMDP(prompt, max_len=8, beta=0.0)
    words = demonstration(prompt, np.random.default_rng(seed))
    state = mdp.initial_state()
    steps = []
    for tok in encode(words):
        reward = mdp.reward(state, tok, kl_term=0.0)
        steps.append({"state": [VOCAB[t] for t in state], "action": VOCAB[tok], "reward": reward})
        state = mdp.step(state, tok)
    return {"prompt": [VOCAB[t] for t in prompt.tokens()], "actions": [VOCAB[t] for t in RESPONSE_TOKENS],
            "steps": steps, "final": [VOCAB[t] for t in state], "correct": prompt.correct_decision(),
            "true_reward": true_reward(prompt, encode(words))}


def quick_run(seed: int = QUICK_SEED) -> dict[str, Any]:
    """The built-in engine on a small budget, JSON-ready (run in a worker process)."""
    import torch

    torch.set_num_threads(1)  # as the CLI: tiny models, one thread
    from accessrl.llm import DemoConfig, RLConfig, run_demo
    from accessrl.llm.reward_model import score
    from accessrl.llm.task import PROMPTS, VOCAB, encode, true_reward

    cfg = DemoConfig(rl=RLConfig(steps=50, prompts_per_step=8), betas=(0.0, 0.2), n_demonstrations=600,
                     sft_steps=100, n_rankings=200, n_test_rankings=50, rm_steps=150)
    res = run_demo(cfg, seed)
    fields = ("proxy_reward", "true_reward", "kl", "length", "repeats", "route_accuracy")
    p = PROMPTS[CANDIDATE_PROMPT]
    seqs = [encode(w) for _, w in CANDIDATES]
    proxy = score(res.reward_model.model, [p] * len(seqs), seqs, 8)
    return {
        "seed": seed, "algorithm": "rloo", "n_params": res.n_params,
        "reward_model": {"label_agreement": res.reward_model.label_agreement,
                         "true_agreement": res.reward_model.true_agreement},
        "reference": {f: getattr(res.reference, f) for f in fields},
        "runs": [{"beta": r.config.beta, "final": {f: getattr(r.final, f) for f in fields},
                  "history": [{"step": h.step, "proxy": h.proxy_reward, "true": h.true_reward, "kl": h.kl}
                              for h in r.history]} for r in res.runs],
        "samples": [{"policy": ps.label, "responses": [{"prompt": x.prompt, "response": x.response,
                                                         "proxy": x.proxy_reward, "true": x.true_reward}
                                                        for x in ps.responses]} for ps in res.samples],
        "candidates": {"prompt": " ".join(VOCAB[t] for t in p.tokens()[1:4]),
                       "rows": [{"label": label, "response": " ".join(w), "proxy": float(proxy[i]),
                                 "true": true_reward(p, seqs[i])} for i, (label, w) in enumerate(CANDIDATES)]},
    }


def question(run: dict[str, Any]) -> dict[str, Any]:
    """One question on the run, its answer read from the run's numbers."""
    ref, zero = run["reference"], next(r for r in run["runs"] if r["beta"] == 0.0)["final"]
    choices = [
        "it rose with the proxy reward: the reward model is right everywhere",
        "it fell: the policy found responses the reward model over-pays, such as repeated words",
        "it stayed the same: reinforcement learning cannot change what the policy says",
        "the question cannot be answered: the true reward is never measured",
    ]
    answer = 1 if zero["true_reward"] < ref["true_reward"] else 0
    return {
        "prompt": (f"Without a KL penalty (beta = 0) the proxy reward went from {ref['proxy_reward']:.2f} to "
                   f"{zero['proxy_reward']:.2f}. What happened to the true reward, and why?"),
        "choices": choices, "answer": answer,
        "explanation": (f"The true reward went from {ref['true_reward']:.2f} to {zero['true_reward']:.2f} while the "
                        f"KL to the reference grew to {zero['kl']:.1f} nats and repeated tokens to "
                        f"{zero['repeats']:.2f} per response: the learned reward is trusted where it saw no data "
                        "(Gao, Schulman & Hilton 2023). The KL penalty keeps the policy near the reference."),
    }


def llm_router(render: Callable[..., HTMLResponse]) -> APIRouter:
    """The page, the MDP walk, the quick run (started once, then polled) and the question's check."""
    router = APIRouter()
    state: dict[str, Any] = {"task": None, "result": None, "error": None}

    async def start(request: Request) -> None:
        async def go() -> None:
            try:
                state["result"] = await request.app.state.compute.run(quick_run, QUICK_SEED, timeout=QUICK_TIMEOUT)
            except Exception as exc:  # shown on the page as one line; a new request retries
                state["error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                state["task"] = None

        if state["task"] is None and state["result"] is None:
            state["error"] = None
            state["task"] = asyncio.ensure_future(go())

    @router.get("/llm", response_class=HTMLResponse)
    def llm_page() -> HTMLResponse:
        try:
            from accessrl.llm.task import PROMPTS, VOCAB
        except AccessRLError as exc:  # no PyTorch: the page says what to install
            return render("llm.html", "llm", prompts=[], missing=str(exc), candidate_prompt=CANDIDATE_PROMPT)
        return render("llm.html", "llm", prompts=[" ".join(VOCAB[t] for t in p.tokens()[1:4]) for p in PROMPTS],
                      missing=None, candidate_prompt=CANDIDATE_PROMPT)

    @router.get("/api/llm/mdp/{index}")
    def llm_mdp(index: int) -> JSONResponse:
        if not 0 <= index < 12:
            return JSONResponse({"error": f"accessrl: error: prompt: expected 0-11, got {index}"}, status_code=422)
        return JSONResponse(mdp_path(index))

    @router.get("/api/llm/run")
    async def llm_run(request: Request) -> JSONResponse:
        try:
            import torch  # noqa: F401
        except ImportError:
            return JSONResponse({"error": 'accessrl: error: the LLM run needs PyTorch: pip install "accessrl[llm]"'},
                                status_code=503)
        await start(request)
        if state["result"] is not None:
            q = question(state["result"])
            return JSONResponse({"status": "ready", **state["result"],
                                 "question": {"prompt": q["prompt"], "choices": q["choices"]}})
        if state["error"] is not None:
            return JSONResponse({"error": f"accessrl: error: the quick run failed: {state['error']}"}, status_code=500)
        return JSONResponse({"status": "running"})

    @router.post("/api/llm/answer")
    def llm_answer(payload: Any = Body(None)) -> JSONResponse:
        if state["result"] is None:
            return JSONResponse({"error": "accessrl: error: the quick run is not ready yet"}, status_code=409)
        choice = payload.get("answer") if isinstance(payload, dict) else None
        q = question(state["result"])
        if isinstance(choice, bool) or not isinstance(choice, int) or not 0 <= choice < len(q["choices"]):
            return JSONResponse({"error": f"accessrl: error: answer: expected a choice 0-{len(q['choices']) - 1}, "
                                          f"got {choice!r}"}, status_code=422)
        return JSONResponse({"correct": choice == q["answer"], "answer": q["answer"],
                             "answer_text": q["choices"][q["answer"]], "explanation": q["explanation"]})

    return router


__all__ = ["CANDIDATES", "llm_router", "mdp_path", "question", "quick_run"]

