"""`accessrl logs import|map|abandonment`: real process event logs in, and what an engineer looks at first."""

from __future__ import annotations

from pathlib import Path

import typer

from accessrl.cli._common import DB_HELP, DEFAULT_DB, console, err_console, print_json
from accessrl.errors import ParameterError

MAPPING_HELP = ("The mapping file (YAML): columns, decisions, outcomes, state, rewards, training period "
                "(see README, 'Importing event logs'; examples/eventlogs/*.yaml).")


def register(logs: typer.Typer) -> None:
    """Add the event-log commands to the ``logs`` group."""

    @logs.command("import")
    def import_cmd(
        log: Path = typer.Argument(..., help="An event log: .xes, .xes.gz, .csv, .csv.gz or .parquet."),
        mapping: Path = typer.Option(..., "--mapping", help=MAPPING_HELP),
        db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
        batch_size: int = typer.Option(50_000, "--batch-size", help="Records per transaction."),
        behaviour_out: Path = typer.Option(None, "--behaviour-out",
                                           help="Also write the estimated behaviour policy (state: {action: p}) "
                                                "here: the incumbent for evaluate-policy --incumbent."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable report."),
    ) -> None:
        """Import a process event log (XES/CSV/Parquet) as historical decisions, through a mapping file.

        Example: accessrl logs import bpic2012.xes.gz --mapping examples/eventlogs/bpic2012.yaml --db bpic.db

        Decisions are stored with mode 'historical' and behaviour propensities estimated from the
        training period only (state frequencies, add-one smoothing; marked 'estimated' in each
        record's features).  Re-importing is idempotent.  A bad event is reported with its line
        and case and left out; the rest is kept (exit 1 when anything was rejected)."""
        from accessrl.storage import DecisionLog
        from accessrl.storage.eventimport import import_event_log
        from accessrl.storage.eventlogs import load_mapping, log_format

        if batch_size < 1:
            raise ParameterError(f"--batch-size: expected a positive integer, got {batch_size}")
        log_format(log)
        name = log.name.split(".")[0][:20].replace(":", "_") or "log"
        m = load_mapping(mapping, default_name=name)
        res = import_event_log(DecisionLog(db), log, m, batch_size=batch_size)
        report = res.to_json()
        if behaviour_out is not None:
            from accessrl.cli.logs import write_policy_file

            write_policy_file(behaviour_out, {k: dict(v) for k, v in sorted(res.behaviour.items())})
            report["behaviour_policy"] = str(behaviour_out)
        for r in report["rejected"]:
            err_console.print(f"accessrl: reject: {r}", markup=False, soft_wrap=True)
        if res.rejects > len(report["rejected"]):
            err_console.print(f"accessrl: reject: ... and {res.rejects - len(report['rejected'])} more",
                              markup=False, soft_wrap=True)
        for c in report["stored"]["conflicts"]:
            err_console.print(f"accessrl: conflict: {c}", markup=False, soft_wrap=True)
        for a in res.unused_activities:
            err_console.print(f"accessrl: warning: --mapping {mapping}: activity {a!r} never occurs in the log",
                              markup=False, soft_wrap=True)
        if json_out:
            print_json(report)
        else:
            s = report["stored"]
            ended = ", ".join(f"{k} {v}" for k, v in report["ended"].items()) or "none"
            console.print(f"{log}: {res.cases} cases, {res.events} events, {res.decisions} decisions, "
                          f"{res.outcomes} outcome records; cases ended: {ended}; {res.open_cases} open; "
                          f"{res.rejects} rejected", markup=False, soft_wrap=True)
            console.print(f"stored: decisions {s['decisions_new']} new, {s['decisions_already_stored']} already "
                          f"stored, {s['decisions_conflict']} in conflict; outcomes {s['outcomes_new']} new, "
                          f"{s['outcomes_already_stored']} already stored", markup=False, soft_wrap=True)
            until = res.train_until or "the whole log (no training.until)"
            console.print(f"propensities: {res.propensity_method}, from {res.trained_decisions} decisions "
                          f"before {until}", markup=False, soft_wrap=True)
        if res.rejects or res.stored.conflict_total:
            raise typer.Exit(1)


__all__ = ["register"]
