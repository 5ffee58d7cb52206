"""The workflow diagram: one edge per outcome, the policy's edges marked, one column per BFS layer,
and legends of every report figure outside its axes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from accessrl.catalog import CATALOG, access_review_abandonment, load
from accessrl.planning import policy_iteration
from accessrl.report import plots
from accessrl.report.diagram import diagram_geometry, edge_curve, plot_workflow, workflow_layout

SMALL = [n for n in CATALOG if not n.startswith("access-review-workflow")]


@pytest.mark.parametrize("name", SMALL)
def test_every_outcome_is_an_edge_and_the_policy_is_marked(name):
    mdp = load(name)
    res = policy_iteration(mdp)
    lay = workflow_layout(mdp, values=res.values, policy=res.policy)
    assert len(lay["edges"]) == mdp.n_outcomes
    assert sum(e["p"] for e in lay["edges"]) == pytest.approx(mdp.n_pairs)
    for e in lay["edges"]:
        s = mdp.state_index(e["source"])
        assert e["chosen"] == (mdp.action_names[int(res.policy[s])] == e["action"])
    cols = {n["name"]: n["column"] for n in lay["nodes"]}
    assert cols[mdp.state_names[mdp.start]] == 0
    assert all(cols[n] == max(cols.values()) for n, t in zip(mdp.state_names, mdp.terminal, strict=True) if t)
    assert [n["value"] for n in lay["nodes"]] == pytest.approx(res.values.tolist())


def test_parallel_edges_take_different_lanes_and_curves():
    mdp = access_review_abandonment()
    lay = workflow_layout(mdp)
    w, h, pos = diagram_geometry(lay)
    to_closed = [e for e in lay["edges"] if e["source"] == "new_request" and e["target"] == "closed"]
    assert sorted(e["lane"] for e in to_closed) == [-0.5, 0.5]
    controls = {edge_curve(lay, e, h, pos)[1] for e in to_closed}
    assert len(controls) == 2


def test_plot_workflow_writes_svg(tmp_path: Path):
    mdp = access_review_abandonment()
    res = policy_iteration(mdp)
    name = plot_workflow(mdp, res.values, res.policy, tmp_path, "w.svg", title="t")
    text = (tmp_path / name).read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text


def test_legends_sit_outside_the_axes(tmp_path: Path):
    fig = plots.new_figure()
    ax = fig.add_subplot()
    ax.plot(np.arange(5), np.arange(5), label="a")
    plots.outside_legend(ax)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    assert ax.get_legend().get_window_extent(r).x0 >= ax.get_window_extent(r).x1
