"""The studio's LLM page: the token MDP of one request, the reward model's scores, a quick run of the
built-in engine (started once, polled, cached), and a question graded from the run's own numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("jinja2")
pytest.importorskip("torch", reason='the LLM page needs PyTorch: pip install "accessrl[llm]"')
from fastapi.testclient import TestClient  # noqa: E402

from accessrl.llm.task import PROMPTS, encode, true_reward  # noqa: E402
from accessrl.studio.app import StudioConfig, create_app  # noqa: E402
from accessrl.studio.llm_page import mdp_path, question  # noqa: E402

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture then skips, or fails under CI=true (tests/studio/conftest.py)
    expect = None


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("ACCESSRL_DATA_DIR", str(tmp_path))
    with TestClient(create_app(StudioConfig()), base_url="http://127.0.0.1:8765") as c:
        yield c


def test_mdp_path_pays_the_true_reward_at_the_end():
    for i in (0, 3, 11):
        data = mdp_path(i)
        rewards = [s["reward"] for s in data["steps"]]
        assert rewards[:-1] == [0.0] * (len(rewards) - 1)  # the reward arrives with <eos>
        assert data["steps"][-1]["action"] == "<eos>"
        words = [s["action"] for s in data["steps"][:-1]]
        assert rewards[-1] == data["true_reward"] == true_reward(PROMPTS[i], encode(words))
        # each state is the previous one plus the action taken
        for a, b in zip(data["steps"], data["steps"][1:], strict=False):
            assert b["state"] == a["state"] + [a["action"]]
        assert len(data["actions"]) == 12


def _run(ref_true: float, zero_true: float) -> dict:
    e = {"proxy_reward": 0.0, "true_reward": ref_true, "kl": 0.0, "repeats": 0.1}
    z = {"proxy_reward": 3.0, "true_reward": zero_true, "kl": 12.0, "repeats": 3.0}
    return {"reference": e, "runs": [{"beta": 0.0, "final": z}, {"beta": 0.2, "final": e}]}


def test_the_questions_answer_comes_from_the_run():
    assert question(_run(1.5, -1.0))["answer"] == 1  # the true reward fell: over-optimisation
    assert question(_run(1.5, 2.0))["answer"] == 0  # a run in which it did not: the page does not pretend
    assert "1.50 to -1.00" in question(_run(1.5, -1.0))["explanation"]


def test_page_and_mdp_endpoint(client):
    html = client.get("/llm").text
    assert "token-level MDP" in html and '<script src="/static/llm.js">' in html
    assert "://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert client.get("/static/llm.js").status_code == 200
    data = client.get("/api/llm/mdp/3").json()
    assert data["correct"] == "human_review"
    r = client.get("/api/llm/mdp/12")
    assert r.status_code == 422 and r.json()["error"].startswith("accessrl: error: prompt: expected 0-11")
    r = client.post("/api/llm/answer", json={"answer": 1})
    assert r.status_code == 409  # nothing to grade before the run
    assert 'href="/llm"' in client.get("/lab/policy-gradient").text  # lab 9 continues here


@pytest.mark.slow
def test_llm_page_in_the_browser(page):
    page.goto("/lab/policy-gradient")
    page.click("#llm-link a")
    expect(page.locator("h1")).to_have_text("From policy gradients to LLM post-training")
    # the token MDP of the chosen request: one row per token, the last one <eos>
    expect(page.locator("#mdp-diagram svg text.mdp-action").last).to_contain_text(" = <eos>")
    expect(page.locator("#mdp-diagram svg text.mdp-action").first).to_contain_text("a0 = ")
    page.select_option("#llm-prompt", "0")
    expect(page.locator("#mdp-note")).to_contain_text("tier:low evidence:none policy:standard")
    expect(page.locator("#mdp-note")).to_contain_text("The rule wants auto_approve")
    # the quick run (SFT, reward model, RLOO at two betas) finishes in a worker; the page polls
    expect(page.locator("#final-table tbody tr")).to_have_count(3, timeout=280_000)
    rows = page.locator("#final-table tbody tr")
    expect(rows.nth(0).locator("td").first).to_have_text("reference (SFT)")
    expect(rows.nth(1).locator("td").first).to_have_text("beta = 0")
    assert page.locator("#proxy-chart svg path[data-series]").count() == 2
    assert page.locator("#true-chart svg path[data-series]").count() == 2
    expect(page.locator("#rm-table tbody tr")).to_have_count(5)

    def scores(label):
        cells = page.locator("#rm-table tbody tr", has_text=label).locator("td")
        return float(cells.nth(2).text_content()), float(cells.nth(3).text_content())

    good, repeated, wrong = scores("right route, true facts"), scores("said five times"), scores("wrong route")
    assert wrong[0] < good[0] and wrong[1] < good[1]  # the reward model learned the routing rule
    assert repeated[0] > good[0] and repeated[1] < good[1]  # and over-pays a repeated word
    expect(page.locator("#samples")).to_contain_text("beta=0")
    # the question, answered from the keyboard
    choices = page.locator("input[name=llm-answer]")
    expect(choices).to_have_count(4)
    choices.nth(1).focus()
    page.keyboard.press("Space")
    page.click("#llm-check")
    expect(page.locator("#llm-feedback")).to_contain_text("The true reward went from")
