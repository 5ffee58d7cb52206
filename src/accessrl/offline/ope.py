r"""Off-policy estimators with bootstrap intervals, for held-out decision logs (layer 1).

The periods they score come from :mod:`accessrl.offline.splits`.

Notation: episode i has logged steps t = 0..T_i-1 with state s_t, action a_t, reward
r_t and behaviour propensity mu(a_t|s_t); the candidate (target) policy is pi.  With
rho_t = pi(a_t|s_t) / mu(a_t|s_t) and rho_{0:t} = prod_{k<=t} rho_k:

* IS (Precup, Sutton & Singh 2000):        V = 1/n sum_i rho_{0:T-1} G_i
* weighted / self-normalised IS:            V = sum_i rho_{0:T-1} G_i / sum_i rho_{0:T-1}
* per-decision IS (Precup et al. 2000):     V = 1/n sum_i sum_t gamma^t rho_{0:t} r_t
* doubly robust (Jiang & Li 2016, eq. 8):   V = 1/n sum_i sum_t gamma^t [rho_{0:t} (r_t - q(s_t, a_t))
                                                                   + rho_{0:t-1} v(s_t)]
  with q, v = Q^pi, V^pi of the model estimated on the *training* split;
* model-based: V^pi of the model estimated on the training split, averaged over the
  held-out episodes' start states.

Every estimator is a ratio sum_i x_i / sum_i w_i of per-episode numbers, so one
bootstrap serves all: resampling n episodes with replacement is the same as drawing
multinomial counts over the *distinct* (x_i, w_i) pairs, which for tabular logs are few
— the percentile bootstrap (Efron & Tibshirani 1993, ch. 13) then costs nothing per
episode.  The model-based interval is a parametric bootstrap (outcome counts redrawn
from the fitted multinomials, start states from the held-out start frequencies).
The effective sample size is (sum w)^2 / sum w^2 of the trajectory weights (Kong 1992).
Every interval is then given the floor of :mod:`~accessrl.offline.intervals` (the mass of
outcomes a sample of that effective size cannot show, at the ends of the logged return
range), so a handful of episodes never yields a narrow interval.
Severe errors (return <= ``severe_threshold``) are estimated separately, as a
self-normalised IS rate, because a high mean does not excuse repeated unsupported
approvals.  Support is judged from the logged propensities
(:func:`~accessrl.offline.support.policy_support`): a candidate that needs, in a state the
held-out logs visit, an action the behaviour gave probability 0 has **no support** and no
number is reported; a rare action is supported and its episodes carry their weight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from accessrl._types import BoolArray, FloatArray, IntArray
from accessrl.errors import DataError, ParameterError, PolicyError
from accessrl.offline.estimation import count_transitions, estimate_model
from accessrl.offline.intervals import Interval, floor_interval
from accessrl.offline.logged import LoggedSteps
from accessrl.offline.support import SupportReport, policy_support
from accessrl.planning.exact import policy_evaluation

ESTIMATORS = ("model_based", "is", "wis", "pdis", "dr")


@dataclass(frozen=True)
class EstimatorResult:
    """One estimator's value and interval, or ``None`` with a note when it has no support."""

    name: str
    estimate: Interval | None
    note: str = ""


@dataclass(frozen=True)
class OffPolicyReport:
    """Held-out evaluation of one candidate policy."""

    policy: str
    supported: bool
    reason: str
    n_episodes: int
    matching_episodes: int
    effective_sample_size: float
    estimates: tuple[EstimatorResult, ...]
    severe_rate: Interval | None
    severe_observed: int
    level: float
    gap: tuple[str, str | None] | None = None
    """Without support: the state and the action the behaviour never offered there (``None``: the
    policy has no action in a state the logs visit); ``None`` when the policy is supported."""
    support: SupportReport | None = None
    """Per visited state: the actions the policy needs and those the behaviour did not offer."""
    return_range: tuple[float, float] | None = None
    """(G_min, G_max): the discounted returns logged (held-out and training episodes), the
    range every interval is clipped to."""

    def get(self, name: str) -> Interval | None:
        """The interval of one estimator by name (``None`` without support)."""
        for e in self.estimates:
            if e.name == name:
                return e.estimate
        return None

    def to_json(self) -> dict[str, Any]:
        """The report as data (numbers and names; no sentences): ``support`` is ``"ok"``,
        ``"unlogged_action"`` (see ``gap``), ``"no_action"`` or ``"no_matching_episode"``."""
        if self.supported:
            support = "ok"
        elif self.gap is None:
            support = "no_matching_episode"
        else:
            support = "no_action" if self.gap[1] is None else "unlogged_action"
        return {
            "policy": self.policy, "supported": self.supported, "support": support,
            "gap": None if self.gap is None else {"state": self.gap[0], "action": self.gap[1]},
            "support_by_state": None if self.support is None else self.support.to_json()["states"],
            "support_basis": None if self.support is None else self.support.basis,
            "return_range": None if self.return_range is None else list(self.return_range),
            "n_episodes": self.n_episodes, "matching_episodes": self.matching_episodes,
            "effective_sample_size": self.effective_sample_size,
            "estimates": {e.name: (None if e.estimate is None else e.estimate.__dict__) for e in self.estimates},
            "severe_rate": None if self.severe_rate is None else self.severe_rate.__dict__,
            "severe_observed": self.severe_observed, "level": self.level,
        }


