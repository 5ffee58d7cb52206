"""What each lab page shows, computed by the library: JSON-ready mappings (no web framework here).

Every function takes the page's control values, checks them once (a
:class:`~accessrl.errors.ParameterError` naming the control otherwise) and returns plain
numbers, lists and strings.  The lesson's seeds and settings are the defaults, so a page
opened without touching a control shows the lesson's own numbers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from accessrl.catalog.components import COMPONENTS, OUTCOME_AWARE, SPEED_ONLY, access_review_components, access_review_deny
from accessrl.catalog.lesson import access_review, access_review_abandonment
from accessrl.errors import ParameterError
from accessrl.learning.policy_gradient import bandit_gradient, softmax
from accessrl.learning.tabular import learn, one_state_bandit
from accessrl.lesson.heldout_lab import held_out_lab
from accessrl.lesson.learning_labs import EXPLORATION_SEED, MONTE_CARLO_SEED, Q_LEARNING_SEED
from accessrl.lesson.pg_lab import STEP_SIZE
from accessrl.lesson.trajectory import q_learning_trajectory
from accessrl.model.mdp import MDP
from accessrl.model.policies import pair_probabilities, policy_from_mapping
from accessrl.model.returns import discounted_return
from accessrl.offline.logsim import simulate_logs
from accessrl.offline.ope import evaluate_policy, target_matrix
from accessrl.offline.splits import default_cutoffs, temporal_split
from accessrl.planning.exact import bellman_backup, greedy_policy, policy_evaluation, policy_iteration, q_values, value_iteration
from accessrl.planning.sensitivity import locate_outcome, probability_sweep, with_probability
from accessrl.report.diagram import workflow_layout
from accessrl.rewards.audits import audit
from accessrl.rewards.components import RewardDesign
from accessrl.simulation import simulate
from accessrl.storage.times import to_us, us_to_iso

LESSON_ROUTES = {"auto_approve": [-120.0], "request_evidence": [-4.0, 70.0], "human_review": [-18.0, 80.0]}
"""The lesson's three reward sequences (lab 1)."""

MAX_EPISODES = 200_000
MAX_SEQUENCE = 50


