"""`accessrl simulate` and `accessrl learn`: thin adapters over simulation and learning.

``learn --algorithm NAME`` dispatches through :data:`ALGORITHMS`, a table of runners
(name -> function of a :class:`~accessrl.cli.runners.LearnRequest` returning a
:class:`~accessrl.cli.runners.LearnReport`), written out here: the Q-learning family and
the REINFORCE runners of :mod:`accessrl.cli.pg`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import typer

from accessrl.cli._common import TABLE_ROWS, console, load_model_arg, print_json, print_table
from accessrl.cli._progress import DelayedProgress
from accessrl.cli.pg import REINFORCE_RUNNERS
from accessrl.cli.runners import LearnReport, LearnRequest, Runner
from accessrl.errors import AccessRLError, ParameterError
from accessrl.model.mdp import MDP


def _q_family(req: LearnRequest) -> LearnReport:
    from accessrl.learning.tabular import learn

    engine = req.engine
    if engine == "auto":
        engine = "fast" if req.episodes * max(1, req.mdp.n_states) >= 200_000 else "reference"
    res = learn(
        req.mdp, episodes=req.episodes, rng=np.random.default_rng(req.seed), algorithm=req.algorithm,
        epsilon=req.epsilon, step_size=req.step_size, omega=req.omega, max_steps=req.max_steps,
        never_explore=list(req.never_explore) or None, safe=req.safe,
        exact=req.mdp.n_states <= 20_000, engine=engine, progress=req.progress,
    )
    return LearnReport(
        algorithm=req.algorithm, policy=res.policy, episode_returns=res.episode_returns, q=res.q,
        visits=res.visits, unsafe_actions=res.unsafe_actions, max_error=res.max_error,
        extra={"engine": engine, "steps": res.steps, "truncated_episodes": res.truncated},
    )


ALGORITHMS: Mapping[str, Runner] = MappingProxyType({
    "q-learning": _q_family,
    "sarsa": _q_family,
    "expected-sarsa": _q_family,
    "double-q": _q_family,
    **REINFORCE_RUNNERS,
})
"""``--algorithm`` name -> runner (read-only; another learner is one more entry here)."""


def _check_common(episodes: int, seed: int) -> None:
    if episodes <= 0:
        raise ParameterError(f"--episodes: expected a positive whole number, got {episodes}")
    if seed < 0:
        raise ParameterError(f"--seed: expected a non-negative integer, got {seed}")


def _exact_value(mdp: MDP, pol: Any, start: int, first_action: int | None) -> float | None:
    from accessrl.planning.exact import policy_evaluation

    try:
        ev = policy_evaluation(mdp, pol)
    except AccessRLError:
        return None
    if first_action is None:
        return float(ev.values[start])
    return float(ev.q_values[mdp.pair_index(start, first_action)])


def _q_json(mdp: MDP, q: np.ndarray, visits: np.ndarray | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for s in mdp.decision_states:
        lo, hi = int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1])
        out[mdp.state_names[s]] = {
            mdp.action_names[int(mdp.sa_action[k])]: (
                {"q": float(q[k]), "visits": int(visits[k])} if visits is not None else {"q": float(q[k])}
            )
            for k in range(lo, hi)
        }
    return out


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_cmd(
        spec: str = typer.Argument(..., help="Workflow spec (YAML/JSON), binary .npz, or catalog:NAME."),
        policy: str = typer.Option("optimal", "--policy", "-p", help="Policy file (state: action), 'optimal' or 'uniform'."),
        episodes: int = typer.Option(10_000, "--episodes", "-n", help="Number of episodes."),
        seed: int = typer.Option(0, "--seed", help="Seed of the random generator."),
        start: str = typer.Option(None, "--start", help="Start state (default: the spec's start)."),
        first_action: str = typer.Option(None, "--first-action", help="Force the first action, then follow the policy."),
        max_steps: int = typer.Option(10_000, "--max-steps", help="Truncate an episode after this many steps."),
        severe_threshold: float = typer.Option(None, "--severe-threshold", help="A return at or below this is severe."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
        plot: str = typer.Option(None, "--plot", help="Write a histogram of returns to FILE.png."),
    ) -> None:
        """Simulate episodes of a policy: mean, 95% interval, quantiles, CVaR 5%, severe rate."""
        from accessrl.simulation import simulate

        _check_common(episodes, seed)
        mdp = load_model_arg(spec)
        from accessrl.specfile import resolve_policy

        resolved = resolve_policy(mdp, policy)
        pol, label = resolved.probabilities, resolved.source
        s0 = mdp.state_index(start) if start else (mdp.start if mdp.start is not None else 0)
        a0 = mdp.action_index(first_action) if first_action else None
        if a0 is not None:
            mdp.pair_index(s0, a0)
        sim = simulate(mdp, pol, episodes, rng=np.random.default_rng(seed), start=s0, first_action=a0,
                       max_steps=max_steps, severe_threshold=severe_threshold, record=False)
        exact = _exact_value(mdp, pol, s0, a0)
        st = sim.stats
        if plot:
            from accessrl.report.plots import returns_histogram

            returns_histogram(sim.returns, plot, exact=exact, mean=st.mean,
                              title=f"{mdp.name}: {episodes} episodes of policy {label}")
        if json_out:
            print_json({
                "model": mdp.name, "policy": label, "episodes": episodes, "seed": seed,
                "start": mdp.state_names[s0], "first_action": first_action,
                "mean": st.mean, "std": st.std, "ci95": list(st.ci95),
                "quantiles": {f"{q:g}": v for q, v in st.quantiles.items()},
                "cvar05": st.cvar05, "severe_rate": st.severe_rate, "exact_value": exact,
                "event_counts": dict(sim.event_counts), "truncated_episodes": int((~sim.terminated).sum()),
                "mean_length": float(sim.lengths.mean()),
            })
            return
        rows: list[list[Any]] = [
            ["episodes", episodes], ["mean", st.mean], ["std", st.std],
            ["95% interval", f"[{st.ci95[0]:.6g}, {st.ci95[1]:.6g}]"],
            *[[f"quantile {q:g}", v] for q, v in st.quantiles.items()],
            ["CVaR 5%", st.cvar05],
            ["severe rate", st.severe_rate if st.severe_rate == st.severe_rate  # NaN: nothing marks severity
             else "n/a (no severe outcomes in the spec; see --severe-threshold)"],
            ["exact value", exact if exact is not None else "n/a"],
            *[[f"episodes with event {e!r}", c] for e, c in sim.event_counts.items()],
            ["truncated episodes", int((~sim.terminated).sum())],
        ]
        print_table(f"{mdp.name}: policy {label} from {mdp.state_names[s0]}", ["statistic", "value"], rows)
        if plot:
            console.print(f"histogram written to {plot}")

    @app.command("learn")
    def learn_cmd(
        spec: str = typer.Argument(..., help="Workflow spec (YAML/JSON), binary .npz, or catalog:NAME."),
        algorithm: str = typer.Option("q-learning", "--algorithm", "-a", help=f"One of {', '.join(ALGORITHMS)}."),
        episodes: int = typer.Option(20_000, "--episodes", "-n", help="Number of episodes."),
        epsilon: float = typer.Option(0.15, "--epsilon", "-e", help="Exploration rate in [0, 1] (the schedule's start)."),
        schedule: str = typer.Option("constant", "--epsilon-schedule",
                                     help="constant, linear or exponential decay to --epsilon-end over the run."),
        epsilon_end: float = typer.Option(0.01, "--epsilon-end", help="Final exploration rate of a decaying schedule."),
        seed: int = typer.Option(13, "--seed", help="Seed of the random generator (13: the lesson's Q-learning lab)."),
        step_size: str = typer.Option("visits", "--step-size", help="visits (n^-omega), 1/n, or a constant in (0, 1]."),
        omega: float = typer.Option(0.6, "--omega", help="Exponent of the visits step size."),
        max_steps: int = typer.Option(10_000, "--max-steps", help="Truncate an episode after this many steps."),
        never_explore: list[str] = typer.Option(
            None, "--never-explore", help="STATE:ACTION exploration must never pick (repeatable)."),
        allow_unsafe: bool = typer.Option(False, "--allow-unsafe", help="Only count unsafe actions, do not forbid them."),
        engine: str = typer.Option("auto", "--engine", help="reference, fast (numba) or auto; same numbers."),
        baseline: str = typer.Option(None, "--baseline",
                                     help="REINFORCE only: none, mean, loo (leave-one-out) or value."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output (a summary instead of every "
                                                            "state above 10000 states: use --out)."),
        plot: str = typer.Option(None, "--plot", help="Write the learning curve to FILE.png."),
        out: str = typer.Option(None, "--out", help="Write the learned Q-values, visits and greedy policy to "
                                                    "FILE.npz, FILE.parquet or FILE.json."),
    ) -> None:
        """Learn action values from sampled episodes; compare with the exact solution."""
        from accessrl.cli import results

        out_path = results.check_out(out)
        if algorithm not in ALGORITHMS:
            raise ParameterError(f"--algorithm: expected one of {list(ALGORITHMS)}, got {algorithm!r}")
        _check_common(episodes, seed)
        if baseline is not None:
            if not algorithm.startswith("reinforce"):
                raise ParameterError(f"--baseline: applies to --algorithm reinforce only, not {algorithm!r}")
            if baseline not in ("none", "mean", "loo", "value"):
                raise ParameterError(f"--baseline: expected none, mean, loo or value, got {baseline!r}")
        if not 0.0 <= epsilon <= 1.0:
            raise ParameterError(f"--epsilon: expected a number in [0, 1], got {epsilon}")
        if not 0.0 <= epsilon_end <= 1.0:
            raise ParameterError(f"--epsilon-end: expected a number in [0, 1], got {epsilon_end}")
        if schedule not in ("constant", "linear", "exponential"):
            raise ParameterError(f"--epsilon-schedule: expected constant, linear or exponential, got {schedule!r}")
        eps: Any = epsilon
        if schedule != "constant":
            from accessrl.learning.config import EpsilonSchedule

            eps = EpsilonSchedule(schedule, epsilon, epsilon_end, episodes)
        if engine not in ("auto", "reference", "fast"):
            raise ParameterError(f"--engine: expected auto, reference or fast, got {engine!r}")
        for item in never_explore or []:
            if ":" not in item:
                raise ParameterError(f"--never-explore: expected STATE:ACTION, got {item!r}")
        mdp = load_model_arg(spec)
        with DelayedProgress(f"{algorithm} on {mdp.name}") as bar:
            req = LearnRequest(
                mdp=mdp, algorithm=algorithm, episodes=episodes, epsilon=eps, seed=seed, step_size=step_size,
                omega=omega, max_steps=max_steps, never_explore=tuple(never_explore or ()), safe=not allow_unsafe,
                engine=engine, progress=lambda done, total: bar(done / total, f"{done}/{total} episodes"),
                baseline=baseline,
            )
            rep = ALGORITHMS[algorithm](req)
        big = mdp.n_states > results.FULL_JSON_STATES  # naming millions of pairs takes longer than learning
        many = mdp.n_states > TABLE_ROWS  # more states than a table shows: a summary instead

        def policy_names() -> dict[str, str]:
            return {mdp.state_names[s]: mdp.action_names[int(rep.policy[s])] for s in mdp.decision_states
                    if rep.policy[s] >= 0}

        summary = None
        if rep.q is not None and (many or json_out or out_path is not None):
            greedy_values = mdp.dense_q(rep.q).max(axis=1)  # -inf where a state has no action
            summary = results.summarise(mdp, rep.policy, greedy_values, rep.visits)
            if out_path is not None:
                results.write_result(out_path, mdp, values=greedy_values, policy=rep.policy, q=rep.q,
                                     visits=rep.visits)
        tail = rep.episode_returns[-max(1, episodes // 10):]
        if plot:
            from accessrl.planning.solver import solve
            from accessrl.report.plots import learning_curve

            s0 = mdp.start if mdp.start is not None else 0
            try:
                opt: float | None = float(solve(mdp).values[s0]) if mdp.n_states <= 20_000 else None
            except AccessRLError:
                opt = None
            learning_curve(rep.episode_returns, plot, optimum=opt, title=f"{algorithm} on {mdp.name}")
        if json_out:
            data: dict[str, Any] = {
                "model": mdp.name, "algorithm": algorithm, "episodes": episodes, "epsilon": epsilon, "seed": seed,
                "policy": None if big else policy_names(), "unsafe_actions": rep.unsafe_actions,
                "max_abs_error": rep.max_error, "mean_return_last_10pct": float(tail.mean()),
            }
            if rep.q is not None and not big:
                data["q_values"] = _q_json(mdp, rep.q, rep.visits)
            if summary is not None:
                data["summary"] = results.summary_json(summary)
            data["out"] = str(out_path) if out_path is not None and rep.q is not None else None
            data.update(rep.extra)
            print_json(data)
            return
        console.print(f"[bold]{mdp.name}[/]: {algorithm}, {episodes} episodes, epsilon {epsilon}, seed {seed}")
        if summary is not None and many:
            results.print_summary(summary)
        elif rep.q is not None:
            rows = []
            for s in mdp.decision_states:
                for k in range(int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1])):
                    a = int(mdp.sa_action[k])
                    mark = "*" if rep.policy[s] == a else ""
                    rows.append([mdp.state_names[s], mdp.action_names[a], float(rep.q[k]),
                                 int(rep.visits[k]) if rep.visits is not None else "", mark])
            print_table("learned action values (* greedy)", ["state", "action", "Q", "visits", "greedy"], rows)
        if rep.max_error is not None:
            console.print(f"max |Q - Q*| = {rep.max_error:.4g}")
        if rep.unsafe_actions is not None:
            console.print(f"unsafe actions taken: {rep.unsafe_actions}")
        console.print(f"mean return over the last {tail.size} episodes: {tail.mean():.4f}")
        if plot:
            console.print(f"learning curve written to {plot}")
        if out_path is not None and rep.q is not None:
            console.print(f"full result written to {out_path}", markup=False, soft_wrap=True)
        elif many and rep.q is not None:
            console.print("every pair's Q-value and visits: --out FILE.npz|.parquet|.json", markup=False, soft_wrap=True)
