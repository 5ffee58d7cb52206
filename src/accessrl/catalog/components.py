"""The access-review workflow with named reward components, and the deny_request exercise (layer 0).

Every outcome carries the same seven *components* (:data:`COMPONENTS` says what each
measures).  A *reward design* weighs them into one scalar reward
(:mod:`accessrl.rewards`).  Two designs are documented here:

* :data:`OUTCOME_AWARE` — the lesson's teaching scores.  Applied to
  :func:`access_review_components` it gives exactly the lesson's rewards
  (-120, -4, -54, -18, +70, -10, +80), so its Q* at ``new_request`` is the lesson's
  (-120, 30.75, 54).
* :data:`SPEED_ONLY` — a service-level score that sees only closure and waiting:
  +100 per closed request, -10 per day the requester waited.  Its Q* at
  ``new_request`` is (100, 45, 15), the lesson's ``speed_only`` scores.

The component values are the model's facts (days waited, reviewer minutes, …); they
were chosen, like the lesson's teaching scores, so that both designs reproduce the
lesson's numbers.  Nothing else is fitted: the lab computes both tables by solving
each design.

The components model (one row per outcome; p is the probability)::

    state           action            next            p     user  viol  abuse  unfair  days  minutes  resolved
    new_request     auto_approve      closed          1      90    1    0.3     0      0      0        1
    new_request     request_evidence  evidence_ready  0.75    0    0    0       0      2      0        0
    new_request     request_evidence  closed          0.25  -48    0    0       0      3      0        0
    new_request     human_review      review_queue    1       0    0    0       0      3     30        0
    evidence_ready  auto_approve      closed          1      90    0    0.1     0      0      0        1
    evidence_ready  human_review      review_queue    1       0    0    0       0      2     15        0
    review_queue    approve_rotation  closed          1      90    0    0       0      5      0        1

:func:`access_review_deny` adds ``deny_request`` at ``new_request`` and
``evidence_ready`` and splits each decision the router takes on its own (approve or
deny) into a *legitimate* and an *illegitimate* outcome: a share ``p_illegitimate``
(0.3 before evidence, matching ``abuse_risk`` 0.3 above; 0.1 after it) of requests
should not get access.  An approval of an illegitimate request is severe
(``abuse_risk`` 1); a denial of a legitimate one is severe (``unfair_denial`` 1).  As
in the lesson, a reviewer's decision is taken to be correct (``approve_rotation``).

>>> from accessrl.rewards import reweight
>>> mdp = access_review_components()
>>> mdp.out_reward.tolist()
[-120.0, -4.0, -54.0, -18.0, 70.0, -10.0, 80.0]
>>> reweight(mdp, SPEED_ONLY).out_reward.tolist()
[100.0, -20.0, -30.0, -30.0, 100.0, -20.0, 50.0]
"""

from __future__ import annotations

from typing import Any

from accessrl.catalog.lesson import LESSON_GAMMA
from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.spec import compile_spec

"""The lesson's discount factor."""

COMPONENTS: dict[str, str] = {
    "user_outcome": "value of what the requester receives: +90 access granted, -48 request abandoned, 0 denied or pending",
    "policy_violation": "1 when a decision skips the review or strong evidence that policy P-7 requires",
    "abuse_risk": "probability that the access granted goes to a request that should be refused",
    "unfair_denial": "1 when a legitimate request is denied",
    "delay_days": "days the requester waits during this step",
    "reviewer_minutes": "minutes of human reviewer time this step uses",
    "resolved": "1 when the step closes the request with a decision (approval or denial)",
}
"""Every reward component of the access-review catalog models and what it measures."""

OUTCOME_AWARE: dict[str, float] = {
    "user_outcome": 1.0,
    "policy_violation": -150.0,
    "abuse_risk": -200.0,
    "unfair_denial": -150.0,
    "delay_days": -2.0,
    "reviewer_minutes": -0.4,
    "resolved": 0.0,
}
"""The documented weights: the lesson's teaching scores in components.

An unsupported approval: 90 - 150 - 200 * 0.3 = -120; an approval after evidence:
90 - 200 * 0.1 = +70; routing to review: -2 * 3 - 0.4 * 30 = -18; a denial of a
legitimate request costs as much as a policy violation (-150)."""

SPEED_ONLY: dict[str, float] = {"resolved": 100.0, "delay_days": -10.0}
"""A flawed service-level score: +100 per closed request, -10 per day waited."""


