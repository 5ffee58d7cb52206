"""The studio: the lesson as a local web app (layer 2; extra ``[studio]``: FastAPI, uvicorn, Jinja2).

* :mod:`~accessrl.studio.labs` — what each lab page shows, computed by the library (JSON-ready);
* :mod:`~accessrl.studio.editor` — the workflow editor: YAML in, diagram and solution or one-line error out;
* :mod:`~accessrl.studio.engineer` — the engineer's view of a decision-log database;
* :mod:`~accessrl.studio.pages` — each lab page's words, equation and library call;
* :mod:`~accessrl.studio.app` — the FastAPI application (imported on demand: it needs the extra).

The pages are Jinja2 templates with one small script of our own (``static/studio.js``) that
draws tables, charts and the workflow diagram as inline SVG; nothing comes from the network.
"""

from __future__ import annotations

from accessrl.studio.editor import solve_text, spec_text
from accessrl.studio.labs import (
    abandonment_lab,
    bellman_backup_lab,
    exploration_lab,
    held_out_lab_data,
    monte_carlo_lab,
    policy_gradient_lab,
    q_learning_lab,
    returns_lab,
    reward_design_lab,
    solution,
    value_iteration_lab,
)

__all__ = [
    "abandonment_lab",
    "bellman_backup_lab",
    "exploration_lab",
    "held_out_lab_data",
    "monte_carlo_lab",
    "policy_gradient_lab",
    "q_learning_lab",
    "returns_lab",
    "reward_design_lab",
    "solution",
    "solve_text",
    "spec_text",
    "value_iteration_lab",
]
