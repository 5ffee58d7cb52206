r"""Held-out evaluation of a candidate on the service's own log, and promotion on evidence.

Episodes are split by time: the latest ``test_fraction`` of closed episodes (by their
first decision time) form the test set, untouched by anything the candidate was built
from.  On the test set each policy ``pi`` is scored by trajectory importance sampling
with the logged (true) propensities ``mu``, self-normalised (weighted importance
sampling; Precup, Sutton & Singh 2000), which trades a small bias for far less variance:

.. math:: \hat V(\pi) = \frac{\sum_i w_i G_i}{\sum_i w_i}, \qquad
          w_i = \prod_t \frac{\pi(a_{it}|s_{it})}{\mu_{it}}, \qquad G_i = \sum_t \gamma^t r_{it},

with a 95% percentile-bootstrap interval over episodes (Efron & Tibshirani 1993).
Severe errors are counted apart from the mean: a test episode counts against the
candidate when the candidate could have produced it (non-zero weight) and it holds a
severe outcome (the spec's ``severe`` flag; where the spec flags none, a reward of -100
or worse, the lesson's held-out threshold).  A candidate is deployed only if its lower
bound beats the deployed policy's estimate and its severe-error count is zero;
otherwise nothing changes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from accessrl.errors import DataError
from accessrl.model import MDP, compile_spec
from accessrl.service import store as st
from accessrl.service.policy import model_fingerprint, policy_mapping, serve_policy

SEVERE_REWARD = -100.0
MIN_TEST_EPISODES = 30
BOOTSTRAP = 2000


@dataclass(frozen=True)
class Estimate:
    """An importance-sampling estimate with its 95% bootstrap interval."""

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
        out = [f"held-out test episodes: {self.n_test}"]
        for name, e in ((f"deployed {self.incumbent_id}", self.incumbent), (f"candidate {self.candidate_id}", self.candidate)):
            if e is not None:
                out.append(f"{name}: estimate {e.value:.2f} [{e.low:.2f}, {e.high:.2f}] "
                           f"support {e.support} severe_errors {e.severe_errors}")
        out.append(("promoted: " if self.deployed else "not promoted: ") + "; ".join(self.reasons))
        return out


@dataclass(frozen=True)
class LoggedEpisode:
    """One closed episode from the log."""

    start: str
    states: tuple[str, ...]
    actions: tuple[str, ...]
    propensities: tuple[float, ...]
    rewards: tuple[float, ...]
    severe: bool


def load_episodes(engine: sa.Engine, mdp: MDP) -> list[LoggedEpisode]:
    """Closed episodes of the live log, in time order."""
    d, o = st.decision_snapshots, st.outcome_events
    q = (sa.select(d.c.episode_id, d.c.step_index, d.c.decided_at, d.c.state, d.c.action, d.c.propensity,
                   o.c.reward, o.c.severe, o.c.terminated)
         .join(o, o.c.event_id == d.c.event_id)
         .where(d.c.mode == "live", o.c.kind != "approval_reversed")
         .order_by(d.c.episode_id, d.c.step_index))
    steps: dict[str, list[Any]] = defaultdict(list)
    with engine.connect() as conn:
        for row in conn.execute(q):
            steps[row.episode_id].append(row)
    flagged = mdp.severe is not None and bool(mdp.severe.any())
    episodes = []
    for rows in steps.values():
        if not rows[-1].terminated:
            continue
        rewards = tuple(float(r.reward) for r in rows)
        severe = any(bool(r.severe) for r in rows) if flagged else any(x <= SEVERE_REWARD for x in rewards)
        episodes.append(LoggedEpisode(rows[0].decided_at, tuple(r.state for r in rows), tuple(r.action for r in rows),
                                      tuple(float(r.propensity) for r in rows), rewards, severe))
    episodes.sort(key=lambda e: e.start)
    return episodes


def importance_estimate(episodes: list[LoggedEpisode], mapping: dict[str, dict[str, float]], gamma: float,
                        rng: np.random.Generator) -> Estimate:
    """Trajectory importance sampling of ``mapping`` on ``episodes`` with a bootstrap interval."""
    w = np.empty(len(episodes))
    g = np.empty(len(episodes))
    severe = 0
    for i, e in enumerate(episodes):
        ratio = 1.0
        for s, a, mu in zip(e.states, e.actions, e.propensities, strict=False):
            ratio *= mapping.get(s, {}).get(a, 0.0) / mu
        w[i] = ratio
        g[i] = sum(r * gamma**t for t, r in enumerate(e.rewards))
        severe += int(ratio > 0 and e.severe)
    support = int((w > 0).sum())
    if support == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, severe)
    idx = rng.integers(0, len(episodes), size=(BOOTSTRAP, len(episodes)))
    with np.errstate(invalid="ignore", divide="ignore"):
        boots = (w * g)[idx].sum(axis=1) / w[idx].sum(axis=1)
    boots = boots[np.isfinite(boots)]
    return Estimate(float((w * g).sum() / w.sum()), float(np.quantile(boots, 0.025)),
                    float(np.quantile(boots, 0.975)), support, severe)


def promote(db: str, candidate: str, *, test_fraction: float = 0.3, seed: int = 0) -> Promotion:
    """Evaluate ``candidate`` on the held-out tail of the log; deploy it only on evidence."""
    from accessrl.specfile import load_policy

    if not 0.0 < test_fraction < 1.0:
        from accessrl.errors import ParameterError

        raise ParameterError(f"--test-fraction: expected a number in (0, 1), got {test_fraction!r}")
    engine = st.open_engine(db)
    store = st.Store(engine)
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
        episodes = load_episodes(engine, mdp)
        n_test = int(len(episodes) * test_fraction)
        test = episodes[len(episodes) - n_test:] if n_test else []
        if n_test < MIN_TEST_EPISODES:
            reasons.append(f"only {n_test} held-out episodes; at least {MIN_TEST_EPISODES} are needed")
            return Promotion(False, tuple(reasons), None, None, n_test, cand_id, dep["policy_id"])
        rng = np.random.default_rng(seed)
        inc = importance_estimate(test, json.loads(dep["policy"]), mdp.gamma, rng)
        cand_map = policy_mapping(mdp, cand_probs)
        cand = importance_estimate(test, cand_map, mdp.gamma, rng)
        if cand.support == 0:
            reasons.append("no support: the log holds no test episode the candidate could have produced")
        if cand.severe_errors:
            reasons.append(f"{cand.severe_errors} severe errors on test (must be 0)")
        if not cand.low > inc.value:
            reasons.append(f"lower bound {cand.low:.2f} does not beat the deployed estimate {inc.value:.2f}")
        ok = not reasons
        if ok:
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


__all__ = ["Estimate", "LoggedEpisode", "Promotion", "importance_estimate", "load_episodes", "promote"]
