"""The workflow editor: any catalog model round-trips through its YAML and solves as the library
does; a broken spec gives the command line's one-line error and the line it concerns."""

from __future__ import annotations

import numpy as np
import pytest

from accessrl.catalog import load
from accessrl.planning import policy_iteration
from accessrl.studio.editor import STARTERS, solve_text, spec_text


@pytest.mark.parametrize("name", STARTERS)
def test_every_starter_solves_like_the_catalog_model(name):
    out = solve_text(spec_text(name))
    assert out["ok"], out
    mdp = load(name)
    res = policy_iteration(mdp)
    assert np.allclose([out["values"][s] for s in mdp.state_names], res.values)
    assert out["policy"] == {mdp.state_names[int(s)]: mdp.action_names[int(res.policy[s])] for s in mdp.decision_states}


BASE = spec_text("access-review-abandonment")


@pytest.mark.parametrize("old, new, needle, marked", [
    ("p: 0.75", "p: 0.7", "probabilities sum to 0.95", "request_evidence:"),
    ("reward: -54", "reward: abc", "field 'reward'", "reward: abc"),
    ("gamma: 0.9", "gamma: 1.9", "gamma", "gamma: 1.9"),
    ("next: evidence_ready,", "next: evidence_redy,", "evidence_redy", "next: evidence_redy"),
    ("    human_review: [{next: review_queue, p: 1.0, reward: -10}]",
     "    auto_approve: [{next: review_queue, p: 1.0, reward: -10}]", "duplicate key 'auto_approve'",
     "auto_approve: [{next: review_queue"),
])
def test_a_broken_spec_names_the_error_and_its_line(old, new, needle, marked):
    assert old in BASE
    text = BASE.replace(old, new, 1)
    out = solve_text(text)
    assert not out["ok"]
    assert out["error"].startswith("accessrl: error: editor") and "\n" not in out["error"] and needle in out["error"]
    assert marked in text.splitlines()[out["line"] - 1]


def test_unparseable_yaml_points_inside_the_text():
    out = solve_text(BASE + "  x: [\n")
    assert not out["ok"] and "not valid YAML" in out["error"]
    assert 1 <= out["line"] <= len((BASE + "  x: [\n").splitlines())