def target_matrix(state_names: tuple[str, ...], action_names: tuple[str, ...], mapping: Any,
                  *, source: str = "policy") -> FloatArray:
    """A (S, A) matrix pi(a|s) from ``{state: action}`` or ``{state: {action: p}}``.

    States of the log the mapping does not name get an all-zero row (no action).
    """
    if not isinstance(mapping, dict):
        raise PolicyError(f"{source}: expected a mapping of state -> action, got {type(mapping).__name__}")
    pi = np.zeros((len(state_names), len(action_names)))
    for state, choice in mapping.items():
        if state not in state_names:
            continue  # a state the logs never saw cannot matter here
        s = state_names.index(state)
        items = [(choice, 1.0)] if isinstance(choice, str) else list(choice.items()) if isinstance(choice, dict) else None
        if items is None:
            raise PolicyError(f"{source}, state {state!r}: expected an action or a mapping action -> probability")
        for action, p in items:
            if action not in action_names:
                raise PolicyError(f"{source}, state {state!r}: action {action!r} never appears in the logs")
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
                raise PolicyError(f"{source}, state {state!r}, action {action!r}: expected a probability in [0, 1]")
            pi[s, action_names.index(action)] += float(p)
        if abs(pi[s].sum() - 1.0) > 1e-9:
            raise PolicyError(f"{source}, state {state!r}: probabilities sum to {pi[s].sum():.12g}, expected 1")
    return pi


def matrix_mapping(state_names: tuple[str, ...], action_names: tuple[str, ...],
                   pi: FloatArray) -> dict[str, Any]:
    """The policy-file mapping of an (S, A) matrix — the inverse of :func:`target_matrix`:
    ``state: action`` where a row is deterministic, ``state: {action: p}`` otherwise (non-zero
    entries); all-zero rows (states the policy does not decide) are left out."""
    out: dict[str, Any] = {}
    for s, row in enumerate(np.asarray(pi, dtype=np.float64)):
        nz = np.flatnonzero(row > 0)
        if nz.size == 0:
            continue
        if nz.size == 1 and abs(row[nz[0]] - 1.0) <= 1e-12:
            out[state_names[s]] = action_names[int(nz[0])]
        else:
            out[state_names[s]] = {action_names[int(a)]: float(row[a]) for a in nz}
    return out


def _segment_cumprod(ratio: FloatArray, steps: LoggedSteps) -> FloatArray:
    """prod_{k<=t} ratio_k within each episode, via log-sums with a zero count."""
    zero = ratio == 0.0
    logs = np.log(np.where(zero, 1.0, ratio))
    cl = np.cumsum(logs)
    cz = np.cumsum(zero)
    start = steps.episode_ptr[:-1][steps.episode_of_row]
    base_l = np.where(start > 0, cl[np.maximum(start - 1, 0)], 0.0)
    base_z = np.where(start > 0, cz[np.maximum(start - 1, 0)], 0)
    return np.where(cz - base_z > 0, 0.0, np.exp(cl - base_l))


def _discounts(steps: LoggedSteps, gamma: float) -> FloatArray:
    pos = np.arange(steps.n_steps) - steps.episode_ptr[:-1][steps.episode_of_row]
    return np.asarray(gamma**pos, dtype=np.float64)


def _episode_sum(values: FloatArray, steps: LoggedSteps) -> FloatArray:
    return np.add.reduceat(values, steps.episode_ptr[:-1]) if steps.n_steps else np.zeros(0)


