"""Lab 10, held-out evaluation: three routing policies scored on four held-out requests.

The lesson's table gives, for each kind of request, the return of each start action:

* ``required_review`` — a stale request that policy requires to be reviewed: the
  start-state Q-values of the abandonment model (``catalog.access_review_abandonment``),
  rounded to whole numbers as the lesson does: -120, 30.75 -> 31, 54;
* ``clear_evidence`` — a request whose strong evidence is already attached: the
  deterministic model in which approving at the start is the *supported* approval, i.e.
  ``new_request/auto_approve`` takes the outcome of ``evidence_ready/auto_approve``;
  its start-state Q-values are 70, 59, 54.

The held-out period holds two requests of each kind.  We log them as a uniformly
randomised logging policy would (every action tried once per request, propensity 1/3)
and score each candidate with the library's off-policy evaluation: the importance-
sampling mean return and the estimated number of severe errors (return <= -100) among
the four requests.
"""

from __future__ import annotations

import copy

import numpy as np

from accessrl.catalog.lesson import access_review_abandonment, access_review_spec
from accessrl.errors import DataError
from accessrl.model.mdp import MDP
from accessrl.model.spec import compile_spec
from accessrl.offline.ope import evaluate_policy, exhaustive_logs
from accessrl.planning.exact import policy_iteration, q_values

SEVERE = -100.0
HELD_OUT_KINDS = ("required_review", "required_review", "clear_evidence", "clear_evidence")


def clear_evidence_model() -> MDP:
    """The deterministic workflow where approving at the start is the supported approval."""
    spec = copy.deepcopy(access_review_spec())
    t = spec["transitions"]
    t["new_request"]["auto_approve"] = copy.deepcopy(t["evidence_ready"]["auto_approve"])
    spec["name"] = "access-review-clear-evidence"
    return compile_spec(spec, source="lesson:clear-evidence")


def start_returns(mdp: MDP) -> dict[str, float]:
    """Q*(start, a) for each start action, rounded to whole numbers as in the lesson."""
    q = q_values(mdp, policy_iteration(mdp).values)
    s0 = mdp.start if mdp.start is not None else 0
    return {mdp.action_names[int(mdp.sa_action[k])]: float(np.round(q[k]))
            for k in range(int(mdp.sa_ptr[s0]), int(mdp.sa_ptr[s0 + 1]))}


def held_out_lab() -> list[str]:
    """Mean return and severe errors of three candidates on the held-out requests."""
    table = {"required_review": start_returns(access_review_abandonment()),
             "clear_evidence": start_returns(clear_evidence_model())}
    kinds = tuple(dict.fromkeys(HELD_OUT_KINDS))
    actions = tuple(table[kinds[0]])
    logs = exhaustive_logs(
        np.array([kinds.index(k) for k in HELD_OUT_KINDS]),
        np.array([[table[k][a] for a in actions] for k in HELD_OUT_KINDS]),
        context_names=kinds, action_names=actions,
    )
    candidates = {
        "always_auto": {k: "auto_approve" for k in kinds},
        "always_review": {k: "human_review" for k in kinds},
        "risk_aware": {"required_review": "human_review", "clear_evidence": "auto_approve"},
    }
    lines = []
    for name, choice in candidates.items():
        target = np.zeros((len(logs.state_names), len(actions)))
        for k, a in choice.items():
            target[kinds.index(k), actions.index(a)] = 1.0
        report = evaluate_policy(logs, target, gamma=access_review_abandonment().gamma, rng=np.random.default_rng(0),
                                 name=name, severe_threshold=SEVERE, n_boot=200)
        mean = report.get("is")
        if mean is None or report.severe_rate is None:  # every candidate is supported by construction
            raise DataError(f"held-out lab: candidate {name!r} cannot be evaluated on the logs: {report.reason}")
        severe = int(round(report.severe_rate.value * len(HELD_OUT_KINDS)))
        lines.append(f"{name:13} mean={mean.value:5.1f} severe_errors={severe}")
    return lines
