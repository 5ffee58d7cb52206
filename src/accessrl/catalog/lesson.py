"""The lesson's two models (layer 0):

* :func:`access_review` — the deterministic four-state workflow;
* :func:`access_review_abandonment` — the same with abandonment after
  ``request_evidence`` (probability ``p_abandon``, 0.25 in the lesson).

Rewards are the lesson's teaching scores: -120 for an unsupported auto approval,
-4 / +70 for the evidence route, -18 / +80 for the reviewer route, -10 for routing to
review after evidence, -54 when the requester abandons.

>>> access_review_abandonment().gamma
0.9
"""

from __future__ import annotations

from typing import Any

from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.spec import compile_spec

LESSON_GAMMA = 0.9
"""The lesson's discount factor (every catalog model of the lesson uses it)."""


def access_review_spec(gamma: float = LESSON_GAMMA) -> dict[str, Any]:
    """The lesson's deterministic workflow as a spec mapping."""
    return {
        "name": "access-review",
        "gamma": gamma,
        "start": "new_request",
        "terminal": ["closed"],
        "transitions": {
            "new_request": {
                "auto_approve": {"next": "closed", "reward": -120},
                "request_evidence": {"next": "evidence_ready", "reward": -4},
                "human_review": {"next": "review_queue", "reward": -18},
            },
            "evidence_ready": {
                "auto_approve": {"next": "closed", "reward": 70},
                "human_review": {"next": "review_queue", "reward": -10},
            },
            "review_queue": {"approve_rotation": {"next": "closed", "reward": 80}},
        },
    }


def access_review_abandonment_spec(p_abandon: float = 0.25, gamma: float = LESSON_GAMMA) -> dict[str, Any]:
    """The lesson's workflow where a requester asked for evidence abandons with ``p_abandon``."""
    if isinstance(p_abandon, bool) or not isinstance(p_abandon, (int, float)) or not 0.0 <= p_abandon <= 1.0:
        raise ParameterError(f"p_abandon: expected a probability in [0, 1], got {p_abandon!r}")
    spec = access_review_spec(gamma)
    spec["name"] = "access-review-abandonment"
    spec["transitions"]["new_request"]["request_evidence"] = [
        {"next": "evidence_ready", "p": 1.0 - p_abandon, "reward": -4},
        {"next": "closed", "p": p_abandon, "reward": -54, "event": "abandoned"},
    ]
    return spec


def access_review(gamma: float = LESSON_GAMMA) -> MDP:
    """The compiled deterministic lesson workflow."""
    return compile_spec(access_review_spec(gamma), source="catalog:access-review")


def access_review_abandonment(p_abandon: float = 0.25, gamma: float = LESSON_GAMMA) -> MDP:
    """The compiled lesson workflow with abandonment."""
    return compile_spec(
        access_review_abandonment_spec(p_abandon, gamma), source="catalog:access-review-abandonment"
    )


__all__ = [
    "LESSON_GAMMA",
    "access_review",
    "access_review_abandonment",
    "access_review_abandonment_spec",
    "access_review_spec",
]
