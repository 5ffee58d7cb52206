r"""``accessrl promote``: held-out evaluation of a candidate on the service's own log.

The log is read with :meth:`accessrl.storage.DecisionLog.load_steps` and split by time
with :func:`accessrl.offline.temporal_split` at the 60% / 80% quantiles of the
episodes' first decision times (leaky episodes dropped); the deployed policy and the
candidate are both scored on the untouched test period by
:func:`accessrl.offline.evaluate_policy` — weighted importance sampling with the
logged (true) propensities (Precup, Sutton & Singh 2000), with a bootstrap interval —
and severe errors (test episodes the candidate could have produced whose return is
-100 or worse, the lesson's held-out threshold) are counted apart from the mean.

The candidate is deployed only if its lower confidence bound beats the deployed
policy's estimate and its severe-error count on test is zero; otherwise nothing changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from accessrl.errors import DataError, ParameterError
from accessrl.model.spec import compile_spec
from accessrl.service.policy import model_fingerprint, policy_mapping, serve_policy
from accessrl.storage import writepath as st

ESTIMATOR = "wis"
SEVERE_REWARD = -100.0
MIN_TEST_EPISODES = 30


@dataclass(frozen=True)
class Estimate:
    """One policy's held-out estimate, interval, support and severe errors."""

    value: float
    low: float
    high: float
    support: int
    severe_errors: int


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
    from accessrl.offline.ope import default_cutoffs, evaluate_policy, target_matrix, temporal_split
    from accessrl.specfile import load_policy
    from accessrl.storage import DecisionLog

    store = st.Store(st.open_engine(db))
    try:
        rows = store.deployments()
        dep = next((r for r in reversed(rows) if r["role"] == "deployed"), None)
        if dep is None:
            raise DataError(f"--db {db}: no deployed policy recorded; run accessrl serve first")
        mdp = compile_spec(json.loads(dep["model_spec"]), source=f"{db}: deployed model")
        cand_probs = load_policy(mdp, candidate)
        cand_id = Path(candidate).stem
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
            return Promotion(False, tuple(reasons), None, None, 0, cand_id, dep["policy_id"])
        split = temporal_split(steps, default_cutoffs(steps), prevent=True)
        n_test = split.test.n_episodes
        if n_test < MIN_TEST_EPISODES:
            reasons.append(f"only {n_test} held-out episodes; at least {MIN_TEST_EPISODES} are needed")
            return Promotion(False, tuple(reasons), None, None, n_test, cand_id, dep["policy_id"])
        rng = np.random.default_rng(seed)
        estimates: dict[str, Estimate | None] = {}
        cand_map = policy_mapping(mdp, cand_probs)
        for role, name, mapping in (("incumbent", dep["policy_id"], json.loads(dep["policy"])),
                                    ("candidate", cand_id, cand_map)):
            target = target_matrix(split.test.state_names, split.test.action_names, mapping, source=name)
            rep = evaluate_policy(split.test, target, gamma=mdp.gamma, rng=rng, train=split.train, name=name,
                                  severe_threshold=SEVERE_REWARD)
            iv = rep.get(ESTIMATOR)
            if not rep.supported or iv is None:
                estimates[role] = None
                reasons.append(f"{role} {name}: {rep.reason or 'no estimate'}")
            else:
                estimates[role] = Estimate(iv.value, iv.low, iv.high, rep.matching_episodes, rep.severe_observed)
        cand, inc = estimates.get("candidate"), estimates.get("incumbent")
        if cand is not None and cand.severe_errors:
            reasons.append(f"{cand.severe_errors} severe errors on test (must be 0)")
        if cand is not None and inc is not None and not cand.low > inc.value:
            reasons.append(f"lower bound {cand.low:.2f} does not beat the deployed estimate {inc.value:.2f}")
        ok = not reasons
        if ok and cand is not None and inc is not None:
            served = serve_policy(mdp, cand_probs, cand_id)
            store.deploy({
                "role": "deployed", "policy_id": cand_id, "policy_version": served.version,
                "policy": json.dumps(cand_map), "model_spec": dep["model_spec"],
                "deployed_at": datetime.now(UTC).isoformat(timespec="microseconds"),
                "reason": f"promoted: lower bound {cand.low:.2f} > deployed {inc.value:.2f}; 0 severe errors "
                          f"on {n_test} test episodes (model {model_fingerprint(mdp)})",
            })
            reasons.append(f"lower bound {cand.low:.2f} beats deployed {inc.value:.2f}, 0 severe errors")
        return Promotion(ok, tuple(reasons), cand, inc, n_test, cand_id, dep["policy_id"])
    finally:
        store.close()


def check_seed(seed: int) -> None:
    """Seeds must be non-negative (numpy's rule), reported as a usage error."""
    if seed < 0:
        raise ParameterError(f"--seed: expected a non-negative integer, got {seed}")


__all__ = ["ESTIMATOR", "Estimate", "Promotion", "promote"]
