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

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from accessrl.catalog.components import OUTCOME_AWARE, SPEED_ONLY, access_review_components
from accessrl.catalog.lesson import access_review, access_review_abandonment
from accessrl.errors import ParameterError
from accessrl.learning.policy_gradient import reinforce, tabular_policy
from accessrl.lesson.trajectory import q_learning_trajectory
from accessrl.model.mdp import MDP
from accessrl.model.policies import pair_probabilities, policy_from_mapping, policy_names
from accessrl.offline.estimation import estimate_model
from accessrl.offline.logsim import simulate_logs
from accessrl.offline.ope import evaluate_policy, target_matrix
from accessrl.offline.splits import default_cutoffs, temporal_split
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
    seed: int
    data: dict[str, Any] = field(default_factory=dict)

    def rng(self, step: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, step])


@dataclass(frozen=True)
class StepOutput:
    lines: tuple[str, ...]
    figure: str | None = None
    note: str = ""
    table: tuple[tuple[str, ...], ...] = ()
    """Rows of a small table; the first row is the header."""
    figures: tuple[str, ...] = ()
    """Further figures after ``figure``."""


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
    fig = plot_workflow(det, best.values, best.policy, ctx.out, "workflow.svg",
                        title="access-review: V* on each state, the optimal action in red")
    return StepOutput(tuple(lines), fig, "The lesson's deterministic access-review workflow (accessrl.catalog): "
                                         "states as boxes, each arrow an action outcome with its probability and reward.")


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
    fig = plot_sweeps([v[shown] for v in vi.sweeps], [det.state_names[s] for s in shown], ctx.out, "solve.svg")
    return StepOutput(tuple(lines), fig, "Value iteration applies the Bellman backup to every state until "
                                         "values stop changing; policy iteration gives the same answer.",
                      table=value_policy_table(det, vi.values, vi.policy, vi.q_values))


def step_abandonment(ctx: Context) -> StepOutput:
    risky = ctx.data["risky"]
    grid = np.linspace(0.0, 0.3, ctx.budget.sweep_points)
    sweep = probability_sweep(risky, "new_request", "request_evidence", "closed", grid)
    pair, outcome = locate_outcome(risky, "new_request", "request_evidence", "closed")
    s0 = risky.state_index("new_request")
    curves: dict[str, list[float]] = {a: [] for a in ("request_evidence", "human_review")}
    for pt in sweep.points:
        q = q_values(with_probability(risky, pair, outcome, pt.value), pt.values)
        for a in curves:
            curves[a].append(float(q[risky.pair_index(s0, a)]))
    lines = []
    for b in sweep.breakevens:
        lines.append(f"at {risky.state_names[b.state]}, {risky.action_names[b.to_action]} overtakes "
                     f"{risky.action_names[b.from_action]} when p(abandon) > {b.value:.6f} (5/113 = {5 / 113:.6f})")
    res = policy_iteration(risky)
    q = q_values(risky, res.values)
    lines.append(f"at p = 0.25: request_evidence {q[risky.pair_index(s0, 'request_evidence')]:.2f}, "
                 f"human_review {q[risky.pair_index(s0, 'human_review')]:.2f} -> "
                 f"{risky.action_names[int(res.policy[s0])]}")
    ctx.data["risky_policy"] = res.policy
    brk = sweep.breakevens[0].value if sweep.breakevens else None
    fig = plot_flip(grid, curves, brk, ctx.out, "abandonment.svg")
    flipped = plot_workflow(risky, res.values, res.policy, ctx.out, "workflow_abandonment.svg",
                            title="with abandonment p = 0.25: the optimal first action is human_review")
    return StepOutput(tuple(lines), fig, "Some requesters never send evidence: with a 25% abandonment rate "
                                         "the recommended first action flips to human_review.",
                      table=value_policy_table(risky, res.values, res.policy, q), figures=(flipped,))


