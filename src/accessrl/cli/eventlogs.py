"""`accessrl logs import|map|abandonment`: real process event logs in, and what an engineer looks at first
(registered on the `logs` group that :func:`accessrl.cli.logs.register` returns)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from accessrl.cli._common import DB_HELP, DEFAULT_DB, console, err_console, print_json, print_table
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
        behavior_out: Path = typer.Option(None, "--behavior-out",
                                           help="Also write the estimated behavior policy (state: {action: p}) "
                                                "here: the incumbent for evaluate-policy --incumbent."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable report."),
    ) -> None:
        """Import a process event log (XES/CSV/Parquet) as historical decisions, through a mapping file.

        Example: accessrl logs import bpic2012.xes.gz --mapping examples/eventlogs/bpic2012.yaml --db bpic.db

        Decisions are stored with mode 'historical' and behavior propensities estimated from the
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
        if behavior_out is not None:
            from accessrl.cli.logs import write_policy_file

            write_policy_file(behavior_out, {k: dict(v) for k, v in sorted(res.behavior.items())})
            report["behavior_policy"] = str(behavior_out)
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

    @logs.command("map")
    def map_cmd(
        db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
        out: Path = typer.Option(None, "--out", help="Draw the map to this .svg or .png file."),
        min_count: int = typer.Option(1, "--min-count",
                                      help="Hide transitions seen fewer times (keeps a large log's map readable)."),
        level: str = typer.Option("stage", "--level",
                                  help="stage (states folded to their stage) or state (every bucket apart)."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable map."),
    ) -> None:
        """The process map of a decision log: states, decisions, outcomes, counts, probabilities and waits.

        Example: accessrl logs map --db bpic.db --out map.svg --min-count 50

        Each (state, action, next state) with its count, probability (95% Wilson interval) and
        the median and 90% wait from the decision to the outcome."""
        from accessrl.offline.processmap import process_map
        from accessrl.storage import DecisionLog

        if min_count < 1:
            raise ParameterError(f"--min-count: expected a positive integer, got {min_count}")
        if level not in ("stage", "state"):
            raise ParameterError(f"--level: expected 'stage' or 'state', got {level!r}")
        if out is not None and out.suffix.lower() not in (".svg", ".png"):
            raise ParameterError(f"--out {out}: expected a .svg or .png file name")
        steps = DecisionLog(db, create=False).load_steps().steps
        if steps.n_steps == 0:
            raise ParameterError(f"--db {db}: the log has no decision with a known outcome")
        m = process_map(steps, min_count=min_count, level=level)  # type: ignore[arg-type]
        if out is not None:
            from accessrl.report.processmap import plot_process_map

            plot_process_map(m, out, title=f"process map of {db}")
        if json_out:
            print_json({**m.to_json(), "out": None if out is None else str(out)})
            return
        from accessrl.report.processmap import wait_text

        rows = [[e.state, e.action, e.next_state, e.count, f"{e.p:.3f}", f"[{e.p_low:.3f}, {e.p_high:.3f}]",
                 wait_text(e.median_wait_h), wait_text(e.p90_wait_h)] for e in m.edges]
        print_table(f"process map ({len(m.nodes)} {level}s, {len(m.edges)} transitions)",
                    ["state", "action", "next", "count", "probability", "95% interval", "median wait", "90% wait"],
                    rows, limit=60)
        if m.hidden:
            console.print(f"{m.hidden} transitions seen fewer than {min_count} times hidden "
                          f"({m.hidden_decisions} decisions)", markup=False)
        if out is not None:
            console.print(f"map drawn to {out}", markup=False)

    @logs.command("abandonment")
    def abandonment_cmd(
        db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
        kind: list[str] = typer.Option(["abandonment"], "--kind",
                                       help="Outcome kind(s) that mean abandonment (the mapping's kind; repeatable)."),
        stage: list[str] = typer.Option([], "--stage", help="Only these stages (repeatable; default: every stage "
                                                            "with an abandonment)."),
        bounds: str = typer.Option("7,14,28,35", "--bounds-days", help="Waiting-time buckets, in days."),
        out: Path = typer.Option(None, "--out", help="Draw the survival curves and hazards to this .png or .svg."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable result."),
    ) -> None:
        """Abandonment by time waited in each stage: Kaplan-Meier curve and bucket hazards, censoring handled.

        Example: accessrl logs abandonment --db bpic.db --stage send_offer --out abandonment.png

        Reads a log made by `logs import` (each record knows its stage and when the case entered
        it).  A visit that moved on, ended otherwise or is still waiting at the log's end is
        censored, not counted as a survivor.  To let the model use it, give the mapping
        state.waiting buckets for the stage: the estimated workflow then has one abandonment
        probability per waiting bucket."""
        from accessrl.offline.survival import stage_curve, stage_visits
        from accessrl.storage import DecisionLog
        from accessrl.storage.eventimport import stage_observations

        try:
            edges = [float(x) for x in bounds.split(",") if x.strip()]
        except ValueError:
            raise ParameterError(f"--bounds-days: expected increasing day counts such as 7,14,28, got {bounds!r}") \
                from None
        if not edges or any(b <= a for a, b in zip([0.0, *edges], edges, strict=False)):
            raise ParameterError(f"--bounds-days: expected increasing positive day counts such as 7,14,28, got {bounds!r}")
        obs, last = stage_observations(DecisionLog(db, create=False), kind)
        if not obs:
            raise ParameterError(f"--db {db}: no record knows its stage; expected a log made by `accessrl logs import`")
        visits = stage_visits(obs, last)
        if stage:
            unknown = [s for s in stage if s not in visits]
            if unknown:
                raise ParameterError(f"--stage {unknown[0]}: no visit of this stage; expected one of "
                                     f"{', '.join(visits)}")
            chosen = [visits[s] for s in stage]
        else:
            chosen = [v for v in visits.values() if v.events.sum() > 0]
            if not chosen:
                raise ParameterError(f"--kind {', '.join(kind)}: no outcome of this kind in {db}; "
                                     "expected the mapping's abandonment kind")
        result: list[dict[str, Any]] = [stage_curve(v, edges) for v in chosen]
        if out is not None:
            from accessrl.report.plots import abandonment_figure

            abandonment_figure(result, out)
        if json_out:
            print_json({"kinds": list(kind), "bounds_days": edges, "stages": result,
                        "out": None if out is None else str(out)})
            return
        for r in result:
            rows = [[f"{h['start']:g}-{h['end']:g}" if h["end"] != float("inf") else f">={h['start']:g}",
                     h["entering"], h["events"], h["censored"], f"{h['hazard']:.3f}",
                     f"[{h['low']:.3f}, {h['high']:.3f}]"] for h in r["hazard"]]
            print_table(f"{r['stage']}: {r['visits']} visits, {r['abandoned']} abandoned, {r['censored']} censored "
                        "(hazard per waiting bucket, actuarial, 95% Wilson interval)",
                        ["days waited", "waiting at start", "abandoned", "censored", "hazard", "interval"], rows)
        if out is not None:
            console.print(f"curves drawn to {out}", markup=False)


__all__ = ["register"]
