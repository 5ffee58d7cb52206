"""`accessrl learn-from-logs`: candidate policies learned from a decision log, as policy files.

A thin adapter over :func:`accessrl.offline.heldout.learn_from_logs`: read the log, split
it by time, learn a candidate per batch method on the training period (SPIBB by default),
score each on the validation period through the evidence review, and write every candidate
as a policy file (``state: action``, or ``state: {action: p}`` for a stochastic one) that
``evaluate-policy``, ``promote`` and ``serve`` read.  The chosen one is the best lower bound
among the candidates whose evidence passed; when none passed, none is chosen (exit 1).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import typer

from accessrl.cli._common import DB_HELP, DEFAULT_DB, console, print_json, print_table
from accessrl.cli.logs import (
    AGREEMENT_HELP,
    DEFAULT_LEARNED_DIR,
    MIN_ESS_HELP,
    MIN_MATCHING_HELP,
    evidence_rules,
    print_checks,
    window_us,
    write_policy_file,
)
from accessrl.errors import ParameterError


def register(app: typer.Typer) -> None:
    @app.command("learn-from-logs")
    def learn_from_logs_cmd(
        db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
        out_dir: Path = typer.Option(Path(DEFAULT_LEARNED_DIR), "--out-dir", help="Where the policy files go."),
        method: list[str] = typer.Option([], "--method",
                                         help="model, pessimistic, fqi or spibb (repeatable; default: spibb, which "
                                              "changes the behavior only where the data support it)."),
        chosen: Path = typer.Option(None, "--chosen", help="Also copy the chosen candidate's file here."),
        train_end: str = typer.Option(None, "--train-end", help="Train/validation cutoff (default: 60% quantile)."),
        valid_end: str = typer.Option(None, "--valid-end", help="Validation/test cutoff (default: 80% quantile)."),
        prevent_leakage: bool = typer.Option(True, "--prevent-leakage/--allow-leakage",
                                             help="Train only on what was knowable at the train cutoff."),
        outcome_window: float = typer.Option(None, "--outcome-window", help="Hours an outcome may take."),
        n_wedge: int = typer.Option(20, "--n-wedge", help="SPIBB: samples a pair needs before the policy may change."),
        gamma: float = typer.Option(0.9, "--gamma", help="Discount of the returns."),
        seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
        n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples."),
        min_matching: int = typer.Option(30, "--min-matching", help=MIN_MATCHING_HELP),
        min_ess: float = typer.Option(30.0, "--min-ess", help=MIN_ESS_HELP),
        agreement: str = typer.Option("refuse", "--agreement", help=AGREEMENT_HELP),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Learn candidate policies on the training period (SPIBB by default); score them on validation.

        Each candidate's validation estimate goes through the evidence review; the chosen one is
        the best lower bound among those it trusts, and none is chosen (exit 1) when it trusts none."""
        from accessrl.offline.heldout import DEFAULT_LEARNERS, LEARNERS, heldout_split, learn_from_logs
        from accessrl.storage import DecisionLog
        from accessrl.storage.times import to_us, us_to_iso

        for m in method:
            if m not in LEARNERS:
                raise ParameterError(f"--method: expected one of {', '.join(LEARNERS)}, got {m!r}")
        if not 0.0 < gamma <= 1.0:
            raise ParameterError(f"--gamma: expected a number in (0, 1], got {gamma}")
        if n_boot < 1 or seed < 0 or n_wedge < 0:
            raise ParameterError(f"--n-boot, --seed, --n-wedge: expected positive / non-negative integers, got "
                                 f"{n_boot}, {seed}, {n_wedge}")
        rules = evidence_rules(min_matching, min_ess, agreement)
        steps = DecisionLog(db).load_steps().steps
        if steps.n_steps == 0:
            raise ParameterError(f"--db {db}: the log has no complete decisions")
        split = heldout_split(steps, train_end=None if train_end is None else to_us(train_end, "--train-end"),
                              valid_end=None if valid_end is None else to_us(valid_end, "--valid-end"),
                              prevent_leakage=prevent_leakage, outcome_window=window_us(outcome_window),
                              time_text=us_to_iso)
        learned = learn_from_logs(split, method or DEFAULT_LEARNERS, gamma=gamma, rng=np.random.default_rng(seed),
                                  n_wedge=n_wedge, n_boot=n_boot, rules=rules)
        files = {m: str(write_policy_file(out_dir / f"{m}.yaml", learned.mapping(m))) for m in learned.policies}
        pick = learned.selection.chosen
        if chosen is not None and pick is not None:
            chosen.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(files[pick], chosen)
        data = learned.to_json()
        for c in data["candidates"]:
            c["file"] = files[c["method"]]
        data["selection"]["file"] = None if pick is None else str(chosen) if chosen is not None else files[pick]
        data["rules"] = rules.to_json()
        c1, c2 = split.cutoffs
        data["split"] = {"cutoffs": [us_to_iso(c1), us_to_iso(c2)], "prevent_leakage": prevent_leakage,
                         "outcome_window_hours": split.leakage.outcome_window / 3.6e9,
                         "episodes": {"train": split.train.n_episodes, "valid": split.valid.n_episodes,
                                      "test": split.test.n_episodes},
                         "censored": split.leakage.censored, "embargoed": split.leakage.embargoed}
        data["gamma"], data["n_wedge"] = gamma, n_wedge
        if json_out:
            print_json(data)
            if pick is None:
                raise typer.Exit(1)
            return
        console.print(f"learned on train (< {us_to_iso(c1)}, {split.train.n_episodes} episodes), scored on "
                      f"validation (< {us_to_iso(c2)}, {split.valid.n_episodes} episodes); test left untouched")
        rows = []
        for c in data["candidates"]:
            est = c["estimates"]
            wis = est.get("wis") or {}
            rows.append([("* " if c["method"] == pick else "") + c["method"], c["support"], wis.get("value", "-"),
                         wis.get("low", "-"), wis.get("high", "-"), (est.get("model_based") or {}).get("value", "-"),
                         (est.get("dr") or {}).get("value", "-"), round(c["effective_sample_size"], 1),
                         c["severe_observed"]])
        print_table("validation estimates (* chosen: best WIS lower bound among the trusted)",
                    ["method", "support", "wis", "low", "high", "model", "dr", "ESS", "severe"], rows)
        for a in learned.selection.assessments:
            print_checks(f"evidence for {a.policy} on validation: " + ("trusted" if a.trusted else "not trusted"),
                         a.checks)
        for c in data["candidates"]:
            console.print(f"{c['method']}: {c['file']}", markup=False)
        if pick is None:
            console.print(learned.selection.note, markup=False, soft_wrap=True)
            raise typer.Exit(1)
        console.print(f"chosen: {pick} -> {data['selection']['file']}", markup=False)
