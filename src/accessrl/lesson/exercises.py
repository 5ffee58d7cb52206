"""The lesson's three exercises, graded by the library (layer 2).

Each grader takes the learner's answer as text (what a form field or an answer file
holds) and returns a :class:`Grade`: passed or not, and one line per reason saying *why*.
The studio's exercise page and ``accessrl exercise check`` call these same functions.

* exercise 1 — the abandonment probability where human_review overtakes request_evidence,
  checked against :func:`~accessrl.planning.sensitivity.probability_sweep`;
* exercise 2 — weights over the reward components for the ``deny_request`` workflow
  (``catalog:access-review-deny``), checked by :func:`~accessrl.rewards.audit`: no shortcut
  may win for the wrong reason and the policy may not deny legitimate requests;
* exercise 3 — a decision-log schema (two lists of fields), checked against the tables of
  :mod:`accessrl.storage.schema`: the decision-time snapshot must stay apart from the later outcomes.

>>> grade(1, "5/113").passed, grade(1, "0.25").passed
(True, False)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

import yaml

from accessrl.catalog.components import COMPONENTS, OUTCOME_AWARE, SPEED_ONLY, access_review_deny
from accessrl.catalog.lesson import access_review_abandonment
from accessrl.errors import ParameterError
from accessrl.planning.exact import policy_iteration
from accessrl.planning.sensitivity import locate_outcome, probability_sweep, with_probability
from accessrl.rewards.audits import audit
from accessrl.rewards.components import RewardDesign
from accessrl.storage.schema import decision_snapshots, outcome_events

TOLERANCE = 5e-4
"""How close an exercise-1 answer must be to the breakeven (0.044 and 4.42% both pass)."""

PROMPTS = {
    1: "At what abandonment probability p does human_review overtake request_evidence? "
       "(a number, a fraction such as 1/20, or a percentage)",
    2: "Weights for the deny_request workflow's reward components (YAML, component: weight) that discourage "
       "both unsupported approvals and unfair denials.",
    3: "A decision-log schema: the fields of the decision-time snapshot and of the later outcome events "
       "(YAML with two lists, decision_snapshot and outcome_events).",
}
"""What each exercise asks for, in one line."""

STARTERS = {
    1: "0.25",
    2: "user_outcome: 1\nresolved: 100\ndelay_days: -10\n",
    3: "decision_snapshot: [event_id, decided_at, state, action, propensity, review_outcome]\n"
       "outcome_events: [event_id, occurred_at]\n",
}
"""A first (wrong) answer each form starts from, so the learner sees the feedback at once."""


@dataclass(frozen=True)
class Grade:
    """The verdict on one answer: ``passed`` and the reasons, one line each."""

    exercise: int
    passed: bool
    feedback: tuple[str, ...]


def _parse_probability(text: str) -> float:
    t = text.strip().replace(" ", "")
    if not t:
        raise ParameterError("answer: expected a probability such as 0.05, 1/20 or 5%, got nothing")
    try:
        if t.endswith("%"):
            return float(t[:-1]) / 100
        return float(Fraction(t))
    except (ValueError, ZeroDivisionError):
        raise ParameterError(f"answer: expected a probability such as 0.05, 1/20 or 5%, got {text.strip()!r}") from None


@functools.lru_cache(maxsize=1)
def _breakeven() -> float:
    """Where human_review overtakes request_evidence on the lesson's model (computed once: it is fixed)."""
    mdp = access_review_abandonment()
    return float(probability_sweep(mdp, "new_request", "request_evidence", "closed", [0.0, 0.25, 1.0]).breakevens[0].value)


def grade_breakeven(text: str) -> Grade:
    """Exercise 1: the breakeven abandonment probability (5/113 on the lesson's model)."""
    try:
        p = _parse_probability(text)
    except ParameterError as exc:
        return Grade(1, False, (str(exc),))
    mdp = access_review_abandonment()
    breakeven = _breakeven()
    if not 0.0 <= p <= 1.0:
        return Grade(1, False, (f"{p:g} is not a probability: expected a number in [0, 1]",))
    pair, outcome = locate_outcome(mdp, "new_request", "request_evidence", "closed")
    at = with_probability(mdp, pair, outcome, p)
    q = policy_iteration(at).q_values
    s0 = at.state_index("new_request")
    q_re, q_hr = float(q[at.pair_index(s0, "request_evidence")]), float(q[at.pair_index(s0, "human_review")])
    where = f"at p = {p:.4g}, request_evidence is worth {q_re:.2f} and human_review {q_hr:.2f}"
    if abs(p - breakeven) <= TOLERANCE:
        return Grade(1, True, (f"right: {where}; they are equal at p = {breakeven:.6f} = 5/113, and above it "
                               "human_review is better",))
    lines = [f"not the breakeven: {where}, so they are not equal there"]
    if abs(p - 0.25) < 1e-9:
        lines.append("0.25 is the lesson's abandonment rate, where human_review already wins; the breakeven is "
                     "the p at which the two values are equal")
    elif q_re > q_hr:
        lines.append("request_evidence still wins at your p: the crossing is at a larger p")
    else:
        lines.append("human_review already wins at your p: the crossing is at a smaller p")
    lines.append("hint: request_evidence is worth (1 - p)(-4 + 0.9 x 70) + p(-54); set it equal to "
                 "human_review's -18 + 0.9 x 80")
    return Grade(1, False, tuple(lines))


