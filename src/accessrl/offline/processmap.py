"""The process map of a decision log: states, decisions, outcomes, counts, probabilities and waits (layer 1).

For each (state, action, next state) seen in the log: how many decisions, the probability
of the next state given the state and action (with a 95% Wilson interval: Wilson 1927,
JASA 22(158), 209-212), and the median and 90th percentile of the wait from the decision
to the outcome that set the next state.  ``level="stage"`` folds states that only differ
in their buckets (``stage|amount=...|waited=...``) into their stage, so a map stays one
node per stage; ``min_count`` hides the rarer transitions (counted in ``hidden``) so a
large log's map stays readable.

>>> from accessrl.offline.logged import LoggedSteps
>>> import numpy as np
>>> steps = LoggedSteps(("new", "done"), ("ask",), episode=np.array([0, 1]), step=np.array([0, 0]),
...     requester=np.array([0, 1]), state=np.array([0, 0]), action=np.array([0, 0]), propensity=np.ones(2),
...     reward=np.zeros(2), next_state=np.array([1, 1]), terminated=np.array([True, True]),
...     truncated=np.array([False, False]), decided_at=np.array([0, 0]), outcome_at=np.array([3_600_000_000, 10_800_000_000]),
...     features_at=np.array([0, 0]))
>>> m = process_map(steps)
>>> [(e.state, e.action, e.next_state, e.count, e.p, e.median_wait_h) for e in m.edges]
[('new', 'ask', 'done', 2, 1.0, 2.0)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from accessrl.offline.estimation import wilson_interval
from accessrl.offline.logged import LoggedSteps

US_PER_HOUR = 3_600_000_000


@dataclass(frozen=True)
class MapEdge:
    """One (state, action, next state) of the map; waits in hours."""

    state: str
    action: str
    next_state: str
    count: int
    pair_count: int
    p: float
    p_low: float
    p_high: float
    median_wait_h: float
    p90_wait_h: float
    terminal: bool


@dataclass(frozen=True)
class MapNode:
    """A state of the map: decisions taken in it, and whether episodes end there."""

    name: str
    decisions: int
    entered: int
    terminal: bool


@dataclass(frozen=True)
class ProcessMap:
    """Nodes and edges of the map, the first state of most episodes, and what the filter hid."""

    nodes: tuple[MapNode, ...]
    edges: tuple[MapEdge, ...]
    start: str | None
    hidden: int
    hidden_decisions: int
    min_count: int
    level: str

    def to_json(self) -> dict[str, object]:
        """Plain data (``logs map --json``)."""
        return {"level": self.level, "min_count": self.min_count, "start": self.start,
                "hidden_transitions": self.hidden, "hidden_decisions": self.hidden_decisions,
                "nodes": [n.__dict__ for n in self.nodes], "edges": [e.__dict__ for e in self.edges]}


def stage_of(state: str) -> str:
    """The stage of a state name (the text before the first ``|``)."""
    return state.split("|", 1)[0]


def process_map(steps: LoggedSteps, *, min_count: int = 1, level: Literal["stage", "state"] = "stage") -> ProcessMap:
    """The map of ``steps`` (see the module docstring)."""
    names = np.array([stage_of(s) if level == "stage" else s for s in steps.state_names], dtype=object)
    fold = {n: i for i, n in enumerate(dict.fromkeys(names.tolist()))}
    code = np.array([fold[n] for n in names], dtype=np.int64) if len(names) else np.zeros(0, dtype=np.int64)
    label = list(fold)
    s = code[steps.state] if steps.n_steps else np.zeros(0, dtype=np.int64)
    nxt = code[steps.next_state] if steps.n_steps else np.zeros(0, dtype=np.int64)
    a = steps.action
    wait = (steps.outcome_at - steps.decided_at) / US_PER_HOUR
    n_s, n_a = len(label), max(len(steps.action_names), 1)
    key = (s * n_a + a) * n_s + nxt
    uniq, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    pair_key = uniq // n_s
    pair_total = {int(k): int(c) for k, c in zip(*np.unique(key // n_s, return_counts=True), strict=True)}
    lo, hi = wilson_interval(counts, np.array([pair_total[int(k)] for k in pair_key]))
    term = np.zeros(n_s, dtype=bool)
    term[nxt[steps.terminated]] = True
    edges, hidden, hidden_n = [], 0, 0
    for i, k in enumerate(uniq.tolist()):
        c = int(counts[i])
        if c < min_count:
            hidden += 1
            hidden_n += c
            continue
        w = wait[inv == i]
        si, ai, ni = k // (n_a * n_s), (k // n_s) % n_a, k % n_s
        total = pair_total[int(pair_key[i])]
        edges.append(MapEdge(label[si], steps.action_names[ai], label[ni], c, total, c / total, float(lo[i]),
                             float(hi[i]), float(np.median(w)), float(np.quantile(w, 0.9)), bool(term[ni])))
    shown = {e.state for e in edges} | {e.next_state for e in edges}
    dec = np.bincount(s, minlength=n_s)
    ent = np.bincount(nxt, minlength=n_s)
    first = s[steps.step == 0] if steps.n_steps else s
    start = label[int(np.bincount(first, minlength=n_s).argmax())] if first.size else None
    nodes = tuple(MapNode(n, int(dec[i]), int(ent[i]), bool(term[i] and dec[i] == 0))
                  for i, n in enumerate(label) if n in shown)
    edges.sort(key=lambda e: (-e.pair_count, e.state, e.action, -e.count))
    return ProcessMap(nodes, tuple(edges), start, hidden, hidden_n, min_count, level)


__all__ = ["MapEdge", "MapNode", "ProcessMap", "process_map", "stage_of"]
