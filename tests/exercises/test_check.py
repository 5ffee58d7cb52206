"""`from accessrl.exercises import check`: the same grader and feedback as the CLI, and progress kept."""

from __future__ import annotations

from accessrl.exercises import check
from accessrl.lesson import quiz
from accessrl.lesson.coding import solution


def test_check_prints_the_report_and_records_a_pass(tmp_path, capsys):
    ns: dict = {}
    exec(solution("value-iteration"), ns)
    report = check("value-iteration", ns["value_iteration"], seed=4, directory=tmp_path)
    assert report.passed
    assert capsys.readouterr().out.startswith("value-iteration: passed")
    assert quiz.load_progress(tmp_path)["lesson"]["exercises"]["value-iteration"] == {"attempts": 1, "passed": True}


def test_check_a_file_gives_the_cli_feedback(tmp_path, capsys):
    f = tmp_path / "vi.py"
    f.write_text(solution("value-iteration").replace("values.copy()", "values"), encoding="utf-8")
    report = check("value-iteration", f, seed=0, directory=tmp_path)
    out = capsys.readouterr().out
    assert not report.passed and report.hint == "aliased"
    assert "sweep 1, state new_request: expected -4, got 59" in out
    assert "hint: every entry of your history holds the last sweep's values" in out
    assert quiz.load_progress(tmp_path)["lesson"]["exercises"]["value-iteration"]["passed"] is False


def test_a_pass_stays_a_pass(tmp_path):
    ns: dict = {}
    exec(solution("discounted-return"), ns)
    check("discounted-return", ns["discounted_return"], directory=tmp_path, quiet=True)
    check("discounted-return", lambda rewards, gamma: 0.0, directory=tmp_path, quiet=True)
    done = quiz.lesson_progress([], ["discounted-return"], tmp_path)["exercises"]
    assert done == {"discounted-return": True}
