"""``accessrl tour``: the whole story on the built-in workflow, written up as an HTML report.

Define the model, solve it, add abandonment and watch the policy flip, simulate,
learn it with Q-learning, audit the rewards, improve a policy by gradient, generate
logs in the embedded SQLite store, estimate the workflow back from them, and evaluate
candidates on held-out data.  Each step calls the library's public functions; a step
that fails raises (the report is not written), so a bug never passes for a skipped
step.  Seeds become generators here, one per step, so every step is reproducible on
its own.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from accessrl.catalog.components import OUTCOME_AWARE, SPEED_ONLY, access_review_components
from accessrl.catalog.lesson import access_review, access_review_abandonment
from accessrl.errors import ParameterError
from accessrl.learning.policy_gradient import reinforce, tabular_policy
from accessrl.lesson.trajectory import q_learning_trajectory
from accessrl.model.mdp import MDP
from accessrl.model.policies import pair_probabilities, policy_from_mapping, policy_names
from accessrl.offline.estimation import estimate_model
from accessrl.offline.logsim import simulate_logs
from accessrl.offline.ope import target_matrix
from accessrl.planning.exact import policy_evaluation, policy_iteration, q_values, value_iteration
from accessrl.planning.sensitivity import locate_outcome, probability_sweep, with_probability
from accessrl.report.diagram import plot_workflow
from accessrl.report.html import Section, write_html
from accessrl.report.plots import (
    plot_bars,
    plot_convergence,
    plot_curves,
    plot_flip,
    plot_histograms,
    plot_intervals,
    plot_sweeps,
)
from accessrl.rewards.audits import audit
from accessrl.rewards.components import RewardDesign
from accessrl.simulation import simulate
from accessrl.storage import DecisionLog
from accessrl.storage.generated import write_generated
from accessrl.storage.times import to_us, us_to_iso

Progress = Callable[[int, int, str], None]
"""``progress(done, total, title)``: called before each step and once at the end."""

@dataclass(frozen=True)
class Budget:
    """How much work each sampling step does (``quick`` for tests and a first look)."""

    simulate_episodes: int = 10_000
    q_episodes: int = 20_000
    pg_iterations: int = 200
    log_requests: int = 4_000
    sweep_points: int = 41

    @classmethod
    def quick(cls) -> Budget:
        return cls(simulate_episodes=1_000, q_episodes=2_000, pg_iterations=30, log_requests=600, sweep_points=11)


@dataclass
class Context:
    """What the steps share."""

    out: Path
    budget: Budget
    seed: int | None
    """``None``: each step's own seed (the lesson's where the lesson fixes one)."""
    data: dict[str, Any] = field(default_factory=dict)
    commands: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """The commands that reproduce each step, filled in by the step."""

    def seed_of(self, step: str) -> int:
        return STEP_SEEDS[step] if self.seed is None else self.seed

    def rng(self, step: str) -> np.random.Generator:
        return np.random.default_rng(self.seed_of(step))

    def seed_note(self, step: str) -> str:
        """Says which seed ran and, where the lesson fixes another, that its numbers differ."""
        seed = self.seed_of(step)
        lesson = LESSON_SEEDS.get(step)
        if lesson is None:
            return f"seed {seed}"
        if seed == lesson and self.budget == Budget():
            return f"seed {seed}, as in the lesson"
        why = [] if seed == lesson else [f"seed {seed}"]
        if self.budget != Budget():
            why.append("the --quick budget")
        return f"seed {seed}; the lesson's run (seed {lesson}, full budget) differs because of {' and '.join(why)}"


STEP_SEEDS: dict[str, int] = {"simulate": 7, "learn": 13, "gradient": 7, "logs": 8, "evaluate": 10}
"""The seed of each sampling step when ``--seed`` is not given."""
LESSON_SEEDS: dict[str, int] = {"simulate": 7, "learn": 13}
"""The lesson's own seeds (Monte Carlo lab: 7; Q-learning lab: 13): the tour uses them by default."""


