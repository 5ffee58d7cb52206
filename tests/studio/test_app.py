"""The studio's HTTP surface in-process (FastAPI's TestClient): pages render from templates, every
lab endpoint answers with the library's numbers, bad input is one line, progress is the CLI's store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("jinja2")
from fastapi.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from accessrl.cli import app as cli  # noqa: E402
from accessrl.lesson import LAB_ORDER, quiz  # noqa: E402
from accessrl.studio.app import LAB_FUNCTIONS, StudioConfig, create_app  # noqa: E402


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("ACCESSRL_DATA_DIR", str(tmp_path))
    # The studio answers only to its own names (the shared guards' Host allow-list): not "testserver".
    with TestClient(create_app(StudioConfig()), base_url="http://127.0.0.1:8765") as c:
        yield c


def test_every_page_renders_and_needs_nothing_from_the_network(client):
    for path in ["/", *(f"/lab/{n}" for n in LAB_ORDER), "/editor", "/exercises", "/quiz", "/progress", "/engineer"]:
        r = client.get(path)
        assert r.status_code == 200, path
        html = r.text
        assert "http://" not in html and "https://" not in html, path  # no CDN, no remote asset
        assert '<script src="/static/studio.js">' in html
    assert client.get("/static/studio.js").status_code == 200
    assert client.get("/static/studio.css").status_code == 200
    assert client.get("/lab/nothing").status_code == 404


def test_lab_pages_follow_the_lessons_order(client):
    html = client.get("/").text
    positions = [html.index(f'href="/lab/{n}"') for n in LAB_ORDER]
    assert positions == sorted(positions)
    assert list(LAB_FUNCTIONS) == list(LAB_ORDER)


def test_each_lab_endpoint_answers_with_the_defaults(client):
    for name in LAB_ORDER:
        r = client.post(f"/api/lab/{name}", json={})
        assert r.status_code == 200, (name, r.text)
    assert client.post("/api/lab/q-learning", json={}).json()["lines"][1].split("=")[1].strip() == "30.5"


@pytest.mark.parametrize("name, body, needle", [
    ("abandonment", {"p": 1.5}, "p: enter a number from 0 to 1; 1.5 is outside that range"),
    ("returns", {"gamma": 0}, "gamma: enter a discount above 0 and at most 1"),
    ("bellman-backup", {"gamma": 0}, "gamma: enter a discount above 0 and at most 1"),
    ("returns", {"gamma": "x"}, "gamma: enter a number, not 'x'"),
    ("q-learning", {"episodes": -1}, "episodes"),
    ("returns", {"nope": 1}, "unknown control"),
    ("monte-carlo", [], "expected a JSON object"),
])
def test_bad_controls_are_one_line(client, name, body, needle):
    r = client.post(f"/api/lab/{name}", json=body)
    assert r.status_code == 422
    msg = r.json()["error"]
    assert msg.startswith("accessrl: error: ") and "\n" not in msg and needle in msg


def test_gamma_one_is_accepted_as_the_readme_says(client):
    """README: gamma is in (0, 1]; with gamma 1 an episodic workflow still solves."""
    r = client.post("/api/lab/returns", json={"gamma": 1}).json()
    assert [row["return"] for row in r["routes"]] == [-120.0, 66.0, 62.0]
    b = client.post("/api/lab/bellman-backup", json={"gamma": 1}).json()
    assert {row["action"]: row["q"] for row in b["rows"]} == {"auto_approve": -120.0, "request_evidence": 66.0,
                                                               "human_review": 62.0}


def test_quiz_review_after_a_fail(client):
    qs = quiz.questions()
    wrong = ["a" if q.answer_letter != "a" else "b" for q in qs]
    data = client.post("/api/quiz/submit", json={"answers": wrong}).json()
    assert len(data["review"]) == len(qs)
    first = data["review"][0]
    assert first["explanation"] == qs[0].explanation and first["lab"] == f"/lab/{qs[0].topic}"
    assert client.get(first["lab"]).status_code == 200
    orders = {tuple(q["index"] for q in client.get("/api/quiz").json()["questions"]) for _ in range(5)}
    assert len(orders) > 1 and all(sorted(o) == list(range(len(qs))) for o in orders)


def test_quiz_and_progress_share_the_cli_store(client, tmp_path):
    qs = quiz.questions()
    right = [q.answer_letter for q in qs]
    wrong = ["a" if q.answer_letter != "a" else "b" for q in qs]
    r = client.post("/api/quiz/submit", json={"answers": wrong})
    assert r.json()["passed"] is False and "not yet complete" in r.json()["summary"]
    check = client.post("/api/quiz/check", json={"index": 0, "answer": wrong[0]}).json()
    assert check["correct"] is False and check["explanation"] == qs[0].explanation
    # The CLI passes the quiz into the same file; the studio sees both attempts.
    answers = tmp_path / "answers.txt"
    answers.write_text("\n".join(right) + "\n")
    res = CliRunner().invoke(cli, ["lesson", "quiz", "--answers", str(answers)])
    assert res.exit_code == 0, res.output
    prog = client.get("/api/progress").json()
    assert prog["quiz"]["attempts"] == 2 and prog["quiz"]["best"] == len(qs) and prog["complete"] is True
    assert "Lesson complete." in client.get("/progress").text


def test_lab_visits_and_exercises_are_recorded(client):
    client.get("/lab/abandonment")
    client.get("/lab/abandonment")
    assert client.post("/api/exercise/1", json={"answer": "0.25"}).json()["passed"] is False
    r = client.post("/api/exercise/1", json={"answer": "5/113"}).json()
    assert r["passed"] is True and "5/113" in r["feedback"][0]
    prog = client.get("/api/progress").json()
    assert prog["labs"]["abandonment"] == 2 and prog["labs"]["returns"] == 0
    from accessrl.lesson.coding import EXERCISES as CODING  # the coding exercises share the store

    assert prog["exercises"] == {"1": True, "2": False, "3": False, **dict.fromkeys(CODING, False)}


def test_editor_endpoints(client):
    text = client.get("/api/editor/spec/access-review").json()["text"]
    ok = client.post("/api/editor/solve", json={"text": text}).json()
    assert ok["ok"] and ok["policy"]["new_request"] == "request_evidence"
    bad = client.post("/api/editor/solve", json={"text": text.replace("gamma: 0.9", "gamma: 0")}).json()
    assert bad["ok"] is False and bad["line"] == 2


def test_engineer_view_needs_a_database(client):
    assert client.get("/api/engineer").status_code == 404
    assert "--db URL" in client.get("/engineer").text


def test_the_front_end_is_small_and_local():
    """README: no CDN; our own front end is a hundred-odd kilobytes (watch mode's engine and page are
    about 30 of them), and the one vendored file (the editor bundle) loads nothing from anywhere either."""
    studio = Path(__file__).resolve().parents[2] / "src" / "accessrl" / "studio"
    files = [*(f for f in (studio / "static").iterdir() if f.is_file()), *(studio / "templates").rglob("*.html")]
    assert sum(f.stat().st_size for f in files) < 140_000
    vendor = studio / "static" / "vendor"
    for f in [*files, vendor / "codemirror.js"]:
        text = f.read_text()
        assert "://" not in text.replace("http://www.w3.org/2000/svg", ""), f  # nothing fetched from elsewhere
        if f.parent == vendor:  # the bundle holds Python's keywords as completion strings, never a JS import
            assert not re.search(r"\bimport\s*\(|^\s*(import|export)\s", text, re.M), f
            assert not any(w in text for w in ("fetch(", "XMLHttpRequest", "WebSocket", "sendBeacon")), f
        else:
            assert "import " not in text or f.suffix != ".js", f
    assert "MIT" in (vendor / "LICENSES.txt").read_text() and "AccessRLEditor.create" in (vendor / "README.md").read_text()


def test_concurrent_visits_are_all_counted(client):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: client.get("/lab/returns"), range(24)))
    assert client.get("/api/progress").json()["labs"]["returns"] == 24


def test_computed_by_snippets_resolve_after_a_plain_import():
    """Each lab's "Computed by" names work as written after `import accessrl` (no further import)."""
    import re

    import accessrl
    from accessrl.studio.pages import LAB_PAGES

    for page in LAB_PAGES:
        names = re.findall(r"accessrl(?:\.\w+)+", page.call)
        assert names, page.name
        for name in names:
            obj: object = accessrl
            for part in name.split(".")[1:]:
                obj = getattr(obj, part)
            assert callable(obj), name


def test_the_held_out_lab_explains_its_words():
    from accessrl.studio.pages import LAB_PAGES

    text = " ".join(next(p for p in LAB_PAGES if p.name == "held-out").intro)
    for word in ("weighted importance sampling (WIS)", "effective sample size (ESS)", "straddles",
                 "Why risk_aware is 62"):
        assert word in text
