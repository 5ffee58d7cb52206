"""`accessrl scale ...`: the workloads of :mod:`accessrl.distributed`, locally or on Ray.

Every command takes ``--ray auto|local|ADDRESS``; without it the work runs in this process
(Ray is neither needed nor started).  The same command with the same seed prints the same
numbers either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer
import yaml

from accessrl.cli._common import console, load_model_arg, print_json, print_table
from accessrl.errors import ParameterError

RAY_HELP = ("Run on Ray: 'auto' (the cluster this machine belongs to, else a private local one), 'local', "
            "or a head address HOST:PORT / ray://HOST:10001. Default: this process.")


def _values(text: str, where: str) -> list[float]:
    """``FROM:TO:STEPS`` or a comma list of numbers."""
    try:
        if ":" in text:
            lo, hi, n = text.split(":")
            steps = int(n)
            if not 1 <= steps <= 100_000:
                raise ValueError
            return [float(v) for v in np.linspace(float(lo), float(hi), steps)]
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ParameterError(f"{where}: expected FROM:TO:STEPS (1 to 100000 steps) or a comma list of "
                             f"probabilities, got {text!r}") from None


def _write_policy(mapping: dict[str, str], path: str) -> None:
    Path(path).write_text(yaml.safe_dump(dict(mapping), sort_keys=False), encoding="utf-8")


def register(app: typer.Typer) -> None:
    """Add the ``scale`` command group to ``app``."""
    from accessrl.cli._common import new_app

    scale = new_app("Workloads that outgrow one process, run locally or on a Ray cluster (extra [ray]).")
    app.add_typer(scale, name="scale")

    @scale.command("simulate")
    def simulate_cmd(
        spec: str = typer.Argument(..., help="Workflow spec, binary .npz, or catalog:NAME."),
        policy: str = typer.Option("optimal", "--policy", "-p", help="'optimal', 'uniform' or a policy file."),
        episodes: int = typer.Option(1_000_000, "--episodes", help="Episodes in all."),
        chunk: int = typer.Option(50_000, "--chunk", help="Episodes per task (fixes the seeds: keep it to reproduce)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the run's SeedSequence."),
        first_action: str | None = typer.Option(None, "--first-action", help="Force the first action."),
        severe_threshold: float | None = typer.Option(None, "--severe-threshold",
                                                      help="A return at or below this counts as severe."),
        ray: str | None = typer.Option(None, "--ray", help=RAY_HELP),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Severe-outcome and event rates per million requests, with Wilson intervals."""
        from accessrl.distributed.simulation import simulate_at_scale
        from accessrl.specfile import resolve_policy

        if episodes <= 0 or chunk <= 0:
            raise ParameterError(f"--episodes/--chunk: expected positive whole numbers, got {episodes} and {chunk}")
        if seed < 0:
            raise ParameterError(f"--seed: expected a non-negative integer, got {seed}")
        mdp = load_model_arg(spec)
        probs = resolve_policy(mdp, policy).probabilities
        r = simulate_at_scale(mdp, probs, episodes, seed=seed, chunk=chunk, backend=_backend(ray), first_action=first_action,
                              severe_threshold=severe_threshold)
        out: dict[str, Any] = {
            "episodes": r.episodes, "chunks": r.chunks, "seed": r.seed, "mean": r.mean, "std": r.std,
            "ci95": list(r.ci95), "severe": r.severe, "severe_per_million": r.per_million,
            "severe_per_million_ci": list(r.per_million_ci), "truncated": r.truncated,
            "events_per_million": {k: 1e6 * v for k, v in r.event_rates.items()},
            "events_per_million_ci": {k: [1e6 * a, 1e6 * b] for k, (a, b) in r.event_ci.items()},
            "backend": dict(r.backend),
        }
        if json_out:
            print_json(out)
            return
        rows = [["severe", r.severe, f"{r.per_million:.1f}", f"[{r.per_million_ci[0]:.1f}, {r.per_million_ci[1]:.1f}]"]]
        for k, v in r.event_rates.items():
            lo, hi = r.event_ci[k]
            rows.append([k, round(v * r.episodes), f"{1e6 * v:.1f}", f"[{1e6 * lo:.1f}, {1e6 * hi:.1f}]"])
        print_table(f"{mdp.name}: {r.episodes} episodes in {r.chunks} chunks ({_where(r.backend)})",
                    ["outcome", "episodes", "per million", "95% Wilson interval"], rows)
        console.print(f"mean return {r.mean:.4f}, 95% interval [{r.ci95[0]:.4f}, {r.ci95[1]:.4f}]")

    @scale.command("sweep")
    def sweep_cmd(
        spec: str = typer.Argument(..., help="Workflow spec, binary .npz, or catalog:NAME."),
        grid: list[str] = typer.Option(..., "--grid", help="STATE.ACTION.NEXT=FROM:TO:STEPS or =P1,P2,... (repeat)."),
        ray: str | None = typer.Option(None, "--ray", help=RAY_HELP),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Solve at every point of a grid over several outcome probabilities."""
        from accessrl.distributed.grids import sweep_grid

        mdp = load_model_arg(spec)
        axes: dict[str, list[float]] = {}
        for g in grid:
            target, sep, values = g.partition("=")
            if not sep:
                raise ParameterError(f"--grid: expected STATE.ACTION.NEXT=VALUES, got {g!r}")
            axes[target] = _values(values, f"--grid {target}")
        res = sweep_grid(mdp, axes, backend=_backend(ray))
        if json_out:
            print_json({"targets": list(res.targets), "backend": dict(res.backend),
                        "points": [{"values": list(p.values), "start_action": p.start_action,
                                    "start_value": p.start_value} for p in res.points]})
            return
        rows = [[*(f"{v:.4f}" for v in p.values), p.start_action, p.start_value] for p in res.points]
        print_table(f"{mdp.name}: {len(res.points)} grid points ({_where(res.backend)})",
                    [*res.targets, "start action", "V"], rows, limit=200)

    @scale.command("audit")
    def audit_cmd(
        spec: str = typer.Argument(..., help="Workflow spec, binary .npz, or catalog:NAME."),
        designs: str = typer.Option(..., "--designs", help="YAML/JSON file of reward designs."),
        ray: str | None = typer.Option(None, "--ray", help=RAY_HELP),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """The reward audit over many designs, one design per task."""
        from accessrl.distributed.grids import audit_designs
        from accessrl.rewards.components import designs_from_mapping
        from accessrl.specfile import read_mapping_file

        mdp = load_model_arg(spec)
        ds = designs_from_mapping(read_mapping_file(designs, what="designs"), source=designs)
        res = audit_designs(mdp, ds, backend=_backend(ray))
        rows = [[r.design, r.start_action, r.violations_per_1000, r.severe_per_1000, "yes" if r.flagged else "no"]
                for r in res.reports]
        if json_out:
            print_json({"designs": [dict(zip(["design", "start_action", "violations_per_1000", "severe_per_1000",
                                              "flagged"], [*row[:4], r.flagged], strict=True))
                                    for row, r in zip(rows, res.reports, strict=True)]})
            return
        print_table(f"{mdp.name}: {len(rows)} designs", ["design", "start action", "violations/1000", "severe/1000",
                                                         "wins for the wrong reason"], rows, limit=500)

    @scale.command("constrain")
    def constrain_cmd(
        spec: str = typer.Argument(..., help="Workflow spec, binary .npz, or catalog:NAME."),
        setting: list[str] = typer.Option(..., "--setting", help="Limits of one setting, ';'-separated "
                                          "(e.g. 'policy_violation<=0;delay_days<=2'); repeat for more settings."),
        weight: list[str] = typer.Option([], "--weight", help="COMPONENT=NUMBER of the design to optimise (repeat)."),
        ray: str | None = typer.Option(None, "--ray", help=RAY_HELP),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """The constrained optimum under each setting of the limits."""
        from accessrl.distributed.grids import constrain_grid
        from accessrl.model.checks import number
        from accessrl.rewards.components import RewardDesign, parse_limit

        mdp = load_model_arg(spec)
        weights: dict[str, float] = {}
        for w in weight:
            name, sep, val = w.partition("=")
            if not sep:
                raise ParameterError(f"--weight: expected COMPONENT=NUMBER, got {w!r}")
            weights[name.strip()] = number(val, f"--weight {name.strip()}", parse_text=True, error=ParameterError)
        settings = [[parse_limit(t.strip(), where="--setting") for t in s.split(";") if t.strip()] for s in setting]
        design = RewardDesign("cli", weights) if weights else None
        res = constrain_grid(mdp, settings, design=design, backend=_backend(ray))
        if json_out:
            print_json({"settings": [{"limits": list(r.limits), "value": r.value, "limit_values": list(r.limit_values),
                                      "randomised": list(r.randomised), "error": r.error} for r in res]})
            return
        rows = [["; ".join(r.limits), "infeasible" if r.value is None else r.value,
                 ", ".join(f"{v:.4g}" for v in r.limit_values), ", ".join(r.randomised) or "-"] for r in res]
        print_table(f"{mdp.name}: {len(rows)} limit settings", ["limits", "value", "achieved", "randomised in"], rows,
                    limit=500)

    @scale.command("learn")
    def learn_cmd(
        spec: str = typer.Argument(..., help="Workflow spec, binary .npz, or catalog:NAME."),
        algorithm: list[str] = typer.Option(["q-learning"], "--algorithm", help="q-learning, sarsa, expected-sarsa, "
                                            "double-q (repeat)."),
        seed: list[int] = typer.Option([0, 1, 2], "--seed", help="Seeds (repeat); each run is `learn --seed S`."),
        epsilon: list[float] = typer.Option([0.15], "--epsilon", help="Exploration rates (repeat)."),
        omega: list[float] = typer.Option([0.6], "--omega", help="Step-size exponents n^-omega (repeat)."),
        episodes: int = typer.Option(20_000, "--episodes", help="Episodes per run."),
        out: str | None = typer.Option(None, "--out", help="Write the best configuration's policy here (YAML)."),
        ray: str | None = typer.Option(None, "--ray", help=RAY_HELP),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Learning runs over algorithms x settings x seeds; the best policy as a file promote accepts."""
        from accessrl.distributed.runs import learning_grid

        if episodes <= 0:
            raise ParameterError(f"--episodes: expected a positive whole number, got {episodes}")
        if any(s < 0 for s in seed):
            raise ParameterError(f"--seed: expected non-negative integers, got {seed}")
        mdp = load_model_arg(spec)
        settings = [{"epsilon": e, "omega": w} for e in epsilon for w in omega]
        res = learning_grid(mdp, algorithms=algorithm, seeds=seed, settings=settings, episodes=episodes, backend=_backend(ray))
        if out:
            _write_policy(dict(res.best_policy), out)
        configs = [{"config": c.config, "algorithm": c.algorithm, **c.setting, "mean_start_value": c.mean_start_value,
                    "min_start_value": c.min_start_value, "seeds": c.seeds} for c in res.configs]
        if json_out:
            print_json({"configs": configs, "best": res.best, "best_policy": dict(res.best_policy),
                        "optimal_start_value": res.optimal_start_value, "policy_file": out,
                        "runs": [{"config": r.config, "seed": r.seed, "start_value": r.start_value,
                                  "max_error": r.max_error} for r in res.runs], "backend": dict(res.backend)})
            return
        rows = [[c["config"], c["algorithm"], c["epsilon"], c["omega"], c["mean_start_value"], c["min_start_value"]]
                for c in configs]
        print_table(f"{mdp.name}: {len(res.runs)} runs ({_where(res.backend)}); optimum {res.optimal_start_value:.4f}",
                    ["config", "algorithm", "epsilon", "omega", "mean V(start)", "worst seed"], rows, limit=500)
        console.print(f"best: config {res.best}" + (f"; its policy is in {out}" if out else ""))

    @scale.command("evaluate")
    def evaluate_cmd(
        spec: str = typer.Argument(..., help="The workflow the logs come from (spec, .npz or catalog:NAME)."),
        policy: list[str] = typer.Option(..., "--policy", "-p", help="Candidate policy file, 'optimal' or 'uniform' (repeat)."),
        partition: list[str] = typer.Option([], "--partition", help="A log file of whole episodes (repeat)."),
        db: str | None = typer.Option(None, "--db", help="A decision-log database, cut into --every periods."),
        since: str | None = typer.Option(None, "--since", help="With --db: first day (ISO date)."),
        until: str | None = typer.Option(None, "--until", help="With --db: end day (ISO date, exclusive)."),
        every: int = typer.Option(7, "--every", help="With --db: days per partition."),
        seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
        n_boot: int = typer.Option(1000, "--bootstrap", help="Bootstrap replicates."),
        ray: str | None = typer.Option(None, "--ray", help=RAY_HELP),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Off-policy estimates (IS, WIS, PDIS) of candidates over a partitioned log."""
        from accessrl.distributed.partitions import LogFile, TimeRange, evaluate_partitions
        from accessrl.offline.ope import target_matrix
        from accessrl.specfile import resolve_policy
        from accessrl.storage.times import to_us, us_to_iso

        mdp = load_model_arg(spec)
        if bool(partition) == bool(db):
            raise ParameterError("--partition/--db: give log files with --partition, or one --db with --since/--until")
        parts: list[Any] = [LogFile(p) for p in partition]
        if db:
            if since is None or until is None or every <= 0:
                raise ParameterError("--db: needs --since and --until (ISO dates) and a positive --every")
            lo, hi, step = to_us(since, "--since"), to_us(until, "--until"), every * 86_400_000_000
            if hi <= lo:
                raise ParameterError(f"--since/--until: expected --since < --until, got {since} and {until}")
            edges = [*range(lo, hi, step), hi]
            parts = [TimeRange(db, us_to_iso(a), us_to_iso(b)) for a, b in zip(edges, edges[1:], strict=False)]
        targets = {}
        for p in policy:
            r = resolve_policy(mdp, p)
            mapping: dict[str, dict[str, float]] = {mdp.state_names[int(mdp.sa_state[k])]: {} for k in range(mdp.n_pairs)}
            for k in np.flatnonzero(r.probabilities > 0):
                mapping[mdp.state_names[int(mdp.sa_state[k])]][mdp.action_names[int(mdp.sa_action[k])]] = float(
                    r.probabilities[k])
            targets[r.policy_id] = target_matrix(mdp.state_names, mdp.action_names, mapping, source=p)
        res = evaluate_partitions(parts, targets, state_names=mdp.state_names, action_names=mdp.action_names,
                                  gamma=mdp.gamma, seed=seed, n_boot=n_boot, backend=_backend(ray))
        cands = [{"policy": c.policy, "supported": c.supported, "reason": c.reason or None,
                  "estimates": {k: {"value": v.value, "low": v.low, "high": v.high} for k, v in c.estimates.items()},
                  "effective_sample_size": c.effective_sample_size, "matching_episodes": c.matching_episodes,
                  "severe_rate": None if c.severe_rate is None else {"value": c.severe_rate.value,
                                                                      "low": c.severe_rate.low,
                                                                      "high": c.severe_rate.high}}
                 for c in res.candidates]
        if json_out:
            print_json({"partitions": res.partitions, "episodes": res.episodes, "decisions": res.decisions,
                        "pending": res.pending, "candidates": cands, "backend": dict(res.backend)})
            return
        rows = []
        for c in res.candidates:
            if not c.supported:
                rows.append([c.policy, c.reason, "", "", ""])
                continue
            w = c.estimates["wis"]
            rows.append([c.policy, f"{w.value:.3f} [{w.low:.3f}, {w.high:.3f}]", f"{c.estimates['is'].value:.3f}",
                         f"{c.estimates['pdis'].value:.3f}", f"{c.effective_sample_size:.1f}"])
        print_table(f"{res.episodes} episodes in {res.partitions} partitions ({_where(res.backend)})",
                    ["policy", "WIS [95% bootstrap]", "IS", "PDIS", "ESS"], rows, limit=500)


def _backend(ray: str | None) -> Any:
    """The ``--ray`` option as a backend: ``local`` starts a private local Ray instance (as the help
    says), rather than the library's in-process default that ``backend="local"`` means in Python."""
    if ray == "local":
        from accessrl.distributed.backend import RayBackend

        return RayBackend("local")
    return ray


def _where(backend: Any) -> str:
    if backend.get("backend") == "ray":
        return f"Ray: {backend['nodes']} nodes, {backend['cpus']} CPUs"
    return "this process"


__all__ = ["register"]