@dataclass(frozen=True)
class StepOutput:
    lines: tuple[str, ...]
    figure: str | None = None
    note: str = ""
    table: tuple[tuple[str, ...], ...] = ()
    """Rows of a small table; the first row is the header."""
    figures: tuple[str, ...] = ()
    """Further figures after ``figure``."""
    reproduced: tuple[str, ...] = ()
    """Numbers the section shows (as printed) that its reproducing commands print too."""


@dataclass(frozen=True)
class TourResult:
    """The report's path and every step's section."""

    index: Path
    sections: tuple[Section, ...]
    seconds: float


def value_policy_table(mdp: MDP, values: Any, policy: Any, q: Any) -> tuple[tuple[str, ...], ...]:
    """One row per state: V, the chosen action and every Q (terminal states: V = 0, no action)."""
    rows: list[tuple[str, ...]] = [("state", "V", "policy", "Q(s, a)")]
    for s, name in enumerate(mdp.state_names):
        pairs = range(int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1]))
        qs = ", ".join(f"{mdp.action_names[int(mdp.sa_action[k])]} {q[k]:.2f}" for k in pairs)
        rows.append((name, f"{values[s]:.2f}", mdp.action_names[int(policy[s])] if policy[s] >= 0 else "(terminal)", qs))
    return tuple(rows)


def write_policy_file(path: Path, mapping: dict[str, str]) -> None:
    """A policy file (``state: action``), as ``--policy`` and ``--behavior`` read it."""
    path.write_text(yaml.safe_dump(dict(mapping), sort_keys=False), encoding="utf-8")


def step_define(ctx: Context) -> StepOutput:
    det, risky = access_review(), access_review_abandonment()
    ctx.data["det"], ctx.data["risky"] = det, risky
    lines = [f"model {det.name}: {det.n_states} states, {det.n_pairs} state-actions, gamma {det.gamma}"]
    for s in det.decision_states:
        for k in range(int(det.sa_ptr[s]), int(det.sa_ptr[s + 1])):
            for nxt, p, r in det.outcomes(k):
                lines.append(f"  {det.state_names[s]:15} {det.action_names[int(det.sa_action[k])]:17} -> "
                             f"{det.state_names[nxt]:15} p={p:<5g} reward={r:+g}")
    best = policy_iteration(det)
    shown = [f"{best.values[s]:.0f}" for s in det.decision_states]
    lines.append("optimal values: " + ", ".join(f"V*({det.state_names[s]}) = {v}"
                                                for s, v in zip(det.decision_states, shown, strict=True)))
    ctx.commands["define"] = ("accessrl solve catalog:access-review",)
    fig = plot_workflow(det, best.values, best.policy, ctx.out, "workflow.svg",
                        title="access-review: V* on each state, the optimal action in red")
    return StepOutput(tuple(lines), fig, "The lesson's deterministic access-review workflow (accessrl.catalog): "
                                         "states as boxes, each arrow an action outcome with its probability and reward.",
                      reproduced=tuple(shown))


def step_solve(ctx: Context) -> StepOutput:
    det = ctx.data["det"]
    vi = value_iteration(det, record=True)
    pi = policy_iteration(det)
    shown = [int(s) for s in det.decision_states]
    lines = [f"sweep {k}: " + " ".join(f"{det.state_names[s]}={v[s]:.1f}" for s in shown)
             for k, v in enumerate(vi.sweeps, start=1)]
    lines.append("policy: " + ", ".join(f"{s} -> {a}" for s, a in policy_names(det, vi.policy).items()))
    lines.append(f"policy iteration agrees: {bool(np.array_equal(vi.policy, pi.policy))}; "
                 f"max |V_vi - V_pi| = {float(np.max(np.abs(vi.values - pi.values))):.2g}")
    ctx.commands["solve"] = ("accessrl lesson value-iteration",)
    fig = plot_sweeps([v[shown] for v in vi.sweeps], [det.state_names[s] for s in shown], ctx.out, "solve.svg")
    return StepOutput(tuple(lines), fig, "Value iteration applies the Bellman backup to every state until "
                                         "values stop changing; policy iteration gives the same answer.",
                      table=value_policy_table(det, vi.values, vi.policy, vi.q_values),
                      reproduced=tuple(f"{v[s]:.1f}" for v in vi.sweeps for s in shown))


