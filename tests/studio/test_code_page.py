"""The studio's code pages: a learner types a wrong value_iteration into the CodeMirror editor, sees the
first wrong sweep drawn on the workflow, fixes it by typing, and sees the pass (Playwright, real Chromium)."""

from __future__ import annotations

import httpx
import pytest

from accessrl.lesson.coding import solution

WRONG = solution("value-iteration").replace("updated = values.copy()", "updated = values")


def _idle(page):
    page.wait_for_function("document.body.dataset.idle === '1'", timeout=20_000)


def test_a_wrong_then_a_right_value_iteration(studio_url, browser, tmp_path):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{studio_url}/code/value-iteration")
    page.wait_for_selector("#code-editor .cm-content")
    assert "def value_iteration(states, actions, transitions, gamma, sweeps):" in page.inner_text("#code-editor")
    # line numbers match the text: one number per drawn line, counting from 1 (the editor draws what is in view)
    numbers = [t for t in page.locator("#code-editor .cm-lineNumbers .cm-gutterElement").all_inner_texts() if t.strip()]
    drawn = page.locator("#code-editor .cm-line").count()
    assert numbers == [str(i) for i in range(1, drawn + 1)]

    page.click("#code-editor .cm-content")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(WRONG)
    assert page.evaluate("window.accessrlEditor.getValue()") == WRONG
    page.click("#check")
    _idle(page)
    assert page.inner_text("#verdict") == "not yet"
    feedback = page.inner_text("#feedback")
    assert "sweep 1, state new_request: expected -4, got 59" in feedback
    assert "every entry of your history holds the last sweep's values" in feedback
    wrong = page.locator("#diff-diagram g.node.wrong")
    assert wrong.get_attribute("data-state") == "new_request"
    label = wrong.text_content()
    assert "yours 59.00" in label and "correct -4.00" in label
    page.screenshot(path=str(tmp_path / "diff.png"), full_page=True)

    # the fix, typed: put the cursor after "updated = values" and type .copy()
    at = WRONG.index("updated = values") + len("updated = values")
    page.evaluate(f"window.accessrlEditor.view.dispatch({{selection: {{anchor: {at}}}}})")
    page.click("#code-editor .cm-content .cm-activeLine")
    page.evaluate(f"window.accessrlEditor.view.dispatch({{selection: {{anchor: {at}}}}})")
    page.keyboard.type(".copy()")
    assert "updated = values.copy()" in page.evaluate("window.accessrlEditor.getValue()")
    page.click("#check")
    _idle(page)
    assert page.inner_text("#verdict") == "passed"
    assert page.locator("#diff-diagram g.node").count() == 0
    assert "agree with the library" in page.inner_text("#feedback")

    page.goto(f"{studio_url}/progress")
    row = page.locator("#exercises-progress tr", has_text="value-iteration")
    assert "yes" in row.inner_text()
    assert not errors


def test_run_shows_output_and_an_infinite_loop_is_one_message(studio_url, browser):
    page = browser.new_page()
    page.goto(f"{studio_url}/code/discounted-return")
    page.wait_for_selector("#code-editor .cm-content")
    page.evaluate("""window.accessrlEditor.setValue("print('hello', 6 * 7)\\n")""")
    page.click("#run")
    _idle(page)
    assert page.inner_text("#output").strip() == "hello 42"
    loop = "def discounted_return(rewards, gamma):\\n    while True:\\n        pass\\n"
    page.evaluate(f"""window.accessrlEditor.setValue("{loop}")""")
    page.click("#check")
    _idle(page)
    assert page.inner_text("#verdict") == "not yet"
    assert "did not finish within" in page.inner_text("#feedback")
    # a syntax error marks its line in the editor
    page.evaluate("""window.accessrlEditor.setValue("def discounted_return(rewards, gamma):\\n    return sum(\\n")""")
    page.click("#check")
    _idle(page)
    assert page.locator("#code-editor .cm-lint-marker-error").count() == 1


def test_the_code_api_refuses_bad_bodies(studio_url):
    with httpx.Client(base_url=studio_url, timeout=30) as c:
        assert c.post("/api/code/value-iteration/check", json={"text": 1}).status_code == 422
        assert c.post("/api/code/value-iteration/check", json={"code": "x" * 300_000}).status_code == 413
        r = c.post("/api/code/nope/check", json={"code": ""})
        assert r.status_code == 422 and "unknown coding exercise" in r.json()["error"]
        assert c.get("/code/nope").status_code == 404
        r = c.post("/api/code/discounted-return/check", json={"code": solution("discounted-return")})
        assert r.status_code == 200 and r.json()["passed"] is True


@pytest.mark.parametrize("path", ["/code", "/code/q-learning", "/static/vendor/codemirror.js", "/static/coding.js"])
def test_the_pages_and_the_bundle_are_served(studio_url, path):
    with httpx.Client(base_url=studio_url, timeout=30) as c:
        r = c.get(path)
        assert r.status_code == 200 and r.text
