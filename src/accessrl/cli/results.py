"""Big results on the command line: a summary for people, files for the full result.

``solve`` and ``learn`` print every state only for small models; above
:data:`~accessrl.cli._common.TABLE_ROWS` states they print a
:class:`~accessrl.model.summary.PolicySummary` (the policy by action and by each factor of the
workflow, the value range, the visited share) and ``--out FILE`` writes everything:

* ``.npz`` — arrays: ``values`` (S,), ``policy`` (S,, -1 without a decision),
  ``action_names``, and per pair ``sa_state``, ``sa_action``, ``q_values`` (and ``visits``);
* ``.parquet`` — one row per state-action pair: ``state_index``, ``state``, ``action``,
  ``q``, ``value`` (of the state), ``greedy`` (and ``visits``);
* ``.json`` — ``{"values": {state: V}, "policy": {state: action}, "q_values": {state: {action: Q}}}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from accessrl._optional import require
from accessrl.cli._common import console, to_plain
from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.summary import PolicySummary, summarise_policy

OUT_SUFFIXES = (".npz", ".parquet", ".json")
"""The formats ``--out`` writes, by file suffix."""

FULL_JSON_STATES = 10_000
"""Above this many states ``--json`` carries the summary and not every state (use ``--out``)."""


def check_out(path: str | None) -> Path | None:
    """``--out``'s path, refused early (before any work) when its suffix is not a known format."""
    if path is None:
        return None
    p = Path(path)
    if p.suffix.lower() not in OUT_SUFFIXES:
        raise ParameterError(f"--out: expected a file ending in {', '.join(OUT_SUFFIXES)}, got {path!r}")
    return p


def summary_json(s: PolicySummary) -> dict[str, Any]:
    """The summary as JSON-ready data."""
    return {
        "states": s.n_states, "decision_states": s.n_decision_states,
        "by_action": {a.action: {"states": a.states, "share": a.share} for a in s.by_action},
        "values": {"min": s.value_min, "median": s.value_median, "mean": s.value_mean, "max": s.value_max},
        "visited_pairs": s.visited_pairs, "visited_states": s.visited_states,
        "by_factor": [{"factor": f.factor, "level": f.level, "states": f.states,
                       "actions": {a.action: a.share for a in f.actions}} for f in s.by_factor],
    }


def print_summary(s: PolicySummary, *, top: int = 3) -> None:
    """The summary as a dozen or a few dozen lines (one per factor level)."""
    console.print(f"policy by action ({s.n_states} states, {s.n_decision_states} with a decision):", markup=False, soft_wrap=True)
    width = max((len(a.action) for a in s.by_action), default=0)
    for a in s.by_action:
        console.print(f"  {a.action:<{width}}  {a.states:>10}  {a.share:6.1%}", markup=False, soft_wrap=True)
    console.print(f"values: min {s.value_min:.6g}, median {s.value_median:.6g}, mean {s.value_mean:.6g}, "
                  f"max {s.value_max:.6g}", markup=False, soft_wrap=True)
    if s.visited_pairs is not None:
        console.print(f"visited: {s.visited_pairs:.1%} of state-action pairs, {s.visited_states:.1%} of decision "
                      "states", markup=False, soft_wrap=True)
    if s.by_factor:
        console.print(f"by factor (the {top} most common actions at each level; levels in a row with the same "
                      "most common action pooled):", markup=False, soft_wrap=True)
        for label, states, shares in pooled_levels(s.by_factor, MAX_LEVELS):
            acts = ", ".join(f"{a} {p:.0%}" for a, p in shares[:top])
            console.print(f"  {label} ({states} states): {acts}", markup=False, soft_wrap=True)


MAX_LEVELS = 6
"""A factor with more levels than this is printed with runs of levels pooled."""


