"""Checks of the judgement exercises: a reward no shortcut can win, and a time split without leakage.

The reward is audited by the library (:func:`accessrl.rewards.audit`): the learner's function
scores every outcome of the ``deny_request`` workflow and of perturbed variants, and the policy
that is optimal under those scores is measured exactly (violations, unfair denials, shortcuts).
The split is compared with :func:`reference_split`, a readable version of the starter's three rules
for one-decision episodes.  It is simpler than :func:`accessrl.offline.temporal_split` (no outcome
window, no censored prefixes, validation outcomes held to the test cutoff), so the two are not
cross-checked: the exercise asks for the rules the docstring states.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from accessrl.catalog.components import COMPONENTS, OUTCOME_AWARE, SPEED_ONLY, access_review_deny
from accessrl.lesson.coding.base import Case, Finding, show
from accessrl.model.mdp import MDP
from accessrl.rewards.audits import audit
from accessrl.rewards.components import RewardDesign

# 11. reward(components) -> float

REWARD_HINTS = {
    "violation": "your reward lets an approval that skips the required review win: policy_violation must cost more "
                 "than anything a fast close earns (compare the lesson's speed_only score)",
    "unfair": "your reward lets deny_request win on legitimate requests: unfair_denial must cost something too, or "
              "denying everything becomes the shortcut",
    "shortcut": "the audit flags a shortcut: your policy ends requests a way the outcome-aware design would not",
    "not-a-number": "return one number for the outcome's components",
}


def _outcome_components(mdp: MDP) -> list[dict[str, float]]:
    return [{c: float(mdp.components[c][k]) for c in COMPONENTS} for k in range(mdp.n_outcomes)]


def reward_models(rng: np.random.Generator) -> list[tuple[str, MDP]]:
    out = [("the deny_request workflow (catalog:access-review-deny)", access_review_deny())]
    for _ in range(2):
        p0, p1, pa = float(rng.uniform(0.1, 0.6)), float(rng.uniform(0.02, 0.3)), float(rng.uniform(0.05, 0.5))
        out.append((f"the deny_request workflow with p_illegitimate {p0:.2f}, after evidence {p1:.2f}, p_abandon {pa:.2f}",
                    access_review_deny(p_illegitimate=p0, p_illegitimate_after_evidence=p1, p_abandon=pa)))
    return out


def audit_rewards(mdp: MDP, rewards: Sequence[float]) -> Finding | None:
    """Audit the policy that is optimal under ``rewards`` (one per outcome of ``mdp``)."""
    yours = replace(mdp, out_reward=np.asarray(rewards, dtype=np.float64), weights={})
    designs = [RewardDesign("yours", {"reward": 1.0}), RewardDesign("speed_only", dict(SPEED_ONLY)),
               RewardDesign("outcome_aware", dict(OUTCOME_AWARE))]
    rep = audit(yours, designs).report("yours")
    unfair = 1000 * float(rep.totals.get("unfair_denial", 0.0))
    q = ", ".join(f"{a} {show(v)}" for a, v in rep.start_q.items())
    if rep.violations_per_1000 > 0:
        return Finding("policy violations per 1,000 requests", 0, rep.violations_per_1000, hint="violation",
                       note=f"under your reward the start action is {rep.start_action} (Q: {q})")
    if unfair > 1e-9:
        return Finding("legitimate requests denied per 1,000", 0, round(unfair, 3), hint="unfair",
                       note=f"under your reward the start action is {rep.start_action} (Q: {q})")
    if rep.flagged:
        return Finding("the audit", "no flag", rep.reason, hint="shortcut", note=f"start action {rep.start_action} (Q: {q})")
    return None


def reward_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for label, mdp in reward_models(rng):
        items = [[c] for c in _outcome_components(mdp)]

        def judge(res: Mapping[str, Any], mdp: MDP = mdp, items: list[list[dict[str, float]]] = items) -> Finding | None:
            given = res["ok"]
            for item, g in zip(items, given, strict=True):
                if isinstance(g, bool) or not isinstance(g, (int, float)) or not np.isfinite(g):
                    return Finding(f"reward({item[0]})", "a finite number", g, hint="not-a-number")
            return audit_rewards(mdp, given)

        cases.append(Case(label, {"fn": "reward", "driver": "map", "args": [items]}, judge))
    return cases


# 12. time_split(episodes, valid_start, test_start) -> (train, valid, test)

SPLIT_HINTS = {
    "position": "split by decision time (decided_at), not by position in the list: the episodes are not sorted",
    "outcome-time": "assign each episode by when it was DECIDED (decided_at); outcome_at only decides whether it "
                    "was knowable before the cutoff",
    "late-outcomes": "an episode whose outcome arrived at or after its period's end (train: valid_start; validation: "
                     "test_start) was not knowable then: leave it out, or the future leaks back into training",
    "repeat-requesters": "a requester seen in an earlier period (any episode decided before this period began) must not "
                         "appear in a later one: leave their later episodes out",
    "boundary": "an episode decided exactly at a cutoff belongs to the LATER period (train: decided_at < valid_start)",
    "shape": "return three lists of episode ids: (train, valid, test)",
}


def reference_split(episodes: Sequence[Mapping[str, Any]], valid_start: int, test_start: int, *,
                    mistake: str = "") -> tuple[list[str], list[str], list[str]]:
    """The three periods' episode ids by the rules of the starter's docstring (``mistake``: a common wrong version)."""
    key = "outcome_at" if mistake == "outcome-time" else "decided_at"
    rows = list(episodes)
    if mistake == "position":
        n = len(rows)
        parts = [rows[: int(0.6 * n)], rows[int(0.6 * n): int(0.8 * n)], rows[int(0.8 * n):]]
        return tuple([e["id"] for e in p] for p in parts)  # type: ignore[return-value]

    def period(t: int) -> int:
        if mistake == "boundary":
            return 0 if t <= valid_start else 1 if t <= test_start else 2
        return 0 if t < valid_start else 1 if t < test_start else 2

    ends = (valid_start, test_start, None)
    out: list[list[str]] = [[], [], []]
    for e in rows:
        k = period(int(e[key]))
        end = ends[k]
        if end is not None and int(e["outcome_at"]) >= end and mistake != "late-outcomes":
            continue
        begin = (None, valid_start, test_start)[k]
        if begin is not None and mistake != "repeat-requesters" and any(
                o["requester"] == e["requester"] and int(o["decided_at"]) < begin for o in rows):
            continue
        out[k].append(str(e["id"]))
    return out[0], out[1], out[2]


def split_log(rng: np.random.Generator, n: int) -> tuple[list[dict[str, Any]], int, int]:
    """A small decision log: unsorted, repeat requesters, decisions on the cutoffs, outcomes that arrive late."""
    horizon = 100
    valid_start, test_start = 60, 80
    requesters = [f"u{k:02d}" for k in range(max(3, n // 3))]
    eps = []
    for i in range(n):
        t = int(rng.integers(0, horizon))
        eps.append({"id": f"e{i:03d}", "requester": str(rng.choice(requesters)), "decided_at": t,
                    "outcome_at": t + int(rng.choice([0, 1, 2, 3, 5, 8, 13, 21]))})
    # exactly on a cutoff, by requesters never seen before (so only the cutoff decides where they go)
    eps[0].update(decided_at=valid_start, outcome_at=valid_start + 1, requester="new-a")
    eps[1].update(decided_at=test_start, outcome_at=test_start + 2, requester="new-b")
    eps[2]["decided_at"], eps[2]["outcome_at"] = valid_start - 2, valid_start + 5  # decided in train, outcome later
    order = rng.permutation(n)
    return [eps[int(k)] for k in order], valid_start, test_start


def split_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i, n in enumerate((40, 60, 80)):
        eps, c1, c2 = split_log(rng, n)
        expected = reference_split(eps, c1, c2)

        def judge(res: Mapping[str, Any], eps: list[dict[str, Any]] = eps, c1: int = c1, c2: int = c2,
                  expected: tuple[list[str], list[str], list[str]] = expected) -> Finding | None:
            given = res["ok"]
            if not isinstance(given, (list, tuple)) or len(given) != 3 or not all(isinstance(p, (list, tuple)) for p in given):
                return Finding("the return value", "(train, valid, test): three lists of ids", given, hint="shape")
            names = ("train", "valid", "test")
            for k, (g, e) in enumerate(zip(given, expected, strict=True)):
                if sorted(map(str, g)) == sorted(e):
                    continue
                extra = sorted(set(map(str, g)) - set(e))
                missing = sorted(set(e) - set(map(str, g)))
                by_id = {x["id"]: x for x in eps}
                show_id = (extra or missing)[0]
                rec = by_id.get(show_id, {})
                note = (f"{'your' if extra else 'the expected'} {names[k]} has {show_id} (requester {rec.get('requester')}, "
                        f"decided {rec.get('decided_at')}, outcome {rec.get('outcome_at')}); cutoffs valid_start {c1}, "
                        f"test_start {c2}")
                mine = [sorted(map(str, p)) for p in given]
                hint = next((m for m in ("position", "outcome-time", "boundary", "late-outcomes", "repeat-requesters")
                             if [sorted(p) for p in reference_split(eps, c1, c2, mistake=m)] == mine), None)
                return Finding(f"the {names[k]} period", f"{len(e)} episodes", f"{len(g)} episodes"
                               + (f", {len(extra)} that should not be there" if extra else "")
                               + (f", {len(missing)} missing" if missing else ""), hint=hint, note=note)
            return None

        cases.append(Case(f"generated decision log {i + 1} ({n} episodes)", {
            "fn": "time_split", "driver": "call", "args": [[dict(e) for e in eps], c1, c2]}, judge))
    return cases


__all__ = ["REWARD_HINTS", "SPLIT_HINTS", "audit_rewards", "reference_split", "reward_cases", "reward_models", "split_cases",
           "split_log"]
