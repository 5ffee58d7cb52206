"""`accessrl generate SPEC-OUT`: write a generated workflow (or a random sparse model).

Every :class:`~accessrl.catalog.workflows.WorkflowParams` field is an option (``--max-days``,
``--breach-cost 20,100,500`` for per-tier triples, ...); ``--states N`` picks the size
parameters for about N states.  The suffix of SPEC-OUT picks the format: ``.yaml`` /
``.json`` spec, or ``.npz`` compact binary (the only sensible choice past ~100k states).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import replace
from typing import Any

import numpy as np
import typer

from accessrl.catalog.workflows import WorkflowParams, workflow_param_docs, workflow_params_for, workflow_size
from accessrl.cli._common import console
from accessrl.cli._progress import DelayedProgress
from accessrl.errors import ParameterError

TEXT_LIMIT = 200_000
"""Above this many states a YAML/JSON spec is refused (use .npz)."""

STATE_LIMIT = 50_000_000
"""Most states ``generate`` builds (a 1e6-state workflow holds about 0.6 GB of arrays)."""

OUTCOME_LIMIT = 500_000_000
"""Most transitions ``generate --kind rand`` builds (states x actions x successors)."""


def _parse_triple(name: str, text: str) -> tuple[float, float, float]:
    try:
        vals = tuple(float(x) for x in text.split(","))
    except ValueError:
        vals = ()
    if len(vals) != 3:
        raise ParameterError(f"--{name.replace('_', '-')}: expected three numbers low,medium,high, got {text!r}")
    return (vals[0], vals[1], vals[2])


def _param_options() -> list[inspect.Parameter]:
    params = []
    for name, (default, doc) in workflow_param_docs().items():
        if name == "cyclic":
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(default, tuple):
            opt = typer.Option(None, flag, help=f"{doc} [default: {','.join(str(x) for x in default)}]")
            ann: Any = str | None
        else:
            opt = typer.Option(None, flag, help=f"{doc} [default: {default}]")
            ann = type(default) | None
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=ann))
    return params


def register(app: typer.Typer) -> None:
    def generate_cmd(
        out: str,
        kind: str,
        states: int | None,
        cyclic: bool,
        n_actions: int,
        successors: int,
        seed: int,
        **params: Any,
    ) -> None:
        """Generate an access-review workflow (or --kind rand) and write it as a spec or .npz."""
        from pathlib import Path

        from accessrl.catalog.workflows import access_review_workflow, rand
        from accessrl.specfile import save_model

        suffix = Path(out).suffix.lower()
        if suffix not in {".yaml", ".yml", ".json", ".npz"}:
            raise ParameterError(f"SPEC-OUT: expected a .yaml, .yml, .json or .npz path, got {out!r}")
        if states is not None and not 1 <= states <= STATE_LIMIT:
            raise ParameterError(f"--states: expected a whole number in [1, {STATE_LIMIT}], got {states}")
        for k, v in params.items():
            if isinstance(v, int) and not isinstance(v, bool) and not 0 <= v <= STATE_LIMIT:
                raise ParameterError(f"--{k.replace('_', '-')}: expected a whole number in [0, {STATE_LIMIT}], got {v}")
            if isinstance(v, float) and not np.isfinite(v):
                raise ParameterError(f"--{k.replace('_', '-')}: expected a finite number, got {v}")
        if kind == "rand":
            n = states or 1000
            size = n
            if n * n_actions * successors > OUTCOME_LIMIT:
                raise ParameterError(f"--states x --actions x --successors: {n * n_actions * successors} transitions, "
                                     f"over the limit of {OUTCOME_LIMIT}")
        elif kind == "workflow":
            chosen = {k: v for k, v in params.items() if v is not None}
            for k, v in list(chosen.items()):
                if isinstance(getattr(WorkflowParams(), k), tuple):
                    chosen[k] = _parse_triple(k, v)
            base = workflow_params_for(states, cyclic=cyclic) if states else WorkflowParams(cyclic=cyclic)
            sizes = {"max_days", "queue_capacity"} & set(chosen)
            if states and sizes:
                raise ParameterError(f"--states: cannot be combined with --{sorted(sizes)[0].replace('_', '-')}")
            try:
                wp = replace(base, **chosen)
            except TypeError as exc:
                raise ParameterError(f"generate: {exc}") from None
            # the factor sizes, multiplied without int64 overflow before workflow_size multiplies them
            factors = (wp.max_days, wp.max_reminders + 1, wp.queue_capacity, wp.max_escalation + 1)
            if math.prod(factors) * 24 > STATE_LIMIT:
                raise ParameterError(f"generate: --max-days, --max-reminders, --queue-capacity and --max-escalation "
                                     f"give over {STATE_LIMIT} states")
            size = workflow_size(wp)
        else:
            raise ParameterError(f"--kind: expected 'workflow' or 'rand', got {kind!r}")
        if suffix != ".npz" and size > TEXT_LIMIT:
            raise ParameterError(f"SPEC-OUT: {size} states is too many for a text spec; use a .npz path")
        with DelayedProgress("generating") as prog:
            prog(float("nan"), f"{size} states")
            if kind == "rand":
                mdp = rand(size, n_actions, successors, gamma=params.get("gamma") or 0.9,
                           rng=np.random.default_rng(seed))
            else:
                mdp = access_review_workflow(wp)
            prog(float("nan"), "writing")
            save_model(mdp, out)
        console.print(f"wrote {out}: {mdp.name}, {mdp.n_states} states, {mdp.n_pairs} state-actions, "
                      f"{mdp.n_outcomes} transitions ({mdp.nbytes / 1e6:.1f} MB of arrays), gamma {mdp.gamma}")

    base_params = [
        inspect.Parameter("out", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str,
                          default=typer.Argument(..., metavar="SPEC-OUT", help="Output path: .yaml/.json spec or .npz binary.")),
        inspect.Parameter("kind", inspect.Parameter.KEYWORD_ONLY, annotation=str,
                          default=typer.Option("workflow", "--kind", help="workflow (factored access review) or rand.")),
        inspect.Parameter("states", inspect.Parameter.KEYWORD_ONLY, annotation=int | None,
                          default=typer.Option(None, "--states",
                                               help="About this many states (sets max-days and queue-capacity).")),
        inspect.Parameter("cyclic", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                          default=typer.Option(False, "--cyclic/--acyclic",
                                               help="Waiting loops in the last day bucket, or time always moves forward.")),
        inspect.Parameter("n_actions", inspect.Parameter.KEYWORD_ONLY, annotation=int,
                          default=typer.Option(4, "--actions", help="rand: actions per state.")),
        inspect.Parameter("successors", inspect.Parameter.KEYWORD_ONLY, annotation=int,
                          default=typer.Option(10, "--successors", help="rand: next states per state-action.")),
        inspect.Parameter("seed", inspect.Parameter.KEYWORD_ONLY, annotation=int,
                          default=typer.Option(0, "--seed", help="rand: random seed.")),
    ]
    generate_cmd.__signature__ = inspect.Signature([*base_params, *_param_options()])  # type: ignore[attr-defined]
    app.command("generate")(generate_cmd)
