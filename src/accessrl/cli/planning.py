"""`accessrl solve`, `evaluate` and `sweep`."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import typer

from accessrl.cli._common import (
    TABLE_ROWS,
    check_positive,
    console,
    load_model_arg,
    print_json,
    print_table,
    to_plain,
)
from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.policies import policy_mapping, policy_names
from accessrl.planning.exact import policy_evaluation
from accessrl.planning.sensitivity import parse_target, probability_sweep
from accessrl.planning.solver import SOLVERS, solve

METHODS = ["auto", *SOLVERS]


def _values_json(mdp: MDP, values: np.ndarray, q: np.ndarray, policy: dict[str, Any]) -> dict[str, Any]:
    qv: dict[str, dict[str, float]] = {}
    for s in mdp.decision_states:
        lo, hi = int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1])
        qv[mdp.state_names[s]] = {mdp.action_names[int(mdp.sa_action[k])]: float(q[k]) for k in range(lo, hi)}
    return {
        "values": {n: float(values[i]) for i, n in enumerate(mdp.state_names)},
        "policy": policy,
        "q_values": qv,
    }


def _threads_arg(text: str) -> int | None:
    """``--threads``: None for 'auto', else a positive integer."""
    if text == "auto":
        return None
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise ParameterError(f"--threads: expected 'auto' or an integer >= 1, got {text!r}")
    return n


def register(app: typer.Typer) -> None:
    @app.command("solve")
    def solve_cmd(
        spec: str = typer.Argument(..., help="Workflow spec (YAML/JSON), binary .npz, or catalog:NAME."),
        method: str = typer.Option("auto", "--method", "-m", help=f"One of {', '.join(METHODS)}."),
        tol: float = typer.Option(1e-6, "--tol", help="Bound on max|V - V*|."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output (a summary instead of every "
                                                            "state above 10000 states: use --out)."),
        out: str = typer.Option(None, "--out", help="Write the full result to FILE.npz, FILE.parquet or FILE.json."),
        threads: str = typer.Option("auto", "--threads",
                                    help="Threads for the compiled kernels: a number, or 'auto' (the CPUs this "
                                         "process may use, kept only if a 0.1 s probe shows them faster)."),
    ) -> None:
        """Solve a workflow exactly: optimal values, policy and Q-values.

        Example: accessrl solve examples/access_review_abandonment.yaml

        The first run after an install compiles the fast methods (a few seconds, then cached).
        """
        from accessrl.cli import results

        out_path = results.check_out(out)
        if method not in METHODS:
            raise ParameterError(f"--method: expected one of {METHODS}, got {method!r}")
        check_positive(tol, "--tol")
        n_threads = _threads_arg(threads)
        from accessrl.cli._progress import DelayedProgress

        with DelayedProgress("solving") as progress:
            progress(float("nan"), f"loading {spec}")
            mdp = load_model_arg(spec)
            if n_threads is None:
                from accessrl.machine import choose_threads
                from accessrl.planning.kernels import PARALLEL_MIN_NNZ

                # the probe only matters where the kernels would run in parallel at all
                n_threads = choose_threads() if mdp.n_outcomes >= PARALLEL_MIN_NNZ and method != "policy-iteration" else 1
            res = solve(mdp, method, tol=tol, progress=progress, threads=n_threads)
        used = int(res.extra.get("threads", 1))
        if out_path is not None:
            results.write_result(out_path, mdp, values=res.values, policy=res.policy, q=res.q_values)
        big = mdp.n_states > TABLE_ROWS
        if json_out:
            info = dict(iterations=res.iterations, method=res.method, residual=res.residual,
                        error_bound=res.error_bound, note=res.note, threads=used)
            summary = results.summary_json(results.summarise(mdp, res.policy, res.values))
            if mdp.n_states > results.FULL_JSON_STATES:
                data: dict[str, Any] = {"summary": summary, **info, "out": str(out_path) if out_path else None}
            else:
                data = _values_json(mdp, res.values, res.q_values, policy_names(mdp, res.policy))
                data.update(info, summary=summary)
            print_json(data)
            return
        console.print(f"[bold]{mdp.name}[/]: {mdp.n_states} states, {mdp.n_pairs} state-actions, gamma {mdp.gamma}")
        console.print(f"method: {res.method} ({res.note}); {res.iterations} iterations; "
                      f"error bound {res.error_bound:.3g}; {used} thread{'s' if used > 1 else ''}")
        if big:  # names of millions of states are not built for a table
            results.print_summary(results.summarise(mdp, res.policy, res.values))
        else:
            rows = [[mdp.state_names[s], res.values[s],
                     mdp.action_names[int(res.policy[s])] if res.policy[s] >= 0 else "(terminal)"]
                    for s in range(mdp.n_states)]
            print_table("optimal values and policy", ["state", "V", "action"], rows)
        if out_path is not None:
            console.print(f"full result written to {out_path}", markup=False, soft_wrap=True)
        elif big:
            console.print("every state's value and action: --out FILE.npz|.parquet|.json", markup=False, soft_wrap=True)

    @app.command("evaluate")
    def evaluate_cmd(
        spec: str = typer.Argument(..., help="Workflow spec, binary .npz, or catalog:NAME."),
        policy: str = typer.Option(..., "--policy", "-p", help="Policy file (state: action), 'optimal' or 'uniform'."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Evaluate a fixed policy exactly: V^pi and Q^pi."""
        mdp = load_model_arg(spec)
        from accessrl.specfile import resolve_policy

        probs = resolve_policy(mdp, policy).probabilities
        ev = policy_evaluation(mdp, probs)
        pol = policy_mapping(mdp, probs, compact=True)
        if json_out:
            # one type per field: every state "action" when the policy is deterministic, else {action: p}
            if any(isinstance(v, dict) for v in pol.values()):
                pol = policy_mapping(mdp, probs)
            out = _values_json(mdp, ev.values, ev.q_values, pol)
            out.update(iterations=ev.iterations, method=ev.method, residual=ev.residual)
            print_json(out)
            return
        rows = [[mdp.state_names[s], ev.values[s], pol.get(mdp.state_names[s], "(terminal)")]
                for s in range(mdp.n_states)]
        print_table(f"{mdp.name}: values of policy {policy}", ["state", "V", "action"], rows)

    @app.command("check")
    def check_cmd(
        spec: str = typer.Argument(..., help="Workflow spec, binary .npz, or catalog:NAME."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Validate a workflow and summarise it (sizes, terminal states, episodic conditions)."""
        from accessrl.planning.structure import check_ssp

        mdp = load_model_arg(spec)
        if mdp.gamma >= 1.0:
            check_ssp(mdp)
        info = {
            "name": mdp.name, "gamma": mdp.gamma, "states": mdp.n_states, "actions": mdp.n_actions,
            "state_actions": mdp.n_pairs, "transitions": mdp.n_outcomes,
            "terminal": [mdp.state_names[s] for s in np.flatnonzero(mdp.terminal)][:50],
            "start": mdp.state_names[mdp.start] if mdp.start is not None else None,
            "deterministic": mdp.is_deterministic, "bytes": mdp.nbytes,
        }
        if json_out:
            print_json(info)
            return
        for k, v in info.items():
            console.print(f"{k:>14}: {v}", markup=False)
        console.print("ok: the model is valid" + (" and a proper episodic (SSP) model" if mdp.gamma >= 1 else ""))

    @app.command("sweep")
    def sweep_cmd(
        spec: str = typer.Argument(..., help="Workflow spec, binary .npz, or catalog:NAME."),
        vary: str = typer.Option(..., "--vary", help="STATE.ACTION.NEXT: the probability to vary."),
        start: float = typer.Option(0.0, "--from", help="First probability."),
        stop: float = typer.Option(1.0, "--to", help="Last probability."),
        steps: int = typer.Option(11, "--steps", help="Grid points (at least 2)."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Vary one transition probability; report the optimal policy and exact breakevens."""
        if steps < 2:
            raise ParameterError(f"--steps: expected at least 2, got {steps}")
        for flag, v in (("--from", start), ("--to", stop)):
            if not 0.0 <= v <= 1.0:
                raise ParameterError(f"{flag}: expected a probability in [0, 1], got {v}")
        if start >= stop:
            raise ParameterError(f"--from/--to: expected --from < --to, got {start} and {stop}")
        mdp = load_model_arg(spec)
        try:
            s, a, n = parse_target(mdp, vary)
        except ParameterError as exc:  # the library names the outcome, the command line its flag
            raise ParameterError(f"--vary: {exc}") from None
        res = probability_sweep(mdp, s, a, n, np.linspace(start, stop, steps))
        breaks: list[dict[str, Any]] = [{"value": b.value, "state": mdp.state_names[b.state],
                   "from": mdp.action_names[b.from_action], "to": mdp.action_names[b.to_action]}
                  for b in res.breakevens]
        if json_out:
            # One point's {state: action} at a time, written and dropped: memory stays flat in the
            # number of grid points (a name dict of a 1e5-state model is tens of MB).
            sys.stdout.write(f'{{"vary": {json.dumps(vary)}, "points": [\n')
            for i, p in enumerate(res.points):
                point = {"value": p.value, "policy": policy_names(mdp, p.policy),
                         "start_value": float(p.values[mdp.start]) if mdp.start is not None else None}
                sys.stdout.write(("" if i == 0 else ",\n") + json.dumps(to_plain(point)))
                del point
            sys.stdout.write(f'\n], "breakevens": {json.dumps(to_plain(breaks))}}}\n')
            sys.stdout.flush()
            return
        idx = sorted({b.state for b in res.breakevens}, key=lambda i: mdp.state_names[i]) or [mdp.start or 0]
        changing = [mdp.state_names[i] for i in idx]
        rows = [[f"{p.value:.4f}", *[mdp.action_names[int(p.policy[i])] if p.policy[i] >= 0 else "(terminal)"
                                      for i in idx]] for p in res.points]
        print_table(f"optimal action as p({n} | {s}, {a}) varies", ["p", *changing], rows, limit=200)
        if not breaks:
            console.print("no breakeven: the optimal policy is the same over the whole range")
        for b in breaks:
            console.print(f"breakeven p = {b['value']:.9f}: at {b['state']}, {b['to']} overtakes {b['from']}")