def step_abandonment(ctx: Context) -> StepOutput:
    risky = ctx.data["risky"]
    n = ctx.budget.sweep_points
    grid = np.linspace(0.0, 0.3, n)
    sweep = probability_sweep(risky, "new_request", "request_evidence", "closed", grid)
    pair, outcome = locate_outcome(risky, "new_request", "request_evidence", "closed")
    s0 = risky.state_index("new_request")
    curves: dict[str, list[float]] = {a: [] for a in ("request_evidence", "human_review")}
    for pt in sweep.points:
        q = q_values(with_probability(risky, pair, outcome, pt.value), pt.values)
        for a in curves:
            curves[a].append(float(q[risky.pair_index(s0, a)]))
    lines, shown = [], []
    for b in sweep.breakevens:
        lines.append(f"at {risky.state_names[b.state]}, {risky.action_names[b.to_action]} overtakes "
                     f"{risky.action_names[b.from_action]} when p(abandon) > {b.value:.6f} (5/113 = {5 / 113:.6f})")
        shown.append(f"{b.value:.6f}")
    res = policy_iteration(risky)
    q = q_values(risky, res.values)
    qe, qh = q[risky.pair_index(s0, "request_evidence")], q[risky.pair_index(s0, "human_review")]
    lines.append(f"at p = 0.25: request_evidence {qe:.2f}, human_review {qh:.2f} -> "
                 f"{risky.action_names[int(res.policy[s0])]}")
    shown += [f"{qe:.2f}", f"{qh:.2f}"]
    ctx.data["risky_policy"] = res.policy
    ctx.commands["abandonment"] = (
        "accessrl sweep catalog:access-review-abandonment --vary new_request.request_evidence.closed "
        f"--from 0 --to 0.3 --steps {n}",
        "accessrl lesson abandonment")
    brk = sweep.breakevens[0].value if sweep.breakevens else None
    fig = plot_flip(grid, curves, brk, ctx.out, "abandonment.svg")
    flipped = plot_workflow(risky, res.values, res.policy, ctx.out, "workflow_abandonment.svg",
                            title="with abandonment p = 0.25: the optimal first action is human_review")
    return StepOutput(tuple(lines), fig, "Some requesters never send evidence: with a 25% abandonment rate "
                                         "the recommended first action flips to human_review.",
                      table=value_policy_table(risky, res.values, res.policy, q), figures=(flipped,),
                      reproduced=tuple(shown))


def step_simulate(ctx: Context) -> StepOutput:
    risky = ctx.data["risky"]
    n, seed = ctx.budget.simulate_episodes, ctx.seed_of("simulate")
    samples, lines, shown, commands = {}, [], [], []
    for first in ("request_evidence", "human_review"):
        sim = simulate(risky, ctx.data["risky_policy"], n, rng=ctx.rng("simulate"), first_action=first,
                       record=False)
        samples[first] = sim.returns
        lo, hi = sim.stats.ci95
        abandoned = sim.event_counts.get("abandoned", 0)
        lines.append(f"{first:16} mean={sim.stats.mean:6.2f} 95% interval [{lo:.2f}, {hi:.2f}] "
                     f"abandoned={abandoned} of {n}")
        shown += [f"{sim.stats.mean:.2f}", f"{lo:.2f}", f"{hi:.2f}"] + ([str(abandoned)] if abandoned else [])
        commands.append(f"accessrl simulate catalog:access-review-abandonment --episodes {n} --seed {seed} "
                        f"--first-action {first}")
    ctx.commands["simulate"] = tuple(commands)
    fig = plot_histograms(samples, ctx.out, "simulate.svg")
    return StepOutput(tuple(lines), fig, f"Expected values describe many requests; simulation shows the spread "
                                         f"(a bimodal return for the evidence route). {n} episodes of each first "
                                         f"action, each from a generator seeded {ctx.seed_note('simulate')}.",
                      reproduced=tuple(shown))


