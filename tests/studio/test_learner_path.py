"""The learner's path in a real browser, from the README's first command: the tour ends by naming
the studio; ``accessrl studio`` (the command, as a learner starts it) serves it; in watch mode the
learner steps one sweep and reads its arithmetic, plays one Q-learning episode whose updates are the
library's for the same random draws, passes an exercise, fails the quiz and opens its review; an
error shows beside its control.  Then every page is photographed at 1280 and 420 px into
``$ACCESSRL_SCREENSHOTS`` (else a temporary folder; never into tracked files)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_watch import Draws

from accessrl.catalog import load
from accessrl.learning.config import prepare
from accessrl.learning.reference import ReferenceEngine
from accessrl.lesson import LAB_ORDER, quiz
from accessrl.planning import bellman_backup

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture then skips (tests/studio/conftest.py)
    expect = None

ROOT = Path(__file__).resolve().parents[2]


def quickstart_job() -> list[str]:
    """The README's first command after its install: ``accessrl tour`` (tests/test_readme.py runs
    the install itself)."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quickstart.*?```bash\n(.*?)```", text, re.S)
    assert block
    first = block.group(1).strip().splitlines()[0]
    job = first.split(" && ", 1)[1].split()
    assert job[:2] == ["accessrl", "tour"]
    return job


