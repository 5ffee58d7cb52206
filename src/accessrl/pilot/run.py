"""The deployment loop as one run: a simulated queue through the real service, week by week.

Each week, requesters (drawn by the hidden :class:`~accessrl.pilot.world.World`) arrive at
the real decision service over HTTP; it decides, explores and logs.  At the end of the
week the team's job runs on the service's database, with the library's own commands:

1. **monitor** — :func:`accessrl.service.monitor.monitor`: live outcomes since the
   current deployment against the model it was based on;
2. on drift, **rollback** (:func:`accessrl.service.promotion.rollback`) when there is an
   earlier deployment; otherwise the next steps re-learn;
3. **estimate and learn** — :func:`accessrl.offline.heldout.learn_from_logs` on the
   recent weeks (train: the weeks before the last two, validation: the last but one);
   every batch method, the chosen candidate only if its evidence passed the review
   (``no_candidate`` otherwise);
4. **shadow** — a new candidate runs in shadow for a week (a ``shadow`` deployment row
   the service picks up), with its agreement with the live policy reported;
5. **promote or not** — a candidate that survived its shadow week goes to
   :func:`accessrl.service.promotion.promote`, tested on the week just finished; a
   candidate equal to the deployed policy after drift is recorded again with the
   re-learned model (a *re-baseline*), so monitoring compares with what is now known.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from accessrl._optional import require
from accessrl._types import FloatArray
from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.policies import policy_from_mapping
from accessrl.model.spec import spec_from_mdp
from accessrl.offline.estimation import wilson_interval
from accessrl.offline.heldout import LEARNERS, heldout_split, learn_from_logs
from accessrl.offline.logsim import outcome_kinds
from accessrl.offline.monitoring import reference_model
from accessrl.pilot.server import ServiceProcess
from accessrl.pilot.world import REVIEW_FIRST, World, draw_outcome, make_world
from accessrl.service.monitor import monitor
from accessrl.service.policy import policy_mapping, serve_policy
from accessrl.service.promotion import guarded_mapping, latest_deployed, promote, record_deployment, rollback
from accessrl.storage.schema import decision_snapshots
from accessrl.storage.store import DecisionLog
from accessrl.storage.times import iso_to_us, now_text
from accessrl.storage.writepath import Store, open_engine

JOB = "pilot weekly job"


@dataclass(frozen=True)
class PilotConfig:
    """The size and the world of a pilot run."""

    weeks: int = 8
    """Simulated weeks (the team's job runs at the end of each)."""
    requests_per_week: int = 1000
    """Requests that arrive in a week (the test period of a promotion is one week: at 1,000 and
    epsilon 0.3 a candidate that asks for evidence first follows about 85 of them, enough for
    the evidence review; at 400, about 34)."""
    drift_week: int | None = None
    """First week with the changed requesters (default: half-way)."""
    p_before: float = 0.05
    """Abandonment probability after evidence is requested, before the drift."""
    p_after: float = 0.5
    """The same after the drift."""
    epsilon: float = 0.3
    """Exploration of the service (over allowed, explorable actions)."""
    train_weeks: int = 2
    """Weeks of training data (before the validation and the test week)."""
    alpha: float = 0.01
    """Family-wise level of the drift test."""
    n_boot: int = 300
    """Bootstrap resamples of every interval."""
    seed: int = 0
    """Seed of the requesters, the service's sampling and the bootstraps."""

    def check(self) -> None:
        if self.weeks < 4:
            raise ParameterError(f"weeks: expected at least 4 (train, validate, test, then act), got {self.weeks}")
        if self.requests_per_week < 30:
            raise ParameterError(f"requests_per_week: expected at least 30, got {self.requests_per_week}")
        if self.drift_week is not None and not 1 <= self.drift_week < self.weeks:
            raise ParameterError(f"drift_week: expected a week in [1, {self.weeks - 1}], got {self.drift_week}")
        if not 0.0 < self.epsilon <= 1.0:
            raise ParameterError(f"epsilon: expected a number in (0, 1], got {self.epsilon}")
        if self.train_weeks < 1 or self.n_boot < 50 or self.seed < 0:
            raise ParameterError("train_weeks >= 1, n_boot >= 50 and seed >= 0 expected, got "
                                 f"{self.train_weeks}, {self.n_boot}, {self.seed}")


@dataclass(frozen=True)
class WeekRow:
    """What happened in one week and what the job did at its end."""

    week: int
    p_abandon_true: float
    p_abandon_est: float
    p_abandon_low: float
    p_abandon_high: float
    deployed: str
    true_value: float
    mean_return: float
    episodes: int
    drift_statistic: float
    drift_p: float
    drift: bool
    candidate: str | None
    candidate_policy: str | None
    shadow_agreement: float | None
    candidate_estimate: tuple[float, float, float] | None
    incumbent_estimate: float | None
    action: str


@dataclass(frozen=True, eq=False)
class PilotResult:
    """Every week's row, the files written and the database used."""

    rows: tuple[WeekRow, ...]
    out_dir: Path
    db: str
    plots: tuple[Path, ...] = field(default=())

    def actions(self) -> tuple[str, ...]:
        """The job's action of each week."""
        return tuple(r.action for r in self.rows)


def _first_choice(mapping: dict[str, Any]) -> str:
    choice = mapping.get("new_request")
    if isinstance(choice, dict):
        return ", ".join(f"{a} {p:.2f}" for a, p in choice.items())
    return str(choice)


def _as_probs(mapping: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {s: ({c: 1.0} if isinstance(c, str) else {a: float(p) for a, p in c.items() if p > 0})
            for s, c in mapping.items()}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The same decisions: the most probable action of every state (ties to the first listed) —
    a SPIBB candidate keeps some of the behavior's probabilities, which differ from week to week."""
    pa, pb = _as_probs(a), _as_probs(b)
    return pa.keys() == pb.keys() and all(max(pa[s], key=pa[s].__getitem__) == max(pb[s], key=pb[s].__getitem__)
                                          for s in pa)


class Driver:
    """Requesters of one week through the HTTP API, outcomes drawn from the true model."""

    def __init__(self, base_url: str, rng: np.random.Generator) -> None:
        httpx = require("httpx", "serve", "accessrl pilot")
        self.http = httpx.Client(base_url=base_url, timeout=30.0)
        self.rng = rng
        self.n = 0

    def close(self) -> None:
        self.http.close()

    def week(self, world: World, week: int, n: int) -> list[float]:
        """Run ``n`` requests; the discounted return of each."""
        mdp = world.model(week)
        codes, names = outcome_kinds(mdp)
        returns = []
        for _ in range(n):
            self.n += 1
            # client-chosen request ids: the log's episode order (and so every bootstrap) is reproducible
            r = self.http.post("/v1/requests", json={"request_id": f"q{self.n:07d}", "requester_id": f"u{self.n:07d}"})
            r.raise_for_status()
            body = r.json()
            rid, g, disc = body["request_id"], 0.0, 1.0
            decision = body["decision"]
            while decision is not None:
                state, action = decision["state"], decision["action"]
                nxt = draw_outcome(mdp, state, action, float(self.rng.random()))
                k = mdp.pair_index(state, action)
                j = next(j for j in range(int(mdp.out_ptr[k]), int(mdp.out_ptr[k + 1]))
                         if mdp.state_names[int(mdp.out_next[j])] == nxt)
                g += disc * float(mdp.out_reward[j])
                disc *= mdp.gamma
                r = self.http.post(f"/v1/requests/{rid}/events", json={"kind": names[int(codes[j])], "next_state": nxt})
                r.raise_for_status()
                decision = r.json()["decision"]
            returns.append(g)
        return returns


def _shadow_agreement(db: str, since: str) -> float | None:
    """The fraction of live decisions since ``since`` on which the shadow policy chose the same action."""
    engine = open_engine(db)
    try:
        with engine.connect() as conn:
            dc = decision_snapshots.c
            rows = conn.execute(sa.select(dc.episode_id, dc.step_index, dc.mode, dc.action)
                                .where(dc.decided_at >= since)).all()
    finally:
        engine.dispose()
    live = {(e, s): a for e, s, m, a in rows if m == "live"}
    shadow = {(e, s): a for e, s, m, a in rows if m == "shadow"}
    both = [k for k in shadow if k in live]
    return None if not both else float(np.mean([shadow[k] == live[k] for k in both]))


def _week_abandonment(db: str, since: str) -> tuple[float, float, float]:
    """The abandonment rate after request_evidence among this week's live decisions, with its Wilson interval."""
    log = DecisionLog(db)
    try:
        steps = log.load_steps(since=since, modes=("live",)).steps
    finally:
        log.close()
    sn, an = steps.state_names, steps.action_names
    if "request_evidence" not in an or "new_request" not in sn:
        return float("nan"), 0.0, 1.0
    rows = (steps.state == sn.index("new_request")) & (steps.action == an.index("request_evidence"))
    n = int(rows.sum())
    k = int(np.sum(rows & (steps.next_state == sn.index("closed")))) if "closed" in sn else 0
    lo, hi = wilson_interval(k, n)
    return (k / n if n else float("nan")), float(lo), float(hi)


def run_pilot(config: PilotConfig, *, db: str, out_dir: Path) -> PilotResult:
    """Run the pilot (module docstring); writes the model, the policies and the service log to ``out_dir``."""
    config.check()
    drift_week = config.weeks // 2 if config.drift_week is None else config.drift_week
    world = make_world(p_before=config.p_before, p_after=config.p_after, drift_week=drift_week)
    mdp = world.before
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / "model.json"
    model_path.write_text(json.dumps(spec_from_mdp(mdp)), encoding="utf-8")
    initial = out_dir / "review_first.yaml"
    initial.write_text("".join(f"{s}: {a}\n" for s, a in REVIEW_FIRST.items()), encoding="utf-8")
    # Separate streams: the service samples with default_rng(seed); requesters sharing that stream
    # would draw their outcome from the very uniform that chose the action.
    requesters, job_rng = (np.random.default_rng(s) for s in np.random.SeedSequence([config.seed, 1]).spawn(2))
    rows: list[WeekRow] = []
    starts: list[str] = []
    shadow: tuple[str, dict[str, Any], Path] | None = None
    with ServiceProcess(policy=initial, model=model_path, db=db, epsilon=config.epsilon, seed=config.seed,
                        log=out_dir / "service.log") as service:
        driver = Driver(service.base_url, requesters)
        try:
            for week in range(config.weeks):
                starts.append(now_text())
                returns = driver.week(world, week, config.requests_per_week)
                row, shadow = _job(config, world, week, db, out_dir, starts, returns, job_rng, shadow)
                rows.append(row)
                time.sleep(0.2)  # the service checks for new deployment rows every 0.05 s
        finally:
            driver.close()
    result = PilotResult(tuple(rows), out_dir, db)
    from accessrl.pilot.plots import pilot_plots

    return PilotResult(result.rows, out_dir, db, pilot_plots(result, out_dir))


Shadow = tuple[str, dict[str, Any], Path]
"""A candidate in shadow: its policy id, its mapping and its policy file."""


def _job(config: PilotConfig, world: World, week: int, db: str, out_dir: Path, starts: list[str],
         returns: list[float], rng: np.random.Generator,
         shadow_during: Shadow | None) -> tuple[WeekRow, Shadow | None]:
    """The team's job at the end of ``week`` (module docstring, steps 1-5); the row and the shadow after it."""
    shadow_next = shadow_during
    mdp = world.before
    store = Store(open_engine(db))
    try:
        dep = latest_deployed(store.deployments())
    finally:
        store.close()
    assert dep is not None  # the service records its deployment at start-up
    deployed_map = guarded_mapping(mdp, json.loads(dep["policy"]))
    deployed_name = str(dep["policy_id"])
    true_value = world.value(week, deployed_map)
    p_est, p_lo, p_hi = _week_abandonment(db, starts[week])
    agreement = _shadow_agreement(db, starts[week]) if shadow_during is not None else None
    rep = monitor(db, alpha=config.alpha)
    drifted = bool(rep.fit.drifted)
    action, cand_name, cand_policy, cand_est, inc_est = "none", None, None, None, None
    evidence = json.loads(dep["evidence"]) if dep.get("evidence") else {}
    # only a promotion changed the policy: a drift after one is answered by undoing it
    can_roll = dep.get("previous_id") is not None and isinstance(evidence, dict) and evidence.get("promote") is True
    if drifted and can_roll:
        rollback(db, promoted_by=f"{JOB} (drift in week {week})")
        action, shadow_next = "rollback", None
    elif week >= 2:
        since = iso_to_us([starts[max(0, week - 1 - config.train_weeks)]])[0]
        train_end, valid_end = (int(x) for x in iso_to_us([starts[week - 1], starts[week]]))
        log = DecisionLog(db)
        try:
            steps = log.load_steps(since=int(since), state_names=mdp.state_names, action_names=mdp.action_names).steps
        finally:
            log.close()
        split = heldout_split(steps, train_end=train_end, valid_end=valid_end, prevent_leakage=True)
        # every batch method (SPIBB alone offers stochastic candidates that differ from week to week)
        learned = learn_from_logs(split, LEARNERS, gamma=mdp.gamma, rng=rng, n_boot=config.n_boot)
        cand_name = learned.selection.chosen
        # states train never decided keep the deployed action
        mapping = {**deployed_map, **learned.mapping(cand_name)} if cand_name is not None else deployed_map
        cand_policy = _first_choice(mapping) if cand_name is not None else None
        if cand_name is None:  # the evidence review trusted no learned candidate: nothing to shadow
            action = "no_candidate"
        elif _same(mapping, deployed_map):
            shadow_next = None
            if drifted:  # same policy, new knowledge: record the re-learned model as the basis
                store = Store(open_engine(db))
                try:
                    recent = steps.select_episodes(steps.decided_at[steps.episode_ptr[:-1]] >= valid_end)
                    basis = spec_from_mdp(reference_model(recent, mdp))  # the week just finished
                    record_deployment(store, dep, policy_id=deployed_name, probs=_probs(mdp, mapping), mdp=mdp,
                                      promoted_by=f"{JOB} (re-learned after drift)",
                                      evidence={"action": "relearn", "estimated_model": basis},
                                      reason="re-learned after drift: same policy, model re-estimated on recent weeks")
                finally:
                    store.close()
                action = "relearned"
            else:
                action = "kept"
        elif shadow_during is not None and _same(mapping, shadow_during[1]):
            res = promote(db, str(shadow_during[2]), seed=config.seed + week, promoted_by=JOB, since=int(since),
                          train_end=train_end, valid_end=valid_end, n_boot=config.n_boot)
            if res.candidate is not None:
                cand_est = (res.candidate.value, res.candidate.low, res.candidate.high)
            inc_est = None if res.incumbent is None else res.incumbent.value
            action = "promoted" if res.deployed else "not_promoted"
            shadow_next = None if res.deployed else shadow_during
        else:
            name = f"week{week:02d}-{cand_name}"
            path = out_dir / f"{name}.yaml"
            path.write_text(json.dumps(mapping, indent=1), encoding="utf-8")  # JSON is YAML: policy files read it
            probs = _probs(mdp, mapping)
            store = Store(open_engine(db))
            try:
                store.deploy({"role": "shadow", "policy_id": name,
                              "policy_version": serve_policy(mdp, probs, name).version,
                              "policy": json.dumps(policy_mapping(mdp, probs)), "model_spec": dep["model_spec"],
                              "deployed_at": now_text(), "reason": f"shadow: candidate learned by {cand_name}",
                              "promoted_by": JOB, "evidence": json.dumps({"action": "shadow", "method": cand_name}),
                              "previous_id": None})
            finally:
                store.close()
            action, shadow_next = "shadowed", (name, mapping, path)
    row = WeekRow(week, world.p_abandon(week), p_est, p_lo, p_hi, deployed_name, true_value,
                  float(np.mean(returns)), len(returns), rep.fit.max_statistic, rep.fit.min_adjusted_p, drifted,
                  cand_name, cand_policy, agreement, cand_est, inc_est, action)
    return row, shadow_next


def _probs(mdp: MDP, mapping: dict[str, Any]) -> FloatArray:
    return policy_from_mapping(mdp, mapping, source="pilot candidate")


__all__ = ["JOB", "PilotConfig", "PilotResult", "WeekRow", "run_pilot"]