def step_simulate(ctx: Context) -> StepOutput:
    risky = ctx.data["risky"]
    rng = ctx.rng(4)
    n = ctx.budget.simulate_episodes
    samples, lines = {}, []
    for first in ("request_evidence", "human_review"):
        sim = simulate(risky, ctx.data["risky_policy"], n, rng=rng, first_action=first, record=False)
        samples[first] = sim.returns
        lo, hi = sim.stats.ci95
        lines.append(f"{first:16} mean={sim.stats.mean:6.2f} 95% CI [{lo:.2f}, {hi:.2f}] "
                     f"abandoned={sim.event_counts.get('abandoned', 0)} of {n}")
    fig = plot_histograms(samples, ctx.out, "simulate.svg")
    return StepOutput(tuple(lines), fig, "Expected values describe many requests; simulation shows the spread "
                                         "(a bimodal return for the evidence route).")


def step_learn(ctx: Context) -> StepOutput:
    risky = ctx.data["risky"]
    t = q_learning_trajectory(risky, episodes=ctx.budget.q_episodes, epsilon=0.15, rng=ctx.rng(5))
    s0 = risky.state_index("new_request")
    star = t.q_star if t.q_star is not None else np.full(risky.n_pairs, np.nan)
    lines = []
    for k in range(int(risky.sa_ptr[s0]), int(risky.sa_ptr[s0 + 1])):
        lines.append(f"Q(new_request, {risky.action_names[int(risky.sa_action[k])]:16}) = {t.q[k]:7.2f} "
                     f"(exact {star[k]:.2f}, {t.visits[k]} visits)")
    lines.append(f"learned start action = {risky.action_names[int(t.policy[s0])]}; "
                 f"max |Q - Q*| = {float(np.nanmax(np.abs(t.q - star))):.3f} after {ctx.budget.q_episodes} episodes")
    pairs = range(int(risky.sa_ptr[s0]), int(risky.sa_ptr[s0 + 1]))
    fig = plot_convergence(t.episodes, {risky.action_names[int(risky.sa_action[k])]: t.history[:, k] for k in pairs},
                           {risky.action_names[int(risky.sa_action[k])]: float(star[k]) for k in pairs},
                           ctx.out, "learn.svg", title="Q(new_request, a) while learning, towards Q* (dashed)")
    return StepOutput(tuple(lines), fig, "Tabular Q-learning from sampled episodes, epsilon-greedy (0.15) with a "
                                         "visit-count learning rate, as in the lesson.")


def step_audit(ctx: Context) -> StepOutput:
    designs = [RewardDesign("speed_only", dict(SPEED_ONLY)), RewardDesign("outcome_aware", dict(OUTCOME_AWARE))]
    result = audit(access_review_components(), designs)
    lines = []
    for r in result.reports:
        lines.append(f"{r.design:13} chooses {r.start_action:16} violations/1000={r.violations_per_1000:7.1f} "
                     f"severe/1000={r.severe_per_1000:7.1f} shortcuts: {', '.join(r.shortcuts) or 'none'}")
    names = [r.design for r in result.reports]
    fig = plot_bars(names, {"policy violations per 1000": [r.violations_per_1000 for r in result.reports],
                            "severe outcomes per 1000": [r.severe_per_1000 for r in result.reports]},
                    ctx.out, "audit.svg", title="Reward audit", ylabel="per 1000 requests")
    return StepOutput(tuple(lines), fig, "A reward that scores only speed prefers unsupported approvals; the "
                                         "audit measures each design's policy on what the designer meant.")


def step_gradient(ctx: Context) -> StepOutput:
    risky = ctx.data["risky"]
    res = reinforce(tabular_policy(risky), ctx.rng(7), iterations=ctx.budget.pg_iterations, batch_size=16,
                    step_size=0.01, baseline="loo")
    s0 = risky.state_index("new_request")
    lines = [f"pi({risky.action_names[int(risky.sa_action[k])]:16} | new_request) = {res.probabilities[k]:.3f}"
             for k in range(int(risky.sa_ptr[s0]), int(risky.sa_ptr[s0 + 1]))]
    lines.append(f"batch mean return: first {res.mean_returns[0]:.2f}, last {res.mean_returns[-1]:.2f} "
                 f"({ctx.budget.pg_iterations} iterations of 16 episodes, leave-one-out baseline)")
    fig = plot_curves({"batch mean return": res.mean_returns}, ctx.out, "gradient.svg", xlabel="iteration",
                      ylabel="mean return", title="REINFORCE from a uniform softmax policy",
                      hlines={"optimum": float(policy_evaluation(risky, pair_probabilities(
                          risky, ctx.data["risky_policy"])).values[s0])})
    return StepOutput(tuple(lines), fig, "REINFORCE shifts probability toward actions whose returns beat the "
                                         "baseline, starting from a uniform policy.")


