r"""``accessrl promote`` and ``accessrl rollback``: deploy on held-out evidence, and undo it.

The log is read with :meth:`accessrl.storage.DecisionLog.load_steps`; the held-out
evaluation is :func:`accessrl.offline.heldout.review_candidates`, the same orchestration
``accessrl evaluate-policy --incumbent`` runs: split by time at the 60% / 80% quantiles
of the episodes' first decision times (leakage prevented with the outcome window); the
deployed policy and the candidate both scored on the untouched test period by
:func:`accessrl.offline.evaluate_policy` — weighted importance sampling with the logged
(true) propensities (Precup, Sutton & Singh 2000), with a bootstrap interval — and severe
errors (test episodes the candidate could have produced whose return is -100 or worse,
the lesson's held-out threshold) counted apart from the mean.

The incumbent is scored **as served**: :func:`guarded_mapping` applies the model's
``forbidden`` pairs to the deployed mapping the way the service does
(:func:`accessrl.service.policy.serve_policy`), so a deployment row that stores the
unguarded mapping and one that stores the guarded one give the same incumbent.

The candidate is deployed only if the one evidence review
(:func:`accessrl.offline.evidence.review`) passes: support from the logged propensities, at
least 30 matching test episodes and an effective sample size of 30 for both policies (by
default; :class:`~accessrl.offline.evidence.EvidenceRules`), estimators that agree, no severe
error, and a lower confidence bound above the deployed policy's estimate; otherwise nothing
changes, and the verdict lists every reason.  Every
deployment row this module writes records who made it (``promoted_by``), the evidence
(:meth:`accessrl.offline.heldout.Verdict.evidence`) and the deployment it replaced
(``previous_id``); :func:`rollback` follows ``previous_id`` back one step.

On an imported event log (decisions of mode ``historical``, no deployment recorded) the
incumbent is a policy file (``promote --incumbent``): the model is the one the log holds,
the review is the one ``evaluate-policy --incumbent FILE --prevent-leakage`` gives, and a
promotion writes the incumbent's row and the candidate's in one transaction
(:meth:`~accessrl.storage.writepath.Store.deploy_chain`), so ``rollback`` restores the incumbent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from accessrl.errors import DataError, ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.policies import policy_from_mapping
from accessrl.model.spec import compile_spec, spec_from_mdp
from accessrl.offline.estimation import estimate_model
from accessrl.offline.evidence import SELECTION_ESTIMATOR, Check, Estimate, EvidenceRules, Verdict
from accessrl.offline.heldout import SEVERE_RETURN, heldout_split, review_candidates
from accessrl.offline.monitoring import reference_model
from accessrl.offline.ope import target_matrix
from accessrl.service.policy import model_fingerprint, policy_mapping, serve_policy
from accessrl.specfile import load_policy, read_policy_file
from accessrl.storage.store import DecisionLog
from accessrl.storage.times import now_text, us_to_iso
from accessrl.storage.writepath import Store, open_engine

ESTIMATOR = SELECTION_ESTIMATOR


@dataclass(frozen=True)
class Promotion:
    """The verdict of ``promote`` and, when deployed, the new deployment's id."""

    deployed: bool
    reasons: tuple[str, ...]
    candidate: Estimate | None
    incumbent: Estimate | None
    n_test: int
    candidate_id: str
    incumbent_id: str
    codes: tuple[str, ...] = ()
    deployment_id: int | None = None
    checks: tuple[Check, ...] = ()
    rules: EvidenceRules = EvidenceRules()
    incumbent_label: str = "deployed {} (as served)"

    def lines(self) -> list[str]:
        """What ``accessrl promote`` prints: the estimates, every check, the verdict."""
        out = [f"held-out test episodes: {self.n_test} (estimator: {ESTIMATOR}, 95% bootstrap interval with a "
               "small-sample floor)"]
        for name, e in ((self.incumbent_label.format(self.incumbent_id), self.incumbent),
                        (f"candidate {self.candidate_id}", self.candidate)):
            if e is not None:
                out.append(f"{name}: estimate {e.value:.2f} [{e.low:.2f}, {e.high:.2f}] "
                           f"matching episodes {e.support}, ESS {e.effective_sample_size:.1f}, "
                           f"severe errors {e.severe_errors}")
        out += [f"  {'ok' if c.passed else 'NO' if c.blocking else 'warn'}  {c.message}" for c in self.checks]
        out.append(("promoted: " if self.deployed else "not promoted: ") + "; ".join(self.reasons))
        return out


