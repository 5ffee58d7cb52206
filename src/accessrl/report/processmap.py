"""Drawing the process map (:mod:`accessrl.offline.processmap`) with matplotlib, as SVG or PNG (layer 2).

States are boxes in columns by their breadth-first distance from the most common first
state (states where episodes end in the last column); each (state, action, next state)
is an arrow labelled with the action, the probability with its 95% interval, the count
and the median / 90th percentile wait.  Arrow width grows with the count.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path

from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from accessrl.offline.processmap import MapEdge, ProcessMap
from accessrl.report.plots import new_figure, save

BOX_W, BOX_H = 2.3, 0.7


def wait_text(hours: float) -> str:
    """A wait in hours as ``45m``, ``5.2h`` or ``3.1d``."""
    if hours < 1:
        return f"{hours * 60:.0f}m"
    return f"{hours:.1f}h" if hours < 48 else f"{hours / 24:.1f}d"


def edge_text(e: MapEdge) -> str:
    """``action p=0.85 [0.84, 0.86] n=2711 wait 2.1d/9.0d`` (median / 90%)."""
    return (f"{e.action} p={e.p:.2f} [{e.p_low:.2f}, {e.p_high:.2f}] n={e.count}\n"
            f"wait {wait_text(e.median_wait_h)} / {wait_text(e.p90_wait_h)}")


def map_columns(m: ProcessMap) -> dict[str, int]:
    """Column of each node: breadth-first distance from the start; terminal nodes last."""
    succ: dict[str, list[str]] = {}
    for e in m.edges:
        succ.setdefault(e.state, []).append(e.next_state)
    names = [n.name for n in m.nodes]
    depth: dict[str, int] = {}
    roots = [m.start] if m.start in names else []
    roots += [n for n in names if n not in roots]
    for r in roots:
        if r in depth:
            continue
        depth[r] = 0 if not depth else max(depth.values()) + 1
        todo = deque([r])
        while todo:
            s = todo.popleft()
            for t in succ.get(s, []):
                if t not in depth:
                    depth[t] = depth[s] + 1
                    todo.append(t)
    terminal = {n.name for n in m.nodes if n.terminal}
    last = max((d for n, d in depth.items() if n not in terminal), default=-1) + 1
    return {n: (last if n in terminal else depth[n]) for n in names}


def plot_process_map(m: ProcessMap, out: str | Path, *, title: str = "") -> Path:
    """Draw ``m`` to ``out`` (``.svg`` or ``.png``)."""
    cols = map_columns(m)
    rows: dict[int, int] = {}
    pos: dict[str, tuple[float, float]] = {}
    for n in m.nodes:
        c = cols[n.name]
        pos[n.name] = (c * 5.2, -rows.get(c, 0) * 3.0)
        rows[c] = rows.get(c, 0) + 1
    n_cols, n_rows = max(cols.values(), default=0) + 1, max(rows.values(), default=1)
    fig = new_figure(max(8.0, 3.1 * n_cols), max(4.0, 1.7 * n_rows + 1.0))
    ax = fig.add_subplot()
    ax.set_xlim(-BOX_W, (n_cols - 1) * 5.2 + BOX_W)
    ax.set_ylim(-(n_rows - 1) * 3.0 - 1.6, 2.4)
    ax.axis("off")
    most = max((e.count for e in m.edges), default=1)
    lanes: dict[tuple[str, str], int] = {}
    for e in m.edges:
        lane = lanes.get((e.state, e.next_state), 0)
        lanes[(e.state, e.next_state)] = lane + 1
        width = 0.6 + 3.0 * math.log1p(e.count) / math.log1p(most)
        colour = "#b91c1c" if e.terminal and e.next_state.startswith(("cancel", "abandon")) else "#475569"
        (x0, y0), (x1, y1) = pos[e.state], pos[e.next_state]
        if e.state == e.next_state:
            a, b = (x0 - 0.4 - 0.25 * lane, y0 + BOX_H / 2), (x0 + 0.4 + 0.25 * lane, y0 + BOX_H / 2)
            rad, mid = -1.6, (x0, y0 + BOX_H / 2 + 0.5 + 0.42 * lane)
        else:
            a, b = (x0 + BOX_W / 2 * (1 if x1 >= x0 else -1), y0), (x1 - BOX_W / 2 * (1 if x1 >= x0 else -1), y1)
            rad = 0.12 * (lane + 1) * (1 if lane % 2 == 0 else -1)
            f = 0.3 + 0.1 * (lane % 3)  # labels near the source, staggered: fewer collisions in the middle
            mid = (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]) + rad * 1.2)
        ax.add_patch(FancyArrowPatch(a, b, connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>", mutation_scale=10,
                                     linewidth=width, color=colour, alpha=0.75, zorder=1))
        ax.text(mid[0], mid[1], edge_text(e), fontsize=5.5, ha="center", va="center", zorder=4, color="#1e293b",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
    for n in m.nodes:
        x, y = pos[n.name]
        ax.add_patch(FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H,
                                    boxstyle="round,pad=0,rounding_size=0.12",
                                    fc="#f1f5f9" if n.terminal else "#dbeafe", ec="#1e3a8a", linewidth=1.0, zorder=3))
        ax.text(x, y + 0.1, n.name, ha="center", va="center", fontsize=7.5, weight="bold", zorder=4)
        sub = f"{n.entered} ended here" if n.terminal else f"{n.decisions} decisions"
        ax.text(x, y - 0.17, sub, ha="center", va="center", fontsize=6, zorder=4)
    note = (f"transitions seen fewer than {m.min_count} times hidden: {m.hidden} ({m.hidden_decisions} decisions)"
            if m.hidden else "every transition shown")
    ax.set_title((title + "\n" if title else "") + f"p with 95% Wilson interval; wait median / 90%; {note}",
                 fontsize=8)
    return save(fig, out)


__all__ = ["edge_text", "map_columns", "plot_process_map", "wait_text"]
