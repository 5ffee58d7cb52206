"""Labs 1-4 print the lesson's lines (from shared/seed/lab_outputs.txt, copied here)."""

import pytest
from typer.testing import CliRunner

from accessrl.cli import app
from lab_lines import assert_lab_prints

# What the lesson prints (its own listings' output), copied from the lesson.
EXPECTED = {
    "returns": [
        "auto_approve   return=-120.0",
        "request_evidence return=  59.0",
        "human_review   return=  54.0",
    ],
    "bellman-backup": [
        "Q(new_request, auto_approve ) = -120.0",
        "Q(new_request, request_evidence) =  59.0",
        "Q(new_request, human_review ) =  54.0",
        "greedy action = request_evidence",
    ],
    "value-iteration": [
        "sweep 1: new= -4.0 evidence= 70.0 review= 80.0",
        "sweep 2: new= 59.0 evidence= 70.0 review= 80.0",
        "sweep 3: new= 59.0 evidence= 70.0 review= 80.0",
        "policy = {'new_request': 'request_evidence', 'evidence_ready': 'auto_approve', 'review_queue': 'approve_rotation'}",
    ],
    "abandonment": [
        "request_evidence expected return=30.75",
        "human_review  expected return=54.00",
        "risk-aware action = human_review",
    ],
}


@pytest.mark.parametrize("lab", list(EXPECTED))
def test_lab_prints_lesson_lines(lab):
    assert_lab_prints(lab, EXPECTED[lab])


def test_lab_lines_exact_padding():
    from accessrl.lesson import run_lab

    for lab, lines in EXPECTED.items():
        assert run_lab(lab) == lines


def test_lesson_runs_every_lab_in_order():
    r = CliRunner().invoke(app, ["lesson"])
    assert r.exit_code == 0, r.output
    headers = [x for x in r.stdout.splitlines() if x.startswith("[") and x.endswith("]")]
    from accessrl.lesson import LAB_ORDER

    assert headers[:4] == ["[returns]", "[bellman-backup]", "[value-iteration]", "[abandonment]"]
    assert [h[1:-1] for h in headers] == [n for n in LAB_ORDER if n in [h[1:-1] for h in headers]]


def test_exercise_breakeven():
    r = CliRunner().invoke(app, ["lesson", "exercises"])
    assert r.exit_code == 0
    assert "0.044248" in r.stdout and "5/113" in r.stdout


def test_labs_follow_the_model(monkeypatch):
    """The labs compute from the catalog: change a reward and the printed numbers move."""
    import accessrl.catalog as catalog
    import accessrl.lesson.planning_labs as labs
    from accessrl.model import compile_spec

    orig = catalog.access_review_spec

    def tweaked(gamma=0.9):
        spec = orig(gamma)
        spec["transitions"]["evidence_ready"]["auto_approve"]["reward"] = 60
        return spec

    monkeypatch.setattr(labs, "access_review", lambda: compile_spec(tweaked()))
    lines = labs.returns_lab()
    # at evidence_ready, review (-10 + 0.9 * 80 = 62) now beats approval (60), so the evidence
    # route becomes [-4, -10, 80]: -4 + 0.9 * -10 + 0.81 * 80 = 51.8
    assert lines[1] == "request_evidence return=  51.8"
