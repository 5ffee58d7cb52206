"""The progress store the studio and ``accessrl lesson quiz`` share."""

from __future__ import annotations

from accessrl.lesson import LAB_ORDER, quiz


def test_visits_exercises_and_quiz_in_one_file(tmp_path):
    quiz.record_lab_visit("returns", tmp_path)
    quiz.record_lab_visit("returns", tmp_path)
    quiz.record_exercise(2, False, tmp_path)
    quiz.record_exercise(2, True, tmp_path)
    quiz.record_exercise(2, False, tmp_path)  # stays passed
    qs = quiz.questions()
    quiz.save_attempt(quiz.Attempt(correct=7, total=len(qs), given=(), misses=(1, 2, 3)), tmp_path)
    prog = quiz.lesson_progress(LAB_ORDER, [1, 2, 3], tmp_path)
    assert prog["labs"]["returns"] == 2 and prog["labs"]["held-out"] == 0
    assert prog["exercises"] == {"1": False, "2": True, "3": False}
    assert prog["quiz"]["attempts"] == 1 and prog["quiz"]["best"] == 7 and prog["complete"] is False
    assert list((tmp_path).glob("*")) == [tmp_path / quiz.PROGRESS_FILE]


def test_environment_variable_sets_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCESSRL_DATA_DIR", str(tmp_path))
    quiz.record_lab_visit("q-learning")
    assert quiz.load_progress()["lesson"]["labs"] == {"q-learning": 1}
