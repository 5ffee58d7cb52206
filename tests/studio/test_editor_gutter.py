"""The editor's line numbers keep the text's line pitch (the error marker sits on its line even far
down), and an error greys the last good diagram and table and says they are stale."""

from __future__ import annotations

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture then skips (tests/studio/conftest.py)
    expect = None


def test_the_gutter_has_the_texts_line_pitch(page):
    page.goto("/editor")
    page.wait_for_selector("body[data-idle='1']", state="attached")
    style = page.evaluate("""() => ['gutter', 'spec'].map((id) => { const s = getComputedStyle(document.getElementById(id));
        return [s.fontSize, s.lineHeight, s.paddingTop]; })""")
    assert style[0] == style[1], style
    # the last line's number sits where the text's last line is
    top = page.evaluate("""() => { const spans = document.querySelectorAll('#gutter span'), k = spans.length - 1;
        const g = spans[k].getBoundingClientRect().top;
        const t = document.getElementById('spec'), s = getComputedStyle(t);
        return [g, t.getBoundingClientRect().top + parseFloat(s.paddingTop) + parseFloat(s.borderTopWidth)
                   + k * parseFloat(s.lineHeight), k]; }""")
    assert top[2] >= 12
    assert abs(top[0] - top[1]) < 2, top


def test_an_error_marks_the_results_stale(page):
    page.goto("/editor")
    page.wait_for_selector("body[data-idle='1']", state="attached")
    expect(page.locator(".workflow g.node[data-state='new_request']")).to_be_visible()
    spec = page.locator("#spec")
    text = spec.input_value()
    spec.fill(text.replace("p: 0.75", "p: 0.7"))
    expect(page.locator("#spec-error")).to_be_visible()
    expect(page.locator("#stale-note")).to_be_visible()
    expect(page.locator("#results")).to_have_class("pane stale")
    spec.fill(text)
    expect(page.locator("#spec-error")).to_be_hidden()
    expect(page.locator("#stale-note")).to_be_hidden()
    expect(page.locator("#results")).to_have_class("pane")