def guarded_mapping(mdp: MDP, mapping: Any, *, source: str = "deployed policy") -> dict[str, dict[str, float]]:
    """``{state: {action: p}}`` the service plays for a stored policy mapping: forbidden pairs
    removed and the rest renormalised (:func:`~accessrl.service.policy.serve_policy`, no exploration)."""
    served = serve_policy(mdp, policy_from_mapping(mdp, mapping, source=source), "incumbent")
    return {state: {a: p for a, p in zip(d.actions, d.probabilities, strict=True) if p > 0}
            for state, d in served.decisions.items()}


def latest_deployed(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest row with role ``deployed`` (rows oldest first, as :meth:`Store.deployments` gives them)."""
    return next((r for r in reversed(rows) if r["role"] == "deployed"), None)


HISTORY_GAMMA = 0.9  # evaluate-policy's default --gamma: the same verdict on an imported log


def promote(db: str, candidate: str, *, incumbent: str | None = None, seed: int = 0,
            promoted_by: str = "accessrl promote", since: int | None = None, train_end: int | None = None,
            valid_end: int | None = None, n_boot: int = 1000, rules: EvidenceRules = EvidenceRules()) -> Promotion:
    """Evaluate ``candidate`` (a policy file) on the held-out tail of the log against the served
    incumbent; deploy it only on evidence, recording ``promoted_by`` and the evidence.

    By default the whole log is split at its 60% / 80% quantiles; ``since`` (microseconds
    since the epoch) reads only later decisions and ``train_end`` / ``valid_end`` fix the
    cutoffs (a weekly job: train on past weeks, validate on the last but one, test on the last).

    On a log with no deployment (history imported by ``accessrl logs import``), ``incumbent``
    (a policy file, e.g. the behaviour policy ``logs import --behavior-out`` wrote) is the
    baseline: the model is the one the log holds (every pair and outcome, as ``monitor``
    reads history; gamma :data:`HISTORY_GAMMA`), the review is the one ``evaluate-policy
    --incumbent`` gives, and a promotion records two rows: the incumbent as the first
    deployment, then the candidate replacing it (so ``rollback`` restores the incumbent).
    With a deployment recorded, ``incumbent`` must be the deployed policy (the same mapping
    as served), or promote refuses: the evidence must be about what is actually deployed."""
    if seed < 0:
        raise ParameterError(f"seed: expected a non-negative integer, got {seed}")
    rules.check()
    store = Store(open_engine(db))
    try:
        dep = latest_deployed(store.deployments())
        steps = None
        if dep is None:
            if incumbent is None:
                raise DataError(f"database {db!r}: no deployed policy recorded; for an imported (historical) log "
                                "give --incumbent FILE (e.g. the behaviour policy logs import --behavior-out wrote), "
                                "for a service's log run accessrl serve first")
            log = DecisionLog(db)
            try:
                steps = log.load_steps(since=since).steps
            finally:
                log.close()
            if steps.n_steps == 0:
                raise DataError(f"database {db!r}: the log has no complete decisions")
            # every pair and outcome the log holds, as monitor reads history
            mdp = estimate_model(steps, gamma=HISTORY_GAMMA, min_support=0).mdp
            inc_id = Path(incumbent).stem
            # both files scored as evaluate-policy --incumbent scores them (a state a file does not
            # name: no action, so an episode reaching it follows neither)
            inc_file = read_policy_file(incumbent, states=steps.state_names)
            cand_file = read_policy_file(candidate, states=steps.state_names)
            served = inc_file
            label = "incumbent {} (--incumbent; no deployment recorded: the log's history)"
        else:
            mdp = compile_spec(json.loads(dep["model_spec"]), source=f"{db}: deployed model")
            inc_id = dep["policy_id"]
            label = Promotion.incumbent_label
            served = guarded_mapping(mdp, json.loads(dep["policy"]), source=f"deployed policy {inc_id}")
            if incumbent is not None and not same_mapping(
                    guarded_mapping(mdp, policy_mapping(mdp, load_policy(mdp, incumbent)), source=incumbent), served):
                raise ParameterError(f"--incumbent {incumbent}: differs from the policy deployed in {db!r} "
                                     f"({inc_id}, deployment {dep['id']}); promote compares with what is deployed: "
                                     "drop --incumbent (it is for a log with no deployment)")
        cand_id = Path(candidate).stem
        if dep is None:  # recorded (and served) completed: a state the file does not name is played as the incumbent
            inc_full, inc_filled = complete_mapping(mdp, served, {}, source=str(incumbent))
            cand_full, cand_filled = complete_mapping(mdp, cand_file, inc_full, source=candidate)
            cand_probs = policy_from_mapping(mdp, cand_full, source=candidate)
            scored_candidate: dict[str, Any] = cand_file
        else:
            cand_probs = load_policy(mdp, candidate)
            scored_candidate = policy_mapping(mdp, cand_probs)
        forb = mdp.forbidden
        if forb is not None and bool((cand_probs[forb] > 0).any()):
            k = int(np.flatnonzero(forb & (cand_probs > 0))[0])
            why = (f"candidate chooses forbidden action {mdp.action_names[int(mdp.sa_action[k])]!r} "
                   f"in state {mdp.state_names[int(mdp.sa_state[k])]!r}")
            return Promotion(False, (why,), None, None, 0, cand_id, inc_id, ("forbidden_action",),
                             checks=(Check("forbidden_action", False, why),), rules=rules)
        if steps is None:
            log = DecisionLog(db)
            try:
                steps = log.load_steps(since=since, state_names=mdp.state_names,
                                       action_names=mdp.action_names).steps
            finally:
                log.close()
        if steps.n_episodes < 3 * rules.min_held:
            why = (f"only {steps.n_episodes} logged episodes; at least {3 * rules.min_held} are needed "
                   "for a held-out test period")
            return Promotion(False, (why,), None, None, 0, cand_id, inc_id, ("too_few_logged_episodes",),
                             checks=(Check("too_few_logged_episodes", False, why),), rules=rules)
        split = heldout_split(steps, train_end=train_end, valid_end=valid_end, prevent_leakage=True,
                              time_text=us_to_iso)
        names = (split.test.state_names, split.test.action_names)
        review = review_candidates(
            split, (inc_id, target_matrix(*names, served, source=inc_id)),
            [(cand_id, target_matrix(*names, scored_candidate, source=cand_id))],
            gamma=mdp.gamma, rng=np.random.default_rng(seed), severe_threshold=SEVERE_RETURN, n_boot=n_boot,
            rules=rules)
        verdict = review.verdicts[0]
        reasons = list(verdict.reasons)
        new_id = None
        if verdict.promote and verdict.candidate is not None and verdict.incumbent is not None:
            cand, inc = verdict.candidate, verdict.incumbent
            # the model this decision rests on: what the training period says (monitor compares with it)
            basis = spec_from_mdp(reference_model(split.train, mdp))
            row: dict[str, Any] = {
                "policy_id": cand_id, "probs": cand_probs, "mdp": mdp, "promoted_by": promoted_by,
                "evidence": {**verdict.evidence(), "seed": seed, "estimated_model": basis},
                "reason": f"promoted: lower bound {cand.low:.2f} > deployed {inc.value:.2f}; 0 severe errors on "
                          f"{verdict.n_held} test episodes (model {model_fingerprint(mdp)})"}
            if dep is None:  # history: the incumbent is recorded as the deployment replaced (rollback restores it)
                assert incumbent is not None  # checked above
                base = baseline_row(mdp, policy_id=inc_id, mapping=inc_full, file=incumbent,
                                    promoted_by=promoted_by, completed=inc_filled)
                row["evidence"] = {**row["evidence"], "completed_states": cand_filled}
                new_id = store.deploy_chain([base, deployment_row(base, **row)])[-1]
            else:
                new_id = record_deployment(store, dep, **row)
        return Promotion(verdict.promote, tuple(reasons), verdict.candidate, verdict.incumbent, verdict.n_held,
                         cand_id, inc_id, verdict.codes, new_id, verdict.checks, rules, label)
    finally:
        store.close()


def same_mapping(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]], tol: float = 1e-9) -> bool:
    """Whether two ``{state: {action: p}}`` mappings give every state the same distribution."""
    def prob(m: dict[str, dict[str, float]], s: str, x: str) -> float:
        return float(m.get(s, {}).get(x, 0.0))
    return all(abs(prob(a, s, x) - prob(b, s, x)) <= tol
               for s in set(a) | set(b) for x in set(a.get(s, {})) | set(b.get(s, {})))


def complete_mapping(mdp: MDP, mapping: dict[str, Any], fallback: dict[str, Any], *,
                     source: str) -> tuple[dict[str, Any], list[str]]:
    """``mapping`` with every decision state of ``mdp`` it does not name taken from ``fallback``,
    or uniform over the state's actions when neither names it; and the states so filled."""
    out, filled = dict(mapping), []
    for st in mdp.decision_states:
        name = mdp.state_names[int(st)]
        if name in out:
            continue
        lo, hi = int(mdp.sa_ptr[st]), int(mdp.sa_ptr[st + 1])
        out[name] = fallback.get(name) or {mdp.action_names[int(a)]: 1.0 / (hi - lo) for a in mdp.sa_action[lo:hi]}
        filled.append(name)
    policy_from_mapping(mdp, out, source=source)  # refused here, with the file named, if it does not fit
    return out, filled


def baseline_row(mdp: MDP, *, policy_id: str, mapping: dict[str, Any], file: str, promoted_by: str,
                 completed: list[str]) -> dict[str, Any]:
    """The deployment row of an imported (historical) log's incumbent, with the model the log
    holds: the first deployment, the one a promotion on history replaces."""
    probs = policy_from_mapping(mdp, mapping, source=file)
    served = serve_policy(mdp, probs, policy_id)
    return {
        "role": "deployed", "policy_id": policy_id, "policy_version": served.version,
        "policy": json.dumps(policy_mapping(mdp, probs)), "model_spec": json.dumps(spec_from_mdp(mdp)),
        "deployed_at": now_text(), "reason": f"baseline: the incumbent of the historical log ({file}), "
                                             "recorded by a promotion",
        "promoted_by": promoted_by,
        "evidence": json.dumps({"action": "baseline", "source": "historical log", "file": file,
                                "completed_states": completed}),
        "previous_id": None,
    }


def deployment_row(current: dict[str, Any], *, policy_id: str, probs: np.ndarray, mdp: MDP, promoted_by: str,
                   evidence: dict[str, Any], reason: str) -> dict[str, Any]:
    """A ``deployed`` row for ``probs`` replacing ``current`` (same model; ``current["id"]`` may be
    None when both are written together by :meth:`Store.deploy_chain`)."""
    served = serve_policy(mdp, probs, policy_id)
    return {
        "role": "deployed", "policy_id": policy_id, "policy_version": served.version,
        "policy": json.dumps(policy_mapping(mdp, probs)), "model_spec": current["model_spec"],
        "deployed_at": now_text(), "reason": reason, "promoted_by": promoted_by,
        "evidence": json.dumps(evidence), "previous_id": None if current.get("id") is None else int(current["id"]),
    }


def record_deployment(store: Store, current: dict[str, Any], *, policy_id: str, probs: np.ndarray, mdp: MDP,
                      promoted_by: str, evidence: dict[str, Any], reason: str) -> int:
    """Append a ``deployed`` row for ``probs`` replacing ``current`` (same model); returns its id."""
    store.deploy(deployment_row(current, policy_id=policy_id, probs=probs, mdp=mdp, promoted_by=promoted_by,
                                evidence=evidence, reason=reason))
    row = latest_deployed(store.deployments())
    assert row is not None  # just written
    return int(row["id"])


def verdict_json(p: Promotion) -> dict[str, Any]:
    """``promote --json``: the verdict as data."""
    v = Verdict(p.candidate_id, p.incumbent_id, p.deployed, p.reasons, p.codes, p.candidate, p.incumbent, p.n_test,
                checks=p.checks, rules=p.rules)
    return {**v.evidence(), "deployment_id": p.deployment_id}


@dataclass(frozen=True)
class Rollback:
    """What ``rollback`` did: the deployment replaced, the one restored, and the new row's id."""

    replaced_id: int
    replaced_policy: str
    restored_id: int
    restored_policy: str
    deployment_id: int


def rollback(db: str, *, promoted_by: str = "accessrl rollback") -> Rollback:
    """Restore the deployment before the current one: append a ``deployed`` row with its
    policy (a running service picks it up like a promotion).  The deployment restored is
    the current row's ``previous_id``, or for a row without evidence (written by ``serve``,
    or before schema v4) the deployed row before it; rolling back again goes one step
    further back, and past the first deployment is an error."""
    store = Store(open_engine(db))
    try:
        rows = store.deployments()
        deployed = [r for r in rows if r["role"] == "deployed"]
        if not deployed:
            raise DataError(f"database {db!r}: no deployed policy recorded; nothing to roll back")
        current = deployed[-1]
        by_id = {int(r["id"]): r for r in deployed}
        prev_id = current.get("previous_id")
        if prev_id is not None:
            prev = by_id.get(int(prev_id))
        elif current.get("evidence") is None:  # written by serve or before v4: the deployed row before it
            older = [r for r in deployed if int(r["id"]) < int(current["id"])]
            prev = older[-1] if older else None
        else:  # promote and rollback always record what they replace: None means the first deployment
            prev = None
        if prev is None:
            raise DataError(f"database {db!r}: deployment {current['id']} ({current['policy_id']}) has no earlier "
                            "deployment to roll back to")
        prev_evidence = json.loads(prev["evidence"]) if prev.get("evidence") else {}
        basis = prev_evidence.get("estimated_model") if isinstance(prev_evidence, dict) else None
        before = prev.get("previous_id")
        if before is None and prev.get("evidence") is None:
            older = [r for r in deployed if int(r["id"]) < int(prev["id"])]
            before = int(older[-1]["id"]) if older else None
        store.deploy({
            "role": "deployed", "policy_id": prev["policy_id"], "policy_version": prev["policy_version"],
            "policy": prev["policy"], "model_spec": prev["model_spec"], "deployed_at": now_text(),
            "reason": f"rollback: restores deployment {prev['id']} ({prev['policy_id']}), replacing "
                      f"{current['id']} ({current['policy_id']})",
            "promoted_by": promoted_by,
            "evidence": json.dumps({"action": "rollback", "restores": int(prev["id"]), "replaces": int(current["id"]),
                                    **({"estimated_model": basis} if basis is not None else {})}),
            "previous_id": before,
        })
        new = latest_deployed(store.deployments())
        assert new is not None  # just written
        return Rollback(int(current["id"]), str(current["policy_id"]), int(prev["id"]), str(prev["policy_id"]),
                        int(new["id"]))
    finally:
        store.close()


__all__ = ["ESTIMATOR", "HISTORY_GAMMA", "Estimate", "Promotion", "Rollback", "baseline_row", "complete_mapping",
           "deployment_row", "guarded_mapping", "latest_deployed", "promote", "record_deployment", "rollback",
           "same_mapping", "verdict_json"]
