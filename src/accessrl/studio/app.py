"""The studio's web application (FastAPI): HTML pages from Jinja2 templates, JSON endpoints that
call the library, and the package's own script and style sheet.  Nothing is fetched from the
network: every file the pages use is served from this package.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from accessrl.errors import AccessRLError, ParameterError
from accessrl.lesson import LAB_ORDER, quiz
from accessrl.lesson import exercises as ex
from accessrl.lesson.coding import EXERCISES as CODING
from accessrl.studio import editor
from accessrl.studio.coding import coding_router
from accessrl.studio.labs import LAB_FUNCTIONS
from accessrl.studio.pages import LAB_PAGES
from accessrl.studio.render import HERE, NAV, template_env


@dataclass(frozen=True)
class StudioConfig:
    """What one studio serves: an optional decision-log database and where progress is kept."""

    db: str | None = None
    data_dir: Path | None = None
    """None: the lesson's store (:func:`accessrl.lesson.quiz.data_dir`)."""


def plain(x: Any) -> Any:
    """JSON-safe values: numpy scalars and arrays to Python, non-finite floats to None."""
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return plain(x.tolist())
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    return x


def _error(message: str, status: int = 422) -> JSONResponse:
    return JSONResponse({"error": f"accessrl: error: {message}"}, status_code=status)


def create_app(config: StudioConfig | None = None) -> FastAPI:
    """The studio application for ``config``."""
    cfg = config or StudioConfig()
    env = template_env()
    engineer_cache: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if "reader" in engineer_cache:
            engineer_cache.pop("reader").close()

    app = FastAPI(title="accessrl studio", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    pages = {p.name: p for p in LAB_PAGES}
    questions = quiz.questions()  # computed by the library once; they depend on the catalog only
    # Sync endpoints run in a thread pool: one writer at a time on the progress file (read, update, replace).
    progress_lock = threading.Lock()

    def render(template: str, page: str, **context: Any) -> HTMLResponse:
        html = env.get_template(template).render(nav=NAV, page=page, has_db=cfg.db is not None, live=True,
                                                 url=str, **context)
        return HTMLResponse(html)

    async def body(request: Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            raise ParameterError("request body: expected a JSON object") from None
        if not isinstance(data, dict):
            raise ParameterError(f"request body: expected a JSON object, got {type(data).__name__}")
        return data

    app.include_router(coding_router(render, cfg.data_dir))

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
        kwargs = await body(request)
        try:
            result = LAB_FUNCTIONS[name](**kwargs)
        except TypeError:
            return _error(f"lab {name}: unknown control in {sorted(kwargs)}")
        return JSONResponse(plain(result))

    @app.get("/editor", response_class=HTMLResponse)
    def editor_page() -> HTMLResponse:
        return render("editor.html", "editor", starters=editor.STARTERS, text=editor.spec_text(editor.STARTERS[0]))

    @app.get("/api/editor/spec/{name}")
    def editor_spec(name: str) -> JSONResponse:
        return JSONResponse({"text": editor.spec_text(name)})

    @app.post("/api/editor/solve")
    async def editor_solve(request: Request) -> JSONResponse:
        return JSONResponse(plain(editor.solve_text((await body(request)).get("text"))))

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
        return JSONResponse({"questions": [{"topic": q.topic, "prompt": q.prompt, "choices": list(q.choices)}
                                           for q in questions]})

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
        return JSONResponse({"correct": attempt.correct, "total": attempt.total, "passed": attempt.passed,
                             "misses": list(attempt.misses), "summary": quiz.summary(attempt)[0]})

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
    def engineer_api() -> JSONResponse:
        if cfg.db is None:
            return _error("engineer view: start the studio with --db URL to see a decision log", 404)
        from accessrl.studio.engineer import LogReader

        if "reader" not in engineer_cache:
            engineer_cache["reader"] = LogReader(cfg.db)
        reader = engineer_cache["reader"]
        # Recomputed only when the log or the deployments changed since the last look.
        version = reader.version()
        if engineer_cache.get("version") != version:
            engineer_cache.update(version=version, view=plain(reader.view()))
        return JSONResponse(engineer_cache["view"])


    return app


__all__ = ["StudioConfig", "create_app", "plain"]