def step_learn(ctx: Context) -> StepOutput:
    risky = ctx.data["risky"]
    n, seed = ctx.budget.q_episodes, ctx.seed_of("learn")
    t = q_learning_trajectory(risky, episodes=n, epsilon=0.15, rng=ctx.rng("learn"))
    s0 = risky.state_index("new_request")
    star = t.q_star if t.q_star is not None else np.full(risky.n_pairs, np.nan)
    lines, shown = [], []
    for k in range(int(risky.sa_ptr[s0]), int(risky.sa_ptr[s0 + 1])):
        lines.append(f"Q(new_request, {risky.action_names[int(risky.sa_action[k])]:16}) = {t.q[k]:7.1f} "
                     f"(exact {star[k]:.2f}, {t.visits[k]} visits)")
        shown += [f"{t.q[k]:.1f}", str(int(t.visits[k]))]
    err = float(np.nanmax(np.abs(t.q - star)))
    lines.append(f"learned start action = {risky.action_names[int(t.policy[s0])]}; "
                 f"max |Q - Q*| = {err:.3f} after {n} episodes")
    shown.append(f"{err:.3f}")
    ctx.commands["learn"] = (f"accessrl learn catalog:access-review-abandonment --episodes {n} --seed {seed}",)
    pairs = range(int(risky.sa_ptr[s0]), int(risky.sa_ptr[s0 + 1]))
    fig = plot_convergence(t.episodes, {risky.action_names[int(risky.sa_action[k])]: t.history[:, k] for k in pairs},
                           {risky.action_names[int(risky.sa_action[k])]: float(star[k]) for k in pairs},
                           ctx.out, "learn.svg", title="Q(new_request, a) while learning, towards Q* (dashed)")
    return StepOutput(tuple(lines), fig, "Tabular Q-learning from sampled episodes, epsilon-greedy (0.15) with the "
                                         f"visit-count learning rate visits^-0.6 of the lesson; {n} episodes, "
                                         f"{ctx.seed_note('learn')}.", reproduced=tuple(shown))


def step_audit(ctx: Context) -> StepOutput:
    designs = [RewardDesign("speed_only", dict(SPEED_ONLY)), RewardDesign("outcome_aware", dict(OUTCOME_AWARE))]
    path = ctx.out / "designs.yaml"
    path.write_text(yaml.safe_dump({"designs": {d.name: {"weights": dict(d.weights)} for d in designs}},
                                   sort_keys=False))
    result = audit(access_review_components(), designs)
    lines, shown = [], []
    for r in result.reports:
        lines.append(f"{r.design:13} chooses {r.start_action:16} violations/1000={r.violations_per_1000:7.1f} "
                     f"severe/1000={r.severe_per_1000:7.1f} shortcuts: {', '.join(r.shortcuts) or 'none'}")
        shown += [f"{r.violations_per_1000:.1f}", f"{r.severe_per_1000:.1f}"]
    ctx.commands["audit"] = (f"accessrl audit catalog:access-review-components --designs {path}",)
    names = [r.design for r in result.reports]
    fig = plot_bars(names, {"policy violations per 1000": [r.violations_per_1000 for r in result.reports],
                            "severe outcomes per 1000": [r.severe_per_1000 for r in result.reports]},
                    ctx.out, "audit.svg", title="Reward audit", ylabel="per 1000 requests")
    return StepOutput(tuple(lines), fig, "A reward that scores only speed prefers unsupported approvals; the "
                                         "audit measures each design's policy on what the designer meant "
                                         f"(the designs are written to {path.name}).", reproduced=tuple(shown))


