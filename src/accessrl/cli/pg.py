"""Policy gradients on the command line: REINFORCE on workflows, and `accessrl llm demo`.

* ``accessrl learn SPEC --algorithm reinforce`` — listed in ``accessrl learn``'s
  algorithm table (leave-one-out baseline; ``reinforce-none``, ``reinforce-mean``,
  ``reinforce-loo``, ``reinforce-value`` pick another baseline, since ``learn`` has no
  ``--baseline`` flag).  There ``--step-size`` is the constant ascent step (learn's
  default schedule ``visits`` means 0.01), batches hold 16 episodes, and ``--epsilon``
  is not used: REINFORCE explores through its own softmax policy;
* ``accessrl reinforce SPEC --baseline none|mean|loo|value`` — the same learner with
  all its settings;
* ``accessrl llm demo [--algorithm rloo|grpo|ppo] [--beta B ...] [--seed S] [--plot FILE.png]``;
  ``--engine trl`` runs the same task through Hugging Face TRL on a tiny GPT-2 (extra ``[trl]``,
  offline: ``HF_HUB_OFFLINE=1`` is set before transformers is imported).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import typer

from accessrl._optional import require
from accessrl.cli._common import console, load_model_arg, new_app, print_json, print_table
from accessrl.cli.runners import LearnReport, LearnRequest, Runner
from accessrl.errors import AccessRLError, ParameterError
from accessrl.model.mdp import MDP

DEFAULT_STEP_SIZE = 0.01
DEFAULT_BATCH = 16


def _check_step(value: float) -> float:
    if not (value > 0 and math.isfinite(value)):
        raise ParameterError(f"--step-size: expected a positive number, got {value}")
    return value


def _run_reinforce(
    mdp: MDP, *, baseline: str, episodes: int, batch_size: int, step_size: float, seed: int, max_steps: int,
    progress: Any = None,
) -> tuple[Any, dict[str, Any]]:
    from accessrl.learning.policy_gradient import reinforce, tabular_policy
    from accessrl.planning.exact import policy_evaluation
    from accessrl.planning.solver import solve

    if batch_size < 1:
        raise ParameterError(f"--batch-size: expected at least 1, got {batch_size}")
    if episodes < 1:
        raise ParameterError(f"--episodes: expected a positive whole number, got {episodes}")
    iterations = max(1, episodes // batch_size)
    pol = tabular_policy(mdp)
    res = reinforce(pol, np.random.default_rng(seed), iterations=iterations, batch_size=batch_size,
                    step_size=step_size, baseline=baseline, max_steps=max_steps, progress=progress)
    s0 = mdp.start if mdp.start is not None else 0
    extra: dict[str, Any] = {"baseline": baseline, "batch_size": batch_size, "iterations": iterations,
                             "step_size": step_size}
    try:
        extra["learned_value"] = float(policy_evaluation(mdp, res.probabilities).values[s0])
        extra["optimal_value"] = float(solve(mdp).values[s0]) if mdp.n_states <= 20_000 else None
    except AccessRLError:
        extra["learned_value"] = None
    extra["probabilities"] = {
        mdp.state_names[s]: {mdp.action_names[int(mdp.sa_action[k])]: float(res.probabilities[k])
                             for k in range(int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1]))}
        for s in mdp.decision_states
    }
    return res, extra


def _learn_runner(baseline: str) -> Runner:
    def run(req: LearnRequest) -> LearnReport:
        from accessrl.learning.policy_gradient import most_probable_actions

        try:
            step = float(req.step_size)
        except ValueError:
            step = DEFAULT_STEP_SIZE  # learn's default "visits" schedule means nothing here
        res, extra = _run_reinforce(
            req.mdp, baseline=req.baseline or baseline, episodes=req.episodes, batch_size=DEFAULT_BATCH,
            step_size=_check_step(step),
            seed=req.seed, max_steps=req.max_steps,
            progress=(lambda d, t: req.progress(d * DEFAULT_BATCH, t * DEFAULT_BATCH)) if req.progress else None,
        )
        extra["note"] = "REINFORCE explores through its softmax policy; --epsilon is not used"
        return LearnReport(
            algorithm=req.algorithm, policy=most_probable_actions(req.mdp, res.probabilities),
            episode_returns=res.episode_returns, extra=extra,
        )

    return run


REINFORCE_RUNNERS: Mapping[str, Runner] = MappingProxyType({
    "reinforce": _learn_runner("loo"),
    **{f"reinforce-{b}": _learn_runner(b) for b in ("none", "mean", "loo", "value")},
})
"""``accessrl learn --algorithm reinforce`` (and one name per baseline), for :data:`accessrl.cli.learning.ALGORITHMS`."""


def _print_probabilities(mdp: MDP, probs: np.ndarray, title: str) -> None:
    rows = [[mdp.state_names[int(mdp.sa_state[k])], mdp.action_names[int(mdp.sa_action[k])], float(probs[k])]
            for k in range(mdp.n_pairs)]
    print_table(title, ["state", "action", "probability"], rows)


def _llm_demo(
    algorithm: str, betas: list[float], seed: int, steps: int, group_size: int, prompts_per_step: int, max_len: int,
    kl_estimator: str | None, kl_in: str | None, log_every: int, plot: str | None, json_out: bool,
) -> None:
    torch = require("torch", "llm", "the llm demo", package="PyTorch (the CPU build is enough)")
    torch.set_num_threads(1)  # tiny models: one thread is fastest, and bit-for-bit repeatable
    from accessrl.llm import DemoConfig, RLConfig, run_demo

    rl = RLConfig(algorithm=algorithm, steps=steps, group_size=group_size, prompts_per_step=prompts_per_step,
                  max_len=max_len, kl_estimator=kl_estimator, kl_in=kl_in)
    if log_every < 1:
        raise ParameterError(f"--log-every: expected at least 1, got {log_every}")
    res = run_demo(DemoConfig(rl=rl, betas=tuple(betas)), seed)
    fit = res.reward_model
    fields = ("proxy_reward", "true_reward", "kl", "entropy", "length", "clip_fraction", "route_accuracy", "repeats")
    if plot:
        _plot(res, plot)
    if json_out:
        print_json({
            "seed": seed, "algorithm": algorithm, "n_params": res.n_params,
            "reward_model": {"train_pairs": fit.n_train_pairs, "test_pairs": fit.n_test_pairs,
                             "label_agreement": fit.label_agreement, "true_agreement": fit.true_agreement},
            "reference": {f: getattr(res.reference, f) for f in fields},
            "runs": [{"beta": r.config.beta, "kl_estimator": r.config.kl_estimator, "kl_in": r.config.kl_in,
                      "final": {f: getattr(r.final, f) for f in fields},
                      "history": [{"step": h.step, **{f: getattr(h, f) for f in fields}} for h in r.history]}
                     for r in res.runs],
            "samples": [{"policy": ps.label, "responses": [vars(x) for x in ps.responses]} for ps in res.samples],
        })
        return
    cfg0 = res.runs[0].config
    console.print(f"[bold]llm demo[/]: {algorithm}, seed {seed}, policy of {res.n_params} parameters, "
                  f"KL {cfg0.kl_estimator} in the {cfg0.kl_in}")
    console.print(f"reward model: {fit.n_train_pairs} training pairs; held-out agreement "
                  f"{fit.label_agreement:.1%} with the labels, {fit.true_agreement:.1%} with the true reward "
                  f"({fit.n_test_pairs} pairs)")
    # one pass per batch (RLOO's default) keeps the ratio at 1: a clip column would be all zeros
    shown = 6 if (cfg0.epochs or 1) > 1 else 5
    cols = ["step", "proxy", "true", "KL", "entropy", "length", "clip"][: shown + 1]
    for r in res.runs:
        rows = [[h.step, *(f"{getattr(h, f):.3f}" for f in fields[:shown])]
                for h in r.history if h.step % log_every == 0 or h.step == len(r.history) - 1]
        print_table(f"beta = {r.config.beta:g}: per-step log (training batches)", cols, rows, limit=1000)
    if shown == 5:
        console.print("(no clip column: one pass per batch keeps the probability ratio at 1)", markup=False)
    summary = [["reference", *(f"{getattr(res.reference, f):.3f}" for f in fields if f != "clip_fraction")]]
    summary += [[f"beta={r.config.beta:g}", *(f"{getattr(r.final, f):.3f}" for f in fields if f != "clip_fraction")]
                for r in res.runs]
    print_table("final evaluation (16 samples on each of the 12 prompts)",
                ["policy", "proxy", "true", "KL", "entropy", "length", "route acc", "repeats"], summary)
    from accessrl.llm import sample_lines

    console.print("sample responses (the same random numbers for every policy):", markup=False)
    for line in sample_lines(res):
        console.print(line, markup=False, soft_wrap=True)
    zero = [r for r in res.runs if r.config.beta == 0.0]
    if zero:
        z = zero[0]
        console.print(f"beta = 0: proxy reward {res.reference.proxy_reward:.2f} -> {z.final.proxy_reward:.2f}, "
                      f"true reward {res.reference.true_reward:.2f} -> {z.final.true_reward:.2f}")
    if plot:
        console.print(f"plot written to {plot}")


def _quiet_hf() -> None:
    """Offline, no progress bars, no per-step dictionaries on stdout: the demo prints its own tables."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ[var] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    need = "trl, transformers and tokenizers"
    require("trl", "trl", "the TRL engine", package=need)
    datasets: Any = require("datasets", "trl", "the TRL engine", package=need)
    transformers: Any = require("transformers", "trl", "the TRL engine", package=need)

    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def _llm_demo_trl(
    algorithm: str, betas: list[float], seed: int, steps: int, group_size: int, prompts_per_step: int, max_len: int,
    log_every: int, json_out: bool,
) -> None:
    torch = require("torch", "llm", "the llm demo", package="PyTorch (the CPU build is enough)")
    _quiet_hf()
    torch.set_num_threads(1)  # as the built-in engine: tiny models, one thread is fastest
    import tempfile
    import warnings

    from accessrl.llm.trl_engine import TRLDemoConfig, run_trl_demo

    if log_every < 1:
        raise ParameterError(f"--log-every: expected at least 1, got {log_every}")
    cfg = TRLDemoConfig(algorithm=algorithm, betas=tuple(betas), max_steps=steps, num_generations=group_size,
                        prompts_per_step=prompts_per_step, max_completion_length=max_len).checked()
    with tempfile.TemporaryDirectory(prefix="accessrl-trl-") as work, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TRL and transformers warn about defaults the demo sets on purpose
        res = run_trl_demo(cfg, seed, work)
    fit = res.reward_model
    fields = ("proxy_reward", "true_reward", "kl", "entropy", "length", "route_accuracy", "repeats")
    if json_out:
        print_json({
            "seed": seed, "engine": "trl", "algorithm": algorithm, "n_params": res.n_params, "sft_loss": res.sft_loss,
            "reward_model": {"train_pairs": fit.n_train_pairs, "test_pairs": fit.n_test_pairs,
                             "label_agreement": fit.label_agreement, "true_agreement": fit.true_agreement},
            "reference": {f: getattr(res.reference, f) for f in fields},
            "runs": [{"beta": r.beta, "final": {f: getattr(r.final, f) for f in fields},
                      "history": [{"step": s, "proxy_reward": rw, "kl": kl} for s, rw, kl in r.log]}
                     for r in res.runs],
            "samples": [{"policy": ps.label, "responses": [vars(x) for x in ps.responses]} for ps in res.samples],
        })
        return
    kl_word = "k1 in the reward" if algorithm == "rloo" else "k3 in the loss"
    console.print(f"[bold]llm demo[/]: {algorithm} through TRL (trl.{algorithm.upper()}Trainer), seed {seed}, "
                  f"GPT-2 of {res.n_params} parameters (SFT by trl.SFTTrainer, loss {res.sft_loss:.3f}), KL {kl_word}")
    console.print(f"reward model: {fit.n_train_pairs} training pairs; held-out agreement "
                  f"{fit.label_agreement:.1%} with the labels, {fit.true_agreement:.1%} with the true reward "
                  f"({fit.n_test_pairs} pairs)")
    for r in res.runs:
        rows = [[s, f"{rw:.3f}", f"{kl:.3f}" if r.beta > 0 else "-"] for s, rw, kl in r.log
                if s % log_every == 0 or s == r.log[-1][0]]
        print_table(f"beta = {r.beta:g}: TRL's log (training batches; KL per token as TRL estimates it, "
                    "none at beta 0)", ["step", "proxy", "KL"], rows, limit=1000)
    summary = [["reference", *(f"{getattr(res.reference, f):.3f}" for f in fields)]]
    summary += [[f"beta={r.beta:g}", *(f"{getattr(r.final, f):.3f}" for f in fields)] for r in res.runs]
    print_table("final evaluation (16 samples on each of the 12 prompts)",
                ["policy", "proxy", "true", "KL", "entropy", "length", "route acc", "repeats"], summary)
    from accessrl.llm.demo import format_samples

    console.print("sample responses (the same random numbers for every policy):", markup=False)
    for line in format_samples(res.samples):
        console.print(line, markup=False, soft_wrap=True)
    zero = [r for r in res.runs if r.beta == 0.0]
    if zero:
        z = zero[0]
        console.print(f"beta = 0: proxy reward {res.reference.proxy_reward:.2f} -> {z.final.proxy_reward:.2f}, "
                      f"true reward {res.reference.true_reward:.2f} -> {z.final.true_reward:.2f}")