@dataclass(frozen=True, eq=False)
class EpisodeTerms:
    """Per-episode numbers (x_i, w_i) of each ratio estimator sum x / sum w."""

    returns: FloatArray
    weight: FloatArray
    terms: dict[str, tuple[FloatArray, FloatArray]]


def episode_terms(steps: LoggedSteps, target: FloatArray, *, gamma: float,
                  q_hat: FloatArray | None = None) -> EpisodeTerms:
    """The per-episode numbers behind IS, WIS, PDIS and (with ``q_hat`` (S, A)) DR."""
    pi_a = target[steps.state, steps.action]
    rho = pi_a / steps.propensity
    cum = _segment_cumprod(rho, steps)
    disc = _discounts(steps, gamma)
    g = _episode_sum(disc * steps.reward, steps)
    last = steps.episode_ptr[1:] - 1
    w = cum[last]
    ones = np.ones_like(w)
    terms = {"is": (w * g, ones), "wis": (w * g, w), "pdis": (_episode_sum(disc * cum * steps.reward, steps), ones)}
    if q_hat is not None:
        v_hat = np.sum(np.nan_to_num(q_hat) * target, axis=1)
        prev = np.where(steps.episode_ptr[:-1][steps.episode_of_row] == np.arange(steps.n_steps), 1.0,
                        np.concatenate(([1.0], cum[:-1])))
        contrib = disc * (cum * (steps.reward - np.nan_to_num(q_hat[steps.state, steps.action]))
                          + prev * v_hat[steps.state])
        terms["dr"] = (_episode_sum(contrib, steps), ones)
    return EpisodeTerms(returns=g, weight=w, terms=terms)


def bootstrap_ratio(x: FloatArray, w: FloatArray, *, rng: np.random.Generator, n_boot: int = 1000,
                    level: float = 0.95) -> Interval:
    """Percentile bootstrap interval of sum x / sum w over resampled episodes.

    Draws multinomial counts over the distinct (x_i, w_i) pairs: the same distribution
    as resampling the n episodes with replacement.
    """
    n = x.size
    pairs, counts = np.unique(np.stack([x, w], axis=1), axis=0, return_counts=True)
    value = float(np.sum(x) / np.sum(w)) if np.sum(w) > 0 else float("nan")
    if pairs.shape[0] <= 20_000:
        draws = rng.multinomial(n, counts / n, size=n_boot).astype(np.float64)
        num, den = draws @ pairs[:, 0], draws @ pairs[:, 1]
    else:  # many distinct values: resample episodes in chunks
        num, den = np.empty(n_boot), np.empty(n_boot)
        for b in range(n_boot):
            idx = rng.integers(0, n, size=n)
            num[b], den[b] = x[idx].sum(), w[idx].sum()
    stat = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    stat = stat[np.isfinite(stat)]
    if stat.size == 0:
        return Interval(value, float("nan"), float("nan"))
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(stat, [a, 1.0 - a])
    return Interval(value, float(lo), float(hi))


def effective_sample_size(weight: FloatArray) -> float:
    """(sum w)^2 / sum w^2 of the trajectory weights (Kong 1992)."""
    s2 = float(np.sum(weight**2))
    return float(np.sum(weight)) ** 2 / s2 if s2 > 0 else 0.0


def support_gap(steps: LoggedSteps, target: FloatArray) -> tuple[str, str | None] | None:
    """The first (state, action) that ``target`` needs and the behaviour of ``steps`` never
    offered — action ``None`` when the policy has no action in a visited state; ``None`` when
    it is supported (:func:`~accessrl.offline.support.policy_support`)."""
    return policy_support(steps, target).first_gap


def coverage_gap(logged: BoolArray, visited: BoolArray, target: FloatArray, state_names: Sequence[str],
                 action_names: Sequence[str]) -> tuple[str, str | None] | None:
    """:func:`support_gap` from what a log covers: ``logged`` (S, A) pairs taken, ``visited`` (S,)
    states seen (what partitions of a log can send and OR together)."""
    for s in np.flatnonzero(visited):
        if target[s].sum() == 0:
            return state_names[int(s)], None
        missing = np.flatnonzero((target[s] > 0) & ~logged[s])
        if missing.size:
            return state_names[int(s)], action_names[int(missing[0])]
    return None


def gap_reason(gap: tuple[str, str | None] | None) -> str:
    """The one-line "no support" reason of a :func:`support_gap` ('' when supported)."""
    if gap is None:
        return ""
    if gap[1] is None:
        return f"no support: the policy has no action for state {gap[0]!r}, which the logs visit"
    return f"no support: the logs never took {gap[1]!r} in state {gap[0]!r}, which the policy does"