def step_gradient(ctx: Context) -> StepOutput:
    from accessrl.lesson.pg_lab import policy_gradient_lab

    risky = ctx.data["risky"]
    seed, iters = ctx.seed_of("gradient"), ctx.budget.pg_iterations
    one_step = policy_gradient_lab()
    lines = ["the lesson's one-step update (one route per action, mean-return baseline, step 0.03):",
             *(f"  {line}" for line in one_step)]
    shown = [m for line in one_step for m in re.findall(r"after=(\d\.\d{3})", line)]
    res = reinforce(tabular_policy(risky), ctx.rng("gradient"), iterations=iters, batch_size=16,
                    step_size=0.01, baseline="loo")
    s0 = risky.state_index("new_request")
    lines.append(f"sampled REINFORCE: {iters} iterations of 16 episodes, leave-one-out baseline, step 0.01, "
                 f"seed {seed}:")
    for k in range(int(risky.sa_ptr[s0]), int(risky.sa_ptr[s0 + 1])):
        lines.append(f"  pi({risky.action_names[int(risky.sa_action[k])]:16} | new_request) = "
                     f"{res.probabilities[k]:.3f}")
        shown.append(f"{res.probabilities[k]:.3f}")
    optimum = float(policy_evaluation(risky, pair_probabilities(risky, ctx.data["risky_policy"])).values[s0])
    learned = float(policy_evaluation(risky, res.probabilities).values[s0])
    lines.append(f"  exact value of the learned policy {learned:.2f} (optimum {optimum:.2f}); batch mean return: "
                 f"first {res.mean_returns[0]:.2f}, last {res.mean_returns[-1]:.2f}")
    shown += [f"{learned:.2f}", f"{optimum:.2f}"]
    ctx.commands["gradient"] = ("accessrl lesson policy-gradient",
                                f"accessrl reinforce catalog:access-review-abandonment --episodes {iters * 16} "
                                f"--batch-size 16 --learning-rate 0.01 --baseline loo --seed {seed}")
    fig = plot_curves({"batch mean return": res.mean_returns}, ctx.out, "gradient.svg", xlabel="iteration",
                      ylabel="mean return", title="REINFORCE from a uniform softmax policy",
                      hlines={"optimum": optimum})
    return StepOutput(tuple(lines), fig, "REINFORCE shifts probability toward actions whose returns beat the "
                                         "baseline: first the lesson's one-step arithmetic, then sampled episodes "
                                         "from a uniform policy.", reproduced=tuple(shown))


def step_logs(ctx: Context) -> StepOutput:
    from accessrl.storage.generated import run_id

    risky = ctx.data["risky"]
    n, seed = ctx.budget.log_requests, ctx.seed_of("logs")
    db = ctx.out / "decision_log.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    # Behaviour: the deterministic model's policy (evidence first) with 30% exploration.
    behavior_file = ctx.out / "evidence_first.yaml"
    write_policy_file(behavior_file, policy_names(ctx.data["det"], policy_iteration(ctx.data["det"]).policy))
    behavior = pair_probabilities(risky, policy_iteration(ctx.data["det"]).policy)
    log = simulate_logs(risky, behavior, n_requests=n, start_us=to_us("2026-01-05"), rng=ctx.rng("logs"),
                        epsilon=0.3)
    dlog = DecisionLog(str(db))
    res = write_generated(dlog, log, risky, policy_id="evidence_first", run=run_id(log))
    ctx.data["dlog"] = dlog
    lines = [f"{log.steps.n_episodes} requests, {log.steps.n_steps} decisions: {res.decisions_inserted} decisions "
             f"and {res.outcomes_inserted} outcomes written to {db.name}, {len(res.rejected)} records rejected",
             "behaviour: evidence_first (the deterministic model's optimal policy) with epsilon 0.3; the true "
             "propensities are logged"]
    ctx.commands["logs"] = (f"accessrl logs generate catalog:access-review-abandonment --behavior {behavior_file} "
                            f"--epsilon 0.3 --requests {n} --since 2026-01-05 --seed {seed} "
                            "--policy-id evidence_first --db logs.db",)
    return StepOutput(tuple(lines), None, "Synthetic but realistic logs: arrivals over time, evidence delays, "
                                          "abandonment, reviewer decisions, in the embedded SQLite store.",
                      reproduced=(str(log.steps.n_steps), str(res.decisions_inserted), str(res.outcomes_inserted)))