def _plot(res: Any, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    w = 10
    for r in res.runs:
        kl = np.array([h.kl for h in r.history])
        order = np.argsort(kl, kind="stable")
        for ax, f in zip(axes, ("proxy_reward", "true_reward"), strict=True):
            y = np.array([getattr(h, f) for h in r.history])
            smooth = np.convolve(y, np.ones(w) / w, mode="valid")
            ks = np.convolve(kl, np.ones(w) / w, mode="valid")
            ax.plot(ks, smooth, label=f"beta = {r.config.beta:g}")
            ax.scatter(kl[order], y[order], s=4, alpha=0.25)
    for ax, title in zip(axes, ("proxy (learned) reward", "true reward"), strict=True):
        ax.set_xlabel("KL(pi || pi_ref), nats per response")
        ax.set_title(title)
        ax.legend()
    fig.suptitle(f"{res.runs[0].config.algorithm}: reward against KL (seed {res.seed})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def register(app: typer.Typer) -> None:
    @app.command("reinforce")
    def reinforce_cmd(
        spec: str = typer.Argument(..., help="Workflow spec (YAML/JSON), binary .npz, or catalog:NAME."),
        baseline: str = typer.Option("loo", "--baseline", "-b", help="none, mean, loo (leave-one-out) or value."),
        episodes: int = typer.Option(4800, "--episodes", "-n", help="Number of episodes (batches of --batch-size)."),
        batch_size: int = typer.Option(DEFAULT_BATCH, "--batch-size", help="Episodes per gradient step."),
        learning_rate: float = typer.Option(None, "--learning-rate",
                                            help=f"Gradient ascent step (default {DEFAULT_STEP_SIZE})."),
        step_size: float = typer.Option(None, "--step-size", hidden=True, help="Older spelling of --learning-rate."),
        seed: int = typer.Option(0, "--seed", help="Seed of the random generator."),
        max_steps: int = typer.Option(10_000, "--max-steps", help="Truncate an episode after this many steps."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """REINFORCE with a tabular softmax policy; compare with the exact optimum."""
        from accessrl.learning.policy_gradient import BASELINES

        if baseline not in BASELINES:
            raise ParameterError(f"--baseline: expected one of {list(BASELINES)}, got {baseline!r}")
        if seed < 0:
            raise ParameterError(f"--seed: expected a non-negative integer, got {seed}")
        if learning_rate is not None and step_size is not None:
            raise ParameterError("--learning-rate and --step-size: give the gradient step once (--learning-rate)")
        step_size = learning_rate if learning_rate is not None else step_size if step_size is not None \
            else DEFAULT_STEP_SIZE
        _check_step(step_size)
        mdp = load_model_arg(spec).without_forbidden  # a forbidden pair is not an action to learn
        res, extra = _run_reinforce(mdp, baseline=baseline, episodes=episodes, batch_size=batch_size,
                                    step_size=step_size, seed=seed, max_steps=max_steps)
        if json_out:
            print_json({"model": mdp.name, "algorithm": "reinforce", "seed": seed, **extra,
                        "mean_return_last_10pct": float(res.mean_returns[-max(1, res.mean_returns.size // 10):].mean())})
            return
        console.print(f"[bold]{mdp.name}[/]: REINFORCE, baseline {baseline}, {extra['iterations']} batches of "
                      f"{batch_size}, step {step_size}, seed {seed}")
        _print_probabilities(mdp, res.probabilities, "learned policy")
        if extra.get("learned_value") is not None:
            console.print(f"exact value of the learned policy: {extra['learned_value']:.4f}"
                          + (f" (optimum {extra['optimal_value']:.4f})" if extra.get("optimal_value") is not None else ""))

    llm = new_app("LLM post-training in miniature: SFT, reward model, RLOO / GRPO / PPO with a KL penalty.")

    @llm.command("demo")
    def demo_cmd(
        algorithm: str = typer.Option("rloo", "--algorithm", "-a", help="rloo, grpo or ppo."),
        beta: list[float] = typer.Option(None, "--beta", help="KL coefficient (repeatable; default 0, 0.05, 0.2)."),
        seed: int = typer.Option(0, "--seed", help="Seed of every random generator."),
        steps: int = typer.Option(150, "--steps", help="RL steps per beta."),
        group_size: int = typer.Option(4, "--group-size", help="Responses per prompt."),
        prompts_per_step: int = typer.Option(16, "--prompts", help="Prompts per RL step."),
        max_len: int = typer.Option(8, "--max-len", help="Most response tokens (<eos> included)."),
        kl_estimator: str = typer.Option(None, "--kl-estimator", help="k1, k2 or k3 (default by algorithm)."),
        kl_in: str = typer.Option(None, "--kl-in", help="reward or loss (default by algorithm)."),
        log_every: int = typer.Option(25, "--log-every", help="Print every N-th step of the log."),
        plot: str = typer.Option(None, "--plot", help="Draw proxy and true reward against KL to FILE.png."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output (with the full log)."),
        engine: str = typer.Option("builtin", "--engine",
                                   help="builtin (the GRU engine) or trl (TRL's trainers on a tiny GPT-2; extra [trl])."),
    ) -> None:
        """Show reward over-optimisation at beta = 0 and its control by a KL penalty."""
        if seed < 0:
            raise ParameterError(f"--seed: expected a non-negative integer, got {seed}")
        if engine not in ("builtin", "trl"):
            raise ParameterError(f"--engine: expected builtin or trl, got {engine!r}")
        betas = list(beta) if beta else [0.0, 0.05, 0.2]
        if engine == "trl":
            unsupported = [n for n, v in (("--kl-estimator", kl_estimator), ("--kl-in", kl_in), ("--plot", plot)) if v]
            if unsupported:
                raise ParameterError(f"{', '.join(unsupported)}: the trl engine uses TRL's own KL (RLOO k1 in the "
                                     "reward, GRPO k3 in the loss) and draws no plot; drop it or use --engine builtin")
            if algorithm not in ("rloo", "grpo"):
                raise ParameterError(f"--algorithm: the trl engine runs rloo or grpo, got {algorithm!r}")
            _llm_demo_trl(algorithm, betas, seed, steps, group_size, prompts_per_step, max_len, log_every, json_out)
            return
        from accessrl.llm.demo import DEFAULT_BETAS

        betas = list(beta) if beta else list(DEFAULT_BETAS)
        _llm_demo(algorithm, betas, seed, steps, group_size, prompts_per_step,
                  max_len, kl_estimator, kl_in, log_every, plot, json_out)

    app.add_typer(llm, name="llm")


__all__ = ["REINFORCE_RUNNERS", "register"]
