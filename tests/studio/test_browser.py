"""The studio in a real browser (Chromium, headless, driven by Playwright): the lesson's numbers on
screen, the controls working from the keyboard, every control labelled, no console error; a
screenshot of each page goes to ``$ACCESSRL_SCREENSHOTS`` when set, else to a temporary folder (a test
never writes into tracked files: ``ACCESSRL_SCREENSHOTS=benchmarks/results/studio python -m pytest
tests/studio/test_browser.py`` refreshes the committed ones)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

from accessrl.lesson import LAB_ORDER, quiz, run_lab
from lab_lines import norm

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture then skips, or fails under CI=true (tests/studio/conftest.py)
    expect = None

PAGES = ["/", *(f"/lab/{n}" for n in LAB_ORDER), "/editor", "/exercises", "/quiz", "/progress", "/engineer"]

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter((e) => e.offsetParent !== null)
  .filter((e) => !((e.labels && e.labels.length) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')
                   || (e.tagName === 'BUTTON' && e.textContent.trim())))
  .map((e) => e.outerHTML.slice(0, 80))"""


def _settle(page) -> None:
    """Wait until the page's requests are answered and drawn (the script marks the body)."""
    page.wait_for_selector("body[data-idle='1']", state="attached")


def _save_small_png(png: bytes, path: Path) -> None:
    """A palette PNG (64 colours): a page's screenshot in tens of kilobytes."""
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=64, method=Image.Quantize.FASTOCTREE)
    img.save(path)