def _weights(text: str) -> dict[str, float]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise ParameterError(f"answer, {line}not valid YAML ({getattr(exc, 'problem', None) or 'parse error'})") from None
    if not isinstance(data, Mapping) or not data:
        raise ParameterError(f"answer: expected a mapping of component: weight, got {data!r}")
    out = {}
    for c, w in data.items():
        if c not in COMPONENTS:
            raise ParameterError(f"answer: unknown component {c!r}; expected some of {sorted(COMPONENTS)}")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w):
            raise ParameterError(f"answer: the weight of {c} must be a number, got {w!r}")
        out[str(c)] = float(w)
    return out


def grade_deny_design(text: str) -> Grade:
    """Exercise 2: a reward design over the components of ``access-review-deny``."""
    try:
        weights = _weights(text)
    except ParameterError as exc:
        return Grade(2, False, (str(exc),))
    mdp = access_review_deny()
    designs = [RewardDesign("yours", weights), RewardDesign("speed_only", dict(SPEED_ONLY)),
               RewardDesign("outcome_aware", dict(OUTCOME_AWARE))]
    yours = audit(mdp, designs).report("yours")
    lines: list[str] = []
    ok = True
    for c, why in (("policy_violation", "an approval that skips the required review"),
                   ("unfair_denial", "denying a legitimate request")):
        if weights.get(c, 0.0) >= 0:
            ok = False
            lines.append(f"{c} has weight {weights.get(c, 0.0):g}: {why} must cost something (a negative weight)")
    unfair = 1000 * float(yours.totals.get("unfair_denial", 0.0))
    if yours.flagged:
        ok = False
        lines.append(f"the audit flags your design: it {yours.reason}")
    if yours.violations_per_1000 > 0:
        ok = False
        lines.append(f"your policy makes {yours.violations_per_1000:g} policy violations per 1,000 requests")
    if unfair > 1e-9:
        ok = False
        lines.append(f"your policy denies {unfair:g} legitimate requests per 1,000: an unfair-denial incentive")
    lines.append(f"your design chooses {yours.start_action} at new_request (Q: "
                 + ", ".join(f"{a} {q:.1f}" for a, q in yours.start_q.items()) + ")")
    if ok:
        lines.insert(0, "right: no shortcut wins for the wrong reason and no legitimate request is denied")
    return Grade(2, ok, tuple(lines))


DECISION_REQUIRED = ("event_id", "decided_at", "state", "action", "propensity")
"""What a decision snapshot needs: a key to join outcomes, when, what was known, what was done, and its
probability (for off-policy evaluation)."""
OUTCOME_REQUIRED = ("event_id", "occurred_at", "evidence_received_at")
LATER_FIELDS = ("evidence_received_at", "review_outcome", "approval_reversed", "reward", "reward_components",
                "next_state", "terminated", "severe", "occurred_at", "kind", "truncated")
"""Fields known only after the decision; in a snapshot they would leak the future into it."""
KINDS = ("review_outcome", "approval_reversed", "abandoned")
"""Outcome kinds a learner may write as fields; they are values of the ``kind`` column."""


def _schema(text: str) -> tuple[list[str], list[str]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ParameterError("answer: not valid YAML; expected decision_snapshot: [...] and outcome_events: [...]") from None
    if not isinstance(data, Mapping) or set(data) != {"decision_snapshot", "outcome_events"}:
        raise ParameterError("answer: expected exactly two keys, decision_snapshot and outcome_events")
    out = []
    for key in ("decision_snapshot", "outcome_events"):
        v = data[key]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise ParameterError(f"answer: {key} must be a list of field names, got {v!r}")
        out.append([x.strip() for x in v])
    return out[0], out[1]


def grade_log_schema(text: str) -> Grade:
    """Exercise 3: decision-time snapshot apart from the later outcomes (the store's own tables)."""
    try:
        decision, outcomes = _schema(text)
    except ParameterError as exc:
        return Grade(3, False, (str(exc),))
    known = {c.name for c in decision_snapshots.c} | {c.name for c in outcome_events.c} | set(KINDS)
    lines: list[str] = []
    unknown = [f for f in decision + outcomes if f not in known]
    if unknown:
        lines.append(f"unknown fields {unknown}; the decision log's columns are {sorted(known - set(KINDS))}")
    leaked = [f for f in decision if f in LATER_FIELDS]
    if leaked:
        lines.append(f"{leaked} are known only after the decision: in the snapshot they leak later outcomes into "
                     "what the router knew when it decided; put them in outcome_events")
    missing = [f for f in DECISION_REQUIRED if f not in decision]
    if missing:
        lines.append(f"the decision snapshot lacks {missing}: it must say when, in which state, what was done and "
                     "with what probability, and carry the key outcomes join on")
    missing = [f for f in OUTCOME_REQUIRED if f not in outcomes]
    if missing:
        lines.append(f"the outcome events lack {missing}: each outcome must join its decision (event_id) and say "
                     "when it happened")
    if not any(f in outcomes for f in ("kind", *KINDS)):
        lines.append("the outcome events never say what happened: add kind (review_outcome, approval_reversed, ...)")
    if lines:
        return Grade(3, False, tuple(lines))
    return Grade(3, True, ("right: the snapshot holds only what was known at decision time, and every later "
                           "outcome is an event joined to it by event_id, as accessrl.storage keeps them",))


GRADERS = {1: grade_breakeven, 2: grade_deny_design, 3: grade_log_schema}


def grade(exercise: int, answer: str) -> Grade:
    """Grade ``answer`` to exercise 1, 2 or 3."""
    if exercise not in GRADERS:
        raise ParameterError(f"exercise: expected 1, 2 or 3, got {exercise!r}")
    if not isinstance(answer, str):
        raise ParameterError(f"answer: expected text, got {type(answer).__name__}")
    return GRADERS[exercise](answer)


__all__ = ["PROMPTS", "STARTERS", "Grade", "grade", "grade_breakeven", "grade_deny_design", "grade_log_schema"]
