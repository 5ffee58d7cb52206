"""The studio's web application (FastAPI): HTML pages from Jinja2 templates, JSON endpoints that
call the library, and the package's own script and style sheet.  Nothing is fetched from the
network: every file the pages use is served from this package.

The application is built by :func:`accessrl.web.guards.guarded_app`: every route, including
routes added later, passes the guards every accessrl server shares (the Host allow-list, no
state change from another site, body and time limits, one line for any failure; see
:data:`GUARDS`).  CPU-heavy work (labs, the editor's solve, the engineer's view) runs in
``app.state.compute``, a :class:`~accessrl.web.compute.ComputePool` of worker processes:
``await app.state.compute.run(fn, *args)`` with a module-level ``fn``; the event loop stays
free for every other request, and work past its limit is stopped with a clear error.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request as StarletteRequest

from accessrl.errors import AccessRLError, ParameterError
from accessrl.lesson import LAB_ORDER, quiz
from accessrl.lesson import exercises as ex
from accessrl.lesson.coding import EXERCISES as CODING
from accessrl.studio import editor
from accessrl.studio.coding import coding_router
from accessrl.studio.labs import LAB_FUNCTIONS, plain
from accessrl.studio.llm_page import llm_router
from accessrl.studio.pages import LAB_PAGES
from accessrl.studio.render import HERE, NAV, template_env
from accessrl.studio.watch import watch_router
from accessrl.web.bodies import json_object
from accessrl.web.compute import ComputePool
from accessrl.web.guards import LOOPBACK_NAMES, GuardConfig, guarded_app


@dataclass(frozen=True)
class StudioConfig:
    """What one studio serves: an optional decision-log database and where progress is kept."""

    db: str | None = None
    data_dir: Path | None = None
    """None: the lesson's store (:func:`accessrl.lesson.quiz.data_dir`)."""
    host: str = "127.0.0.1"
    """The address served (requests must name it or a loopback name as their Host)."""
    compute_timeout: float = 20.0
    """Seconds one computation (a lab, a solve, the engineer's view) may run before it is stopped."""
    compute_workers: int = 2
    """Worker processes for computations."""
    body_timeout: float = 10.0
    """Seconds a client may take to send a request body (408 after)."""


MAX_BODY = 512 * 1024
"""Largest request body the studio reads (a spec in the editor is the largest thing sent)."""


def _studio_error(message: str) -> str:
    from accessrl.storage.records import json_dumps

    return json_dumps({"error": f"accessrl: error: {message}"})


def guards(cfg: StudioConfig) -> GuardConfig:
    """The studio's settings of the shared guards: loopback names only, no tokens (so every state
    change must come from the studio's own pages), a 512 KiB body, 30 s per request."""
    return GuardConfig(hosts=(*LOOPBACK_NAMES, cfg.host), max_body=MAX_BODY, body_timeout=cfg.body_timeout,
                       request_timeout=cfg.compute_timeout + 10.0, error_json=_studio_error)


def run_lab(name: str, kwargs: dict[str, Any]) -> Any:
    """One lab's computation, JSON-ready (run in a worker process)."""
    try:
        return plain(LAB_FUNCTIONS[name](**kwargs))
    except TypeError:
        raise ParameterError(f"lab {name}: unknown control in {sorted(kwargs)}") from None


def solve_editor_text(text: Any) -> Any:
    """The editor's solve, JSON-ready (run in a worker process)."""
    return plain(editor.solve_text(text))


def _error(message: str, status: int = 422) -> JSONResponse:
    return JSONResponse({"error": f"accessrl: error: {message}"}, status_code=status)