def test_every_page_loads_without_console_errors_and_every_control_is_labelled(page, tmp_path):
    shots = Path(os.environ.get("ACCESSRL_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    for path in PAGES:
        page.goto(path)
        _settle(page)
        expect(page.locator("h1")).to_be_visible()
        assert page.evaluate(UNLABELLED) == [], path
        assert not page.locator("#error").is_visible() if page.locator("#error").count() else True
        if path == "/lab/value-iteration":  # the screenshot shows a sweep, not the zeros
            page.locator("#step").click()
            page.locator("#step").click()
        name = path.strip("/").replace("lab/", "lab-").replace("/", "-") or "index"
        _save_small_png(page.screenshot(full_page=True), shots / f"{name}.png")
    assert page.problems == []


def test_abandonment_slider_across_5_113_flips_the_policy(page):
    page.goto("/lab/abandonment")
    _settle(page)
    expect(page.locator("#action")).to_have_text("human_review")  # p = 0.25, lesson.txt
    slider = page.locator("#p")
    slider.focus()
    page.keyboard.press("Home")
    for _ in range(44):  # step 0.001: p = 0.044 < 5/113 = 0.04425
        page.keyboard.press("ArrowRight")
    expect(page.locator("#p-value")).to_have_text("0.044")
    expect(page.locator("#action")).to_have_text("request_evidence")
    node = page.locator(".workflow g.node[data-state='new_request']")
    expect(node).to_have_attribute("data-action", "request_evidence")
    expect(page.locator(".workflow path.edge.chosen[data-source='new_request'][data-action='request_evidence']")).to_have_count(2)
    page.keyboard.press("ArrowRight")  # p = 0.045 > 5/113
    expect(page.locator("#p-value")).to_have_text("0.045")
    expect(page.locator("#action")).to_have_text("human_review")
    expect(node).to_have_attribute("data-action", "human_review")
    expect(page.locator(".workflow path.edge.chosen[data-source='new_request']")).to_have_count(1)
    expect(page.locator("#flip-chart")).to_contain_text("breakeven p = 5/113")


def test_value_iteration_stepper_shows_the_lessons_three_sweeps(page):
    expected = [norm(x) for x in run_lab("value-iteration")[:3]]  # lab_outputs.txt [value-iteration]
    page.goto("/lab/value-iteration")
    _settle(page)
    lines = page.locator("#sweep-lines")
    expect(page.locator("#k")).to_have_text("0")
    for k in (1, 2, 3):
        page.locator("#step").click()
        expect(page.locator("#k")).to_have_text(str(k))
        assert [norm(x) for x in lines.inner_text().splitlines()] == expected[:k]
        if k == 2:  # Q_2(new_request, request_evidence) = -4 + 0.9 x V_1(evidence_ready) = -4 + 63 = 59
            expect(page.locator(".workflow .edge-label", has_text="request_evidence r=-4")).to_contain_text("Q=59.0")
    expect(page.locator("#step")).to_be_disabled()
    expect(page.locator(".workflow g.node[data-state='new_request']")).to_contain_text("V = 59.00")
    page.locator("#reset").click()
    expect(page.locator("#k")).to_have_text("0")
    assert lines.inner_text().strip() == ""
    page.locator("#run").click()
    expect(page.locator("#k")).to_have_text("3")
    expect(page.locator("#vi-table")).to_contain_text("request_evidence 59.00 *")


def test_q_learning_seed_13_reads_30_5(page):
    page.goto("/lab/q-learning")
    _settle(page)
    expect(page.locator("#lines")).to_contain_text("learned start action = human_review")
    assert re.search(r"Q\(new_request, request_evidence\) =\s+30\.5\n", page.locator("#lines").inner_text() + "\n")
    page.locator("#seed").fill("14")
    page.locator("#run").click()
    expect(page.locator("#lines")).not_to_contain_text("=   30.5")
    page.locator("#seed").fill("13")
    page.locator("#run").click()
    expect(page.locator("#lines")).to_contain_text("=   30.5")
    expect(page.locator("#q-chart path[data-series='Q(new_request, request_evidence)']")).to_have_count(1)


def test_exploration_slider_reproduces_both_rows(page):
    expected = [norm(x) for x in run_lab("exploration")]
    page.goto("/lab/exploration")
    _settle(page)
    expect(page.locator("#lines")).to_have_text(run_lab("exploration")[1])  # epsilon 0.10, the page's default
    page.locator("#epsilon").focus()
    page.keyboard.press("Home")
    expect(page.locator("#epsilon-value")).to_have_text("0.00")
    expect(page.locator("#selected")).to_have_text("request_evidence")
    assert norm(page.locator("#lines").inner_text()) == expected[0]


def _shown_question(page):
    """The question the page shows (the order is new each attempt): found by its prompt."""
    text = page.locator("#question").inner_text()
    return next(q for q in quiz.questions() if text.startswith(q.prompt))


def test_quiz_fail_then_review_then_pass(page):
    qs = quiz.questions()
    page.goto("/quiz")
    _settle(page)
    first_order = []
    for _ in qs:  # every answer wrong
        q = _shown_question(page)
        first_order.append(q.prompt)
        wrong = (q.answer + 1) % len(q.choices)
        page.locator(f"#choice-{wrong}").check()
        page.locator("#answer").click()
        expect(page.locator("#feedback")).to_contain_text("Not quite")
        expect(page.locator("#feedback")).to_contain_text("Why: " + q.explanation[:30])
        page.locator("#next").click()
    expect(page.locator("#score")).to_have_text(f"Score: 0/{len(qs)} (0%)")
    expect(page.locator("#verdict")).to_contain_text("not yet complete")
    # The review: every miss with the right answer, why, and a link to its lab.
    review = page.locator("#review")
    expect(review).to_be_visible()
    expect(review.locator("li.missed")).to_have_count(len(qs))
    for q in qs:
        expect(review).to_contain_text(q.explanation[:40])
    links = review.locator("a")
    hrefs = {links.nth(k).get_attribute("href") for k in range(links.count())}
    assert hrefs == {f"/lab/{q.topic}" for q in qs} and all(h in {f"/lab/{n}" for n in LAB_ORDER} for h in hrefs)
    page.locator("#again").click()
    expect(page.locator("#quiz-progress")).to_have_text(f"Question 1 of {len(qs)}")
    second_order = []
    for _ in qs:  # right, except one: 9/10 = 90% > 75%
        q = _shown_question(page)
        second_order.append(q.prompt)
        pick = q.answer if second_order[1:] else (q.answer + 1) % len(q.choices)
        page.locator(f"#choice-{pick}").check()
        page.locator("#answer").click()
        expect(page.locator("#feedback")).to_contain_text("Correct." if second_order[1:] else "Not quite")
        page.locator("#next").click()
    expect(page.locator("#score")).to_have_text(f"Score: {len(qs) - 1}/{len(qs)} (90%)")
    expect(page.locator("#verdict")).to_have_text("Lesson complete.")
    expect(page.locator("#review li.missed")).to_have_count(1)
    assert sorted(first_order) == sorted(second_order) == sorted(q.prompt for q in qs)
    page.goto("/progress")
    expect(page.locator("#complete")).to_have_text("Lesson complete.")


def test_exercise_wrong_then_right(page):
    page.goto("/exercises")
    _settle(page)
    page.locator("#answer-1").fill("0.25")
    page.locator("button.check[data-exercise='1']").click()
    expect(page.locator("#verdict-1")).to_contain_text("Not yet.")
    expect(page.locator("#verdict-1")).to_contain_text("the lesson's abandonment rate")
    page.locator("#answer-1").fill("5/113")
    page.locator("button.check[data-exercise='1']").click()
    expect(page.locator("#verdict-1")).to_contain_text("Passed.")
    page.locator("button.check[data-exercise='3']").click()  # the starter leaks review_outcome
    expect(page.locator("#verdict-3")).to_contain_text("leak")


def test_editor_shows_the_one_line_error_at_its_line(page):
    page.goto("/editor")
    _settle(page)
    expect(page.locator(".workflow g.node[data-state='new_request']")).to_contain_text("V = 54.00")
    spec = page.locator("#spec")
    text = spec.input_value()
    line = text.splitlines().index("    request_evidence:") + 1
    spec.fill(text.replace("p: 0.75", "p: 0.7"))
    error = page.locator("#spec-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("accessrl: error: editor, state 'new_request', action 'request_evidence': "
                                  "probabilities sum to 0.95")
    expect(error).to_contain_text(f"(line {line})")
    expect(page.locator("#gutter span.bad")).to_have_text(str(line))
    assert "\n" not in error.inner_text().strip()
    spec.fill(text.replace("p: 0.75", "p: 0.65").replace("p: 0.25", "p: 0.35"))
    expect(error).to_be_hidden()
    expect(page.locator(".workflow g.node[data-state='new_request']")).to_contain_text("V = 54.00")


def test_keyboard_only_navigation(page):
    page.goto("/lab/returns")
    _settle(page)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    seen = []
    for _ in range(12):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.id"))
    controls = ["gamma", "r-auto_approve", "r-request_evidence", "r-human_review"]
    assert seen[:4] == controls, seen
    page.locator("#gamma").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("0.5")
    # gamma 0.5: request_evidence -4 + 35 = 31, human_review -18 + 40 = 22, auto_approve -120.
    expect(page.locator("#returns-table")).to_contain_text("31.0")
    expect(page.locator("#best-route")).to_have_text("request_evidence")
    # Keyboard to the next lab: the pager's "next" link.
    page.locator("a[rel='next']").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/lab/bellman-backup")
    expect(page.locator("h1")).to_contain_text("One Bellman backup")


def test_engineer_view_shows_the_log(page):
    page.goto("/engineer")
    _settle(page)
    expect(page.locator("#eng-summary")).to_contain_text("decisions in 400 episodes")
    expect(page.locator("#deploy-table")).to_contain_text("always_review")
    expect(page.locator("#estimate-table")).to_contain_text("request_evidence")
    expect(page.locator("#heldout-table")).to_contain_text("deployed always_review")
    # times to the minute, in UTC (fill_demo_log deploys at 2026-01-05T00:00:00+00:00)
    expect(page.locator("#deploy-table")).to_contain_text("2026-01-05 00:00 UTC")
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", page.locator("main").inner_text())  # no raw microsecond ISO
    expect(page.locator("#outcome-legend")).to_contain_text("transition")


TICKS = """() => [...document.querySelectorAll('#per-day-chart svg text.tick')].map((t) => {
  const r = t.getBoundingClientRect(); return {text: t.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom};
})"""


def test_engineer_view_of_five_months_of_a_real_log(imported_page, imported_db):
    """The BPIC 2012 excerpt (167 days): day labels that do not overlap, no deployment yet, the
    process map's counts and the abandonment hazards as the library computes them."""
    from accessrl.offline.processmap import process_map
    from accessrl.offline.survival import DEFAULT_BOUNDS_DAYS, bucket_hazard, stage_visits
    from accessrl.storage import DecisionLog
    from accessrl.storage.eventimport import stage_observations

    page = imported_page
    page.goto("/engineer")
    _settle(page)
    expect(page.locator("#process-map svg")).to_be_visible()
    ticks = page.evaluate(TICKS)
    assert 3 <= len(ticks) <= 12, ticks  # 167 days: one label every few weeks, not 167
    for a, b in zip(ticks, ticks[1:], strict=False):  # in Chromium's layout, each label ends before the next begins
        assert a["right"] < b["left"], (a, b)
    assert all(re.fullmatch(r"\d\d-\d\d", t["text"]) for t in ticks)
    expect(page.locator("#deploy-table tbody")).to_have_text("none yet")
    expect(page.locator("#deploy-how")).to_contain_text("accessrl serve")
    expect(page.locator("#deploy-how")).to_contain_text("accessrl promote")
    note = page.locator("#heldout-note").inner_text()
    assert re.search(r"from \d{4}-\d\d-\d\d \d\d:\d\d UTC;", note), note

    log = DecisionLog(imported_db)
    try:
        steps = log.load_steps().steps
        obs, last = stage_observations(log, ["abandonment"])
    finally:
        log.close()
    k = max(1, steps.n_steps // 200)  # the page's first frequency filter
    drawn = page.evaluate("""() => [...document.querySelectorAll('#process-map g.pm-edge')].map((g) =>
      [g.dataset.state, g.dataset.action, g.dataset.next, Number(g.dataset.count)])""")
    want = [[e.state, e.action, e.next_state, e.count] for e in process_map(steps, min_count=k).edges]
    assert sorted(drawn) == sorted(want) and drawn
    page.fill("#map-min", "1")  # the filter off: every transition of the log
    all_edges = process_map(steps).edges
    expect(page.locator("#process-map g.pm-edge")).to_have_count(len(all_edges))
    expect(page.locator("#map-hidden")).to_have_text(f"(all {len(all_edges)} transitions shown)")

    visits = stage_visits(obs, last)["send_offer"]
    hz = bucket_hazard(visits.durations, visits.events, DEFAULT_BOUNDS_DAYS)
    section = page.locator(".abandon-stage[data-stage='send_offer']")
    expect(section.locator(".abandon-chart svg path[data-series='Kaplan-Meier S(t)']")).to_have_count(1)
    rows = section.locator("table.hazard-table tbody tr")
    expect(rows).to_have_count(len(hz))
    for i, h in enumerate(hz):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert cells[1:] == [str(h.entering), str(h.events), str(h.censored), f"{h.hazard:.3f}",
                             f"[{h.low:.3f}, {h.high:.3f}]"], (i, cells)


def test_quiz_by_keyboard_alone(page):
    qs = quiz.questions()
    page.goto("/quiz")
    _settle(page)
    assert page.evaluate("document.activeElement.id") == "choice-0"  # focus starts on the first choice
    page.keyboard.press("Space")  # choose (a)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "answer"
    first = _shown_question(page)
    page.keyboard.press("Enter")
    expect(page.locator("#feedback")).to_contain_text("Correct." if first.answer == 0 else "Not quite")
    assert page.evaluate("document.activeElement.id") == "next"
    page.keyboard.press("Enter")
    expect(page.locator("#quiz-progress")).to_have_text(f"Question 2 of {len(qs)}")
    assert page.evaluate("document.activeElement.id") == "choice-0"


def test_the_static_export_draws_the_same_numbers_from_disk(page, tmp_path):
    from accessrl.studio.export import export_site

    export_site(tmp_path)
    page.goto((tmp_path / "lab" / "abandonment.html").as_uri())
    _settle(page)
    expect(page.locator("#action")).to_have_text("human_review")
    # the slider needs no server: the whole curve is in the page (lesson: the flip at p = 5/113)
    expect(page.locator("#p")).to_be_enabled()
    page.locator("#p").fill("0.04")
    expect(page.locator("#action")).to_have_text("request_evidence")
    page.locator("#p").fill("0.05")
    expect(page.locator("#action")).to_have_text("human_review")
    expect(page.locator(".static-note")).to_contain_text("accessrl studio")
    page.goto((tmp_path / "lab" / "value-iteration.html").as_uri())
    _settle(page)
    for _ in range(3):
        page.locator("#step").click()
    expected = [norm(x) for x in run_lab("value-iteration")[:3]]
    assert [norm(x) for x in page.locator("#sweep-lines").inner_text().splitlines()] == expected
    page.goto((tmp_path / "lab" / "q-learning.html").as_uri())
    _settle(page)
    expect(page.locator("#lines")).to_contain_text("=   30.5")
    page.locator("a[rel='next']").click()  # relative links between exported pages
    expect(page.locator("h1")).to_contain_text("Why explore")
