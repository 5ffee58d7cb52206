"""Watch mode: the page's engine (static/watch.js, run in Chromium) equals the library's code.

The same sweeps from V = 0 are run by the page and by :func:`accessrl.planning.bellman_backup`;
policy evaluation and improvement against :func:`accessrl.planning.policy_evaluation` and
:func:`accessrl.planning.greedy_policy`; and the same episodes of Q-learning, SARSA and expected
SARSA are played by the page and by :class:`accessrl.learning.reference.ReferenceEngine` fed the
same random draws (the page's seeded generator's first draws, passed to the library through a
stand-in for ``numpy.random.Generator`` that returns them in order).  Known answer: the lesson's
value-iteration sweeps (lesson.txt, lab 3: new=-4.0 then 59.0; evidence 70.0; review 80.0).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from accessrl.catalog import load
from accessrl.learning.config import prepare
from accessrl.learning.reference import ReferenceEngine
from accessrl.model.policies import pair_probabilities
from accessrl.planning import bellman_backup, greedy_policy, policy_evaluation
from accessrl.studio.watch import GENERATED, model_by_name, payload

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture then skips (tests/studio/conftest.py)
    expect = None


class Draws:
    """A stand-in for numpy's Generator that hands out given uniforms: ``random()`` the next one,
    ``integers(lo, hi)`` lo + floor(u (hi - lo)) of the next one (the page's rule)."""

    def __init__(self, values: list[float]) -> None:
        self.values, self.i = list(values), 0

    def random(self) -> float:
        u = self.values[self.i]
        self.i += 1
        return u

    def integers(self, lo: int, hi: int) -> int:
        return lo + math.floor(self.random() * (hi - lo))


MODELS = {
    "access-review-abandonment": lambda: load("access-review-abandonment"),
    "access-review-deny": lambda: load("access-review-deny"),
    "generated": lambda: load("access-review-workflow", **GENERATED),
}


def js_model(page: Any, data: dict[str, Any]) -> None:
    page.evaluate("(d) => { window.__m = d; }", data)


@pytest.fixture
def watch(page: Any) -> Any:
    page.goto("/watch")
    page.wait_for_selector("body[data-watch-ready='1']", state="attached")
    return page


def choose(page: Any, name: str) -> None:
    """Load a model by the page's menu and wait until it is drawn."""
    page.select_option("#w-model", name)
    page.wait_for_function(f"document.body.dataset.watchReady === '1' && window.AccessrlWatch.Watch.base.name === {name!r}")


@pytest.mark.parametrize("name", list(MODELS))
def test_the_pages_sweeps_equal_the_librarys(watch: Any, name: str) -> None:
    mdp = MODELS[name]()
    js_model(watch, payload(mdp, name))
    got = watch.evaluate("""() => { const W = window.AccessrlWatch, m = window.__m;
        let V = new Float64Array(m.state_names.length); const out = [];
        for (let k = 0; k < 6; k++) {
          const r = W.Engine.sweep(m, V, m.gamma);
          V = r.values;
          out.push({v: Array.from(V), p: Array.from(r.policy)});
        }
        return out; }""")
    v = np.zeros(mdp.n_states)
    for k in range(6):
        b = bellman_backup(mdp, v)
        v = np.where(np.isfinite(b.values), b.values, 0.0)
        np.testing.assert_allclose(got[k]["v"], v, rtol=1e-12, atol=1e-9, err_msg=f"sweep {k + 1}")
        pairs = [int(p) for p in got[k]["p"]]
        actions = [int(mdp.sa_action[p]) if p >= 0 else -1 for p in pairs]
        assert actions == [int(a) for a in b.policy], f"sweep {k + 1}: greedy actions"


def test_the_lessons_sweeps_on_the_page(watch: Any) -> None:
    """lesson.txt, value iteration: sweep 1 new=-4.0 evidence=70.0 review=80.0; sweep 2 new=59.0."""
    js_model(watch, payload(load("access-review"), "access-review"))
    got = watch.evaluate("""() => { const W = window.AccessrlWatch, m = window.__m;
        const r1 = W.Engine.sweep(m, new Float64Array(4), m.gamma), r2 = W.Engine.sweep(m, r1.values, m.gamma);
        return [Array.from(r1.values), Array.from(r2.values)]; }""")
    assert [round(x, 1) for x in got[0][:3]] == [-4.0, 70.0, 80.0]
    assert [round(x, 1) for x in got[1][:3]] == [59.0, 70.0, 80.0]


@pytest.mark.parametrize("name", list(MODELS))
def test_policy_evaluation_and_improvement_equal_the_librarys(watch: Any, name: str) -> None:
    mdp = MODELS[name]()
    js_model(watch, payload(mdp, name))
    got = watch.evaluate("""() => { const W = window.AccessrlWatch, m = window.__m;
        const pi0 = W.Engine.firstPolicy(m), ev = W.Engine.evaluate(m, pi0, m.gamma, 1e-12, 100000);
        const pi1 = W.Engine.improve(m, ev.values, m.gamma);
        return {pi0: Array.from(pi0), v: Array.from(ev.values), pi1: Array.from(pi1)}; }""")
    policy = np.array([int(mdp.sa_action[p]) if p >= 0 else -1 for p in got["pi0"]])
    exact = policy_evaluation(mdp, pair_probabilities(mdp, policy)).values
    np.testing.assert_allclose(got["v"], exact, rtol=1e-8, atol=1e-7)
    improved = [int(mdp.sa_action[p]) if p >= 0 else -1 for p in got["pi1"]]
    assert improved == [int(a) for a in greedy_policy(mdp, np.asarray(got["v"]))]


def library_episodes(mdp: Any, algorithm: str, draws: list[float], episodes: int, *, epsilon: float,
                     step_size: Any, omega: float = 0.6) -> tuple[np.ndarray, np.ndarray, int]:
    """``episodes`` episodes of the library's reference engine on ``draws``: (Q, visits, draws used);
    for double Q, both tables and both visit counts stacked."""
    prep = prepare(mdp, episodes=episodes, algorithm=algorithm, epsilon=epsilon, step_size=step_size, omega=omega,
                   max_steps=10_000, start=None, never_explore=None, safe=True, initial_q=0.0)
    rng = Draws(draws)
    eng = ReferenceEngine(mdp, prep, rng)  # type: ignore[arg-type]
    eng.run(0, episodes, np.zeros(episodes), np.zeros(episodes, dtype=np.int64))
    if algorithm == "double-q":
        return np.array([*eng.q, *eng.q2]), np.array([*eng.visits, *eng.visits2]), rng.i
    return np.array(eng.q), np.array(eng.visits), rng.i


CASES = [
    ("access-review-abandonment", "q-learning", 0.15, {"kind": "visits", "omega": 0.6}, "visits"),
    ("access-review-abandonment", "sarsa", 0.3, {"kind": "1/n"}, "1/n"),
    ("access-review-abandonment", "expected-sarsa", 0.3, {"kind": "constant", "alpha": 0.1}, 0.1),
    ("access-review-deny", "q-learning", 0.5, {"kind": "visits", "omega": 0.8}, "visits"),
    ("generated", "q-learning", 0.3, {"kind": "visits", "omega": 0.6}, "visits"),
    ("generated", "sarsa", 0.3, {"kind": "constant", "alpha": 0.2}, 0.2),
    ("access-review-abandonment", "double-q", 0.3, {"kind": "visits", "omega": 0.6}, "visits"),
    ("generated", "double-q", 0.3, {"kind": "1/n"}, "1/n"),
]


@pytest.mark.parametrize(("name", "algorithm", "epsilon", "step", "lib_step"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_played_episodes_equal_the_librarys_with_the_same_draws(watch: Any, name: str, algorithm: str,
                                                                 epsilon: float, step: dict[str, Any],
                                                                 lib_step: Any) -> None:
    mdp = MODELS[name]()
    js_model(watch, payload(mdp, name))
    episodes = 40 if name != "generated" else 8
    draws = watch.evaluate("(n) => { const r = window.AccessrlWatch.prng(2026); return Array.from({length: n}, r); }",
                           200_000)
    got = watch.evaluate("""([alg, eps, step, episodes, draws]) => {
        const W = window.AccessrlWatch, m = window.__m, rand = W.listDraws(draws);
        const L = new W.Learner(m, {algorithm: alg, epsilon: eps, step}, rand);
        const steps = [];
        while (L.episodes < episodes) steps.push(L.step());
        const dbl = alg === "double-q";
        return {q: dbl ? [...L.q, ...L.q2] : Array.from(L.q), visits: dbl ? [...L.visits, ...L.visits2] : Array.from(L.visits),
                steps: L.steps, first: steps.slice(0, 20)}; }""",
                         [algorithm, epsilon, step, episodes, draws])
    q, visits, used = library_episodes(mdp, algorithm, draws, episodes, epsilon=epsilon, step_size=lib_step,
                                       omega=step.get("omega", 0.6))
    assert got["visits"] == visits.tolist()
    # The same arithmetic in the same order; Math.pow and C's pow may differ in the last bit.
    np.testing.assert_allclose(got["q"], q, rtol=1e-12, atol=1e-12)
    assert got["steps"] == int(visits.sum())
    assert used > 0


def test_twenty_played_steps_show_the_librarys_numbers(watch: Any) -> None:
    """The learner's path: play 20 Q-learning steps on the lesson's workflow with the page's
    buttons, then replay the same draws in the library: every shown update is the library's."""
    choose(watch, "access-review-abandonment")
    watch.fill("#w-seed", "7")
    watch.dispatch_event("#w-seed", "change")
    for _ in range(20):
        watch.locator("#w-step-btn").click()
    text = watch.locator("#w-update").inner_text()
    assert "target = " in text and "Q(" in text and "α = n^-ω" in text
    state = watch.evaluate("""() => { const W = window.AccessrlWatch.Watch;
        return {q: Array.from(W.learner.q), episodes: W.learner.episodes, steps: W.learner.steps,
                inEpisode: W.learner.state >= 0 && !W.m.ends[W.learner.state], last: W.lastStep}; }""")
    assert state["steps"] == 20
    draws = watch.evaluate("(n) => { const r = window.AccessrlWatch.prng(7); return Array.from({length: n}, r); }", 1000)
    mdp = load("access-review-abandonment")
    if state["inEpisode"]:  # finish the page's episode to compare whole episodes with the library
        state = watch.evaluate("""() => { const W = window.AccessrlWatch.Watch; W.learner.finishEpisode();
            return {q: Array.from(W.learner.q), episodes: W.learner.episodes, last: W.lastStep}; }""")
    q, _, _ = library_episodes(mdp, "q-learning", draws, state["episodes"], epsilon=0.15, step_size="visits")
    np.testing.assert_allclose(state["q"], q, rtol=1e-12, atol=1e-12)
    last = state["last"]
    assert f"{last['qNew']:.2f}" in text  # the number shown is the update's


def test_a_sweep_shows_the_terms_of_the_max_and_the_winner(watch: Any) -> None:
    choose(watch, "access-review-abandonment")
    watch.locator("#w-sweep").click()
    watch.locator("#w-sweep").click()
    arith = watch.locator("#w-arith")
    # lesson.txt, abandonment: request_evidence 0.75(-4 + 0.9 70) + 0.25(-54) = 30.75; human_review 54
    expect(arith).to_contain_text("0.750·(-4.0 + 0.90·70.00) + 0.250·(-54.0 + 0.90·0.00)")
    expect(arith.locator("tr.winner")).to_contain_text("human_review")
    expect(arith).to_contain_text("V(new_request) = max = 54.00")
    expect(arith).to_contain_text("30.75")


def test_the_abandonment_control_flips_the_winner(watch: Any) -> None:
    choose(watch, "access-review-abandonment")
    watch.locator("#w-abandon").fill("0.04")
    for _ in range(2):
        watch.locator("#w-sweep").click()
    expect(watch.locator("#w-arith tr.winner")).to_contain_text("request_evidence")  # below 5/113
    watch.locator("#w-abandon").fill("0.05")
    for _ in range(2):
        watch.locator("#w-sweep").click()
    expect(watch.locator("#w-arith tr.winner")).to_contain_text("human_review")


def test_the_editors_workflow_can_be_watched(watch: Any) -> None:
    from accessrl.studio.editor import spec_text

    text = spec_text("access-review-deny")
    watch.evaluate("(t) => sessionStorage.setItem('accessrl-watch-text', t)", text)
    watch.goto("/watch?from=editor")
    watch.wait_for_function("document.body.dataset.watchReady === '1' && window.AccessrlWatch.Watch.base.name === 'editor'")
    assert watch.locator("#w-model").input_value() == "editor"
    assert "deny_request" in watch.locator("#w-table").inner_text() + watch.locator("#w-diagram").inner_text()


def test_the_model_endpoints_answer_in_process() -> None:
    from fastapi.testclient import TestClient

    from accessrl.studio.app import create_app

    with TestClient(create_app(), base_url="http://127.0.0.1") as client:
        r = client.get("/api/watch/model/generated")
        assert r.status_code == 200 and len(r.json()["state_names"]) == 388 and r.json()["layout"] is None
        r = client.get("/api/watch/model/nope")
        assert r.status_code == 404 and "expected one of" in r.json()["error"]
        r = client.post("/api/watch/model", json={"text": "gamma: 2\n"})
        assert r.status_code == 422 and r.json()["error"].startswith("accessrl: error: ")
        assert client.get("/watch").status_code == 200
    assert model_by_name("access-review")["layout"] is not None


@pytest.mark.parametrize("algorithm", ["sarsa", "expected-sarsa", "double-q"])
def test_each_algorithms_update_is_shown(watch: Any, algorithm: str) -> None:
    watch.select_option("#w-algorithm", algorithm)
    for _ in range(4):
        watch.locator("#w-step-btn").click()
    text = watch.locator("#w-update").inner_text()
    assert "target = " in text and "←" in text
    assert {"sarsa": "Q(", "expected-sarsa": "target = r", "double-q": "coin = "}[algorithm] in text
    assert watch.evaluate("window.AccessrlWatch.Watch.learner.opts.algorithm") == algorithm