@pytest.fixture(scope="module")
def learner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The tour run as the Quickstart runs it (quick), then the studio it points at, started by its command."""
    pytest.importorskip("uvicorn")
    root = tmp_path_factory.mktemp("learner")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "ACCESSRL_DATA_DIR": str(root / "data"), "MPLBACKEND": "Agg"}
    tour = subprocess.run([sys.executable, "-m", "accessrl", *quickstart_job()[1:], "--quick", "--out",
                           str(root / "tour")], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert tour.returncode == 0, tour.stderr[-2000:]
    steps = tour.stdout.rsplit("Next steps:", 1)[1]
    studio_cmd = re.search(r"^\s+(accessrl studio)\s", steps, re.M)
    assert studio_cmd, tour.stdout
    proc = subprocess.Popen([sys.executable, "-m", "accessrl", "studio", "--port", "0"], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        m = re.search(r"(http://127\.0\.0\.1:\d+)/", proc.stdout.readline())
        assert m, proc.stderr.read() if proc.stderr else ""
        yield m.group(1), str(root / "data")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def tab(browser: Any, learner: tuple[str, str]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=learner[0])
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, errors


def test_the_learners_path(tab: Any) -> None:
    page = tab
    page.goto("/")
    page.get_by_role("link", name="Watch mode").click()
    page.wait_for_selector("body[data-watch-ready='1']", state="attached")
    expect(page.locator("#w-model")).to_have_value("access-review-abandonment")

    # One sweep from V = 0, with its arithmetic: the lesson's workflow with abandonment p = 0.25.
    page.locator("#w-sweep").click()
    arith = page.locator("#w-arith")
    expect(arith).to_contain_text("Sweep 1")
    expect(arith).to_contain_text("0.750·(-4.0 + 0.90·0.00) + 0.250·(-54.0 + 0.90·0.00)")
    expect(arith.locator("tr.winner")).to_contain_text("request_evidence")  # -16.5 beats -18 and -120
    mdp = load("access-review-abandonment")
    shown = page.evaluate("Array.from(window.AccessrlWatch.Watch.V)")
    np.testing.assert_allclose(shown, bellman_backup(mdp, np.zeros(mdp.n_states)).values, rtol=1e-12)

    # One played episode, its updates checked against the library's reference engine.
    page.fill("#w-seed", "11")
    page.dispatch_event("#w-seed", "change")
    page.locator("#w-episode").click()
    update = page.locator("#w-update")
    expect(update).to_contain_text("target = ")
    expect(update).to_contain_text("(episode ends)")
    got = page.evaluate("""() => { const W = window.AccessrlWatch.Watch;
        return {q: Array.from(W.learner.q), episodes: W.learner.episodes, qNew: W.lastStep.qNew}; }""")
    assert got["episodes"] == 1
    draws = page.evaluate("(n) => { const r = window.AccessrlWatch.prng(11); return Array.from({length: n}, r); }", 100)
    prep = prepare(mdp, episodes=1, algorithm="q-learning", epsilon=0.15, step_size="visits", omega=0.6,
                   max_steps=10_000, start=None, never_explore=None, safe=True, initial_q=0.0)
    eng = ReferenceEngine(mdp, prep, Draws(draws))  # type: ignore[arg-type]
    eng.run(0, 1, np.zeros(1), np.zeros(1, dtype=np.int64))
    np.testing.assert_allclose(got["q"], eng.q, rtol=1e-12, atol=1e-12)
    expect(update).to_contain_text(f"= {got['qNew']:.2f}")

    # One exercise.
    page.get_by_role("link", name="Exercises").click()
    page.locator("#answer-1").fill("5/113")
    page.locator("button.check[data-exercise='1']").click()
    expect(page.locator("#verdict-1")).to_contain_text("Passed.")

    # The quiz, failed, and its review opened.
    page.get_by_role("link", name="Quiz").click()
    qs = quiz.questions()
    expect(page.locator("#quiz-progress")).to_have_text(f"Question 1 of {len(qs)}")
    for _ in qs:
        text = page.locator("#question").inner_text()
        q = next(x for x in qs if text.startswith(x.prompt))
        page.locator(f"#choice-{(q.answer + 1) % len(q.choices)}").check()
        page.locator("#answer").click()
        page.locator("#next").click()
    expect(page.locator("#verdict")).to_contain_text("not yet complete")
    review = page.locator("#review")
    expect(review).to_be_visible()
    expect(review.locator("li.missed")).to_have_count(len(qs))
    first_lab = review.locator("a").first
    href = first_lab.get_attribute("href")
    assert href and href.removeprefix("/lab/") in LAB_ORDER
    first_lab.click()
    expect(page).to_have_url(re.compile(re.escape(href) + "$"))


def test_an_error_shows_beside_its_control_in_plain_words(tab: Any) -> None:
    page = tab
    page.goto("/lab/returns")
    page.wait_for_selector("body[data-idle='1']", state="attached")
    page.locator("#gamma").fill("0")
    page.locator("#gamma").dispatch_event("change")
    note = page.locator("#gamma-error")
    expect(note).to_have_text(re.compile(r"^gamma: enter a discount above 0 and at most 1"))
    expect(page.locator("#gamma")).to_have_attribute("aria-invalid", "true")
    # beside the control, not at the bottom of the page
    box, control = note.bounding_box(), page.locator("#gamma").bounding_box()
    assert box and control and 0 <= box["y"] - control["y"] < 80
    page.locator("#gamma").fill("1")  # gamma = 1 is allowed (README: gamma in (0, 1])
    page.locator("#gamma").dispatch_event("change")
    expect(note).to_have_count(0)
    expect(page.locator("#returns-table")).to_contain_text("66.0")


PAGES = ["/", *(f"/lab/{n}" for n in LAB_ORDER), "/watch", "/editor", "/exercises", "/code", "/quiz", "/progress",
         "/engineer"]


@pytest.mark.parametrize("width", [1280, 420])
def test_screenshots_of_every_page(browser: Any, studio_url: str, width: int, tmp_path: Path) -> None:
    from test_browser import _save_small_png

    shots = Path(os.environ.get("ACCESSRL_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": 900}, base_url=studio_url)
    context.set_default_timeout(30_000)
    page = context.new_page()
    wide = []
    try:
        for path in PAGES:
            page.goto(path)
            page.wait_for_selector("body[data-idle='1']", state="attached")
            if path == "/watch":
                page.wait_for_selector("body[data-watch-ready='1']", state="attached")
                page.locator("#w-sweep").click()
                page.locator("#w-sweep").click()
                page.locator("#w-step-btn").click()
            name = path.strip("/").replace("lab/", "lab-").replace("/", "-") or "index"
            _save_small_png(page.screenshot(full_page=True), shots / f"{name}-{width}.png")
            if page.evaluate("document.documentElement.scrollWidth") > width + 1:
                wide.append(path)
        page.goto("/watch")
        page.wait_for_selector("body[data-watch-ready='1']", state="attached")
        page.select_option("#w-model", "generated")
        page.wait_for_function("document.body.dataset.watchReady === '1' && window.AccessrlWatch.Watch.base.name === 'generated'")
        for _ in range(3):
            page.locator("#w-sweep").click()
        page.locator("#w-episode").click()
        _save_small_png(page.screenshot(full_page=True), shots / f"watch-generated-{width}.png")
    finally:
        context.close()
    assert not wide, f"pages wider than the {width} px window (the page scrolls sideways): {wide}"