def pooled_levels(levels: Any, max_levels: int) -> list[tuple[str, int, list[tuple[str, float]]]]:
    """Lines of the by-factor summary: ``(label, states, [(action, share), ...])``.  A factor
    with more than ``max_levels`` levels has each run of consecutive levels with the same most
    common action pooled into one line (shares recomputed over the run's states)."""
    by_factor: dict[int, list[Any]] = {}
    for f in levels:
        by_factor.setdefault(f.factor, []).append(f)
    lines = []
    for factor, fl in by_factor.items():
        if len(fl) <= max_levels:
            runs = [[x] for x in fl]
        else:
            runs = []
            for x in fl:
                if runs and runs[-1][-1].actions[0].action == x.actions[0].action:
                    runs[-1].append(x)
                else:
                    runs.append([x])
        for run in runs:
            total = sum(x.states for x in run)
            counts: dict[str, float] = {}
            for x in run:
                for a in x.actions:
                    counts[a.action] = counts.get(a.action, 0.0) + a.share * x.states
            shares = sorted(((a, c / total) for a, c in counts.items()), key=lambda t: -t[1])
            name = run[0].level if len(run) == 1 else f"{run[0].level}..{run[-1].level} ({len(run)} levels)"
            lines.append((f"factor {factor + 1} = {name}", total, shares))
    return lines


def summarise(mdp: MDP, policy: Any, values: Any, visits: Any = None) -> PolicySummary:
    """:func:`~accessrl.model.summary.summarise_policy` (one import for the commands)."""
    return summarise_policy(mdp, policy, values, visits=visits)


def write_result(path: Path, mdp: MDP, *, values: Any, policy: Any, q: Any, visits: Any = None) -> None:
    """Write a full per-state result to ``path`` in the format its suffix names (see the module docstring)."""
    values = np.asarray(values, dtype=np.float64)
    policy = np.asarray(policy, dtype=np.int64)
    q = np.asarray(q, dtype=np.float64)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        arrays: dict[str, Any] = {"values": values, "policy": policy, "q_values": q, "sa_state": mdp.sa_state,
                                  "sa_action": mdp.sa_action, "action_names": np.asarray(mdp.action_names)}
        if visits is not None:
            arrays["visits"] = np.asarray(visits)
        np.savez_compressed(path, **arrays)
        return
    if suffix == ".parquet":
        pa = require("pyarrow", "parquet", "writing Parquet")
        pq = require("pyarrow.parquet", "parquet", "writing Parquet", package="pyarrow")
        s_of = mdp.sa_state
        names = [mdp.state_names[int(s)] for s in range(mdp.n_states)]
        cols: dict[str, Any] = {
            "state_index": s_of,
            "state": pa.DictionaryArray.from_arrays(pa.array(s_of, type=pa.int64()), pa.array(names)),
            "action": pa.DictionaryArray.from_arrays(pa.array(mdp.sa_action, type=pa.int32()),
                                                     pa.array(list(mdp.action_names))),
            "q": q, "value": values[s_of], "greedy": policy[s_of] == mdp.sa_action,
        }
        if visits is not None:
            cols["visits"] = np.asarray(visits)
        pq.write_table(pa.table(cols), path)
        return
    q_values: dict[str, dict[str, float]] = {}
    out = {
        "values": {mdp.state_names[s]: float(values[s]) for s in range(mdp.n_states)},
        "policy": {mdp.state_names[int(s)]: mdp.action_names[int(policy[s])] for s in np.flatnonzero(policy >= 0)},
        "q_values": q_values,
    }
    for s in mdp.decision_states:
        lo, hi = int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1])
        q_values[mdp.state_names[int(s)]] = {mdp.action_names[int(mdp.sa_action[k])]: float(q[k])
                                                    for k in range(lo, hi)}
    with path.open("w", encoding="utf-8") as fh:
        json.dump(to_plain(out), fh)
        fh.write("\n")


__all__ = ["FULL_JSON_STATES", "MAX_LEVELS", "OUT_SUFFIXES", "check_out", "pooled_levels", "print_summary",
           "summarise", "summary_json", "write_result"]
