"""The pilot's hidden world: the queue's true model, before and after requesters change.

The queue is the lesson's abandonment workflow with a costlier human review (-30 instead
of -18), so that while requesters rarely abandon (p = 0.05 after evidence is requested)
asking for evidence first is the better policy (53.35 against 42.00 for reviewing first,
exact policy evaluation), and once they abandon often (p = 0.5 from the drift week on)
it is far worse (2.50).  Only the team's logs reveal this: the service's model is the
world before the drift, and nobody tells the team when it changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from accessrl.catalog.lesson import access_review_abandonment_spec
from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.policies import policy_from_mapping
from accessrl.model.spec import compile_spec
from accessrl.offline.logsim import with_abandonment
from accessrl.planning.exact import policy_evaluation

REVIEW_FIRST = {"new_request": "human_review", "evidence_ready": "auto_approve", "review_queue": "approve_rotation"}
EVIDENCE_FIRST = {"new_request": "request_evidence", "evidence_ready": "auto_approve",
                  "review_queue": "approve_rotation"}


def queue_spec(p_abandon: float) -> dict[str, Any]:
    """The pilot queue's spec at abandonment probability ``p_abandon`` (module docstring)."""
    spec = access_review_abandonment_spec(p_abandon=p_abandon)
    spec["name"] = "pilot-queue"
    spec["transitions"]["new_request"]["human_review"]["reward"] = -30
    return spec


@dataclass(frozen=True, eq=False)
class World:
    """The true model of each week: ``before`` until ``drift_week``, ``after`` from then on."""

    before: MDP
    after: MDP
    drift_week: int

    def model(self, week: int) -> MDP:
        """The true model in force during ``week``."""
        return self.after if week >= self.drift_week else self.before

    def p_abandon(self, week: int) -> float:
        """The true abandonment probability after evidence is requested, in ``week``."""
        m = self.model(week)
        k = m.pair_index("new_request", "request_evidence")
        return float(sum(p for nxt, p, _ in m.outcomes(k) if m.state_names[nxt] == "closed"))

    def value(self, week: int, mapping: Any) -> float:
        """The true value from the start state of a policy mapping in ``week`` (exact evaluation)."""
        m = self.model(week)
        return float(policy_evaluation(m, policy_from_mapping(m, mapping)).values[m.start])


def make_world(*, p_before: float, p_after: float, drift_week: int) -> World:
    """The pilot's world (module docstring) with the given abandonment probabilities."""
    if not 0.0 < p_before < 1.0 or not 0.0 < p_after < 1.0:
        raise ParameterError(f"abandonment: expected probabilities in (0, 1), got {p_before!r} and {p_after!r}")
    before = compile_spec(queue_spec(p_before), source="pilot world")
    return World(before, with_abandonment(before, p_after), drift_week)


def draw_outcome(mdp: MDP, state: str, action: str, u: float) -> str:
    """The next state of (state, action) drawn by the uniform number ``u``."""
    outs = mdp.outcomes(mdp.pair_index(state, action))
    cum = np.cumsum([p for _, p, _ in outs])
    k = min(int(np.searchsorted(cum, u, side="right")), len(outs) - 1)
    return mdp.state_names[outs[k][0]]


__all__ = ["EVIDENCE_FIRST", "REVIEW_FIRST", "World", "draw_outcome", "make_world", "queue_spec"]