def step_logs(ctx: Context) -> StepOutput:
    risky = ctx.data["risky"]
    db = ctx.out / "decision_log.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    # Behaviour: the deterministic model's policy (evidence first) with 30% exploration.
    behavior = pair_probabilities(risky, policy_iteration(ctx.data["det"]).policy)
    log = simulate_logs(risky, behavior, n_requests=ctx.budget.log_requests, start_us=to_us("2026-01-05"),
                        rng=ctx.rng(8), epsilon=0.3)
    dlog = DecisionLog(str(db))
    res = write_generated(dlog, log, risky, policy_id="evidence_first")
    ctx.data["dlog"] = dlog
    counts = dlog.counts()
    lines = [f"{ctx.budget.log_requests} requests -> {counts['decision_snapshots']} decision snapshots and "
             f"{counts['outcome_events']} outcome events",
             f"behaviour: evidence_first with epsilon 0.3 (true propensities logged); stored in {db.name}",
             f"ingest: {res.decisions_inserted} decisions and {res.outcomes_inserted} outcomes written, "
             f"{len(res.rejected)} records rejected"]
    return StepOutput(tuple(lines), None, "Synthetic but realistic logs: arrivals over time, evidence delays, "
                                          "abandonment, reviewer decisions, in the embedded SQLite store.")


def step_estimate(ctx: Context) -> StepOutput:
    risky, dlog = ctx.data["risky"], ctx.data.get("dlog")
    if dlog is None:
        return StepOutput((), None, "skipped: no logs (the log step did not run)")
    loaded = dlog.load_steps(state_names=risky.state_names, action_names=risky.action_names)
    ctx.data["steps"] = loaded.steps
    est = estimate_model(loaded.steps, gamma=risky.gamma)
    rows, lines = [], [f"{est.n_decisions} decisions in {est.n_episodes} episodes"]
    for o in est.outcomes:
        k = risky.pair_index(o.state, o.action)
        truth = next((p for nxt, p, _ in risky.outcomes(k) if risky.state_names[nxt] == o.next_state), None)
        label = f"{o.state}:{o.action}->{o.next_state}"
        rows.append((label, o.p, o.p_low, o.p_high, truth))
        lines.append(f"{label:48} p={o.p:.3f} [{o.p_low:.3f}, {o.p_high:.3f}] n={o.count}/{o.pair_count}"
                     + (f" true={truth:g}" if truth is not None else ""))
    fig = plot_intervals(rows, ctx.out, "estimate.svg", title="Estimated probabilities",
                         xlabel="probability (95% Wilson interval)")
    return StepOutput(tuple(lines), fig, "The workflow estimated back from its own logs: each probability with "
                                         "its count and interval.")


