"""`accessrl logs ingest|export|generate|estimate` and `accessrl evaluate-policy` (`logs import|map|abandonment`
live in :mod:`accessrl.cli.eventlogs`)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import typer

from accessrl.cli._common import (
    DB_HELP,
    DEFAULT_DB,
    SPEC_HELP,
    console,
    err_console,
    load_model_arg,
    model_option,
    new_app,
    print_json,
    print_table,
)
from accessrl.errors import DataError, ParameterError

DEFAULT_LEARNED_DIR = "learned-policies"


def _date_us(text: str | None, flag: str) -> int | None:
    if text is None:
        return None
    from accessrl.storage.times import to_us

    return to_us(text, flag)


def write_policy_file(path: Path, mapping: dict[str, Any]) -> Path:
    """Write a policy mapping as YAML (the form ``load_policy`` and ``read_mapping_file`` read)."""
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(mapping, sort_keys=False, default_flow_style=False), encoding="utf-8")
    return path


MAX_WINDOW_HOURS = 1e6
"""The longest ``--outcome-window`` (about 114 years; its microseconds fit in int64 many times over)."""


def window_us(hours: float | None) -> int | None:
    """``--outcome-window`` hours as microseconds (``None`` stays ``None``: the default window)."""
    if hours is None:
        return None
    if not (np.isfinite(hours) and 0 <= hours <= MAX_WINDOW_HOURS):
        raise ParameterError(f"--outcome-window: expected a number of hours in [0, {MAX_WINDOW_HOURS:g}], got {hours}")
    from accessrl.offline.logged import US_PER_HOUR

    return int(round(hours * US_PER_HOUR))


MIN_MATCHING_HELP = "Held-out episodes that must follow a policy before its estimate is trusted (default 30)."
MIN_ESS_HELP = "Effective sample size an estimate needs before it is trusted (default 30)."
AGREEMENT_HELP = "When estimators' intervals do not overlap: refuse, warn or ignore."


def evidence_rules(min_matching: int, min_ess: float, agreement: str) -> Any:
    """The :class:`~accessrl.offline.evidence.EvidenceRules` of ``--min-matching``, ``--min-ess``
    and ``--agreement`` (one line naming the flag when one is out of range)."""
    from accessrl.offline.evidence import EvidenceRules

    if min_matching < 0:
        raise ParameterError(f"--min-matching: expected a non-negative integer, got {min_matching}")
    if not (np.isfinite(min_ess) and min_ess >= 0):
        raise ParameterError(f"--min-ess: expected a non-negative number, got {min_ess}")
    if agreement not in ("refuse", "warn", "ignore"):
        raise ParameterError(f"--agreement: expected refuse, warn or ignore, got {agreement!r}")
    return EvidenceRules(min_matching=min_matching, min_ess=min_ess, agreement=agreement)  # type: ignore[arg-type]


def print_checks(title: str, checks: Any) -> None:
    """Every check of an evidence review, one line each (``ok``, ``NO`` or ``warn``)."""
    console.print(title, markup=False)
    for c in checks:
        mark = "ok  " if c.passed else ("NO  " if c.blocking else "warn")
        console.print(f"  {mark} {c.message}", markup=False, soft_wrap=True)


def _behavior(mdp: Any, text: str) -> np.ndarray:
    from accessrl.specfile import resolve_policy

    return resolve_policy(mdp, text).probabilities


def _open(db: str, *, create: bool = True) -> Any:
    """The decision log at ``db``; ``create=False`` for commands that only read (a missing
    database is one error line, and no empty database is left behind)."""
    from accessrl.storage import DecisionLog

    return DecisionLog(db, create=create)


def register(app: typer.Typer) -> typer.Typer:
    """Add the ``logs`` group and the log commands to ``app``; returns the group (the event-log
    commands of :mod:`accessrl.cli.eventlogs` join it)."""
    logs = new_app("Decision logs: ingest, export, generate and estimate the workflow from them; import process "
                   "event logs, draw their map, abandonment by time waited.")
    app.add_typer(logs, name="logs")

    @logs.command("ingest")
    def ingest_cmd(
        file: Path = typer.Argument(..., help="A .jsonl, .csv or .parquet log file (.jsonl.gz, .csv.gz too); "
                                                "- reads standard input (with --format)."),
        db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
        fmt: str = typer.Option(None, "--format", help="jsonl, csv or parquet (default: from the suffix)."),
        batch_size: int = typer.Option(50_000, "--batch-size", help="Records per transaction."),
    ) -> None:
        """Store a decision-log file; repeated ids are ignored, bad records and conflicts are listed and skipped (exit 1).

        Example: accessrl logs ingest decisions.jsonl.gz --db logs.db   (a process event log: `logs import`)

        \b
        One record per line (JSON lines) or row (CSV/Parquet: JSON text in nested fields).
        decision (record=decision, or has decided_at), required:
          event_id, episode_id     text, at most 64 characters
          step_index               integer >= 0 (the decision's place in its episode)
          requester_id             text
          decided_at               ISO 8601 timestamp (naive = UTC)
          state, action            text; action must be in allowed_actions
          allowed_actions          list of action names
          action_probabilities     {action: probability} of the policy that decided
          propensity               action_probabilities[action], in (0, 1]
          policy_id, policy_version  text
          exploration              number in [0, 1]
          mode                     live | shadow | logging-only | historical (imported history)
          optional: previous_event_id, features {..}
        outcome (record=outcome, or has occurred_at), required:
          event_id (its decision), kind (text), occurred_at, terminated (true/false)
          optional: next_state, reward, reward_components {..}, severe, truncated,
          evidence_received_at, details {..}, outcome_key (default event_id:kind:occurred_at)

        Every missing field is named at once.  A conflict is an id already stored with different
        content: it is not stored (never merged).  The first 20 rejects and conflicts are listed
        with their line; all are counted."""
        if batch_size < 1:
            raise ParameterError(f"--batch-size: expected a positive integer, got {batch_size}")
        res = _open(db).ingest(file, fmt=fmt, batch_size=batch_size)
        for r in res.rejected:
            err_console.print(f"accessrl: reject: {r}", markup=False, soft_wrap=True)
        if res.rejected_total > len(res.rejected):
            err_console.print(f"accessrl: reject: ... and {res.rejected_total - len(res.rejected)} more",
                              markup=False, soft_wrap=True)
        for r in res.conflicts:
            err_console.print(f"accessrl: conflict: {r}", markup=False, soft_wrap=True)
        if res.conflict_total > len(res.conflicts):
            err_console.print(f"accessrl: conflict: ... and {res.conflict_total - len(res.conflicts)} more",
                              markup=False, soft_wrap=True)
        console.print(f"{res.source}: decisions {res.decisions_inserted} new, {res.decisions_duplicate} already "
                      f"stored, {res.decisions_conflict} in conflict; outcomes {res.outcomes_inserted} new, "
                      f"{res.outcomes_duplicate} already stored, {res.outcomes_conflict} in conflict; "
                      f"{res.rejected_total} rejected")
        if res.rejected_total or res.conflict_total:
            raise typer.Exit(1)

    @logs.command("export")
    def export_cmd(
        out: Path = typer.Option(..., "--out", help="Output .jsonl, .csv or .parquet file."),
        db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
        fmt: str = typer.Option(None, "--format", help="jsonl, csv or parquet (default: from the suffix)."),
    ) -> None:
        """Write every decision and outcome to a file that `logs ingest` reads back."""
        n = _open(db, create=False).export(out, fmt=fmt)
        console.print(f"wrote {n} records to {out}")

    @logs.command("generate")
    def generate_cmd(
        spec: str = typer.Argument(None, metavar="SPEC", help=SPEC_HELP),
        model: str = typer.Option(None, "--model", hidden=True, help="The model (older spelling of SPEC)."),
        behavior: str = typer.Option("uniform", "--behavior", help="Policy file, 'uniform' or 'optimal'."),
        epsilon: float = typer.Option(0.1, "--epsilon", help="Exploration mixed into the behavior policy."),
        requests: int = typer.Option(1000, "--requests", help="How many requests arrive."),
        since: str = typer.Option(None, "--since", help="Date of the first arrival (UTC; default 2026-01-05)."),
        start: str = typer.Option(None, "--start", hidden=True, help="Older spelling of --since."),
        seed: int = typer.Option(0, "--seed", help="Seed of the generator."),
        db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
        out: Path = typer.Option(None, "--out", help="Also write the records to this file."),
        drift: float = typer.Option(None, "--drift", help="Abandonment probability after the drift point."),
        drift_share: float = typer.Option(None, "--drift-share",
                                          help="Share of the requests that arrive before the drift (default 0.5)."),
        drift_at: float = typer.Option(None, "--drift-at", hidden=True, help="Older spelling of --drift-share."),
        per_hour: float = typer.Option(2.0, "--per-hour", help="Arrival rate of requests per hour."),
        policy_id: str = typer.Option("behavior", "--policy-id", help="Policy id recorded in the snapshots."),
        run: str = typer.Option(None, "--run-id", help="Prefix of every id (default: a digest of the log)."),
    ) -> None:
        """Generate a synthetic, realistic decision log (true propensities logged).

        Every id starts with the run id, so runs never overwrite each other in one database."""
        from accessrl.offline.logsim import LogConfig, simulate_logs, with_abandonment
        from accessrl.storage.generated import check_run_id, run_id, write_generated, write_generated_file
        from accessrl.storage.times import to_us

        if run is not None:
            check_run_id(run, "--run-id")
        if requests < 1:
            raise ParameterError(f"--requests: expected a positive integer, got {requests}")
        if since is not None and start is not None:
            raise ParameterError("--since and --start: give the first arrival once (--since)")
        first = since if since is not None else start if start is not None else "2026-01-05"
        if drift_share is not None and drift_at is not None:
            raise ParameterError("--drift-share and --drift-at: give the drift point once (--drift-share)")
        share = drift_share if drift_share is not None else drift_at if drift_at is not None else 0.5
        if not 0.0 <= share <= 1.0:
            raise ParameterError(f"--drift-share: expected a fraction in [0, 1], got {share}")
        mdp = load_model_arg(model_option(spec, model))
        probs = _behavior(mdp, behavior)
        drifted = with_abandonment(mdp, drift) if drift is not None else None
        log = simulate_logs(mdp, probs, n_requests=requests, start_us=to_us(first, "--since"),
                            rng=np.random.default_rng(seed), epsilon=epsilon,
                            config=LogConfig(arrivals_per_hour=per_hour), drift_model=drifted,
                            drift_at=int(share * requests) if drifted is not None else None)
        run = run_id(log) if run is None else run
        if out is not None:
            n = write_generated_file(log, mdp, out, policy_id=policy_id, run=run)
            console.print(f"wrote {n} records to {out}")
        res = write_generated(_open(db), log, mdp, policy_id=policy_id, run=run)
        for r in res.rejected:
            err_console.print(f"accessrl: reject: {r}", markup=False, soft_wrap=True)
        console.print(f"generated run {run}: {log.steps.n_episodes} requests, {log.steps.n_steps} decisions: "
                      f"{res.decisions_inserted} new decisions and {res.outcomes_inserted} outcomes in {db} "
                      f"({res.decisions_duplicate} decisions and {res.outcomes_duplicate} outcomes already stored)")
        if res.rejected:
            raise typer.Exit(1)

    @logs.command("estimate")
    def estimate_cmd(
        out: Path = typer.Option(..., "--out", help="Where to write the estimated spec (YAML or JSON)."),
        db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
        since: str = typer.Option(None, "--since", help="Only decisions from this date (UTC, decision time)."),
        until: str = typer.Option(None, "--until",
                                  help="Only decisions before this date, read as of it (decision time; default: now)."),
        gamma: float = typer.Option(0.9, "--gamma", help="Discount written into the spec."),
        min_support: int = typer.Option(10, "--min-support", help="Decisions a pair needs not to be flagged."),
        low_support: str = typer.Option("mark", "--low-support", help="mark (never_explore) or drop."),
        drift_at: str = typer.Option(None, "--drift-at",
                                     help="Compare outcome distributions of decisions before/after this date "
                                          "(decision time, each period read as of its end)."),
        outcome_window: float = typer.Option(None, "--outcome-window",
                                             help="Hours a decision's outcome may take (default: the 99% quantile of "
                                                  "the logged delays); later ones are censored."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable report."),
    ) -> None:
        """Estimate a spec from logged transitions, with counts and 95% Wilson intervals.

        Periods are by decision time and read as of their end: a decision whose outcome window
        had not closed, or whose outcome was not known, by the end of its period is counted as
        censored and not used (never silently dropped)."""
        from accessrl.offline.estimation import drift_report, estimate_model
        from accessrl.offline.periods import DecisionPeriod, period_decisions
        from accessrl.offline.splits import default_window
        from accessrl.specfile import save_spec
        from accessrl.storage.times import now_text, us_to_iso

        if low_support not in ("mark", "drop"):
            raise ParameterError(f"--low-support: expected 'mark' or 'drop', got {low_support!r}")
        if min_support < 0:
            raise ParameterError(f"--min-support: expected a non-negative integer, got {min_support}")
        if not 0.0 < gamma <= 1.0:
            raise ParameterError(f"--gamma: expected a number in (0, 1], got {gamma}")
        lo, hi = _date_us(since, "--since"), _date_us(until, "--until")
        if lo is not None and hi is not None and not lo < hi:
            raise ParameterError(f"--since {since}: expected a date before --until {until}")
        cut = _date_us(drift_at, "--drift-at")
        store = _open(db, create=False)
        loaded = store.load_steps(since=lo, until=hi)
        steps = loaded.steps
        as_of = hi if hi is not None else _date_us(now_text(), "now")
        assert as_of is not None
        window = window_us(outcome_window)
        if window is None:
            window = default_window(steps) if steps.n_steps else 0
        period = period_decisions(steps, DecisionPeriod(lo, hi), as_of=as_of, window=window, pending_at=loaded.pending_at)
        if period.observed.n_steps == 0:
            raise DataError(f"--db {db}: no decision in the period has a known outcome "
                            f"({period.decided} decided, {period.censored} censored)")
        est = estimate_model(period.observed, gamma=gamma, min_support=min_support,
                             low_support=low_support, name=f"estimated from {db}")  # type: ignore[arg-type]
        _ = est.mdp  # compile once so a bad estimate fails here, not in the reader
        save_spec(est.spec, out)
        report = est.report()
        report["pending_decisions"] = loaded.pending
        report["period"] = period.to_json(us_to_iso)
        if cut is not None:
            if (lo is not None and cut <= lo) or cut >= as_of:
                raise ParameterError(f"--drift-at {drift_at}: expected a date inside the period")
            parts = [period_decisions(steps, DecisionPeriod(a, b), as_of=as_of, window=window, pending_at=loaded.pending_at)
                     for a, b in ((lo, cut), (cut, hi))]
            if parts[0].observed.n_steps == 0 or parts[1].observed.n_steps == 0:
                raise ParameterError(f"--drift-at {drift_at}: one of the two periods has no decisions with known "
                                     "outcomes")
            dr = drift_report(parts[0].observed, parts[1].observed)
            report["drift"] = [p.__dict__ for p in dr.pairs]
            report["drift_periods"] = {"before": parts[0].to_json(us_to_iso), "after": parts[1].to_json(us_to_iso)}
        side = out.with_name(out.name + ".report.json")
        side.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        if json_out:
            print_json(report)
            return
        console.print(f"estimated from {est.n_decisions} decisions in {est.n_episodes} episodes "
                      f"({loaded.pending} awaiting outcomes; {period.censored} censored at the period's end: "
                      f"{period.censored_open} within the {window / 3.6e9:g} h outcome window, "
                      f"{period.censored_late} without an outcome by then); spec written to {out}, report to {side}")
        rows = [[o.state, o.action, o.next_state, o.count, o.p, f"[{o.p_low:.4f}, {o.p_high:.4f}]", o.reward]
                for o in est.outcomes]
        print_table("estimated transitions (95% Wilson intervals)",
                    ["state", "action", "next", "count", "probability", "interval", "reward"], rows, limit=100)
        for s, a, n in est.low_support:
            console.print(f"low support: {s}/{a} has {n} decisions (< {min_support}); {low_support}ed")
        for p in report.get("drift", []):
            if p["drifted"]:
                console.print(f"drift: {p['state']}/{p['action']} changed by up to {p['max_change']:.3f} "
                              f"(chi-square p = {p['p_value']:.2g})")
        if cut is not None:
            b, a = report["drift_periods"]["before"], report["drift_periods"]["after"]
            console.print(f"drift periods by decision time: before {drift_at}: {b['observed']} decisions used, "
                          f"{b['censored_window_open'] + b['censored_late']} censored; after: {a['observed']} used, "
                          f"{a['censored_window_open'] + a['censored_late']} censored")
            if not any(p["drifted"] for p in report["drift"]):
                console.print("drift: no pair changed significantly")

    @app.command("evaluate-policy")
    def evaluate_policy_cmd(
        policy: list[Path] = typer.Option([], "--policy", help="Candidate policy file(s) (state: action)."),
        incumbent: Path = typer.Option(None, "--incumbent",
                                       help="The deployed policy's file: also give promote's verdict per candidate."),
        db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
        split: str = typer.Option("test", "--split", help="valid or test."),
        train_end: str = typer.Option(None, "--train-end", help="Train/validation cutoff (default: 60% quantile)."),
        valid_end: str = typer.Option(None, "--valid-end", help="Validation/test cutoff (default: 80% quantile)."),
        prevent_leakage: bool = typer.Option(False, "--prevent-leakage",
                                             help="Train only on what was knowable at the train cutoff."),
        outcome_window: float = typer.Option(None, "--outcome-window",
                                             help="Hours a decision's outcome may take (default: the 99% quantile "
                                                  "of the logged delays)."),
        learn: list[str] = typer.Option([], "--learn",
                                        help="Also learn candidates on train: model, pessimistic, fqi, spibb."),
        learned_dir: Path = typer.Option(Path(DEFAULT_LEARNED_DIR), "--learned-dir",
                                         help="Where the learned candidates' policy files go."),
        n_wedge: int = typer.Option(20, "--n-wedge", help="SPIBB: samples a pair needs before the policy may change."),
        gamma: float = typer.Option(0.9, "--gamma", help="Discount of the returns."),
        severe: float = typer.Option(-100.0, "--severe-threshold", help="A return at or below this is severe."),
        seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
        n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples."),
        min_matching: int = typer.Option(30, "--min-matching", help=MIN_MATCHING_HELP),
        min_ess: float = typer.Option(30.0, "--min-ess", help=MIN_ESS_HELP),
        agreement: str = typer.Option("refuse", "--agreement", help=AGREEMENT_HELP),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Held-out off-policy evaluation of candidate policies, with intervals and the evidence review.

        Every policy's estimate goes through the one evidence review (support from the logged
        propensities, matching episodes, effective sample size, agreement of the estimators);
        with --incumbent, each candidate also gets promote's verdict with every reason."""
        from accessrl.offline.evidence import assess
        from accessrl.offline.heldout import LEARNERS, evaluate_heldout, heldout_split, learn_from_logs, review_candidates
        from accessrl.offline.ope import matrix_mapping, target_matrix
        from accessrl.specfile import read_policy_file
        from accessrl.storage.times import us_to_iso as fmt_time

        if split not in ("valid", "test"):
            raise ParameterError(f"--split: expected 'valid' or 'test', got {split!r}")
        for name in learn:
            if name not in LEARNERS:
                raise ParameterError(f"--learn: expected one of {', '.join(LEARNERS)}, got {name!r}")
        if not policy and not learn:
            raise ParameterError("--policy: give at least one candidate policy file (or --learn)")
        if n_boot < 1:
            raise ParameterError(f"--n-boot: expected a positive number of resamples, got {n_boot}")
        rules = evidence_rules(min_matching, min_ess, agreement)
        loaded = _open(db, create=False).load_steps()
        steps = loaded.steps
        if steps.n_steps == 0:
            raise ParameterError(f"--db {db}: the log has no complete decisions")
        window = window_us(outcome_window)
        parts = heldout_split(steps, train_end=_date_us(train_end, "--train-end"),
                              valid_end=_date_us(valid_end, "--valid-end"), prevent_leakage=prevent_leakage,
                              outcome_window=window, time_text=fmt_time)
        c1, c2 = parts.cutoffs
        files = {p.stem: target_matrix(steps.state_names, steps.action_names,
                                       read_policy_file(p, states=steps.state_names), source=str(p)) for p in policy}
        rng = np.random.default_rng(seed)
        period: Any = "test" if split == "test" else "valid"
        verdicts: tuple[Any, ...] = ()
        if incumbent is None:
            evaluation = evaluate_heldout(parts, list(files.items()), gamma=gamma, rng=rng, period=period,
                                          learners=learn, n_wedge=n_wedge, severe_threshold=severe, n_boot=n_boot,
                                          rules=rules)
            n_given = len(files)
        else:  # the verdicts promote would give, from the same orchestration
            inc = (incumbent.stem, target_matrix(steps.state_names, steps.action_names,
                                                 read_policy_file(incumbent, states=steps.state_names),
                                                 source=str(incumbent)))
            learned_set = learn_from_logs(parts, learn, gamma=gamma, rng=rng, n_wedge=n_wedge,
                                          severe_threshold=severe, n_boot=n_boot, rules=rules) if learn else None
            cands = [*files.items(), *(learned_set.policies.items() if learned_set is not None else ())]
            review = review_candidates(parts, inc, cands, gamma=gamma, rng=rng, period=period,
                                       severe_threshold=severe, n_boot=n_boot, rules=rules)
            if review.evaluation is None:
                raise DataError(f"--split {split}: {review.verdicts[0].reasons[0]}")
            evaluation = dataclasses.replace(
                review.evaluation, selection=None if learned_set is None else learned_set.selection,
                learned={} if learned_set is None else learned_set.policies)
            n_given = len(files) + 1
            verdicts = review.verdicts
        reports = evaluation.reports
        assessments = [assess(r, rules, role="incumbent" if (incumbent is not None and i == 0) else "candidate",
                              period=split) for i, r in enumerate(reports)]
        sel = evaluation.selection
        learned_files = {m: str(write_policy_file(learned_dir / f"{m}.yaml",
                                                  matrix_mapping(steps.state_names, steps.action_names, pi)))
                         for m, pi in evaluation.learned.items()}
        lk = parts.leakage
        if json_out:
            selection = None if sel is None else {
                **sel.to_json(), "file": None if sel.chosen is None else learned_files[sel.chosen]}
            print_json({
                "split": split, "cutoffs": [fmt_time(c1), fmt_time(c2)], "selection": selection,
                "leakage": {**lk.__dict__, "examples": list(lk.examples)},
                "episodes": {"train": parts.train.n_episodes, "valid": parts.valid.n_episodes,
                             "test": parts.test.n_episodes},
                "policies": [{**r.to_json(), "learned": r.policy in learned_files and i >= n_given,
                              "file": learned_files.get(r.policy) if i >= n_given else None,
                              "evidence": {"trusted": a.trusted, "checks": [c.to_json() for c in a.checks]}}
                             for i, (r, a) in enumerate(zip(reports, assessments, strict=True))],
                "verdicts": [v.evidence() for v in verdicts], "rules": rules.to_json(),
            })
            return
        console.print(f"split by first decision time: train < {fmt_time(c1)} <= valid < {fmt_time(c2)} <= test; "
                      f"episodes {parts.train.n_episodes} / {parts.valid.n_episodes} / {parts.test.n_episodes}")
        if not lk.clean:
            console.print(f"leakage found: {lk.requester_overlap} shared requesters, {lk.late_outcomes} late "
                          f"outcomes, {lk.straddling} straddling episodes, {lk.late_features} late features")
        if lk.prevented:
            console.print(f"leakage prevented: train keeps decisions whose {lk.outcome_window / 3.6e9:g} h outcome "
                          f"window closed before {fmt_time(c1)} ({lk.embargoed} later ones left out, {lk.censored} "
                          f"censored); shared requesters and late features dropped")
        elif not lk.clean:
            console.print("use --prevent-leakage to train only on what was knowable at the cutoff")
        if sel is not None:
            console.print(sel.note)
            for m, path in learned_files.items():
                console.print(f"learned {m}: {path}", markup=False)
        for r, a in zip(reports, assessments, strict=True):
            if not r.supported:
                console.print(f"{r.policy}: {r.reason}", markup=False, soft_wrap=True)
                continue
            rows = [[e.name, e.estimate.value, e.estimate.low, e.estimate.high] if e.estimate is not None
                    else [e.name, "-", "-", e.note] for e in r.estimates]
            print_table(f"{r.policy} on {split} ({r.n_episodes} episodes, {r.matching_episodes} follow it, "
                        f"ESS {r.effective_sample_size:.1f})", ["estimator", "value", "low", "high"], rows)
            sr = r.severe_rate
            if sr is not None:
                console.print(f"severe errors (return <= {severe:g}): {r.severe_observed} observed among matching "
                              f"episodes; estimated rate {sr.value:.4f} [{sr.low:.4f}, {sr.high:.4f}]")
            if not verdicts:
                console.print(f"evidence for {r.policy}: " + ("trusted" if a.trusted else "not trusted: " + "; ".join(
                    c.message.split(": ", 1)[-1] for c in a.failures)), markup=False, soft_wrap=True)

        for v in verdicts:
            print_checks(f"verdict for {v.candidate_id} against {v.incumbent_id}: "
                         + ("would be promoted" if v.promote else "not promoted"), v.checks)

    return logs