def number(x: Any, name: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    """A finite number in [lo, hi], or one ParameterError naming the control, in plain words."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise ParameterError(f"{name}: enter a number, not {x!r}")
    if not lo <= x <= hi:
        span = (f"from {lo:g} to {hi:g}" if math.isfinite(lo) and math.isfinite(hi)
                else f"of at least {lo:g}" if math.isfinite(lo) else f"of at most {hi:g}")
        raise ParameterError(f"{name}: enter a number {span}; {x!r} is outside that range")
    return float(x)


def discount(x: Any) -> float:
    """The discount gamma, in (0, 1] as everywhere in accessrl (README: gamma 1 for episodic workflows)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise ParameterError(f"gamma: enter a number, not {x!r}")
    if not 0.0 < x <= 1.0:
        raise ParameterError(f"gamma: enter a discount above 0 and at most 1 (1 counts later rewards in full; "
                             f"the lesson uses 0.9); {x!r} is outside that range")
    return float(x)


def whole(x: Any, name: str, lo: int, hi: int) -> int:
    """A whole number in [lo, hi], or one ParameterError naming the control."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x != int(x):
        raise ParameterError(f"{name}: enter a whole number, not {x!r}")
    if not lo <= x <= hi:
        raise ParameterError(f"{name}: enter a whole number from {lo:,} to {hi:,}; {x!r} is outside that range")
    return int(x)


def _start(mdp: MDP) -> int:
    return mdp.start if mdp.start is not None else 0


def _pairs(mdp: MDP, s: int) -> range:
    return range(int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1]))


def q_table(mdp: MDP, q: Any) -> dict[str, dict[str, float]]:
    """{state: {action: Q}} for every decision state."""
    return {mdp.state_names[int(s)]: {mdp.action_names[int(mdp.sa_action[k])]: float(q[k]) for k in _pairs(mdp, int(s))}
            for s in mdp.decision_states}


def policy_table(mdp: MDP, policy: Any) -> dict[str, str]:
    return {mdp.state_names[int(s)]: mdp.action_names[int(policy[s])] for s in mdp.decision_states}


def solution(mdp: MDP) -> dict[str, Any]:
    """Policy iteration's answer with the diagram (V on nodes, the policy highlighted)."""
    res = policy_iteration(mdp)
    return {
        "model": mdp.name, "gamma": mdp.gamma,
        "values": {n: float(v) for n, v in zip(mdp.state_names, res.values, strict=True)},
        "q": q_table(mdp, res.q_values), "policy": policy_table(mdp, res.policy),
        "diagram": workflow_layout(mdp, values=res.values, policy=res.policy),
    }


def returns_lab(sequences: Mapping[str, Sequence[Any]] | None = None, gamma: Any = 0.9) -> dict[str, Any]:
    """G = sum_t gamma^t r_{t+1} of each reward sequence (:func:`~accessrl.model.returns.discounted_return`)."""
    g = discount(gamma)
    seqs = LESSON_ROUTES if sequences is None else sequences
    rows: list[dict[str, Any]] = []
    for name, rewards in seqs.items():
        if not isinstance(rewards, (list, tuple)) or not 1 <= len(rewards) <= MAX_SEQUENCE:
            raise ParameterError(f"rewards of {name}: expected a list of 1 to {MAX_SEQUENCE} numbers, got {rewards!r}")
        r = [number(x, f"rewards of {name}") for x in rewards]
        terms = [g**t * x for t, x in enumerate(r)]
        rows.append({"route": str(name), "rewards": r, "terms": terms, "return": float(discounted_return(r, g)),
                     "line": f"{name:14} return={discounted_return(r, g):6.1f}"})
    best = max(rows, key=lambda row: row["return"])["route"] if rows else None
    return {"gamma": g, "routes": rows, "best": best}


def bellman_backup_lab(gamma: Any = 0.9) -> dict[str, Any]:
    """One :func:`~accessrl.planning.bellman_backup` at new_request from the successors' optimal values."""
    mdp = access_review(discount(gamma))
    res = policy_iteration(mdp)
    backup = bellman_backup(mdp, res.values)
    s0 = _start(mdp)
    rows = []
    for k in _pairs(mdp, s0):
        (nxt, _, r), = mdp.outcomes(k)
        rows.append({"action": mdp.action_names[int(mdp.sa_action[k])], "reward": r, "next": mdp.state_names[nxt],
                     "discounted_next": mdp.gamma * float(res.values[nxt]), "q": float(backup.q_values[k])})
    greedy = mdp.action_names[int(backup.policy[s0])]
    lines = [f"Q({mdp.state_names[s0]}, {row['action']:13}) = {row['q']:5.1f}" for row in rows]
    lines.append(f"greedy action = {greedy}")
    return {"rows": rows, "greedy": greedy, "lines": lines,
            "diagram": workflow_layout(mdp, values=res.values, policy=backup.policy)}


def _model(name: Any, p: Any = 0.25) -> MDP:
    if name == "deterministic":
        return access_review()
    if name == "abandonment":
        return access_review_abandonment(number(p, "p", 0.0, 1.0))
    raise ParameterError(f"model: expected 'deterministic' or 'abandonment', got {name!r}")


def value_iteration_lab(model: Any = "deterministic", p: Any = 0.25) -> dict[str, Any]:
    """Every sweep of :func:`~accessrl.planning.value_iteration` from V = 0: V_k, Q_k = r + gamma P V_{k-1}
    and the greedy policy, with the lesson's one-line summary of each sweep."""
    mdp = _model(model, p)
    res = value_iteration(mdp, record=True)
    shown = [int(s) for s in mdp.decision_states]
    sweeps = [{"k": 0, "values": {n: 0.0 for n in mdp.state_names}, "q": None, "policy": None, "delta": None, "line": ""}]
    prev = np.zeros(mdp.n_states)
    for k, v in enumerate(res.sweeps, start=1):
        q = q_values(mdp, prev)
        pol = greedy_policy(mdp, prev)
        cells = " ".join(f"{mdp.state_names[s].split('_')[0]}={v[s]:5.1f}" for s in shown)
        sweeps.append({"k": k, "values": {n: float(x) for n, x in zip(mdp.state_names, v, strict=True)},
                       "q": q_table(mdp, q), "policy": policy_table(mdp, pol),
                       "delta": float(res.trace[k - 1]), "line": f"sweep {k}: {cells}"})
        prev = np.asarray(v)
    final_pol = policy_table(mdp, res.policy)
    return {"model": mdp.name, "gamma": mdp.gamma, "sweeps": sweeps, "policy": final_pol,
            "diagram": workflow_layout(mdp), "converged_after": res.iterations}


@functools.lru_cache(maxsize=8)
def _flip_curves(points: int, p_max: float) -> tuple[tuple[float, ...], dict[str, tuple[float, ...]], tuple[Any, ...]]:
    """Q(new_request, a) over the grid and the breakevens: they do not depend on the slider, so they
    are computed once per grid (the model is the catalog's, fixed)."""
    base = access_review_abandonment()
    grid = np.linspace(0.0, p_max, points)
    sweep = probability_sweep(base, "new_request", "request_evidence", "closed", grid)
    pair, outcome = locate_outcome(base, "new_request", "request_evidence", "closed")
    s0 = _start(base)
    names = [base.action_names[int(base.sa_action[k])] for k in _pairs(base, s0)]
    curves: dict[str, list[float]] = {a: [] for a in names}
    for pt in sweep.points:
        q = q_values(with_probability(base, pair, outcome, pt.value), pt.values)
        for a, k in zip(names, _pairs(base, s0), strict=True):
            curves[a].append(float(q[k]))
    return tuple(grid.tolist()), {a: tuple(v) for a, v in curves.items()}, tuple(sweep.breakevens)


def abandonment_lab(p: Any = 0.25, points: int = 61, p_max: float = 0.3) -> dict[str, Any]:
    """Q(new_request, .) at abandonment probability p, the curve over [0, p_max] with the breakevens
    of :func:`~accessrl.planning.sensitivity.probability_sweep`, and the diagram at p."""
    pv = number(p, "p", 0.0, 1.0)
    base = access_review_abandonment()
    grid, curves, found = _flip_curves(whole(points, "points", 2, 1001), number(p_max, "p_max", 0.0, 1.0))
    pair, outcome = locate_outcome(base, "new_request", "request_evidence", "closed")
    s0 = _start(base)
    names = list(curves)
    at = with_probability(base, pair, outcome, pv)
    res = policy_iteration(at)
    breakevens = [{"p": b.value, "fraction": str(Fraction(b.value).limit_denominator(1000)),
                   "from": base.action_names[b.from_action], "to": base.action_names[b.to_action]}
                  for b in found]
    q_now = {a: float(res.q_values[k]) for a, k in zip(names, _pairs(at, s0), strict=True)}
    return {"p": pv, "grid": list(grid), "curves": {a: list(v) for a, v in curves.items()}, "breakevens": breakevens,
            "q": q_now, "action": at.action_names[int(res.policy[s0])],
            "diagram": workflow_layout(at, values=res.values, policy=res.policy)}


def _histogram(x: np.ndarray) -> list[dict[str, float]]:
    values, counts = np.unique(np.round(x, 9), return_counts=True)
    if values.size <= 40:
        return [{"x": float(v), "count": int(c)} for v, c in zip(values, counts, strict=True)]
    hist, edges = np.histogram(x, bins=40)
    return [{"x": float((a + b) / 2), "count": int(c)} for a, b, c in zip(edges[:-1], edges[1:], hist, strict=True)]


def monte_carlo_lab(episodes: Any = 10_000, seed: Any = MONTE_CARLO_SEED) -> dict[str, Any]:
    """:func:`~accessrl.simulation.simulate` from each compared first action (one generator, as the lab),
    beside the exact expected value Q*(new_request, a)."""
    n = whole(episodes, "episodes", 1, MAX_EPISODES)
    rng = np.random.default_rng(whole(seed, "seed", 0, 2**32 - 1))
    mdp = access_review_abandonment()
    best = policy_iteration(mdp)
    s0 = _start(mdp)
    rows = []
    revisits = bool(np.any(mdp.out_next == s0))
    for name in ("request_evidence", "human_review"):
        a = mdp.action_index(name)
        if revisits:
            sim = simulate(mdp, best.policy, n, rng=rng, first_action=a, record=False)
        else:
            # The start is never revisited, so "take a first, then the policy" is the policy with a at
            # the start: the same random draws as first_action=a, without a per-episode lookup.
            forced = best.policy.copy()
            forced[s0] = a
            sim = simulate(mdp, forced, n, rng=rng, record=False)
        lo, hi = sim.stats.ci95
        rows.append({"action": name, "mean": sim.stats.mean, "ci95": [lo, hi], "std": sim.stats.std,
                     "exact": float(best.q_values[mdp.pair_index(s0, name)]),
                     "abandoned": int(sim.event_counts.get("abandoned", 0)), "histogram": _histogram(sim.returns),
                     "line": f"{name} mean={sim.stats.mean:5.2f}"})
    return {"episodes": n, "rows": rows, "abandoned": rows[0]["abandoned"]}


def q_learning_lab(epsilon: Any = 0.15, omega: Any = 0.6, episodes: Any = 20_000, seed: Any = Q_LEARNING_SEED,
                   points: int = 100) -> dict[str, Any]:
    """Tabular Q-learning by :func:`~accessrl.lesson.trajectory.q_learning_trajectory` (the engine
    :func:`~accessrl.learning.learn` runs), with Q(new_request, a) after each of ``points`` slices."""
    eps = number(epsilon, "epsilon", 0.0, 1.0)
    om = number(omega, "omega", 0.5, 1.0)
    n = whole(episodes, "episodes", 1, MAX_EPISODES)
    mdp = access_review_abandonment()
    # The lesson's episodes take at most 3 steps, so a cap of 100 never truncates one (checked
    # below) and lets the numba engine reserve few random draws per slice: the same numbers, faster.
    t = q_learning_trajectory(mdp, episodes=n, epsilon=eps, omega=om, points=points, max_steps=100, engine="fast",
                              rng=np.random.default_rng(whole(seed, "seed", 0, 2**32 - 1)))
    if t.truncated:
        raise ParameterError(f"q-learning: {t.truncated} episodes exceeded 100 steps")
    s0 = _start(mdp)
    names = [mdp.action_names[int(mdp.sa_action[k])] for k in _pairs(mdp, s0)]
    curves = {name: t.history[:, k].tolist() for name, k in zip(names, _pairs(mdp, s0), strict=True)}
    q, visits, policy, star = t.q, t.visits, t.policy, t.q_star
    assert star is not None  # the lesson's model always solves
    lines = [f"Q({mdp.state_names[s0]}, {name:13}) = {q[k]:6.1f}" for name, k in zip(names, _pairs(mdp, s0), strict=True)]
    lines.append(f"learned start action = {mdp.action_names[int(policy[s0])]}")
    return {"start": mdp.state_names[s0], "episodes": t.episodes.tolist(), "curves": curves,
            "q_star": q_table(mdp, star), "q": q_table(mdp, q),
            "visits": {s: {a: int(visits[mdp.pair_index(s, a)]) for a in acts} for s, acts in q_table(mdp, q).items()},
            "policy": policy_table(mdp, policy), "lines": lines,
            "max_error": float(np.max(np.abs(q - star)))}


def exploration_lab(epsilon: Any = 0.1, seed: Any = EXPLORATION_SEED, steps: Any = 400) -> dict[str, Any]:
    """Sample-average learning on the one-state bandit of Q*(new_request, .) (the lab's ``learn`` call)."""
    eps = number(epsilon, "epsilon", 0.0, 1.0)
    mdp = access_review_abandonment()
    bandit = one_state_bandit(mdp, policy_iteration(mdp).q_values)
    res = learn(bandit, episodes=whole(steps, "steps", 1, 100_000), epsilon=eps, step_size="1/n",
                rng=np.random.default_rng(whole(seed, "seed", 0, 2**32 - 1)))
    visits = {bandit.action_names[int(a)]: int(res.visits[k]) for k, a in enumerate(bandit.sa_action)}
    est = {bandit.action_names[int(a)]: float(res.q[k]) for k, a in enumerate(bandit.sa_action)}
    true = {bandit.action_names[int(a)]: float(bandit.out_reward[k]) for k, a in enumerate(bandit.sa_action)}
    selected = bandit.action_names[int(res.policy[0])]
    return {"epsilon": eps, "visits": visits, "estimates": est, "true": true, "selected": selected,
            "line": f"epsilon={eps:.2f} visits={visits} selected={selected}"}


def _design(name: str, weights: Mapping[str, Any]) -> RewardDesign:
    if not isinstance(weights, Mapping) or not weights:
        raise ParameterError(f"design {name}: expected a mapping of component: weight, got {weights!r}")
    out = {}
    for c, w in weights.items():
        if c not in COMPONENTS and c != "reward":
            raise ParameterError(f"design {name}: unknown component {c!r}; expected one of {sorted(COMPONENTS)}")
        out[str(c)] = number(w, f"design {name}, weight of {c}")
    return RewardDesign(name, out)


def reward_design_lab(weights: Mapping[str, Any] | None = None, model: Any = "components") -> dict[str, Any]:
    """:func:`~accessrl.rewards.audit` of speed_only, outcome_aware and the learner's own weights."""
    if model == "components":
        mdp = access_review_components()
    elif model == "deny":
        mdp = access_review_deny()
    else:
        raise ParameterError(f"model: expected 'components' or 'deny', got {model!r}")
    designs = [RewardDesign("speed_only", dict(SPEED_ONLY)), RewardDesign("outcome_aware", dict(OUTCOME_AWARE))]
    if weights:
        designs.append(_design("yours", weights))
    result = audit(mdp, designs)
    reports = []
    for r in result.reports:
        reports.append({
            "design": r.design, "start_action": r.start_action, "start_q": dict(r.start_q),
            "score": round(r.start_q[r.start_action]), "flagged": r.flagged, "reason": r.reason,
            "shortcuts": list(r.shortcuts), "violations_per_1000": r.violations_per_1000,
            "severe_per_1000": r.severe_per_1000, "totals": dict(r.totals),
            "unfair_denials_per_1000": 1000 * float(r.totals.get("unfair_denial", 0.0)),
            "line": f"{r.design:13} chooses {r.start_action:13} reward={round(r.start_q[r.start_action]):4}",
        })
    return {"model": mdp.name, "components": dict(COMPONENTS), "documented": dict(OUTCOME_AWARE),
            "speed_only": dict(SPEED_ONLY), "reports": reports}


def policy_gradient_lab(lr: Any = STEP_SIZE, baseline: Any = "mean", steps: Any = 1, sampled: Any = 0,
                        seed: Any = 0) -> dict[str, Any]:
    """REINFORCE on the start decision from zero logits: the lesson's batch (one route per action, returns
    Q*) or ``sampled`` actions drawn from pi, each step beside the exact gradient pi_b (Q_b - sum pi Q)."""
    step = number(lr, "learning rate", 0.0, 10.0)
    n_steps = whole(steps, "steps", 1, 500)
    n_sampled = whole(sampled, "sampled", 0, 10_000)
    if baseline not in ("none", "mean", "loo"):
        raise ParameterError(f"baseline: expected 'none', 'mean' or 'loo', got {baseline!r}")
    rng = np.random.default_rng(whole(seed, "seed", 0, 2**32 - 1))
    mdp = access_review_abandonment()
    s0 = _start(mdp)
    lo, hi = int(mdp.sa_ptr[s0]), int(mdp.sa_ptr[s0 + 1])
    returns = policy_iteration(mdp).q_values[lo:hi]
    names = [mdp.action_names[int(a)] for a in mdp.sa_action[lo:hi]]
    logits = np.zeros(hi - lo)
    history = []
    for _ in range(n_steps):
        probs = softmax(logits)
        if n_sampled:
            acts = rng.choice(hi - lo, size=n_sampled, p=probs)
        else:
            acts = np.arange(hi - lo)
        est = bandit_gradient(logits, acts, returns[acts], baseline=str(baseline))
        exact = probs * (returns - probs @ returns)
        new = logits + step * est.mean
        history.append({"before": probs.tolist(), "after": softmax(new).tolist(), "sampled": est.mean.tolist(),
                        "std_error": est.std_error.tolist(), "exact": exact.tolist(),
                        "expected_return": float(probs @ returns)})
        logits = new
    first = history[0]
    lines = [f"{a:13} before={b:.3f} after={c:.3f}" for a, b, c in zip(names, first["before"], first["after"], strict=True)]
    return {"actions": names, "returns": returns.tolist(), "history": history, "lines": lines,
            "final": softmax(logits).tolist()}


def held_out_lab_data(requests: Any = 2000, seed: Any = 1, epsilon: Any = 0.3, prevent: Any = True) -> dict[str, Any]:
    """The lesson's table (:func:`~accessrl.lesson.heldout_lab.held_out_lab`), then the same question on logs
    drawn by :func:`~accessrl.offline.logsim.simulate_logs`: a time split, its leakage checks and each
    candidate's weighted importance-sampling estimate on the test period beside its true value."""
    n = whole(requests, "requests", 100, 20_000)
    eps = number(epsilon, "epsilon", 0.01, 1.0)
    mdp = access_review_abandonment()
    behavior = pair_probabilities(mdp, policy_iteration(access_review()).policy)
    log = simulate_logs(mdp, behavior, n_requests=n, start_us=to_us("2026-01-05"),
                        rng=np.random.default_rng(whole(seed, "seed", 0, 2**32 - 1)), epsilon=eps)
    cut = default_cutoffs(log.steps)
    split = temporal_split(log.steps, cut, prevent=bool(prevent), time_text=us_to_iso)
    lk = split.leakage
    s0 = _start(mdp)
    rows = []
    for name, start_action, ev_action in (("always_auto", "auto_approve", "auto_approve"),
                                          ("always_review", "human_review", "human_review"),
                                          ("evidence_first", "request_evidence", "auto_approve"),
                                          ("risk_aware", "human_review", "auto_approve")):
        mapping = {"new_request": start_action, "evidence_ready": ev_action, "review_queue": "approve_rotation"}
        truth = float(policy_evaluation(mdp, policy_from_mapping(mdp, mapping)).values[s0])
        target = target_matrix(split.test.state_names, split.test.action_names, mapping, source=name)
        rep = evaluate_policy(split.test, target, gamma=mdp.gamma, rng=np.random.default_rng(0), train=split.train,
                              name=name, n_boot=200)
        wis = rep.get("wis")
        rows.append({"policy": name, "true": truth,
                     "wis": None if wis is None else [wis.value, wis.low, wis.high],
                     "ess": rep.effective_sample_size, "severe": rep.severe_observed, "reason": rep.reason})
    return {
        "lesson": held_out_lab(),
        "cutoffs": [us_to_iso(c) for c in cut],
        "episodes": {"train": split.train.n_episodes, "valid": split.valid.n_episodes, "test": split.test.n_episodes},
        "leakage": {"requester_overlap": lk.requester_overlap, "late_outcomes": lk.late_outcomes,
                    "straddling": lk.straddling, "late_features": lk.late_features, "prevented": lk.prevented,
                    "clean": lk.clean, "examples": list(lk.examples)},
        "rows": rows,
    }


LAB_FUNCTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "returns": returns_lab,
    "bellman-backup": bellman_backup_lab,
    "value-iteration": value_iteration_lab,
    "abandonment": abandonment_lab,
    "monte-carlo": monte_carlo_lab,
    "q-learning": q_learning_lab,
    "exploration": exploration_lab,
    "reward-design": reward_design_lab,
    "policy-gradient": policy_gradient_lab,
    "held-out": held_out_lab_data,
}
"""Lab name -> the function its page's controls call (keyword arguments from the JSON body)."""

def plain(x: Any) -> Any:
    """JSON-safe values: numpy scalars and arrays to Python, non-finite floats to None."""
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return plain(x.tolist())
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    return x


__all__ = [
    "LAB_FUNCTIONS",
    "LESSON_ROUTES",
    "plain",
    "abandonment_lab",
    "bellman_backup_lab",
    "exploration_lab",
    "held_out_lab_data",
    "monte_carlo_lab",
    "policy_gradient_lab",
    "q_learning_lab",
    "returns_lab",
    "reward_design_lab",
    "solution",
    "value_iteration_lab",
]
