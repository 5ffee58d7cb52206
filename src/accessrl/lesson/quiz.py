"""The lesson's end-of-chapter quiz: ten questions, pass mark above 75% (layer 2).

Every numeric answer is computed by the library's own code on the catalog models
(the return of ``[-4, 70]`` by :func:`accessrl.model.returns.discounted_return`, backups by
:func:`accessrl.planning.bellman_backup`, the abandonment breakeven by
:func:`accessrl.planning.sensitivity.probability_sweep`), so the quiz cannot drift away from the
library.  Progress is saved as JSON in the user's data directory
(:func:`data_dir`; ``ACCESSRL_DATA_DIR`` overrides it).

The lesson says "score above 75% to mark this lesson complete": with ten questions
that is 8 correct; 7 (70%) is not enough.

>>> qs = questions()
>>> len(qs), passes(8, len(qs)), passes(7, len(qs))
(10, True, False)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from accessrl.catalog.lesson import access_review, access_review_abandonment
from accessrl.errors import DataError, ModelError, ParameterError
from accessrl.model.returns import discounted_return
from accessrl.planning.exact import bellman_backup, policy_iteration, value_iteration
from accessrl.planning.sensitivity import probability_sweep
from accessrl.storage.times import now_text

PASS_FRACTION = 0.75
"""The lesson is complete only when the score is strictly above this fraction."""

LETTERS = "abcd"
DATA_ENV = "ACCESSRL_DATA_DIR"
PROGRESS_FILE = "progress.json"


@dataclass(frozen=True)
class Question:
    """One multiple-choice question; ``answer`` indexes ``choices``."""

    topic: str
    prompt: str
    choices: tuple[str, ...]
    answer: int
    explanation: str

    @property
    def answer_letter(self) -> str:
        """The letter of the correct choice."""
        return LETTERS[self.answer]


@dataclass(frozen=True)
class Attempt:
    """The outcome of one quiz attempt."""

    correct: int
    total: int
    given: tuple[str, ...]
    misses: tuple[int, ...]

    @property
    def fraction(self) -> float:
        """Share of questions answered correctly."""
        return self.correct / self.total

    @property
    def passed(self) -> bool:
        """True when the score is strictly above 75%."""
        return passes(self.correct, self.total)


def passes(correct: int, total: int) -> bool:
    """Strictly above :data:`PASS_FRACTION` (integer arithmetic, no rounding at the boundary)."""
    return correct * 100 > total * round(PASS_FRACTION * 100)


def _choices(correct: str, others: Sequence[str], position: int) -> tuple[tuple[str, ...], int]:
    """Place ``correct`` at ``position`` among distinct distractors."""
    opts = [o for o in others if o != correct]
    if len(set(opts)) != len(opts) or len(opts) != len(LETTERS) - 1:
        raise ModelError(f"quiz: the model gives distractors that are not 3 distinct values other than the answer: {opts}")
    opts.insert(position, correct)
    return tuple(opts), position


def _num(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}"


def questions() -> tuple[Question, ...]:
    """The ten questions, with answers computed from the library on the catalog models."""
    det = access_review()
    risky = access_review_abandonment()
    gamma = det.gamma
    qs: list[Question] = []

    # 1. Returns (Sutton & Barto 2018, eq. 3.8).
    g = discounted_return([-4, 70], gamma)
    ch, ans = _choices(_num(g, 1), [_num(-4 + 70, 1), _num(gamma * (-4 + 70), 1), _num(-4 * gamma + 70 * gamma**2, 1)], 1)
    qs.append(Question(
        "returns",
        f"With gamma = {gamma}, what is the discounted return of the reward sequence [-4, +70]?",
        ch, ans,
        f"G = R1 + gamma R2 = -4 + {gamma} x 70 = {g:.1f}; the first reward is not discounted.",
    ))

    # 2. Bellman backup at the start state.
    v_star = policy_iteration(det).values
    backup = bellman_backup(det, v_star)
    s0 = det.state_index("new_request")
    hr = det.pair_index(s0, "human_review")
    q_hr = float(backup.q_values[hr])
    v_rq = float(v_star[det.state_index("review_queue")])
    ch, ans = _choices(_num(q_hr, 1), [_num(-18 + v_rq, 1), _num(gamma * v_rq, 1), _num(gamma * (-18 + v_rq), 1)], 2)
    qs.append(Question(
        "bellman-backup",
        f"V*(review_queue) = {v_rq:g} and gamma = {gamma}. What is Q(new_request, human_review), "
        "whose immediate reward is -18?",
        ch, ans,
        f"Q(s, a) = r + gamma V*(s') = -18 + {gamma} x {v_rq:g} = {q_hr:.1f}.",
    ))

    # 3. Value iteration: how many sweeps until the start value is right.
    vi = value_iteration(det, record=True)
    target = float(v_star[s0])
    first = next(k for k, v in enumerate(vi.sweeps, start=1) if abs(float(v[s0]) - target) < 1e-9)
    ch, ans = _choices(str(first), [str(k) for k in range(1, 5) if k != first][:3], 0 if first != 2 else 1)
    qs.append(Question(
        "value-iteration",
        "Value iteration starts from V = 0 on the deterministic workflow. After how many sweeps does "
        f"V(new_request) first reach its optimal value {target:g}?",
        ch, ans,
        "Sweep 1 only learns the states next to closed (evidence=70, review=80); sweep 2 propagates them "
        f"back to new_request, so it takes {first} sweeps.",
    ))

    # 4. Abandonment: expected value of requesting evidence.
    rb = bellman_backup(risky, policy_iteration(risky).values)
    re = risky.pair_index(s0, "request_evidence")
    q_re = float(rb.q_values[re])
    ch, ans = _choices(_num(q_re), [_num(discounted_return([-4, 70], gamma)), _num(q_hr), _num(0.75 * -4 + 0.25 * -54)], 3)
    qs.append(Question(
        "abandonment",
        "request_evidence leads to evidence_ready (-4) with probability 0.75 and to closed after abandonment "
        f"(-54) with probability 0.25; V*(evidence_ready) = 70, gamma = {gamma}. What is its expected return?",
        ch, ans,
        f"Weight each outcome's r + gamma V(next): 0.75 x (-4 + 63) + 0.25 x (-54) = {q_re:.2f}, "
        "below human_review's 54.",
    ))

    # 5. Abandonment breakeven (lesson exercise 1).
    sweep = probability_sweep(risky, "new_request", "request_evidence", "closed", [0.0, 0.25, 1.0])
    p_star = sweep.breakevens[0].value
    ch, ans = _choices(f"about {p_star:.3f} (5/113)", ["about 0.250 (1/4)", "about 0.500 (1/2)", "about 0.113 (113/1000)"], 0)
    qs.append(Question(
        "abandonment",
        "As the abandonment probability p grows from 0, at what p does human_review overtake request_evidence?",
        ch, ans,
        f"request_evidence is worth (1 - p)59 + p(-54) = 59 - 113p; human_review is worth 54, so the switch is "
        f"at p = 5/113 = {p_star:.4f}.",
    ))

    # 6. Exploration.
    qs.append(Question(
        "exploration",
        "In the lesson's exploration lab, why does the epsilon = 0 learner select request_evidence forever?",
        (
            "request_evidence is the optimal action",
            "its first estimate became positive while human_review's stayed 0, and a greedy learner never tries "
            "human_review to correct that",
            "the learning rate was too large",
            "epsilon = 0 means actions are chosen uniformly at random",
        ),
        1,
        "Greedy selection only samples the current best estimate; an untried action keeps its initial value. "
        "Exploration (epsilon > 0) gives every action a chance to show its true return.",
    ))

    # 7. Q-learning target at a terminal transition.
    qs.append(Question(
        "q-learning",
        "A Q-learning update observes review_queue --approve_rotation--> closed with reward +80. What is the "
        "target r + gamma max_a' Q(s', a')?",
        (f"80 + {gamma} x Q(review_queue, approve_rotation)", f"{gamma} x 80", "80, because a terminal state has no future value",
         f"80 + {gamma} x 80"),
        2,
        "closed is terminal, so its value is 0 and the target is the reward alone (Watkins & Dayan 1992).",
    ))

    # 8. Reward design.
    speed_only = {"auto_approve": 100, "request_evidence": 45, "human_review": 15}
    shortcut = max(speed_only, key=lambda a: speed_only[a])
    qs.append(Question(
        "reward-design",
        "A reward scores only handling speed (auto_approve 100, request_evidence 45, human_review 15). "
        "What does a reward-maximising policy do, and why is that a problem?",
        (
            "human_review; it is slow",
            f"{shortcut}; it closes required-review requests without support, a severe policy violation",
            "request_evidence; it balances speed and safety",
            "it cannot decide because the rewards are positive",
        ),
        1,
        "RL optimises the reward it is given, not the designer's intent. Rewards should carry outcomes, "
        "violations and rare high-harm failures, audited separately from the mean.",
    ))

    # 9. REINFORCE with a mean baseline.
    returns = np.array([-120.0, q_re, q_hr])
    names = ["auto_approve", "request_evidence", "human_review"]
    adv = returns - returns.mean()
    down = names[int(np.argmin(adv))]
    qs.append(Question(
        "policy-gradient",
        f"REINFORCE with returns {[round(float(r), 2) for r in returns]} for {names} and the batch mean as "
        "baseline. Which statement is right?",
        (
            "the baseline changes the expected gradient",
            "every sampled action's probability goes up because returns are used as weights",
            f"probability moves away from {down} (negative advantage) and toward actions above the mean",
            "the action with the largest return gets all the probability after one step",
        ),
        2,
        "The update weights grad log pi(a) by the advantage G - b; an action-independent baseline lowers "
        "variance without changing the expected gradient (Williams 1992).",
    ))

    # 10. Held-out evaluation.
    qs.append(Question(
        "held-out",
        "How should a candidate routing policy be evaluated before it controls decisions?",
        (
            "by its training reward",
            "on all logged episodes, including those used to tune its thresholds",
            "by the number of requests it closes per hour",
            "on a later, untouched test period whose outcomes did not influence its rules, rewards or thresholds, "
            "counting severe errors separately",
        ),
        3,
        "Training reward is not a deployment guarantee: fit on earlier episodes, tune on separate ones, and "
        "reserve a final untouched period; a high mean does not excuse severe errors.",
    ))
    return tuple(qs)


def parse_answer(text: str, question: Question) -> int | None:
    """The choice index for a letter (a-d), a number (1-4), the exact choice text, or a number
    equal to a numeric choice (``54`` for ``54.00``); None if it names no choice."""
    t = text.strip().lower().rstrip(".)")
    if len(t) == 1 and t in LETTERS[: len(question.choices)]:
        return LETTERS.index(t)
    if t.isdigit() and 1 <= int(t) <= len(question.choices):
        return int(t) - 1
    for i, c in enumerate(question.choices):
        if t == c.lower():
            return i
    value = _number(t)
    if value is not None:
        for i, c in enumerate(question.choices):
            if _number(c) == value:
                return i
    return None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def unclear_answer(text: str, question: Question) -> str | None:
    """Why ``text`` names no choice of ``question`` (the terminal quiz then asks again), or None."""
    if parse_answer(text, question) is not None:
        return None
    n = len(question.choices)
    return (f"{text.strip()!r} is not one of the choices: answer {LETTERS[0]}-{LETTERS[n - 1]}, 1-{n} "
            "or the choice's text")


ANSWERS_LIMIT = 1 << 20
"""Largest answers file read (1 MiB)."""


def partial_attempt(given: Sequence[str], qs: Sequence[Question]) -> Attempt:
    """The attempt so far when a quiz stops early: the answers given, scored; unanswered count as missed."""
    misses = [i for i, (raw, q) in enumerate(zip(given, qs, strict=False), start=1) if parse_answer(raw, q) != q.answer]
    misses += list(range(len(given) + 1, len(qs) + 1))
    return Attempt(correct=len(qs) - len(misses), total=len(qs), given=tuple(given), misses=tuple(misses))


def read_answers(path: str | Path, n: int) -> list[str]:
    """Answers from a file: one per line (blank lines and ``#`` comments skipped), or a JSON list."""
    p = Path(path)
    try:
        if p.is_dir():
            raise ParameterError(f"answers file {p}: is a directory")
        if p.stat().st_size > ANSWERS_LIMIT:
            raise ParameterError(f"answers file {p}: over {ANSWERS_LIMIT} bytes; expected {n} short answers")
        raw = p.read_bytes()
    except OSError as exc:
        raise ParameterError(f"answers file {p}: cannot read it ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ParameterError(f"answers file {p}, line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                             "save it as UTF-8") from None
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParameterError(f"answers file {p}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        except (RecursionError, ValueError):
            raise ParameterError(f"answers file {p}: expected a JSON list of {n} answers") from None
        if not isinstance(data, list) or not all(isinstance(a, (str, int)) and not isinstance(a, bool) for a in data):
            raise ParameterError(f"answers file {p}: expected a JSON list of {n} answers (text or numbers)")
        answers = [a if isinstance(a, str) else str(a) for a in data]
    else:
        answers = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
        answers = [a for a in answers if a]
    if len(answers) != n:
        raise ParameterError(f"answers file {p}: expected {n} answers (one per question), got {len(answers)}")
    return answers


def run_quiz(
    ask: Callable[[int, Question], str],
    say: Callable[[str], None],
    *,
    qs: Sequence[Question] | None = None,
) -> Attempt:
    """Ask each question in turn (``ask`` returns the raw answer), report each miss with its explanation.

    An answer that names no choice counts as wrong (the terminal quiz never passes one on:
    it asks again, see :func:`unclear_answer`; an answers file cannot be asked again).
    """
    quiz = tuple(qs) if qs is not None else questions()
    given: list[str] = []
    misses: list[int] = []
    for i, q in enumerate(quiz, start=1):
        raw = ask(i, q)
        given.append(raw)
        idx = parse_answer(raw, q)
        if idx == q.answer:
            say(f"  correct ({q.answer_letter})")
        else:
            misses.append(i)
            say(f"  not quite: the answer is ({q.answer_letter}) {q.choices[q.answer]}")
            say(f"  why: {q.explanation}")
    correct = len(quiz) - len(misses)
    return Attempt(correct=correct, total=len(quiz), given=tuple(given), misses=tuple(misses))


def shuffled(qs: Sequence[Question], rng: np.random.Generator) -> tuple[tuple[int, Question], ...]:
    """The questions in a new order for one attempt: ``(index in qs, question)`` pairs."""
    return tuple((int(i), qs[int(i)]) for i in rng.permutation(len(qs)))


@dataclass(frozen=True)
class Missed:
    """One missed question, as the review after an attempt shows it."""

    index: int
    """Its index in :func:`questions`."""
    question: Question
    given: str
    """What was answered (raw)."""

    @property
    def lab(self) -> str:
        """The lab that teaches it (its topic is a lab's name)."""
        return self.question.topic


def review(given: Sequence[str], qs: Sequence[Question]) -> tuple[Missed, ...]:
    """The misses of an attempt, answers ``given`` in the order of ``qs``, each with its why and lab."""
    return tuple(Missed(i, q, raw) for i, (raw, q) in enumerate(zip(given, qs, strict=True))
                 if parse_answer(raw, q) != q.answer)


def review_lines(misses: Sequence[Missed]) -> list[str]:
    """The review as the terminal prints it: each miss, the answer, why, and the lab to revisit."""
    if not misses:
        return []
    out = [f"review: {len(misses)} missed"]
    for m in misses:
        q = m.question
        out += [f"  [{q.topic}] {q.prompt}", f"    you answered {m.given!r}; the answer is ({q.answer_letter}) "
                f"{q.choices[q.answer]}", f"    why: {q.explanation}",
                f"    revisit: accessrl lesson {m.lab}  (or the studio's page /lab/{m.lab})"]
    return out


def format_question(i: int, q: Question, total: int) -> list[str]:
    """The lines that show one question and its choices."""
    lines = [f"Question {i}/{total} [{q.topic}]: {q.prompt}"]
    lines.extend(f"  ({LETTERS[k]}) {c}" for k, c in enumerate(q.choices))
    return lines


def summary(attempt: Attempt) -> list[str]:
    """Score lines and the pass/fail verdict."""
    pct = 100 * attempt.fraction
    verdict = (
        "lesson complete" if attempt.passed
        else f"not yet complete: score above {round(PASS_FRACTION * 100)}% to complete the lesson"
    )
    return [f"score: {attempt.correct}/{attempt.total} ({pct:.0f}%) - {verdict}"]


def data_dir() -> Path:
    """Where progress is kept: ``$ACCESSRL_DATA_DIR`` or the platform's user data directory."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("accessrl", appauthor=False))


def load_progress(directory: Path | None = None) -> dict[str, Any]:
    """The saved progress mapping (empty when nothing was saved yet)."""
    path = (directory or data_dir()) / PROGRESS_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise DataError(f"{path}: progress file is unreadable ({exc.__class__.__name__}); delete it to start over") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: progress file should hold a JSON object")
    return data


def save_attempt(attempt: Attempt, directory: Path | None = None) -> Path:
    """Record an attempt; the lesson stays complete once any attempt passed."""
    d = directory or data_dir()
    d.mkdir(parents=True, exist_ok=True)
    data = load_progress(d)
    quiz = data.setdefault("lesson", {}).setdefault("quiz", {})
    quiz["attempts"] = int(quiz.get("attempts", 0)) + 1
    quiz["best"] = max(int(quiz.get("best", 0)), attempt.correct)
    quiz["last"] = {
        "correct": attempt.correct,
        "total": attempt.total,
        "passed": attempt.passed,
        "at": now_text("seconds"),
    }
    data["lesson"]["complete"] = bool(data["lesson"].get("complete", False) or attempt.passed)
    path = d / PROGRESS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def _store(data: dict[str, Any], d: Path) -> Path:
    """Write the progress mapping atomically (a temporary file, then a rename)."""
    d.mkdir(parents=True, exist_ok=True)
    path = d / PROGRESS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def record_lab_visit(lab: str, directory: Path | None = None) -> Path:
    """Count one visit of ``lab`` (the studio records each lab page it shows)."""
    d = directory or data_dir()
    data = load_progress(d)
    labs = data.setdefault("lesson", {}).setdefault("labs", {})
    labs[lab] = int(labs.get(lab, 0)) + 1
    return _store(data, d)


def record_exercise(exercise: int | str, passed: bool, directory: Path | None = None) -> Path:
    """Record an answer to an exercise; an exercise stays passed once any answer passed."""
    d = directory or data_dir()
    data = load_progress(d)
    ex = data.setdefault("lesson", {}).setdefault("exercises", {}).setdefault(str(exercise), {})
    ex["attempts"] = int(ex.get("attempts", 0)) + 1
    ex["passed"] = bool(ex.get("passed", False) or passed)
    return _store(data, d)


def lesson_progress(labs: Sequence[str], exercises: Sequence[int | str], directory: Path | None = None, *,
                    quiz_total: int | None = None) -> dict[str, Any]:
    """The whole lesson's progress: each lab visited or not, each exercise passed or not, and the quiz
    (``quiz_total``: the number of questions, when the caller already has them)."""
    data = load_progress(directory).get("lesson", {})
    visited = data.get("labs", {})
    done = data.get("exercises", {})
    quiz = data.get("quiz", {})
    return {
        "labs": {lab: int(visited.get(lab, 0)) for lab in labs},
        "exercises": {str(n): bool(done.get(str(n), {}).get("passed", False)) for n in exercises},
        "quiz": {"attempts": int(quiz.get("attempts", 0)), "best": int(quiz.get("best", 0)),
                 "last": quiz.get("last"), "total": len(questions()) if quiz_total is None else quiz_total},
        "complete": bool(data.get("complete", False)),
    }


def quiz_sheet() -> list[str]:
    """All questions as text (what ``accessrl lesson quiz`` asks, without the answers)."""
    qs = questions()
    lines: list[str] = []
    for i, q in enumerate(qs, start=1):
        lines.extend(format_question(i, q, len(qs)))
    return lines


__all__ = [
    "Missed",
    "review",
    "review_lines",
    "shuffled",
    "Attempt",
    "PASS_FRACTION",
    "Question",
    "data_dir",
    "format_question",
    "lesson_progress",
    "load_progress",
    "parse_answer",
    "unclear_answer",
    "passes",
    "questions",
    "quiz_sheet",
    "read_answers",
    "record_exercise",
    "record_lab_visit",
    "run_quiz",
    "save_attempt",
    "summary",
]