def support_problem(steps: LoggedSteps, target: FloatArray) -> str:
    """Why ``target`` has no support in ``steps`` ('' when it has); see :func:`support_gap`."""
    return policy_support(steps, target).reason()


def episode_returns(steps: LoggedSteps, gamma: float) -> FloatArray:
    """The discounted return of every episode of ``steps``."""
    return _episode_sum(_discounts(steps, gamma) * steps.reward, steps)


def _model_min_visits(train: LoggedSteps, target: FloatArray, starts: FloatArray) -> float:
    """The fewest training decisions of any pair ``target`` takes in a state it reaches, in the
    model fitted on ``train``, from the states ``starts`` (S,) gives weight."""
    s_n, a_n = target.shape
    c = count_transitions(train)
    counts = np.zeros((s_n, a_n))
    counts[c.pair_state, c.pair_action] = c.pair_count
    nxt: dict[tuple[int, int], set[int]] = {}
    for j in range(c.out_count.size):
        k = int(c.out_pair[j])
        nxt.setdefault((int(c.pair_state[k]), int(c.pair_action[k])), set()).add(int(c.out_next[j]))
    seen = set(np.flatnonzero(starts > 0).tolist())
    frontier = list(seen)
    least = float("inf")
    while frontier:
        s = frontier.pop()
        for a in np.flatnonzero(target[s] > 0):
            least = min(least, float(counts[s, a]))
            for t in nxt.get((s, int(a)), ()):
                if t not in seen:
                    seen.add(t)
                    frontier.append(t)
    return least if np.isfinite(least) else 0.0


def _model_q(train: LoggedSteps, target: FloatArray, gamma: float) -> tuple[FloatArray, FloatArray] | None:
    """Q^pi and V^pi (dense over the log's names) in the model estimated on ``train``;
    ``None`` when pi needs a pair the training data lacks."""
    mdp = estimate_model(train, gamma=gamma, min_support=0).mdp
    return _q_in(mdp, train.state_names, train.action_names, target)


def _q_in(mdp: Any, state_names: tuple[str, ...], action_names: tuple[str, ...],
          target: FloatArray) -> tuple[FloatArray, FloatArray] | None:
    s_map = np.array([state_names.index(n) for n in mdp.state_names])
    a_map = np.array([action_names.index(n) for n in mdp.action_names])
    probs = target[s_map[mdp.sa_state], a_map[mdp.sa_action]]
    per_state = np.bincount(mdp.sa_state, weights=probs, minlength=mdp.n_states)
    dec = mdp.decision_states
    if np.any(np.abs(per_state[dec] - 1.0) > 1e-9):
        return None
    ev = policy_evaluation(mdp, probs)
    q = np.full(target.shape, np.nan)
    q[s_map[mdp.sa_state], a_map[mdp.sa_action]] = ev.q_values
    v = np.zeros(target.shape[0])
    v[s_map] = ev.values
    return q, v


def batch_policy_values(mdp: Any, prob: FloatArray, reward: FloatArray, pair_pi: FloatArray, *,
                        tol: float = 1e-10, max_iter: int = 100_000) -> FloatArray:
    """V^pi for B variants of one model at once: ``prob``/``reward`` are (B, nnz) outcome
    probabilities and rewards over ``mdp``'s outcome layout, ``pair_pi`` (L,) the policy.
    Iterates V <- r_pi + gamma P_pi V for all variants together until the change is below ``tol``."""
    b = prob.shape[0]
    v = np.zeros((b, mdp.n_states))
    dec = mdp.decision_states
    starts = mdp.sa_ptr[dec]
    for _ in range(max_iter):
        contrib = prob * (reward + mdp.gamma * v[:, mdp.out_next])
        q = np.add.reduceat(contrib, mdp.out_ptr[:-1], axis=1)
        new = np.zeros_like(v)
        if dec.size:
            new[:, dec] = np.add.reduceat(q * pair_pi, starts, axis=1)
        delta = float(np.max(np.abs(new - v))) if v.size else 0.0
        v = new
        if delta <= tol:
            break
    return v