def step_estimate(ctx: Context) -> StepOutput:
    from accessrl.offline.periods import DecisionPeriod, period_decisions
    from accessrl.offline.splits import default_window
    from accessrl.storage.times import now_text

    risky, dlog = ctx.data["risky"], ctx.data.get("dlog")
    if dlog is None:
        return StepOutput((), None, "skipped: no logs (the log step did not run)")
    loaded = dlog.load_steps()
    ctx.data["steps"] = loaded.steps
    # as `accessrl logs estimate` reads it: as of now, outcomes after their window censored
    window = default_window(loaded.steps) if loaded.steps.n_steps else 0
    period = period_decisions(loaded.steps, DecisionPeriod(None, None), as_of=to_us(now_text()), window=window,
                              pending_at=loaded.pending_at)
    est = estimate_model(period.observed, gamma=risky.gamma)
    rows, shown = [], []
    lines = [f"{est.n_decisions} decisions in {est.n_episodes} episodes"]
    for o in est.outcomes:
        k = risky.pair_index(o.state, o.action)
        truth = next((p for nxt, p, _ in risky.outcomes(k) if risky.state_names[nxt] == o.next_state), None)
        label = f"{o.state}:{o.action}->{o.next_state}"
        rows.append((label, o.p, o.p_low, o.p_high, truth))
        lines.append(f"{label:48} p={o.p:.3f} [{o.p_low:.3f}, {o.p_high:.3f}] n={o.count}/{o.pair_count}"
                     + (f" true={truth:g}" if truth is not None else ""))
        shown += [f"{o.p:.3f}", f"{o.p_low:.3f}", f"{o.p_high:.3f}"]
    ctx.commands["estimate"] = ("accessrl logs estimate --db logs.db --out estimated.yaml",)
    fig = plot_intervals(rows, ctx.out, "estimate.svg", title="Estimated probabilities",
                         xlabel="probability (95% Wilson interval)")
    return StepOutput(tuple(lines), fig, "The workflow estimated back from its own logs: each probability with "
                                         "its count and interval.", reproduced=tuple(shown))


CANDIDATES: dict[str, dict[str, str]] = {
    "always_review": {"new_request": "human_review", "evidence_ready": "human_review",
                      "review_queue": "approve_rotation"},
    "evidence_first": {"new_request": "request_evidence", "evidence_ready": "auto_approve",
                       "review_queue": "approve_rotation"},
    "risk_aware": {"new_request": "human_review", "evidence_ready": "auto_approve",
                   "review_queue": "approve_rotation"},
    "always_auto": {"new_request": "auto_approve", "evidence_ready": "auto_approve",
                    "review_queue": "approve_rotation"},
}
"""The held-out candidates (the lesson's three policies and the logs' own behaviour)."""


