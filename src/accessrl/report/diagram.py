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


def plot_workflow(mdp: MDP, values: Any, policy: Any, out: Path, name: str, *, title: str = "") -> str:
    """The workflow diagram as an SVG file: V on each node, the policy's edges in bold."""
    lay = workflow_layout(mdp, values=values, policy=policy)
    fig = new_figure(8.0, 1.2 + 1.1 * max(n["row"] for n in lay["nodes"]) + 1.6)
    ax = fig.add_subplot()
    ax.set_xlim(0, 1)
    ax.set_ylim(1.04, -0.04)
    ax.axis("off")
    pos = {n["name"]: (n["x"], n["y"]) for n in lay["nodes"]}
    for e in lay["edges"]:
        (x0, y0), (x1, y1) = pos[e["source"]], pos[e["target"]]
        span = abs(x1 - x0)
        rad = 0.25 * e["lane"] + (0.3 if span > 1.2 / lay["columns"] else 0.0) + (0.5 if y0 == y1 and x0 == x1 else 0)
        colour = "#b91c1c" if e["chosen"] else "#94a3b8"
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
                                     mutation_scale=12, linewidth=2.4 if e["chosen"] else 1.0, color=colour,
                                     shrinkA=38, shrinkB=38))
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        # The label sits on the arc's midpoint: offset perpendicular to the chord by rad/2.
        mx, my = mx + rad * (y1 - y0) / 2, my - rad * (x1 - x0) / 2
        ax.text(mx, my, edge_label(e), fontsize=7, ha="center", va="center", color="#7f1d1d" if e["chosen"] else "#334155",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
    for n in lay["nodes"]:
        x, y = n["x"], n["y"]
        ax.add_patch(FancyBboxPatch((x - 0.085, y - 0.06), 0.17, 0.12, boxstyle="round,pad=0.01",
                                    fc="#f1f5f9" if n["terminal"] else "#dbeafe", ec="#1e3a8a", linewidth=1.2))
        ax.text(x, y - 0.018, n["name"], ha="center", va="center", fontsize=8.5, weight="bold")
        ax.text(x, y + 0.025, f"V = {n['value']:.2f}", ha="center", va="center", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    save_svg(fig, out / name)
    return name


__all__ = ["edge_label", "plot_workflow", "workflow_layout"]
