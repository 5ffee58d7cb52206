"""`accessrl pilot`: the deployment loop on a simulated queue through the real service
(an adapter over :func:`accessrl.pilot.run.run_pilot`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from accessrl.cli._common import console, print_json, print_table


def week_table(rows: Any) -> tuple[list[str], list[list[Any]]]:
    """The weekly table's columns and rows."""
    cols = ["week", "p true", "p est [95%]", "deployed", "true value", "mean return", "drift -log10 p",
            "candidate", "new_request", "shadow agree", "held-out wis [low, high]", "action"]
    out = []
    for r in rows:
        est = "-" if r.candidate_estimate is None else (
            f"{r.candidate_estimate[0]:.1f} [{r.candidate_estimate[1]:.1f}, {r.candidate_estimate[2]:.1f}]"
            f" vs {r.incumbent_estimate:.1f}" if r.incumbent_estimate is not None else
            f"{r.candidate_estimate[0]:.1f}")
        score = "inf" if r.drift_p <= 0 else f"{-math.log10(r.drift_p):.1f}"
        out.append([r.week, f"{r.p_abandon_true:.2f}", f"{r.p_abandon_est:.2f} [{r.p_abandon_low:.2f}, "
                    f"{r.p_abandon_high:.2f}]", r.deployed, f"{r.true_value:.2f}", f"{r.mean_return:.2f}",
                    score + (" DRIFT" if r.drift else ""), r.candidate or "-", r.candidate_policy or "-",
                    "-" if r.shadow_agreement is None else f"{r.shadow_agreement:.2f}", est, r.action])
    return cols, out


def register(app: typer.Typer) -> None:
    @app.command("pilot")
    def pilot_cmd(
        db: str = typer.Option(None, "--db", help="Database URL (default: a new SQLite file in --out)."),
        out: Path = typer.Option(Path("accessrl-pilot"), "--out", help="Directory for the plots, policies and log."),
        weeks: int = typer.Option(8, "--weeks", help="Simulated weeks."),
        per_week: int = typer.Option(1000, "--requests-per-week", help="Requests arriving each week."),
        drift_week: int = typer.Option(None, "--drift-week", help="First week of changed requesters (default: half)."),
        epsilon: float = typer.Option(0.3, "--epsilon", help="The service's exploration."),
        n_boot: int = typer.Option(300, "--n-boot", help="Bootstrap resamples."),
        seed: int = typer.Option(0, "--seed", help="Seed of the requesters, the service and the bootstraps."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable weekly rows."),
    ) -> None:
        """Run N simulated weeks of the deployment loop through the real HTTP service and database."""
        from accessrl.pilot import PilotConfig, run_pilot

        cfg = PilotConfig(weeks=weeks, requests_per_week=per_week, drift_week=drift_week, epsilon=epsilon,
                          n_boot=n_boot, seed=seed)
        cfg.check()
        out.mkdir(parents=True, exist_ok=True)
        if db is None:
            path = out / "pilot.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            db = str(path)
        res = run_pilot(cfg, db=db, out_dir=out)
        if json_out:
            print_json({"rows": [r.__dict__ for r in res.rows], "plots": [str(p) for p in res.plots], "db": res.db})
            return
        cols, rows = week_table(res.rows)
        print_table("the deployment loop, week by week", cols, rows)
        console.print(f"plots: {', '.join(str(p) for p in res.plots)}; database: {res.db}", markup=False)