def _row(user: float = 0, viol: float = 0, abuse: float = 0, unfair: float = 0,
         days: float = 0, minutes: float = 0, resolved: float = 0) -> dict[str, float]:
    values = (user, viol, abuse, unfair, days, minutes, resolved)
    return dict(zip(COMPONENTS, values, strict=True))


def _check_p(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ParameterError(f"{name}: expected a probability in [0, 1], got {value!r}")
    return float(value)


def access_review_components_spec(p_abandon: float = 0.25, gamma: float = LESSON_GAMMA) -> dict[str, Any]:
    """The lesson's abandonment workflow with components instead of rewards (see the module table)."""
    p = _check_p(p_abandon, "p_abandon")
    return {
        "name": "access-review-components",
        "gamma": gamma,
        "start": "new_request",
        "terminal": ["closed"],
        "weights": dict(OUTCOME_AWARE),
        "components_doc": dict(COMPONENTS),
        "transitions": {
            "new_request": {
                "auto_approve": {"next": "closed", "components": _row(90, 1, 0.3, resolved=1), "severe": True},
                "request_evidence": [
                    {"next": "evidence_ready", "p": 1.0 - p, "components": _row(days=2)},
                    {"next": "closed", "p": p, "components": _row(-48, days=3), "event": "abandoned"},
                ],
                "human_review": {"next": "review_queue", "components": _row(days=3, minutes=30)},
            },
            "evidence_ready": {
                "auto_approve": {"next": "closed", "components": _row(90, abuse=0.1, resolved=1)},
                "human_review": {"next": "review_queue", "components": _row(days=2, minutes=15)},
            },
            "review_queue": {
                "approve_rotation": {"next": "closed", "components": _row(90, days=5, resolved=1)},
            },
        },
    }


def _decide(p_bad: float, approve: bool, violation: float) -> list[dict[str, Any]]:
    """A router decision split into its legitimate (1 - p_bad) and illegitimate (p_bad) outcomes."""
    if approve:
        good = {"next": "closed", "p": 1.0 - p_bad, "components": _row(90, violation, resolved=1), "event": "approved"}
        bad = {"next": "closed", "p": p_bad, "components": _row(90, violation, abuse=1, resolved=1),
               "severe": True, "event": "illegitimate_access"}
    else:
        good = {"next": "closed", "p": 1.0 - p_bad, "components": _row(unfair=1, resolved=1),
                "severe": True, "event": "unfair_denial"}
        bad = {"next": "closed", "p": p_bad, "components": _row(resolved=1), "event": "denied_illegitimate"}
    return [good, bad]


def access_review_deny_spec(
    p_illegitimate: float = 0.3,
    p_illegitimate_after_evidence: float = 0.1,
    p_abandon: float = 0.25,
    gamma: float = LESSON_GAMMA,
) -> dict[str, Any]:
    """The components workflow plus ``deny_request``, with legitimate and illegitimate outcomes."""
    p0 = _check_p(p_illegitimate, "p_illegitimate")
    p1 = _check_p(p_illegitimate_after_evidence, "p_illegitimate_after_evidence")
    spec = access_review_components_spec(p_abandon, gamma)
    spec["name"] = "access-review-deny"
    t = spec["transitions"]
    t["new_request"]["auto_approve"] = _decide(p0, approve=True, violation=1)
    t["new_request"]["deny_request"] = _decide(p0, approve=False, violation=0)
    t["evidence_ready"]["auto_approve"] = _decide(p1, approve=True, violation=0)
    t["evidence_ready"]["deny_request"] = _decide(p1, approve=False, violation=0)
    return spec


def access_review_components(p_abandon: float = 0.25, gamma: float = LESSON_GAMMA) -> MDP:
    """The compiled components workflow (rewards from :data:`OUTCOME_AWARE`)."""
    return compile_spec(access_review_components_spec(p_abandon, gamma), source="catalog:access-review-components")


def access_review_deny(
    p_illegitimate: float = 0.3,
    p_illegitimate_after_evidence: float = 0.1,
    p_abandon: float = 0.25,
    gamma: float = LESSON_GAMMA,
) -> MDP:
    """The compiled deny_request exercise model (rewards from :data:`OUTCOME_AWARE`)."""
    spec = access_review_deny_spec(p_illegitimate, p_illegitimate_after_evidence, p_abandon, gamma)
    return compile_spec(spec, source="catalog:access-review-deny")


__all__ = [
    "COMPONENTS",
    "OUTCOME_AWARE",
    "SPEED_ONLY",
    "access_review_components",
    "access_review_components_spec",
    "access_review_deny",
    "access_review_deny_spec",
]
