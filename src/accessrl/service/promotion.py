r"""``accessrl promote``: held-out evaluation of a candidate on the service's own log.

The log is read with :meth:`accessrl.storage.DecisionLog.load_steps`; the held-out
evaluation is :mod:`accessrl.offline.heldout`'s, the same as ``accessrl evaluate-policy``:
split by time at the 60% / 80% quantiles of the episodes' first decision times (leaky
episodes dropped); the deployed policy and the candidate both scored on the untouched
test period by :func:`accessrl.offline.evaluate_policy` — weighted importance sampling
with the logged (true) propensities (Precup, Sutton & Singh 2000), with a bootstrap
interval — and severe errors (test episodes the candidate could have produced whose
return is -100 or worse, the lesson's held-out threshold) counted apart from the mean.

The candidate is deployed only if its lower confidence bound beats the deployed
policy's estimate and its severe-error count on test is zero
(:func:`accessrl.offline.heldout.promotion_reasons`); otherwise nothing changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accessrl.errors import DataError, ParameterError
from accessrl.model.spec import compile_spec
from accessrl.offline.heldout import SELECTION_ESTIMATOR, SEVERE_RETURN, Estimate, evaluate_heldout, heldout_split
from accessrl.offline.heldout import promotion_reasons as _rule
from accessrl.offline.ope import target_matrix
from accessrl.service.policy import model_fingerprint, policy_mapping, serve_policy
from accessrl.specfile import load_policy
from accessrl.storage.store import DecisionLog
from accessrl.storage.times import now_text, us_to_iso
from accessrl.storage.writepath import Store, open_engine

ESTIMATOR = SELECTION_ESTIMATOR
MIN_TEST_EPISODES = 30


@dataclass(frozen=True)
class Promotion:
    """The verdict of ``promote``."""

    deployed: bool
    reasons: tuple[str, ...]
    candidate: Estimate | None
    incumbent: Estimate | None
    n_test: int
    candidate_id: str
    incumbent_id: str

    def lines(self) -> list[str]:
        """What ``accessrl promote`` prints."""
        out = [f"held-out test episodes: {self.n_test} (estimator: {ESTIMATOR}, 95% bootstrap interval)"]
        for name, e in ((f"deployed {self.incumbent_id}", self.incumbent),
                        (f"candidate {self.candidate_id}", self.candidate)):
            if e is not None:
                out.append(f"{name}: estimate {e.value:.2f} [{e.low:.2f}, {e.high:.2f}] "
                           f"matching episodes {e.support}, severe errors {e.severe_errors}")
        out.append(("promoted: " if self.deployed else "not promoted: ") + "; ".join(self.reasons))
        return out


def promote(db: str, candidate: str, *, seed: int = 0) -> Promotion:
    """Evaluate ``candidate`` (a policy file) on the held-out tail of the log; deploy it only on evidence."""
    if seed < 0:
        raise ParameterError(f"seed: expected a non-negative integer, got {seed}")
    store = Store(open_engine(db))
    try:
        rows = store.deployments()
        dep = next((r for r in reversed(rows) if r["role"] == "deployed"), None)
        if dep is None:
            raise DataError(f"database {db!r}: no deployed policy recorded; run accessrl serve first")
        mdp = compile_spec(json.loads(dep["model_spec"]), source=f"{db}: deployed model")
        cand_probs = load_policy(mdp, candidate)
        cand_id, inc_id = Path(candidate).stem, dep["policy_id"]
        reasons: list[str] = []
        forb = mdp.forbidden
        if forb is not None and bool((cand_probs[forb] > 0).any()):
            k = int(np.flatnonzero(forb & (cand_probs > 0))[0])
            reasons.append(f"candidate chooses forbidden action {mdp.action_names[int(mdp.sa_action[k])]!r} "
                           f"in state {mdp.state_names[int(mdp.sa_state[k])]!r}")
        log = DecisionLog(db)
        try:
            steps = log.load_steps(state_names=mdp.state_names, action_names=mdp.action_names).steps
        finally:
            log.close()
        if steps.n_episodes < 3 * MIN_TEST_EPISODES:
            reasons.append(f"only {steps.n_episodes} logged episodes; at least {3 * MIN_TEST_EPISODES} are needed "
                           "for a held-out test period")
            return Promotion(False, tuple(reasons), None, None, 0, cand_id, inc_id)
        split = heldout_split(steps, prevent_leakage=True, time_text=us_to_iso)
        n_test = split.test.n_episodes
        if n_test < MIN_TEST_EPISODES:
            reasons.append(f"only {n_test} held-out episodes; at least {MIN_TEST_EPISODES} are needed")
            return Promotion(False, tuple(reasons), None, None, n_test, cand_id, inc_id)
        cand_map = policy_mapping(mdp, cand_probs)
        names = (split.test.state_names, split.test.action_names)
        evaluation = evaluate_heldout(
            split, [(inc_id, target_matrix(*names, json.loads(dep["policy"]), source=inc_id)),
                    (cand_id, target_matrix(*names, cand_map, source=cand_id))],
            gamma=mdp.gamma, rng=np.random.default_rng(seed), severe_threshold=SEVERE_RETURN)
        inc, cand = evaluation.estimates(ESTIMATOR)
        for role, est, rep in (("incumbent", inc, evaluation.reports[0]), ("candidate", cand, evaluation.reports[1])):
            if est is None:
                reasons.append(f"{role} {rep.policy}: {rep.reason or 'no estimate'}")
        reasons += _rule(cand, inc)
        ok = not reasons
        if ok and cand is not None and inc is not None:
            served = serve_policy(mdp, cand_probs, cand_id)
            store.deploy({
                "role": "deployed", "policy_id": cand_id, "policy_version": served.version,
                "policy": json.dumps(cand_map), "model_spec": dep["model_spec"],
                "deployed_at": now_text(),
                "reason": f"promoted: lower bound {cand.low:.2f} > deployed {inc.value:.2f}; 0 severe errors "
                          f"on {n_test} test episodes (model {model_fingerprint(mdp)})",
            })
            reasons.append(f"lower bound {cand.low:.2f} beats deployed {inc.value:.2f}, 0 severe errors")
        return Promotion(ok, tuple(reasons), cand, inc, n_test, cand_id, inc_id)
    finally:
        store.close()


__all__ = ["ESTIMATOR", "Estimate", "Promotion", "promote"]
