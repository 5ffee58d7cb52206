"""Watch mode (a FastAPI router): the workflow diagram with the agent moving on it.

The page's engine (``static/watch.js``) runs in the browser, so a step is instant: one Bellman
backup or sweep with its arithmetic, policy evaluation and improvement as separate steps, and
episodes of Q-learning, SARSA, expected SARSA or double Q played one step at a time with the update shown
as numbers.  This module sends it the model as the library compiled it: the CSR arrays of
:class:`~accessrl.model.mdp.MDP`, the start distribution and allowed pairs exactly as
:func:`accessrl.learning.config.prepare` makes them, the episode ends of
:func:`accessrl.simulation.step_tables`, and, for small models, the diagram's layout.  The
library's code is the reference: a test runs the same sweeps and updates in Chromium and in
:mod:`accessrl.planning.exact` and :class:`accessrl.learning.reference.ReferenceEngine` with the
same random draws and compares them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from accessrl.catalog import load
from accessrl.errors import AccessRLError, ParameterError
from accessrl.learning.config import prepare
from accessrl.model.mdp import MDP
from accessrl.report.diagram import workflow_layout
from accessrl.simulation import step_tables
from accessrl.specfile import load_model
from accessrl.web.bodies import json_object

MAX_STATES = 2_000
"""Largest model watch mode plays (the page holds every array; a step stays within a frame)."""
DIAGRAM_STATES = 24
"""Models up to this many states are drawn as the workflow diagram; larger ones as a grid of
states coloured by value, with the current state's neighbourhood drawn beside it."""

GENERATED = {"max_days": 2, "max_reminders": 1, "queue_capacity": 2, "max_escalation": 1}
"""The generated access-review workflow watch mode offers (388 states)."""

MODELS: dict[str, tuple[str, Callable[[], MDP]]] = {
    "access-review-abandonment": ("the lesson's workflow with abandonment",
                                  lambda: load("access-review-abandonment")),
    "access-review": ("the lesson's deterministic workflow", lambda: load("access-review")),
    "access-review-deny": ("with a deny action", lambda: load("access-review-deny")),
    "access-review-components": ("with named reward components", lambda: load("access-review-components")),
    "generated": ("a generated access-review workflow (388 states)",
                  lambda: load("access-review-workflow", **GENERATED)),
}
"""The models the page offers by name (the editor's text comes as text)."""


def _abandonment(mdp: MDP) -> dict[str, Any] | None:
    """The outcome the abandonment control sets: from the start state, ``request_evidence``'s
    outcome into a terminal state, when that pair has another outcome too (else no control)."""
    s0 = mdp.start if mdp.start is not None else 0
    if "request_evidence" not in mdp.action_names:
        return None
    a = mdp.action_names.index("request_evidence")
    for k in range(int(mdp.sa_ptr[s0]), int(mdp.sa_ptr[s0 + 1])):
        if int(mdp.sa_action[k]) != a or int(mdp.out_ptr[k + 1]) - int(mdp.out_ptr[k]) < 2:
            continue
        for j in range(int(mdp.out_ptr[k]), int(mdp.out_ptr[k + 1])):
            if mdp.terminal[int(mdp.out_next[j])]:
                return {"pair": k, "outcome": j, "p": float(mdp.out_prob[j])}
    return None


def payload(mdp: MDP, name: str) -> dict[str, Any]:
    """What the page's engine needs, JSON-ready (arrays as lists, in the library's order)."""
    if mdp.n_states > MAX_STATES:
        raise ParameterError(f"watch: {mdp.n_states:,} states; watch mode plays models of at most "
                             f"{MAX_STATES:,} states (accessrl learn takes larger ones)")
    prep = prepare(mdp, episodes=1, algorithm="q-learning", epsilon=0.15, step_size="visits", omega=0.6,
                   max_steps=10_000, start=None, never_explore=None, safe=True, initial_q=0.0)
    return {
        "name": name, "model": mdp.name, "gamma": float(mdp.gamma),
        "state_names": list(mdp.state_names), "action_names": list(mdp.action_names),
        "sa_ptr": mdp.sa_ptr.tolist(), "sa_state": mdp.sa_state.tolist(), "sa_action": mdp.sa_action.tolist(),
        "out_ptr": mdp.out_ptr.tolist(), "out_next": mdp.out_next.tolist(), "out_prob": mdp.out_prob.tolist(),
        "out_reward": mdp.out_reward.tolist(), "terminal": mdp.terminal.tolist(),
        "ends": step_tables(mdp).ends, "start": mdp.start if mdp.start is not None else 0,
        "start_probs": prep.start.tolist(), "allow_ptr": prep.allow_ptr.tolist(),
        "allow_pair": prep.allow_pair.tolist(), "abandonment": _abandonment(mdp),
        "layout": workflow_layout(mdp) if mdp.n_states <= DIAGRAM_STATES else None,
    }


def model_by_name(name: str) -> dict[str, Any]:
    """A named model's payload (run in a worker process)."""
    if name not in MODELS:
        raise ParameterError(f"watch: unknown model {name!r}; expected one of {list(MODELS)}")
    return payload(MODELS[name][1](), name)


def model_from_text(text: Any) -> dict[str, Any]:
    """The payload of a spec written in the editor, compiled as ``accessrl solve`` would."""
    if not isinstance(text, str):
        raise ParameterError("watch: expected the spec as text")
    with tempfile.TemporaryDirectory(prefix="accessrl-watch-") as d:
        path = Path(d) / "editor.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            mdp = load_model(path)
        except AccessRLError as exc:
            raise ParameterError(str(exc).replace(str(path), "editor")) from None
    return payload(mdp, "editor")


def watch_router(render: Callable[..., HTMLResponse]) -> APIRouter:
    """The page and its two model endpoints (compiling runs in ``app.state.compute``)."""
    router = APIRouter()

    @router.get("/watch", response_class=HTMLResponse)
    def watch_page() -> HTMLResponse:
        return render("watch.html", "watch", models=[(k, v[0]) for k, v in MODELS.items()])

    @router.get("/api/watch/model/{name}")
    async def named(name: str, request: Request) -> JSONResponse:
        if name not in MODELS:
            return JSONResponse({"error": f"accessrl: error: watch: unknown model {name!r}; expected one of "
                                          f"{list(MODELS)}"}, status_code=404)
        return JSONResponse(await request.app.state.compute.run(model_by_name, name))

    @router.post("/api/watch/model")
    async def from_text(request: Request) -> JSONResponse:
        text = json_object(await request.body()).get("text")
        return JSONResponse(await request.app.state.compute.run(model_from_text, text))

    return router


__all__ = ["DIAGRAM_STATES", "GENERATED", "MAX_STATES", "MODELS", "model_by_name", "model_from_text", "payload",
           "watch_router"]