def _model_based(train: LoggedSteps, test: LoggedSteps, target: FloatArray, gamma: float,
                 rng: np.random.Generator, n_boot: int, level: float,
                 bounds: tuple[float, float]) -> EstimatorResult:
    mdp = estimate_model(train, gamma=gamma, min_support=0).mdp
    names = (train.state_names, train.action_names)
    qv = _q_in(mdp, *names, target)
    if qv is None:
        return EstimatorResult("model_based", None, "no support in the training split")
    starts = np.bincount(test.state[test.episode_ptr[:-1]], minlength=target.shape[0]).astype(np.float64)
    value = float(starts @ qv[1] / starts.sum())
    n_eff = _model_min_visits(train, target, starts)
    # Parametric bootstrap: per pair, outcome counts ~ Multinomial(n(s,a), p_hat); mean
    # rewards ~ Normal(r_hat, sd / sqrt(n)); start states ~ Multinomial(n_test, start freq).
    c = count_transitions(train)
    row_of = {(names[0][int(c.pair_state[c.out_pair[j]])], names[1][int(c.pair_action[c.out_pair[j]])],
               names[0][int(c.out_next[j])]): j for j in range(c.out_count.size)}
    pair_of = np.repeat(np.arange(mdp.n_pairs), np.diff(mdp.out_ptr))
    rows = np.array([row_of[(mdp.state_names[int(mdp.sa_state[pair_of[k]])],
                             mdp.action_names[int(mdp.sa_action[pair_of[k]])],
                             mdp.state_names[int(mdp.out_next[k])])] for k in range(mdp.n_outcomes)])
    n_pair = c.pair_count[c.out_pair[rows]]
    r_mean = c.reward_sum[rows] / c.out_count[rows]
    r_se = np.sqrt(np.maximum(c.reward_sq[rows] / c.out_count[rows] - r_mean**2, 0.0) / c.out_count[rows])
    # Draw all replicates at once: a multinomial per pair (numpy broadcasts over the pairs'
    # outcome blocks through one multinomial per pair of the B replicates).
    prob = np.empty((n_boot, mdp.n_outcomes))
    for k in range(mdp.n_pairs):
        lo, hi = int(mdp.out_ptr[k]), int(mdp.out_ptr[k + 1])
        p_k = mdp.out_prob[lo:hi] / mdp.out_prob[lo:hi].sum()
        prob[:, lo:hi] = rng.multinomial(int(n_pair[lo]), p_k, size=n_boot) / n_pair[lo]
    rew = r_mean + rng.standard_normal((n_boot, r_mean.size)) * r_se
    s_map = np.array([names[0].index(n) for n in mdp.state_names])
    a_map = np.array([names[1].index(n) for n in mdp.action_names])
    pair_pi = target[s_map[mdp.sa_state], a_map[mdp.sa_action]]
    v_boot = batch_policy_values(mdp, prob, rew, pair_pi)  # (B, S_model)
    v_full = np.zeros((n_boot, target.shape[0]))
    v_full[:, s_map] = v_boot
    sb = rng.multinomial(int(starts.sum()), starts / starts.sum(), size=n_boot)
    sims = np.sum(sb * v_full, axis=1) / sb.sum(axis=1)
    a = (1.0 - level) / 2.0
    lo_, hi_ = np.quantile(sims, [a, 1 - a])
    bounds = (min(bounds[0], float(lo_)), max(bounds[1], float(hi_)))
    iv = floor_interval(Interval(value, float(lo_), float(hi_)), n_eff=n_eff, bounds=bounds, level=level)
    return EstimatorResult("model_based", iv, f"parametric bootstrap, floored at {n_eff:g} decisions per pair")


