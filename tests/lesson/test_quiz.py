"""The lesson quiz: answers from library code, the pass mark (above 75%), progress saving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accessrl.cli import app
from accessrl.lesson import quiz

runner = CliRunner()


def _answers(n_correct: int) -> list[str]:
    """The first ``n_correct`` answers right, the rest wrong."""
    out = []
    for i, q in enumerate(quiz.questions()):
        k = q.answer if i < n_correct else (q.answer + 1) % len(q.choices)
        out.append(quiz.LETTERS[k])
    return out


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answers: list[str]):
    monkeypatch.setenv("ACCESSRL_DATA_DIR", str(tmp_path / "data"))
    f = tmp_path / "answers.txt"
    f.write_text("# my answers\n" + "\n".join(answers) + "\n")
    return runner.invoke(app, ["lesson", "quiz", "--answers", str(f)])


def test_ten_questions_on_the_lesson_topics() -> None:
    qs = quiz.questions()
    assert len(qs) == 10
    assert {q.topic for q in qs} >= {
        "returns", "bellman-backup", "abandonment", "exploration", "reward-design", "policy-gradient", "held-out"
    }
    for q in qs:
        assert len(q.choices) == 4 and len(set(q.choices)) == 4 and 0 <= q.answer < 4 and q.explanation


def test_numeric_answers_match_the_lesson() -> None:
    qs = quiz.questions()
    # lesson.txt: request_evidence return = 59.0; Q(new_request, human_review) = 54.0;
    # value iteration sweep 2 gives new=59.0; abandonment expected return = 30.75; breakeven 5/113.
    assert qs[0].choices[qs[0].answer] == "59.0"
    assert qs[1].choices[qs[1].answer] == "54.0"
    assert qs[2].choices[qs[2].answer] == "2"
    assert qs[3].choices[qs[3].answer] == "30.75"
    assert qs[4].choices[qs[4].answer].startswith(f"about {5 / 113:.3f}")


def test_pass_mark_is_strictly_above_75_percent() -> None:
    assert quiz.passes(8, 10) and not quiz.passes(7, 10)
    assert not quiz.passes(3, 4)  # exactly 75% is not above it
    assert quiz.passes(10, 10) and not quiz.passes(0, 10)


def test_eight_correct_completes_the_lesson(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    res = _run(tmp_path, monkeypatch, _answers(8))
    assert res.exit_code == 0, res.output
    assert "score: 8/10 (80%) - lesson complete" in res.output
    assert res.output.count("why:") == 2
    data = json.loads((tmp_path / "data" / "progress.json").read_text())
    assert data["lesson"]["complete"] is True
    assert data["lesson"]["quiz"]["last"]["correct"] == 8


def test_seven_correct_is_not_enough(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    res = _run(tmp_path, monkeypatch, _answers(7))
    assert res.exit_code == 0, res.output
    assert "score: 7/10 (70%) - not yet complete" in res.output
    assert res.output.count("why:") == 3 * 2  # at each miss, then again in the review after the fail
    assert "review: 3 missed" in res.output
    data = json.loads((tmp_path / "data" / "progress.json").read_text())
    assert data["lesson"]["complete"] is False
    assert data["lesson"]["quiz"]["attempts"] == 1


def test_a_pass_is_kept_after_a_later_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run(tmp_path, monkeypatch, _answers(10))
    _run(tmp_path, monkeypatch, _answers(2))
    data = json.loads((tmp_path / "data" / "progress.json").read_text())
    assert data["lesson"]["complete"] is True
    assert data["lesson"]["quiz"]["attempts"] == 2 and data["lesson"]["quiz"]["best"] == 10


def test_interactive_prompts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESSRL_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(quiz, "shuffled", lambda qs, rng: tuple(enumerate(qs)))  # the answers' order
    res = runner.invoke(app, ["lesson", "quiz"], input="\n".join(_answers(10)) + "\n")
    assert res.exit_code == 0, res.output
    assert res.output.count("answer (a-d)") == 10
    assert "score: 10/10" in res.output


def test_answers_by_number_or_text() -> None:
    q = quiz.questions()[0]
    assert quiz.parse_answer(str(q.answer + 1), q) == q.answer
    assert quiz.parse_answer(q.choices[q.answer].upper(), q) == q.answer
    assert quiz.parse_answer("zebra", q) is None


def test_wrong_number_of_answers_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    res = _run(tmp_path, monkeypatch, ["a", "b"])
    assert res.exit_code == 2
    assert "expected 10 answers" in res.output
    assert not (tmp_path / "data" / "progress.json").exists()


def test_missing_answers_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESSRL_DATA_DIR", str(tmp_path))
    res = runner.invoke(app, ["lesson", "quiz", "--answers", str(tmp_path / "nope.txt")])
    assert res.exit_code == 2 and "cannot read" in res.output


def test_terminal_quiz_asks_again_on_an_answer_that_names_no_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESSRL_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(quiz, "shuffled", lambda qs, rng: tuple(enumerate(qs)))  # question 1 first
    right = _answers(10)
    # "e" is no letter of a-d, "54" is neither 1-4 nor a choice's text of question 1: both asked again
    res = runner.invoke(app, ["lesson", "quiz"], input="\n".join(["e", "54", *right]) + "\n")
    assert res.exit_code == 0, res.output
    assert res.output.count("is not one of the choices") == 2
    assert res.output.count("answer (a-d)") == 12
    assert "score: 10/10" in res.output


def test_a_number_equal_to_a_numeric_choice_names_it() -> None:
    q = quiz.Question("n", "How much?", ("54.00", "30.75", "59.00", "0.00"), 0, "because")
    assert quiz.parse_answer("54", q) == 0 and quiz.parse_answer("30.750", q) == 1
    assert quiz.parse_answer("2", q) == 1  # 1-4 stay choice numbers
    assert quiz.parse_answer("55", q) is None
    assert quiz.unclear_answer("55", q) == "'55' is not one of the choices: answer a-d, 1-4 or the choice's text"
    assert quiz.unclear_answer("a", q) is None


def test_every_topic_is_a_lab_and_the_two_tags_are_right() -> None:
    """A topic names the lab that teaches it (the review links there): the sweep-count question is
    value iteration's (lesson.txt, lab 3), the terminal Q-learning target is Q-learning's (lab 6)."""
    from accessrl.lesson import LAB_ORDER

    qs = quiz.questions()
    assert all(q.topic in LAB_ORDER for q in qs)
    sweeps = next(q for q in qs if "how many sweeps" in q.prompt)
    target = next(q for q in qs if "Q-learning update observes" in q.prompt)
    assert sweeps.topic == "value-iteration" and target.topic == "q-learning"


def test_each_attempt_gets_a_new_order() -> None:
    import numpy as np

    qs = quiz.questions()
    orders = {tuple(i for i, _ in quiz.shuffled(qs, np.random.default_rng(seed))) for seed in range(5)}
    assert len(orders) > 1
    assert all(sorted(o) == list(range(len(qs))) for o in orders)
    assert all(q is qs[i] for i, q in quiz.shuffled(qs, np.random.default_rng(0)))


def test_the_review_lists_each_miss_with_why_and_its_lab() -> None:
    qs = quiz.questions()
    given = [q.answer_letter if k % 2 else ("a" if q.answer_letter != "a" else "b") for k, q in enumerate(qs)]
    misses = quiz.review(given, qs)
    assert [m.index for m in misses] == list(range(0, len(qs), 2))
    lines = quiz.review_lines(misses)
    assert lines[0] == f"review: {len(misses)} missed"
    for m in misses:
        assert f"    why: {m.question.explanation}" in lines
        assert any(line.startswith(f"    revisit: accessrl lesson {m.question.topic}") for line in lines)
    assert quiz.review([q.answer_letter for q in qs], qs) == ()


def test_the_terminal_quiz_prints_the_review_after_a_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    qs = quiz.questions()
    res = _run(tmp_path, monkeypatch, ["a" if q.answer_letter != "a" else "b" for q in qs])
    assert res.exit_code == 0, res.output
    assert f"review: {len(qs)} missed" in res.output and "revisit: accessrl lesson value-iteration" in res.output


def test_the_terminal_quiz_asks_in_a_new_order_each_attempt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESSRL_DATA_DIR", str(tmp_path))
    firsts = set()
    for _ in range(6):
        res = runner.invoke(app, ["lesson", "quiz"], input="a\n" * 10)
        assert res.exit_code == 0, res.output
        firsts.add(next(line for line in res.output.splitlines() if line.startswith("Question 1/10")))
    assert len(firsts) > 1  # 6 attempts starting with the same question: chance 1e-5