def step_evaluate(ctx: Context) -> StepOutput:
    risky, steps = ctx.data["risky"], ctx.data.get("steps")
    if steps is None:
        return StepOutput((), None, "skipped: no logged steps (the estimate step did not run)")
    split = temporal_split(steps, default_cutoffs(steps), prevent=True, time_text=us_to_iso)
    candidates = {
        "always_review": {"new_request": "human_review", "evidence_ready": "human_review",
                          "review_queue": "approve_rotation"},
        "evidence_first": {"new_request": "request_evidence", "evidence_ready": "auto_approve",
                           "review_queue": "approve_rotation"},
        "risk_aware": {"new_request": "human_review", "evidence_ready": "auto_approve",
                       "review_queue": "approve_rotation"},
        "always_auto": {"new_request": "auto_approve", "evidence_ready": "auto_approve",
                        "review_queue": "approve_rotation"},
    }
    s0 = risky.state_index("new_request")
    rows, lines = [], [f"test split: {split.test.n_episodes} episodes (train {split.train.n_episodes}, "
                       f"validation {split.valid.n_episodes})"]
    lk = split.leakage
    lines.append(f"leakage around the cutoffs {'(episodes dropped)' if lk.prevented else ''}: "
                 f"requester overlap {lk.requester_overlap}, late outcomes {lk.late_outcomes}, "
                 f"straddling {lk.straddling}, late features {lk.late_features}")
    for name, mapping in candidates.items():
        truth = float(policy_evaluation(risky, policy_from_mapping(risky, mapping)).values[s0])
        target = target_matrix(split.test.state_names, split.test.action_names, mapping, source=name)
        rep = evaluate_policy(split.test, target, gamma=risky.gamma, rng=ctx.rng(10), train=split.train, name=name)
        wis = rep.get("wis")
        if wis is None:
            lines.append(f"{name:14} no support: {rep.reason}")
            continue
        rows.append((f"{name} (wis)", wis.value, wis.low, wis.high, truth))
        lines.append(f"{name:14} wis={wis.value:7.2f} [{wis.low:7.2f}, {wis.high:7.2f}] true={truth:7.2f} "
                     f"ess={rep.effective_sample_size:7.1f} severe_errors={rep.severe_observed}")
    fig = plot_intervals(rows, ctx.out, "evaluate.svg", title="Held-out off-policy estimates",
                         xlabel="value from new_request (95% bootstrap interval)") if rows else None
    return StepOutput(tuple(lines), fig, "Candidates scored on the untouched test period by weighted importance "
                                         "sampling with the logged propensities; severe errors counted apart.")


COMMANDS: dict[str, str] = {
    "define": "accessrl solve catalog:access-review",
    "solve": "accessrl lesson value-iteration",
    "abandonment": "accessrl sweep catalog:access-review-abandonment --vary new_request.request_evidence.closed "
                   "--from 0 --to 0.3 --steps 31",
    "simulate": "accessrl simulate catalog:access-review-abandonment --episodes 10000 --seed 7 "
                "--first-action request_evidence",
    "learn": "accessrl learn catalog:access-review-abandonment --algorithm q-learning --episodes 20000 "
             "--epsilon 0.15 --seed 13",
    "audit": "accessrl audit examples/access_review_deny.yaml --designs examples/designs.yaml",
    "gradient": "accessrl reinforce catalog:access-review-abandonment --baseline loo",
    "logs": "accessrl logs generate --model catalog:access-review-abandonment --behavior uniform --epsilon 0.1 "
            "--requests 4000 --start 2026-01-05 --seed 1 --db logs.db",
    "estimate": "accessrl logs estimate --db logs.db --out estimated.yaml",
    "evaluate": "accessrl evaluate-policy --db logs.db --split test --policy examples/policy_always_review.yaml "
                "--prevent-leakage",
}
"""The command that reproduces each step on its own (the tour's seeds differ; the lesson's are used here)."""

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


def run_tour(out: str | Path, *, quick: bool = False, seed: int = 0, progress: Progress | None = None) -> TourResult:
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
                                    command=COMMANDS.get(key, ""), table=res.table, figures=res.figures))
    finally:
        if "dlog" in ctx.data:
            ctx.data["dlog"].close()
    if progress is not None:
        progress(len(STEPS), len(STEPS), "report")
    seconds = time.perf_counter() - t_all
    index = write_html(out_dir, sections, title="accessrl: the access-review tour",
                       subtitle=f"seed {seed}, {'quick' if quick else 'full'} budget; every number computed by "
                                "the library on the built-in workflow.", total_seconds=seconds)
    return TourResult(index, tuple(sections), seconds)


__all__ = ["COMMANDS", "STEPS", "Budget", "TourResult", "run_tour", "value_policy_table"]
