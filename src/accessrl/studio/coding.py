"""The studio's code pages: write each coding exercise in the browser, run it, check it (a FastAPI router).

The page's editor is the vendored CodeMirror bundle (``static/vendor/codemirror.js``); Run and
Check post the code here, and both go through :mod:`accessrl.lesson.coding`'s sandbox and grader,
the same as ``accessrl exercise check`` and ``accessrl.exercises.check``.  The endpoints are plain
``def``s, so FastAPI runs them in its thread pool: a learner's slow or looping code waits in a child
process with limits, never on the event loop.  A failing check of a planning exercise returns the
first wrong sweep drawn on the workflow diagram: the learner's value beside the correct one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Body
from fastapi.responses import HTMLResponse, JSONResponse

from accessrl.lesson import quiz
from accessrl.lesson.coding import EXERCISES, Report, exercise, grade_source, starter
from accessrl.lesson.coding.models import DictModel, to_mdp
from accessrl.lesson.coding.sandbox import Limits, run_source, warm_child
from accessrl.report.diagram import workflow_layout

MAX_CODE_CHARS = 200_000
"""The longest program the page accepts (far above any exercise; the rest is refused with 413)."""

LIMITS = Limits(seconds=5.0, memory_mb=2048)
"""What one Run or Check may use in the studio."""


def report_json(report: Report) -> dict[str, Any]:
    """A report as the page draws it: verdict, lines, the learner's line to mark, output, and the diagram."""
    f = report.finding
    out: dict[str, Any] = {"exercise": report.exercise, "passed": report.passed, "lines": list(report.lines),
                           "hint": report.hint, "error_line": report.error_line, "output": report.output,
                           "seed": report.seed, "seconds": round(report.seconds, 3), "diagram": None}
    if f is not None:
        out["finding"] = {"where": f.where, "sweep": f.sweep, "state": f.state, "action": f.action}
    if f is not None and f.diagram is not None:
        model: DictModel = f.diagram["model"]
        mdp = to_mdp(model)
        expected, given = f.diagram["expected"], f.diagram["given"]
        out["diagram"] = {
            "layout": workflow_layout(mdp, values=np.array([float(expected[s]) for s in mdp.state_names])),
            "expected": {s: float(expected[s]) for s in mdp.state_names},
            "given": {s: given.get(s) if isinstance(given.get(s), (int, float)) else None for s in mdp.state_names},
            "sweep": f.diagram["sweep"], "state": f.diagram["state"], "model": model.name,
        }
    return out


def _code(payload: Any) -> str | JSONResponse:
    code = payload.get("code") if isinstance(payload, dict) else None
    if not isinstance(code, str):
        return JSONResponse({"error": "accessrl: error: request body: expected {\"code\": \"...\"}"}, status_code=422)
    if len(code) > MAX_CODE_CHARS:
        return JSONResponse({"error": f"accessrl: error: code: at most {MAX_CODE_CHARS} characters"}, status_code=413)
    return code


def coding_router(render: Callable[..., HTMLResponse], data_dir: Path | None) -> APIRouter:
    """The code pages and their two endpoints; ``render(template, page, **context)`` draws a page."""
    router = APIRouter()
    lock = threading.Lock()  # one writer at a time on the progress file

    @router.get("/code", response_class=HTMLResponse)
    def code_index() -> HTMLResponse:
        done = quiz.lesson_progress([], list(EXERCISES), data_dir)["exercises"]
        return render("code_index.html", "code", exercises=list(EXERCISES.values()), done=done)

    @router.get("/code/{name}", response_class=HTMLResponse)
    def code_page(name: str) -> HTMLResponse:
        if name not in EXERCISES:
            page = render("missing.html", "missing", what=name)
            page.status_code = 404
            return page
        ex = exercise(name)
        names = list(EXERCISES)
        i = names.index(name)
        return render("code.html", "code", ex=ex, starter=starter(name), number=i + 1,
                      prev=names[i - 1] if i else None, next=names[i + 1] if i + 1 < len(names) else None)

    @router.post("/api/code/{name}/check")
    def code_check(name: str, payload: Any = Body(None)) -> JSONResponse:
        ex = exercise(name)
        code = _code(payload)
        if isinstance(code, JSONResponse):
            return code
        report = grade_source(ex.name, code, filename=f"{ex.function}.py", limits=LIMITS, warm=True)
        with lock:
            quiz.record_exercise(ex.name, report.passed, data_dir)
        return JSONResponse(report_json(report))

    @router.post("/api/code/{name}/run")
    def code_run(name: str, payload: Any = Body(None)) -> JSONResponse:
        ex = exercise(name)
        code = _code(payload)
        if isinstance(code, JSONResponse):
            return code
        run = run_source(code, [], filename=f"{ex.function}.py", limits=LIMITS, module_name="__main__", child=warm_child())
        return JSONResponse({"output": run.output, "failure": run.failure, "error_line": run.failure_line,
                             "seconds": round(run.seconds, 3)})

    return router


__all__ = ["LIMITS", "MAX_CODE_CHARS", "coding_router", "report_json"]
