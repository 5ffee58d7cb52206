"""The workflow diagram: states as nodes, actions as edges labelled with p and reward (layer 2).

:func:`workflow_layout` places the states of any model in columns by their distance
from the start (breadth-first over the transitions; terminal states in the last
column) and lists one edge per outcome, so the studio's browser script and the
tour's matplotlib figure (:func:`plot_workflow`) draw the same picture.

>>> from accessrl.catalog import access_review
>>> lay = workflow_layout(access_review())
>>> [(n["name"], n["column"]) for n in lay["nodes"]]
[('new_request', 0), ('evidence_ready', 1), ('review_queue', 1), ('closed', 2)]
>>> sorted({e["action"] for e in lay["edges"] if e["source"] == "new_request"})
['auto_approve', 'human_review', 'request_evidence']
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from accessrl.model.mdp import MDP
from accessrl.report.plots import new_figure, save_svg


def _columns(mdp: MDP) -> list[int]:
    """Breadth-first distance from the start (or state 0); unreachable states after the reachable ones,
    terminal states in one column after every other state."""
    start = mdp.start if mdp.start is not None else 0
    depth = [-1] * mdp.n_states
    depth[start] = 0
    todo = deque([start])
    while todo:
        s = todo.popleft()
        for k in range(int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1])):
            for j in range(int(mdp.out_ptr[k]), int(mdp.out_ptr[k + 1])):
                n = int(mdp.out_next[j])
                if depth[n] < 0:
                    depth[n] = depth[s] + 1
                    todo.append(n)
    deepest = max(depth)
    depth = [d if d >= 0 else deepest + 1 for d in depth]
    last = max((d for s, d in enumerate(depth) if not mdp.terminal[s]), default=-1) + 1
    return [last if mdp.terminal[s] else d for s, d in enumerate(depth)]


def workflow_layout(mdp: MDP, *, values: Any = None, policy: Any = None) -> dict[str, Any]:
    """Nodes (name, column, row, x, y in [0, 1], terminal, value) and edges (one per outcome:
    source, target, action, p, reward, chosen) of ``mdp``; ``policy`` is an (S,) array of
    action indices whose edges are marked ``chosen``."""
    cols = _columns(mdp)
    rows: dict[int, int] = {}
    row_of = []
    for c in cols:
        row_of.append(rows.get(c, 0))
        rows[c] = rows.get(c, 0) + 1
    n_cols = max(cols) + 1
    vals = None if values is None else np.asarray(values, dtype=float)
    pol = None if policy is None else np.asarray(policy)
    nodes = []
    for s, name in enumerate(mdp.state_names):
        c, r = cols[s], row_of[s]
        nodes.append({
            "name": name, "column": c, "row": r, "terminal": bool(mdp.terminal[s]),
            "x": (c + 0.5) / n_cols, "y": (r + 0.5) / rows[c],
            "value": None if vals is None else float(vals[s]),
            "action": None if pol is None or pol[s] < 0 else mdp.action_names[int(pol[s])],
        })
    edges = []
    for k in range(mdp.n_pairs):
        s, a = int(mdp.sa_state[k]), int(mdp.sa_action[k])
        for j in range(int(mdp.out_ptr[k]), int(mdp.out_ptr[k + 1])):
            edges.append({
                "source": mdp.state_names[s], "target": mdp.state_names[int(mdp.out_next[j])],
                "action": mdp.action_names[a], "p": float(mdp.out_prob[j]), "reward": float(mdp.out_reward[j]),
                "chosen": bool(pol is not None and int(pol[s]) == a),
            })
    for i, e in enumerate(edges):
        twins = [f for f in edges if {f["source"], f["target"]} == {e["source"], e["target"]}]
        e["lane"] = twins.index(e) - (len(twins) - 1) / 2 if len(twins) > 1 else 0.0
        e["id"] = i
    return {"nodes": nodes, "edges": edges, "columns": n_cols}


def edge_label(edge: dict[str, Any]) -> str:
    """``action p=0.75 r=-4`` (the probability only when it is not 1)."""
    p = "" if edge["p"] == 1.0 else f" p={edge['p']:g}"
    return f"{edge['action']}{p} r={edge['reward']:g}"


BOX_W, BOX_H = 150.0, 52.0
"""Node size in diagram units (the studio's script uses the same geometry)."""


def diagram_geometry(lay: dict[str, Any]) -> tuple[float, float, dict[str, tuple[float, float]]]:
    """Width, height and node centres in diagram units: columns spread evenly, rows as laid out."""
    rows = max(n["row"] for n in lay["nodes"]) + 1
    w, h = max(720.0, 230.0 * lay["columns"]), max(240.0, 150.0 * rows + 80.0)
    cols = lay["columns"]
    pos = {n["name"]: (20 + BOX_W / 2 + (n["column"] / (cols - 1) if cols > 1 else 0.5) * (w - 40 - BOX_W),
                       20 + n["y"] * (h - 80)) for n in lay["nodes"]}
    return w, h, pos


def _clip(c: tuple[float, float], toward: tuple[float, float]) -> tuple[float, float]:
    """Where the segment from a box centre toward a point leaves the box."""
    dx, dy = toward[0] - c[0], toward[1] - c[1]
    t = min((BOX_W / 2 + 3) / abs(dx) if abs(dx) > 1e-9 else np.inf, (BOX_H / 2 + 3) / abs(dy) if abs(dy) > 1e-9 else np.inf)
    return c[0] + dx * t, c[1] + dy * t


def edge_curve(lay: dict[str, Any], e: dict[str, Any], h: float,
               pos: dict[str, tuple[float, float]]) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
    """Start, control and end point of an edge's quadratic curve: parallel edges fan out by lane, and an
    edge that skips a column bends below the states in between."""
    col = {n["name"]: n["column"] for n in lay["nodes"]}
    a, b = pos[e["source"]], pos[e["target"]]
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = float(np.hypot(dx, dy)) or 1.0
    bend = 46 * e["lane"] + ((h - 60) * (1 if dx >= 0 else -1) if abs(col[e["target"]] - col[e["source"]]) > 1 else 0)
    c = ((a[0] + b[0]) / 2 - dy / length * bend, (a[1] + b[1]) / 2 + dx / length * bend)
    return _clip(a, c), c, _clip(b, c)


def plot_workflow(mdp: MDP, values: Any, policy: Any, out: Path, name: str, *, title: str = "") -> str:
    """The workflow diagram as an SVG file: V on each node, the policy's edges in red."""
    lay = workflow_layout(mdp, values=values, policy=policy)
    w, h, pos = diagram_geometry(lay)
    fig = new_figure(w / 90, h / 90)
    ax = fig.add_subplot()
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_aspect("equal")
    ax.axis("off")
    t = np.linspace(0, 1, 40)[:, None]
    for e in lay["edges"]:
        p0, c, p1 = (np.array(p) for p in edge_curve(lay, e, h, pos))
        curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * c + t**2 * p1
        colour = "#b91c1c" if e["chosen"] else "#94a3b8"
        ax.plot(curve[:-3, 0], curve[:-3, 1], color=colour, linewidth=2.6 if e["chosen"] else 1.2, zorder=1)
        ax.add_patch(FancyArrowPatch(tuple(curve[-5]), tuple(curve[-1]), arrowstyle="-|>", mutation_scale=14,
                                     color=colour, linewidth=2.6 if e["chosen"] else 1.2, shrinkA=0, shrinkB=0, zorder=2))
        mid = 0.25 * p0 + 0.5 * c + 0.25 * p1
        ax.text(mid[0], mid[1], edge_label(e), fontsize=7, ha="center", va="center", zorder=4,
                color="#b91c1c" if e["chosen"] else "#334155", weight="bold" if e["chosen"] else "normal",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.9})
    for n in lay["nodes"]:
        x, y = pos[n["name"]]
        ax.add_patch(FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H, boxstyle="round,pad=0,rounding_size=9",
                                    fc="#f1f5f9" if n["terminal"] else "#dbeafe", ec="#1e3a8a", linewidth=1.2, zorder=3))
        ax.text(x, y - 8, n["name"], ha="center", va="center", fontsize=8.5, weight="bold", zorder=4)
        ax.text(x, y + 12, f"V = {n['value']:.2f}", ha="center", va="center", fontsize=8, zorder=4)
    if title:
        ax.set_title(title, fontsize=10)
    save_svg(fig, out / name)
    return name


__all__ = ["BOX_H", "BOX_W", "diagram_geometry", "edge_curve", "edge_label", "plot_workflow", "workflow_layout"]