def create_app(config: StudioConfig | None = None) -> FastAPI:
    """The studio application for ``config``."""
    cfg = config or StudioConfig()
    env = template_env()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        compute.start()  # the workers import the library while the first page loads
        yield
        compute.close()

    compute = ComputePool(workers=cfg.compute_workers, timeout=cfg.compute_timeout,
                          preload=("accessrl.studio.app", "accessrl.studio.labs", "accessrl.studio.engineer",
                                   "accessrl.studio.watch"))
    app: FastAPI = guarded_app(guards(cfg), title="accessrl studio", docs_url=None, redoc_url=None, openapi_url=None,
                      lifespan=lifespan)
    app.state.compute = compute
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    pages = {p.name: p for p in LAB_PAGES}
    questions = quiz.questions()  # computed by the library once; they depend on the catalog only
    # Sync endpoints run in a thread pool: one writer at a time on the progress file (read, update, replace).
    progress_lock = threading.Lock()

    def render(template: str, page: str, **context: Any) -> HTMLResponse:
        html = env.get_template(template).render(nav=NAV, page=page, has_db=cfg.db is not None, live=True,
                                                 url=str, **context)
        return HTMLResponse(html)

    async def body(request: StarletteRequest) -> dict[str, Any]:
        return json_object(await request.body())

    app.include_router(coding_router(render, cfg.data_dir))
    app.include_router(llm_router(render))
    app.include_router(watch_router(render))

    @app.exception_handler(AccessRLError)
    async def library_error(request: Request, exc: AccessRLError) -> JSONResponse:
        return _error(str(exc))

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return render("index.html", "index", labs=LAB_PAGES)

    @app.get("/lab/{name}", response_class=HTMLResponse)
    def lab_page(name: str) -> HTMLResponse:
        if name not in pages:
            return HTMLResponse(env.get_template("missing.html").render(
                nav=NAV, page="missing", has_db=cfg.db is not None, live=True, url=str, what=name), status_code=404)
        with progress_lock:
            quiz.record_lab_visit(name, cfg.data_dir)
        i = LAB_ORDER.index(name)
        prev = pages[LAB_ORDER[i - 1]] if i > 0 else None
        nxt = pages[LAB_ORDER[i + 1]] if i + 1 < len(LAB_ORDER) else None
        return render("lab.html", name, lab=pages[name], number=i + 1, prev=prev, next=nxt)

    @app.post("/api/lab/{name}")
    async def lab_api(name: str, request: Request) -> JSONResponse:
        if name not in LAB_FUNCTIONS:
            return _error(f"lab: unknown lab {name!r}; expected one of {list(LAB_ORDER)}", 404)
        return JSONResponse(await compute.run(run_lab, name, await body(request)))

    @app.get("/editor", response_class=HTMLResponse)
    def editor_page() -> HTMLResponse:
        return render("editor.html", "editor", starters=editor.STARTERS, text=editor.spec_text(editor.STARTERS[0]))

    @app.get("/api/editor/spec/{name}")
    def editor_spec(name: str) -> JSONResponse:
        return JSONResponse({"text": editor.spec_text(name)})

    @app.post("/api/editor/solve")
    async def editor_solve(request: Request) -> JSONResponse:
        return JSONResponse(await compute.run(solve_editor_text, (await body(request)).get("text")))

    @app.get("/exercises", response_class=HTMLResponse)
    def exercises_page() -> HTMLResponse:
        return render("exercises.html", "exercises", prompts=ex.PROMPTS, starters=ex.STARTERS)

    @app.post("/api/exercise/{n}")
    async def exercise_api(n: int, request: Request) -> JSONResponse:
        answer = (await body(request)).get("answer")
        g = ex.grade(n, answer if isinstance(answer, str) else "" if answer is None else str(answer))
        with progress_lock:
            quiz.record_exercise(n, g.passed, cfg.data_dir)
        return JSONResponse({"exercise": g.exercise, "passed": g.passed, "feedback": list(g.feedback)})

    @app.get("/quiz", response_class=HTMLResponse)
    def quiz_page() -> HTMLResponse:
        return render("quiz.html", "quiz", total=len(questions),
                      pass_percent=round(quiz.PASS_FRACTION * 100))

    @app.get("/api/quiz")
    def quiz_questions() -> JSONResponse:
        import numpy as np  # a new order for each attempt (each time the page asks)

        return JSONResponse({"questions": [{"index": i, "topic": q.topic, "prompt": q.prompt, "choices": list(q.choices)}
                                           for i, q in quiz.shuffled(questions, np.random.default_rng())]})

    @app.post("/api/quiz/check")
    async def quiz_check(request: Request) -> JSONResponse:
        data = await body(request)
        qs = questions
        i = data.get("index")
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(qs):
            return _error(f"index: expected a question number 0-{len(qs) - 1}, got {i!r}")
        q = qs[i]
        chosen = quiz.parse_answer(str(data.get("answer", "")), q)
        return JSONResponse({"correct": chosen == q.answer, "answer": q.answer_letter,
                             "answer_text": q.choices[q.answer], "explanation": q.explanation})

    @app.post("/api/quiz/submit")
    async def quiz_submit(request: Request) -> JSONResponse:
        answers = (await body(request)).get("answers")
        qs = questions
        if not isinstance(answers, list) or len(answers) != len(qs):
            return _error(f"answers: expected a list of {len(qs)} answers")
        said: list[str] = []
        attempt = quiz.run_quiz(lambda i, q: str(answers[i - 1]), said.append, qs=qs)
        with progress_lock:
            quiz.save_attempt(attempt, cfg.data_dir)
        titles = {p.name: p.title for p in LAB_PAGES}
        review = [{"index": m.index, "topic": m.question.topic, "prompt": m.question.prompt, "given": m.given,
                   "answer": m.question.answer_letter, "answer_text": m.question.choices[m.question.answer],
                   "explanation": m.question.explanation, "lab": f"/lab/{m.lab}", "lab_title": titles.get(m.lab, m.lab)}
                  for m in quiz.review([str(a) for a in answers], qs)]
        return JSONResponse({"correct": attempt.correct, "total": attempt.total, "passed": attempt.passed,
                             "misses": list(attempt.misses), "summary": quiz.summary(attempt)[0], "review": review})

    @app.get("/progress", response_class=HTMLResponse)
    def progress_page() -> HTMLResponse:
        prog = quiz.lesson_progress(LAB_ORDER, [*sorted(ex.GRADERS), *CODING], cfg.data_dir, quiz_total=len(questions))
        return render("progress.html", "progress", progress=prog, labs=LAB_PAGES,
                      store=str((cfg.data_dir or quiz.data_dir()) / quiz.PROGRESS_FILE))

    @app.get("/api/progress")
    def progress_api() -> JSONResponse:
        return JSONResponse(quiz.lesson_progress(LAB_ORDER, [*sorted(ex.GRADERS), *CODING], cfg.data_dir,
                                                 quiz_total=len(questions)))

    @app.get("/engineer", response_class=HTMLResponse)
    def engineer_page() -> HTMLResponse:
        return render("engineer.html", "engineer", db=cfg.db)

    @app.get("/api/engineer")
    async def engineer_api() -> JSONResponse:
        if cfg.db is None:
            return _error("engineer view: start the studio with --db URL to see a decision log", 404)
        from accessrl.studio.engineer import cached_view

        return JSONResponse(await compute.run(cached_view, cfg.db))

    return app


__all__ = ["MAX_BODY", "StudioConfig", "create_app", "guards", "plain", "run_lab", "solve_editor_text"]