def step_evaluate(ctx: Context) -> StepOutput:
    from accessrl.offline.heldout import evaluate_heldout, heldout_split

    risky, steps = ctx.data["risky"], ctx.data.get("steps")
    if steps is None:
        return StepOutput((), None, "skipped: no logged steps (the estimate step did not run)")
    seed = ctx.seed_of("evaluate")
    parts = heldout_split(steps, train_end=None, valid_end=None, prevent_leakage=True, outcome_window=None,
                          time_text=us_to_iso)
    files = {}
    for name, mapping in CANDIDATES.items():
        write_policy_file(ctx.out / f"{name}.yaml", mapping)
        files[name] = target_matrix(steps.state_names, steps.action_names, mapping, source=name)
    evaluation = evaluate_heldout(parts, list(files.items()), gamma=risky.gamma, rng=np.random.default_rng(seed),
                                  period="test")
    s0 = risky.state_index("new_request")
    rows, shown = [], []
    lines = [f"test period: {parts.test.n_episodes} episodes (train {parts.train.n_episodes}, "
             f"validation {parts.valid.n_episodes})"]
    lk = parts.leakage
    lines.append(f"leakage at the cutoffs (prevented: train keeps only what was known by its cutoff): "
                 f"{lk.requester_overlap} requesters in both periods, {lk.late_outcomes} outcomes known only later, "
                 f"{lk.straddling} episodes straddling a cutoff (begun before it, ended after)")
    for rep in evaluation.reports:
        truth = float(policy_evaluation(risky, policy_from_mapping(risky, CANDIDATES[rep.policy])).values[s0])
        wis = rep.get("wis")
        if wis is None or not rep.supported:
            lines.append(f"{rep.policy:14} not evaluated: {rep.reason}")
            continue
        rows.append((f"{rep.policy} (WIS)", wis.value, wis.low, wis.high, truth))
        lines.append(f"{rep.policy:14} WIS={wis.value:7.2f} [{wis.low:7.2f}, {wis.high:7.2f}] true={truth:7.2f} "
                     f"ESS={rep.effective_sample_size:7.1f} severe errors={rep.severe_observed}")
        shown += [f"{wis.value:.2f}", f"{wis.low:.2f}", f"{wis.high:.2f}", f"{rep.effective_sample_size:.1f}"]
    ctx.commands["evaluate"] = (
        "accessrl evaluate-policy --db logs.db --prevent-leakage --split test "
        + " ".join(f"--policy {ctx.out / name}.yaml" for name in CANDIDATES) + f" --seed {seed}",)
    fig = plot_intervals(rows, ctx.out, "evaluate.svg", title="Held-out off-policy estimates",
                         xlabel="value from new_request (95% bootstrap interval)") if rows else None
    return StepOutput(tuple(lines), fig,
                      "Candidates scored on the untouched test period (the last 20% by time) from the logged "
                      "decisions of another policy. WIS (weighted importance sampling) reweights each logged "
                      "episode by how much more or less likely the candidate was to act as logged; ESS (effective "
                      "sample size) is how many episodes that weighting is worth; severe errors (return <= -100) "
                      "are counted apart. 'true' is the exact value on the model that generated the logs.",
                      reproduced=tuple(shown))


STEPS: tuple[tuple[str, str, Callable[[Context], StepOutput]], ...] = (
    ("define", "Define the model", step_define),
    ("solve", "Solve it (value iteration)", step_solve),
    ("abandonment", "Add abandonment and watch the policy flip", step_abandonment),
    ("simulate", "Simulate", step_simulate),
    ("learn", "Learn it with Q-learning", step_learn),
    ("audit", "Audit the rewards", step_audit),
    ("gradient", "Improve a policy by gradient (REINFORCE)", step_gradient),
    ("logs", "Generate logs in the embedded SQLite store", step_logs),
    ("estimate", "Estimate the workflow back from the logs", step_estimate),
    ("evaluate", "Evaluate candidates on held-out data", step_evaluate),
)


def run_tour(out: str | Path, *, quick: bool = False, seed: int | None = None, progress: Progress | None = None) -> TourResult:
    """Run every step into ``out`` (created if needed) and write ``out/index.html``."""
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"{out_dir}: exists and is not a directory; expected a folder for the tour")
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(out=out_dir, budget=Budget.quick() if quick else Budget(), seed=seed)
    t_all = time.perf_counter()
    sections = []
    try:
        for i, (key, title, fn) in enumerate(STEPS):
            if progress is not None:
                progress(i, len(STEPS), title)
            t0 = time.perf_counter()
            res = fn(ctx)
            status = "skipped" if res.note.startswith("skipped") else "done"
            sections.append(Section(key, title, status, res.lines, res.figure, res.note, time.perf_counter() - t0,
                                    command="\n".join(ctx.commands.get(key, ())), table=res.table,
                                    figures=res.figures, reproduced=res.reproduced))
    finally:
        if "dlog" in ctx.data:
            ctx.data["dlog"].close()
    if progress is not None:
        progress(len(STEPS), len(STEPS), "report")
    seconds = time.perf_counter() - t_all
    index = write_html(out_dir, sections, title="accessrl: the access-review tour",
                       subtitle=("the lesson's seeds" if seed is None else f"seed {seed}")
                       + f", {'quick' if quick else 'full'} budget; every number computed by "
                                "the library on the built-in workflow.", total_seconds=seconds)
    return TourResult(index, tuple(sections), seconds)


__all__ = ["CANDIDATES", "STEPS", "Budget", "TourResult", "run_tour", "value_policy_table"]