def evaluate_policy(
    test: LoggedSteps,
    target: FloatArray,
    *,
    gamma: float,
    rng: np.random.Generator,
    train: LoggedSteps | None = None,
    name: str = "policy",
    severe_threshold: float = -100.0,
    n_boot: int = 1000,
    n_boot_model: int = 1000,
    level: float = 0.95,
    return_range: tuple[float, float] | None = None,
) -> OffPolicyReport:
    """Every estimator of the module docstring for one candidate on held-out ``test`` logs.

    Model-based and doubly robust estimates need ``train`` (the model is fitted there,
    never on ``test``).  ``return_range`` (G_min, G_max) bounds every interval; by default
    the range of the discounted returns logged in ``test`` and ``train``.
    """
    if not 0.0 < gamma <= 1.0:
        raise ParameterError(f"gamma: expected a number in (0, 1], got {gamma!r}")
    if test.n_steps == 0:
        raise DataError("evaluate: the held-out split has no episodes")
    target = np.asarray(target, dtype=np.float64)
    if target.shape != (len(test.state_names), len(test.action_names)):
        raise PolicyError(f"policy {name!r}: expected a ({len(test.state_names)}, {len(test.action_names)}) matrix")
    support = policy_support(test, target)
    gap, problem = support.first_gap, support.reason()
    base = episode_terms(test, target, gamma=gamma)
    matching = int(np.count_nonzero(base.weight > 0))
    if return_range is None:
        logged = base.returns if train is None else np.concatenate([base.returns, episode_returns(train, gamma)])
        return_range = (float(logged.min()), float(logged.max()))
    elif not return_range[0] <= return_range[1]:
        raise ParameterError(f"return_range: expected (low, high) with low <= high, got {return_range!r}")
    if problem:
        return OffPolicyReport(name, False, problem, test.n_episodes, matching, 0.0, (), None, 0, level, gap,
                               support, return_range)
    ess = effective_sample_size(base.weight)
    q_hat = None
    results: list[EstimatorResult] = []
    if train is not None:
        results.append(_model_based(train, test, target, gamma, rng, n_boot_model, level, return_range))
        qv = _model_q(train, target, gamma)
        q_hat = None if qv is None else qv[0]
    terms = episode_terms(test, target, gamma=gamma, q_hat=q_hat)
    for key in ("is", "wis", "pdis", "dr"):
        if key in terms.terms:
            x, w = terms.terms[key]
            if not np.sum(w) > 0:
                results.append(EstimatorResult(key, None, "no held-out episode follows the policy"))
                continue
            boot = bootstrap_ratio(x, w, rng=rng, n_boot=n_boot, level=level)
            results.append(EstimatorResult(key, floor_interval(boot, n_eff=ess, bounds=return_range, level=level),
                                           f"percentile bootstrap, floored at ESS {ess:.1f}"))
        elif key == "dr" and train is not None:
            results.append(EstimatorResult("dr", None, "no support in the training split"))
    severe = (terms.returns <= severe_threshold).astype(np.float64)
    rate = None
    if matching:
        rate = floor_interval(bootstrap_ratio(terms.weight * severe, terms.weight, rng=rng, n_boot=n_boot, level=level),
                              n_eff=ess, bounds=(0.0, 1.0), level=level)
    observed = int(np.count_nonzero((terms.weight > 0) & (severe > 0)))
    return OffPolicyReport(name, True, "", test.n_episodes, matching, ess, tuple(results), rate, observed, level,
                           None, support, return_range)


def exhaustive_logs(contexts: IntArray, returns: FloatArray, *, context_names: tuple[str, ...],
                    action_names: tuple[str, ...], terminal_name: str = "closed") -> LoggedSteps:
    """One-step logs in which every request was tried with every action once.

    Request i (context ``contexts[i]``) yields A logged episodes, one per action a, with
    reward ``returns[i, a]`` and propensity 1/A: exactly what a uniformly randomised
    logging policy records in expectation, so IS over these logs reproduces the table's
    per-policy means and severe counts.
    """
    ret = np.asarray(returns, dtype=np.float64)
    ctx = np.asarray(contexts, dtype=np.int64)
    e, a = ret.shape
    if ctx.shape != (e,):
        raise ParameterError(f"contexts: expected {e} entries, got shape {ctx.shape}")
    n = e * a
    zeros = np.zeros(n, dtype=np.int64)
    states = (*context_names, terminal_name)
    return LoggedSteps(
        state_names=states, action_names=action_names, episode=np.arange(n, dtype=np.int64), step=zeros,
        requester=np.repeat(np.arange(e, dtype=np.int64), a), state=np.repeat(ctx, a),
        action=np.tile(np.arange(a, dtype=np.int64), e), propensity=np.full(n, 1.0 / a), reward=ret.reshape(n),
        next_state=np.full(n, len(context_names), dtype=np.int64), terminated=np.ones(n, dtype=bool),
        truncated=np.zeros(n, dtype=bool), decided_at=zeros, outcome_at=zeros, features_at=zeros,
        behavior_table=np.full((1, a), 1.0 / a), behavior_index=zeros.copy(),
    )


__all__ = [
    "ESTIMATORS",
    "coverage_gap",
    "gap_reason",
    "exhaustive_logs",
    "EpisodeTerms",
    "EstimatorResult",
    "Interval",
    "OffPolicyReport",
    "batch_policy_values",
    "bootstrap_ratio",
    "effective_sample_size",
    "episode_returns",
    "episode_terms",
    "evaluate_policy",
    "matrix_mapping",
    "support_gap",
    "support_problem",
    "target_matrix",
]
