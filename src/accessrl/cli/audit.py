"""`accessrl audit` (reward designs and their policies) and `accessrl constrain` (constrained MDP by LP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer

from accessrl.cli._common import console, load_model_arg, print_json, print_table
from accessrl.errors import AccessRLError, ParameterError
from accessrl.model.checks import number
from accessrl.model.mdp import MDP
from accessrl.model.policies import policy_mapping
from accessrl.rewards.audits import Audit, PolicyAudit
from accessrl.rewards.components import Limit, RewardDesign, designs_from_mapping, parse_limit, spec_design


def _report_json(mdp: MDP, r: PolicyAudit) -> dict[str, Any]:
    return {
        "design": r.design, "start_action": r.start_action, "start_q": dict(r.start_q),
        "returns": dict(r.returns), "totals": dict(r.totals), "basis": r.basis,
        "violations_per_1000": r.violations_per_1000, "severe_per_1000": r.severe_per_1000,
        "mean_delay": r.mean_delay, "reviewer_load": r.reviewer_load, "terminates": r.terminates,
        "shortcuts": list(r.shortcuts), "flagged": r.flagged, "reason": r.reason, "constrained": r.constrained,
        "rare_failures": [
            {"state": f.state, "action": f.action, "next": f.next_state, "event": f.event, "severe": f.severe,
             "violation": f.violation, "per_1000": f.per_1000, "rewards": dict(f.rewards)}
            for f in r.rare_failures
        ],
        "policy": policy_mapping(mdp, r.policy, compact=True),
        "simulated": None if r.simulated is None else {
            "episodes": r.simulated.episodes, "violations_per_1000": r.simulated.violations_per_1000,
            "violations_ci": r.simulated.violations_ci, "severe_per_1000": r.simulated.severe_per_1000,
            "severe_ci": r.simulated.severe_ci, "truncated": r.simulated.truncated,
        },
    }


def _plot(result: Audit, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.design for r in result.reports]
    x = np.arange(len(names))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    width = 0.8 / max(1, len(names))
    for i, d in enumerate(names):
        ax1.bar(x + i * width, [r.returns[d] for r in result.reports], width, label=f"return under {d}")
    ax1.set_xticks(x + width * (len(names) - 1) / 2, names, rotation=15, ha="right")
    ax1.set_title("expected return of each design's policy")
    ax1.legend(fontsize=8)
    ax2.bar(x - 0.2, [r.violations_per_1000 for r in result.reports], 0.4, label="policy violations")
    ax2.bar(x + 0.2, [r.severe_per_1000 for r in result.reports], 0.4, label="severe outcomes")
    ax2.set_xticks(x, [n + (" (flagged)" if r.flagged else "") for n, r in zip(names, result.reports, strict=True)],
                   rotation=15, ha="right")
    ax2.set_title("per 1,000 requests")
    ax2.legend(fontsize=8)
    fig.suptitle(f"reward audit: {result.model}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _weights_from_options(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        comp, sep, value = item.partition("=")
        if not sep or not comp.strip():
            raise ParameterError(f"--weight: expected COMPONENT=NUMBER, got {item!r}")
        out[comp.strip()] = number(value.strip(), f"--weight {comp.strip()}", error=ParameterError, parse_text=True)
    return out


def register(app: typer.Typer) -> None:
    @app.command("audit")
    def audit_cmd(
        spec: str = typer.Argument(..., help="Workflow spec (YAML/JSON), binary .npz, or catalog:NAME."),
        designs: str = typer.Option(..., "--designs", "-d", help="Designs file: designs: {name: {weights, limits}}."),
        start: str = typer.Option(None, "--start", help="Start state (default: the spec's start)."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
        plot: str = typer.Option(None, "--plot", help="Write a bar chart of returns and harm rates (PNG)."),
        simulate: int = typer.Option(0, "--simulate", help="Also simulate N episodes per design (95% intervals)."),
        seed: int = typer.Option(0, "--seed", help="Seed for --simulate."),
    ) -> None:
        """Solve each reward design and measure its policy under every component; flag shortcuts."""
        from accessrl.rewards.audits import audit
        from accessrl.specfile import read_mapping_file

        mdp = load_model_arg(spec)
        ds = designs_from_mapping(read_mapping_file(designs, what="designs"), source=designs)
        if simulate < 0:
            raise ParameterError(f"--simulate: expected a number of episodes >= 0, got {simulate}")
        result = audit(mdp, ds, start=start, episodes=simulate, rng=np.random.default_rng(seed) if simulate else None)
        if plot:
            _plot(result, plot)
        if json_out:
            print_json({
                "model": result.model, "start": result.start,
                "designs": [{"name": d.name, "weights": dict(d.weights), "limits": [str(x) for x in d.limits],
                             "description": d.description} for d in result.designs],
                "reports": [_report_json(mdp, r) for r in result.reports],
            })
            return
        console.print(f"[bold]{mdp.name}[/]: audit of {len(ds)} reward designs from {result.start} "
                      f"({result.reports[0].basis} for rates, delay and load)")
        names = [d.name for d in result.designs]
        reps = result.reports
        rows: list[list[Any]] = [["start action", *[r.start_action for r in reps]]]
        rows += [[f"return under {n}", *[r.returns[n] for r in reps]] for n in names]
        rows += [
            ["policy violations / 1,000", *[r.violations_per_1000 for r in reps]],
            ["severe outcomes / 1,000", *[r.severe_per_1000 for r in reps]],
            ["mean delay (days)", *[r.mean_delay for r in reps]],
            ["reviewer load (minutes)", *[r.reviewer_load for r in reps]],
            ["audit", *["FLAGGED" if r.flagged else "ok" for r in reps]],
        ]
        if simulate:
            rows.insert(-1, ["simulated violations / 1,000", *[
                f"{r.simulated.violations_per_1000:.4g} ± {r.simulated.violations_ci:.2g}" if r.simulated else "" for r in reps]])
            rows.insert(-1, ["simulated severe / 1,000", *[
                f"{r.simulated.severe_per_1000:.4g} ± {r.simulated.severe_ci:.2g}" if r.simulated else "" for r in reps]])
        print_table("each design's optimal policy, measured under every design", ["", *names], rows)
        for r in result.reports:
            if r.flagged:
                console.print(f"{r.design} wins for the wrong reason: {r.reason}", markup=False)
        console.print("rare high-harm outcomes (reported separately from the mean):")
        any_rare = False
        for r in result.reports:
            for f in r.rare_failures:
                any_rare = True
                kind = "severe" if f.severe else "policy violation"
                console.print(
                    f"  {r.design}: {f.state}:{f.action} -> {f.next_state}"
                    f"{' (' + f.event + ')' if f.event else ''} [{kind}] {f.per_1000:.6g} per 1,000 requests; reward "
                    + ", ".join(f"{n} {v:.6g}" for n, v in f.rewards.items()),
                    markup=False,
                )
        if not any_rare:
            console.print("  none")
        if plot:
            console.print(f"plot written to {Path(plot)}")

    @app.command("constrain")
    def constrain_cmd(
        spec: str = typer.Argument(..., help="Workflow spec (YAML/JSON), binary .npz, or catalog:NAME."),
        limit: list[str] = typer.Option([], "--limit", "-l", help="COMPONENT<=BOUND or COMPONENT>=BOUND (repeatable)."),
        weight: list[str] = typer.Option([], "--weight", "-w", help="Objective COMPONENT=NUMBER (default: the spec's reward)."),
        designs: str = typer.Option(None, "--designs", help="Designs file; with --design, its weights and limits."),
        design: str = typer.Option(None, "--design", help="The design to optimise from --designs."),
        start: str = typer.Option(None, "--start", help="Start state (default: the spec's start)."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Maximise expected return subject to limits on components (LP over occupancy measures, HiGHS)."""
        from accessrl.rewards.components import reweight
        from accessrl.rewards.constrained import constrained_solve

        mdp = load_model_arg(spec)
        limits: list[Limit] = []
        for text in limit:
            try:
                limits.append(parse_limit(text, where="--limit"))
            except AccessRLError as exc:
                raise ParameterError(str(exc)) from None
        if (designs is None) != (design is None):
            raise ParameterError("--designs and --design go together")
        if designs is not None:
            from accessrl.specfile import read_mapping_file

            found = {d.name: d for d in designs_from_mapping(read_mapping_file(designs, what="designs"), source=designs)}
            if design not in found:
                raise ParameterError(f"--design: unknown design {design!r}; expected one of {sorted(found)}")
            chosen = found[design]
            limits = [*chosen.limits, *limits]
        elif weight:
            chosen = RewardDesign("weights", _weights_from_options(weight))
        else:
            chosen = spec_design(mdp)
        if not limits:
            raise ParameterError("--limit: expected at least one limit, e.g. --limit 'policy_violation<=0'")
        model = reweight(mdp, chosen)
        res = constrained_solve(model, limits, start=start, source=f"{mdp.name}")
        if json_out:
            print_json({
                "objective": dict(chosen.weights), "value": res.value, "basis": res.basis,
                "constraints": [{"limit": str(c.limit), "value": c.value, "shadow_price": c.shadow_price,
                                 "binding": c.binding} for c in res.constraints],
                "randomised_states": list(res.randomised_states), "start_policy": res.start_policy,
                "policy": policy_mapping(model, res.policy, compact=True),
            })
            return
        console.print(f"[bold]{mdp.name}[/]: constrained optimum {res.value:.6g} "
                      f"(limits on the {res.basis})")
        rows = [[str(c.limit), c.value, c.shadow_price, "binding" if c.binding else "slack"] for c in res.constraints]
        print_table("limits", ["limit", "value", "shadow price", "status"], rows)
        pol = policy_mapping(model, res.policy, compact=True)
        prow = [[s, a if isinstance(a, str) else ", ".join(f"{k} {v:.4g}" for k, v in a.items())] for s, a in pol.items()]
        print_table("policy (randomised where needed)", ["state", "action"], prow)


__all__ = ["register"]
