"""`accessrl rollback` (undo the last deployment) and `accessrl monitor` (live outcomes against
the deployed model), over :mod:`accessrl.service.promotion` and :mod:`accessrl.service.monitor`."""

from __future__ import annotations

import getpass

import typer

from accessrl.cli._common import DB_HELP, DEFAULT_DB, console, print_json, print_table


def who(by: str | None, tool: str) -> str:
    """What a deployment row records as its author: ``--by`` or the user running ``tool``."""
    if by:
        return by[:128]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        user = "unknown user"
    return f"{user} via {tool}"[:128]


def register(app: typer.Typer) -> None:
    @app.command("rollback")
    def rollback_cmd(
        db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
        by: str = typer.Option(None, "--by", help="Who rolls back (recorded; default: the user running it)."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Restore the deployment before the current one (a running service picks it up)."""
        from accessrl.service.promotion import rollback

        res = rollback(db, promoted_by=who(by, "accessrl rollback"))
        if json_out:
            print_json(res.__dict__)
            return
        console.print(f"rolled back: deployment {res.replaced_id} ({res.replaced_policy}) replaced by "
                      f"{res.deployment_id}, which restores {res.restored_id} ({res.restored_policy})", markup=False)

    @app.command("monitor")
    def monitor_cmd(
        db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
        since: str = typer.Option(None, "--since",
                                  help="First date of the period (decision time; default: the deployment)."),
        until: str = typer.Option(None, "--until", help="End date of the period, exclusive (decision time; default: now)."),
        mode: list[str] = typer.Option([], "--mode", help="Decision modes to count (repeatable; default: live, "
                                                          "logging-only and historical; shadow on request)."),
        reference: str = typer.Option(None, "--reference",
                                      help="deployment (its model) or history (the decisions before --since); "
                                           "default: deployment when one is recorded."),
        outcome_window: float = typer.Option(None, "--outcome-window",
                                             help="Hours a decision's outcome may take (default: the 99% quantile of "
                                                  "the logged delays); later ones are censored."),
        alpha: float = typer.Option(0.01, "--alpha", help="Family-wise error rate of the drift tests (Holm)."),
        min_count: int = typer.Option(20, "--min-count", help="Decisions a pair needs to be tested."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Compare the outcomes of a period of decisions with a reference model (G-test per pair).

        The period is by decision time, read as of its end: decisions whose outcome window had
        not closed, or whose outcome was not known, by then are counted as censored. Without a
        deployment, --since compares the period with the decisions before it (a log that was
        only ingested can be monitored)."""
        from accessrl.cli.logs import window_us
        from accessrl.errors import ParameterError
        from accessrl.service.monitor import REFERENCES, monitor
        from accessrl.storage.records import MODES
        from accessrl.storage.store import DEFAULT_MODES
        from accessrl.storage.times import utc_text

        if not 0.0 < alpha < 1.0:
            raise ParameterError(f"--alpha: expected a number in (0, 1), got {alpha}")
        if min_count < 1:
            raise ParameterError(f"--min-count: expected a positive integer, got {min_count}")
        for m in mode:
            if m not in MODES:
                raise ParameterError(f"--mode: expected one of {', '.join(MODES)}, got {m!r}")
        if reference is not None and reference not in REFERENCES:
            raise ParameterError(f"--reference: expected deployment or history, got {reference!r}")
        rep = monitor(db, since=None if since is None else utc_text(since, "--since", error=ParameterError),
                      until=None if until is None else utc_text(until, "--until", error=ParameterError),
                      alpha=alpha, min_count=min_count, modes=tuple(mode) or DEFAULT_MODES, reference=reference,
                      outcome_window=window_us(outcome_window))
        if json_out:
            print_json(rep.to_json())
            return
        fit = rep.fit
        head = (f"deployment {rep.deployment_id} ({rep.policy_id}, {rep.deployed_at}); reference model: "
                f"{rep.model_source}" if rep.reference == "deployment"
                else f"reference: the decisions before {rep.since}")
        console.print(head, markup=False)
        per = rep.period
        if per is not None:
            w = per.window / 3.6e9
            console.print(f"period by decision time: {rep.since} to {rep.until or 'now'} ({', '.join(rep.modes)}): "
                          f"{per.decided} decisions, {per.observed.n_steps} with outcomes known by its end; censored: "
                          f"{per.censored_open} within the {w:g} h outcome window of the end, {per.censored_late} "
                          "without an outcome by then", markup=False, soft_wrap=True)
        rows = [[p.state, p.action, p.n, "inf" if p.statistic == float("inf") else round(p.statistic, 2), p.df,
                 p.p_value, p.adjusted_p, "DRIFT" if p.drifted else ("ok" if p.tested else "too few")]
                for p in fit.pairs]
        print_table(f"outcomes against the reference (G-test, Holm at {alpha:g})",
                    ["state", "action", "n", "G", "df", "p", "adjusted p", "verdict"], rows)
        for p in fit.drifted:
            moved = ", ".join(f"{k} {p.expected.get(k, 0.0):.3f} -> {p.observed.get(k, 0.0):.3f}"
                              for k in sorted(set(p.expected) | set(p.observed)))
            console.print(f"drift: {p.state}/{p.action}: {moved}", markup=False)
        if not fit.drifted:
            console.print(f"no drift detected ({fit.n_tested} pairs tested)")
