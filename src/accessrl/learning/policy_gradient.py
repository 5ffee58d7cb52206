r"""Policy gradients on workflow models: softmax policies and REINFORCE (layer 1, NumPy).

A *softmax policy* scores every state-action pair ``k`` of a compiled
:class:`~accessrl.model.MDP` with a logit :math:`h_k = \phi_k^\top \theta` and picks
among the pairs of a state with probability

.. math:: \pi_\theta(a \mid s) = \frac{e^{h(s,a)}}{\sum_b e^{h(s,b)}}

(Sutton & Barto 2018, eq. 13.2).  The *tabular* policy has one logit per pair
(``features = I``); a *linear-feature* policy shares ``d`` weights across pairs
(eq. 13.3).  The score function of a softmax policy is

.. math:: \nabla_\theta \log \pi_\theta(a \mid s) = \phi(s,a) - \sum_b \pi_\theta(b \mid s)\,\phi(s,b)

(eq. 13.9), which for one logit per action is ``one_hot(a) - pi`` — the lesson's
``np.eye(n) - probabilities``.

REINFORCE (Williams 1992; Sutton & Barto 2018, §13.3–13.4) estimates the gradient of
the start value :math:`J(\theta) = v_{\pi_\theta}(s_0)` from sampled episodes:

.. math:: \hat g = \sum_{t} \gamma^t \,(G_t - b(S_t))\, \nabla_\theta \log \pi_\theta(A_t \mid S_t)

Any baseline that does not depend on :math:`A_t` (nor on what follows it) leaves
:math:`E[\hat g]` unchanged; a good one lowers its variance.  The exact gradient follows
from the policy gradient theorem (eq. 13.5, discounted form),

.. math:: \nabla J(\theta) = \sum_s d_\gamma(s) \sum_a \pi(a \mid s)\, q_\pi(s,a)\, \nabla \log \pi(a \mid s),
   \qquad d_\gamma = \mu_0 + \gamma P_\pi^\top d_\gamma ,

with :math:`d_\gamma` the discounted state occupancy from the start state.

>>> import numpy as np
>>> softmax(np.array([1000.0, 1000.0, -np.inf])).tolist()
[0.5, 0.5, 0.0]
>>> score_function(np.full(3, 1 / 3), np.array([2])).round(3).tolist()
[[-0.333, -0.333, 0.667]]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from accessrl._types import FloatArray, IntArray
from accessrl.errors import ModelError, ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.policies import pair_probabilities
from accessrl.model.returns import rewards_to_go
from accessrl.model.spec import compile_spec
from accessrl.planning.exact import policy_evaluation, state_max
from accessrl.simulation import sample_outcome, sample_pair

BASELINES = ("none", "mean", "loo", "value")
"""Baselines :func:`reinforce_gradient` knows: none, batch mean, leave-one-out, a state value."""


def softmax(logits: Any, axis: int = -1) -> FloatArray:
    """Numerically stable softmax: subtract the max before exponentiating.

    ``exp(x - max x)`` never overflows; ``-inf`` logits get probability 0.
    """
    x = np.asarray(logits, dtype=np.float64)
    top = np.max(x, axis=axis, keepdims=True)
    if not np.all(np.isfinite(top)):
        raise ParameterError("logits: expected at least one finite logit along the softmax axis")
    w = np.exp(x - top)
    out: FloatArray = w / np.sum(w, axis=axis, keepdims=True)
    return out


def segment_softmax(mdp: MDP, logits: Any) -> FloatArray:
    """Per-state softmax of pair logits (L,) -> pair probabilities (L,)."""
    h = np.asarray(logits, dtype=np.float64)
    if h.shape != (mdp.n_pairs,):
        raise ParameterError(f"logits: expected {mdp.n_pairs} pair logits, got shape {h.shape}")
    ds = mdp.decision_states
    if ds.size == 0:
        return np.zeros(0)
    starts = mdp.sa_ptr[ds]
    counts = mdp.n_actions_of[ds]
    top = np.repeat(np.maximum.reduceat(h, starts), counts)
    w = np.exp(h - top)
    out: FloatArray = w / np.repeat(np.add.reduceat(w, starts), counts)
    return out


def score_function(probs: Any, actions: Any) -> FloatArray:
    """Score of a softmax over logits, one row per sampled action: ``one_hot(a) - pi``.

    ``probs`` (K,) action probabilities; ``actions`` (N,) sampled indices -> (N, K).
    """
    p = np.asarray(probs, dtype=np.float64)
    a = np.asarray(actions, dtype=np.int64)
    if a.ndim != 1 or np.any((a < 0) | (a >= p.size)):
        raise ParameterError(f"actions: expected indices in [0, {p.size}), got {a.tolist()}")
    out: FloatArray = np.eye(p.size)[a] - p
    return out


@dataclass(frozen=True, eq=False)
class SoftmaxPolicy:
    """A softmax policy over the pairs of ``mdp`` with logits ``features @ theta``.

    ``features`` is an (L, d) array, or ``None`` for the tabular policy (one logit
    per pair, d = L).
    """

    mdp: MDP
    features: FloatArray | None = None

    @property
    def n_params(self) -> int:
        """d, the length of theta."""
        return self.mdp.n_pairs if self.features is None else int(self.features.shape[1])

    def check_theta(self, theta: Any) -> FloatArray:
        t = np.asarray(theta, dtype=np.float64)
        if t.shape != (self.n_params,) or not np.all(np.isfinite(t)):
            raise ParameterError(f"theta: expected {self.n_params} finite parameters, got shape {t.shape}")
        return t

    def logits(self, theta: Any) -> FloatArray:
        """h = features @ theta, per pair (L,)."""
        t = self.check_theta(theta)
        return t.copy() if self.features is None else np.asarray(self.features @ t, dtype=np.float64)

    def probabilities(self, theta: Any) -> FloatArray:
        """pi(a|s) per pair (L,)."""
        return segment_softmax(self.mdp, self.logits(theta))

    def mean_features(self, probs: FloatArray) -> FloatArray:
        """E_pi[phi(s, .)] per pair's state, (L, d) (only for linear policies)."""
        assert self.features is not None
        mdp = self.mdp
        weighted = probs[:, None] * self.features
        ds = mdp.decision_states
        per_state = np.add.reduceat(weighted, mdp.sa_ptr[ds], axis=0)
        out: FloatArray = np.repeat(per_state, mdp.n_actions_of[ds], axis=0)
        return out

    def scores(self, probs: FloatArray, pairs: IntArray) -> FloatArray:
        """grad log pi(a|s) at each chosen pair, (T, d) (eq. 13.9)."""
        mdp = self.mdp
        if self.features is not None:
            return np.asarray(self.features[pairs] - self.mean_features(probs)[pairs], dtype=np.float64)
        out = np.zeros((pairs.size, mdp.n_pairs))
        for i, k in enumerate(pairs):
            s = int(mdp.sa_state[k])
            lo, hi = int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1])
            out[i, lo:hi] = -probs[lo:hi]
            out[i, k] += 1.0
        return out


def tabular_policy(mdp: MDP) -> SoftmaxPolicy:
    """One logit per state-action pair."""
    return SoftmaxPolicy(mdp, None)


def linear_policy(mdp: MDP, features: Any) -> SoftmaxPolicy:
    """Logits ``features @ theta`` with ``features`` (L, d), one row per pair."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] != mdp.n_pairs or f.shape[1] < 1 or not np.all(np.isfinite(f)):
        raise ParameterError(f"features: expected a finite ({mdp.n_pairs}, d) array, one row per pair, got shape {f.shape}")
    return SoftmaxPolicy(mdp, f)


@dataclass(frozen=True, eq=False)
class Episode:
    """One sampled episode: the state and pair of each step and the reward that followed."""

    states: IntArray
    pairs: IntArray
    rewards: FloatArray
    truncated: bool

    def discounted_return(self, gamma: float) -> float:
        """G_0 of this episode."""
        return float(rewards_to_go(self.rewards, gamma)[0]) if self.rewards.size else 0.0


def _start_state(mdp: MDP, start: int | None) -> int:
    s = mdp.start if start is None else int(start)
    if s is None:
        raise ModelError(f"{mdp.name}: no start state; pass start=")
    if not 0 <= s < mdp.n_states:
        raise ParameterError(f"start: expected a state index in [0, {mdp.n_states}), got {s}")
    return s


def sample_episode(
    mdp: MDP, probs: Any, rng: np.random.Generator, *, start: int | None = None, max_steps: int = 10_000
) -> Episode:
    """Sample one episode under pair probabilities ``probs`` (L,).

    The project's step rule (:mod:`accessrl.simulation`): a choice among several actions
    with positive probability, and a stochastic step among several outcomes, each draws
    ONE uniform and picks by cumulative probability in declared order (action first,
    then outcome); a forced choice or a deterministic step draws nothing.  An
    episode still running after ``max_steps`` steps is cut and marked ``truncated``.
    """
    return _sample(mdp, pair_probabilities(mdp, probs), rng, _start_state(mdp, start), max_steps)


def _sample(mdp: MDP, p: FloatArray, rng: np.random.Generator, s: int, max_steps: int) -> Episode:
    states: list[int] = []
    pairs: list[int] = []
    rewards: list[float] = []
    for _ in range(max_steps):
        if mdp.terminal[s] or mdp.n_actions_of[s] == 0:
            return Episode(np.array(states, np.int64), np.array(pairs, np.int64), np.array(rewards), False)
        lo, hi = int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1])
        k = sample_pair(p, lo, hi, rng)
        j = sample_outcome(mdp, k, rng)
        states.append(s)
        pairs.append(k)
        rewards.append(float(mdp.out_reward[j]))
        s = int(mdp.out_next[j])
    done = bool(mdp.terminal[s] or mdp.n_actions_of[s] == 0)
    return Episode(np.array(states, np.int64), np.array(pairs, np.int64), np.array(rewards), not done)


def sample_episodes(
    mdp: MDP, probs: Any, n: int, rng: np.random.Generator, *, start: int | None = None, max_steps: int = 10_000
) -> tuple[Episode, ...]:
    """``n`` independent episodes (see :func:`sample_episode`)."""
    if n < 1:
        raise ParameterError(f"episodes: expected at least 1, got {n}")
    p = pair_probabilities(mdp, probs)
    s0 = _start_state(mdp, start)
    return tuple(_sample(mdp, p, rng, s0, max_steps) for _ in range(n))


@dataclass(frozen=True, eq=False)
class GradientEstimate:
    """A Monte Carlo policy-gradient estimate.

    ``samples`` (N, d) holds one gradient term per episode (or per bandit draw);
    ``mean`` is their average, ``std_error`` its per-coordinate standard error and
    ``variance`` the total variance (trace of the covariance) of ONE sample.
    """

    mean: FloatArray
    samples: FloatArray
    std_error: FloatArray
    variance: float
    baseline: str


def _estimate(samples: FloatArray, baseline: str) -> GradientEstimate:
    n = samples.shape[0]
    var = samples.var(axis=0, ddof=1) if n > 1 else np.zeros(samples.shape[1])
    return GradientEstimate(
        mean=samples.mean(axis=0), samples=samples, std_error=np.sqrt(var / n),
        variance=float(var.sum()), baseline=baseline,
    )


def _check_baseline(baseline: str) -> None:
    if baseline not in BASELINES:
        raise ParameterError(f"baseline: expected one of {list(BASELINES)}, got {baseline!r}")


def bandit_gradient(logits: Any, actions: Any, returns: Any, *, baseline: str = "mean") -> GradientEstimate:
    r"""REINFORCE for one decision: samples ``(one_hot(a_i) - pi) (G_i - b_i)``.

    ``baseline``: ``"none"`` (b = 0), ``"mean"`` (the batch mean, as in the lesson;
    it includes G_i itself, which scales the expected gradient by (N-1)/N), ``"loo"``
    (the mean of the other N-1 returns: unbiased; Kool et al. 2019).

    >>> est = bandit_gradient(np.zeros(3), np.arange(3), np.array([-120.0, 30.75, 54.0]))
    >>> est.mean.round(3).tolist()
    [-36.083, 14.167, 21.917]
    """
    h = np.asarray(logits, dtype=np.float64)
    g = np.asarray(returns, dtype=np.float64)
    a = np.asarray(actions, dtype=np.int64)
    if g.shape != a.shape or a.ndim != 1 or a.size < 1:
        raise ParameterError(f"returns: expected one return per action, got {g.shape} and {a.shape}")
    if baseline == "value":
        raise ParameterError("baseline: a one-decision batch has no state value; expected 'none', 'mean' or 'loo'")
    _check_baseline(baseline)
    b = _batch_baseline(g, baseline)
    return _estimate(score_function(softmax(h), a) * (g - b)[:, None], baseline)


def _batch_baseline(g: FloatArray, baseline: str) -> FloatArray:
    n = g.size
    if baseline == "none":
        return np.zeros(n)
    if baseline == "mean":
        return np.full(n, g.mean())
    if n < 2:
        raise ParameterError("baseline 'loo': expected at least 2 samples")
    out: FloatArray = (g.sum() - g) / (n - 1)
    return out


def _state_baselines(
    episodes: tuple[Episode, ...], returns: list[FloatArray], n_states: int, baseline: str, values: FloatArray | None
) -> list[FloatArray]:
    """b(S_t) for every step of every episode."""
    if baseline == "none":
        return [np.zeros(e.states.size) for e in episodes]
    if baseline == "value":
        assert values is not None
        return [values[e.states] for e in episodes]
    tot = np.zeros(n_states)
    cnt = np.zeros(n_states)
    per: list[tuple[FloatArray, FloatArray]] = []
    for e, g in zip(episodes, returns, strict=True):
        et, ec = np.zeros(n_states), np.zeros(n_states)
        np.add.at(et, e.states, g)
        np.add.at(ec, e.states, 1.0)
        tot += et
        cnt += ec
        per.append((et, ec))
    out = []
    for e, (et, ec) in zip(episodes, per, strict=True):
        if baseline == "mean":
            num, den = tot[e.states], cnt[e.states]
        else:  # leave this whole episode out: its other visits depend on its own actions
            num, den = tot[e.states] - et[e.states], cnt[e.states] - ec[e.states]
        out.append(np.where(den > 0, num / np.maximum(den, 1.0), 0.0))
    return out


def reinforce_gradient(
    policy: SoftmaxPolicy,
    theta: Any,
    episodes: tuple[Episode, ...] | list[Episode],
    *,
    baseline: str = "none",
    values: Any = None,
) -> GradientEstimate:
    r"""REINFORCE estimate of grad v(s_0): one sample per episode,
    :math:`\sum_t \gamma^t (G_t - b(S_t)) \nabla \log \pi(A_t \mid S_t)`.

    ``baseline``: ``"none"``; ``"mean"`` — the batch mean of G_t over all visits to
    S_t (includes the episode itself, so the expectation shrinks by about (N-1)/N);
    ``"loo"`` — the same mean over the OTHER episodes (unbiased; the RLOO baseline
    of Kool et al. 2019 and Ahmadian et al. 2024); ``"value"`` — ``values[S_t]``, a
    state-value estimate fixed before this batch (unbiased).
    """
    _check_baseline(baseline)
    eps = tuple(episodes)
    if not eps:
        raise ParameterError("episodes: expected at least one episode")
    mdp = policy.mdp
    v = None
    if baseline == "value":
        if values is None:
            raise ParameterError("values: baseline 'value' needs one value per state")
        v = np.asarray(values, dtype=np.float64)
        if v.shape != (mdp.n_states,):
            raise ParameterError(f"values: expected {mdp.n_states} entries (one per state), got shape {v.shape}")
    if baseline == "loo" and len(eps) < 2:
        raise ParameterError("baseline 'loo': expected at least 2 episodes")
    probs = policy.probabilities(theta)
    rets = [rewards_to_go(e.rewards, mdp.gamma) for e in eps]
    bases = _state_baselines(eps, rets, mdp.n_states, baseline, v)
    samples = np.zeros((len(eps), policy.n_params))
    for i, (e, g, b) in enumerate(zip(eps, rets, bases, strict=True)):
        if e.pairs.size:
            disc = mdp.gamma ** np.arange(e.pairs.size)
            samples[i] = (disc * (g - b)) @ policy.scores(probs, e.pairs)
    return _estimate(samples, baseline)


@dataclass(frozen=True, eq=False)
class ExactGradient:
    """grad J from the model (policy gradient theorem) with its ingredients."""

    gradient: FloatArray
    value: float
    occupancy: FloatArray
    q_values: FloatArray
    probabilities: FloatArray


def _policy_matrix(mdp: MDP, probs: FloatArray) -> sp.csr_matrix:
    d = sp.csr_matrix((probs, (mdp.sa_state, np.arange(mdp.n_pairs))), shape=(mdp.n_states, mdp.n_pairs))
    return (d @ mdp.transition_matrix).tocsr()


def discounted_occupancy(mdp: MDP, probs: Any, *, start: int | None = None) -> FloatArray:
    r"""d_gamma(s) = sum_t gamma^t P(S_t = s | S_0 = start): solves (I - gamma P_pi^T) d = e_start."""
    p = pair_probabilities(mdp, probs)
    s0 = _start_state(mdp, start)
    mu = np.zeros(mdp.n_states)
    mu[s0] = 1.0
    a = (sp.identity(mdp.n_states, format="csc") - mdp.gamma * _policy_matrix(mdp, p).T).tocsc()
    return np.asarray(spla.spsolve(a, mu), dtype=np.float64).reshape(mdp.n_states)


def exact_policy_gradient(policy: SoftmaxPolicy, theta: Any, *, start: int | None = None) -> ExactGradient:
    r"""grad v_pi(s_0) = sum_s d_gamma(s) sum_a pi(a|s) (q_pi(s,a) - v_pi(s)) phi(s,a).

    Subtracting v_pi(s) changes nothing (sum_a pi grad log pi = 0) and is the form
    computed here.  With gamma = 1 the policy must end with probability 1.
    """
    mdp = policy.mdp
    probs = policy.probabilities(theta)
    ev = policy_evaluation(mdp, probs)
    occ = discounted_occupancy(mdp, probs, start=start)
    weight = occ[mdp.sa_state] * probs * (ev.q_values - ev.values[mdp.sa_state])
    grad = weight.copy() if policy.features is None else np.asarray(weight @ policy.features, dtype=np.float64)
    return ExactGradient(
        gradient=grad, value=float(ev.values[_start_state(mdp, start)]), occupancy=occ,
        q_values=ev.q_values, probabilities=probs,
    )


@dataclass(frozen=True, eq=False)
class ReinforceResult:
    """Outcome of :func:`reinforce`: final parameters, the batch mean return of each
    iteration and the return of every episode, and the learned values (baseline "value")."""

    theta: FloatArray
    probabilities: FloatArray
    mean_returns: FloatArray
    episode_returns: FloatArray
    values: FloatArray | None
    baseline: str


def reinforce(
    policy: SoftmaxPolicy,
    rng: np.random.Generator,
    *,
    iterations: int = 200,
    batch_size: int = 16,
    step_size: float = 0.01,
    baseline: str = "loo",
    theta0: Any = None,
    value_step: float = 0.5,
    start: int | None = None,
    max_steps: int = 10_000,
    progress: Callable[[int, int], None] | None = None,
) -> ReinforceResult:
    r"""Batch REINFORCE: theta <- theta + step_size * mean_i g_i, ``iterations`` times.

    With ``baseline="value"`` a tabular state value is learned alongside (Sutton & Barto
    2018, §13.4, "REINFORCE with baseline"): after each batch,
    v(s) <- v(s) + value_step * (mean G_t at s - v(s)); each batch uses the values
    fixed before it, so the gradient stays unbiased.  ``progress(done, total)`` is
    called after each batch with the number of iterations done.
    """
    _check_baseline(baseline)
    for name, val in (("iterations", iterations), ("batch_size", batch_size)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ParameterError(f"{name}: expected a positive integer, got {val!r}")
    if not step_size > 0 or not np.isfinite(step_size):
        raise ParameterError(f"step_size: expected a positive number, got {step_size!r}")
    if not 0 < value_step <= 1:
        raise ParameterError(f"value_step: expected a number in (0, 1], got {value_step!r}")
    if baseline == "loo" and batch_size < 2:
        raise ParameterError("baseline 'loo': expected batch_size of at least 2")
    mdp = policy.mdp
    theta = np.zeros(policy.n_params) if theta0 is None else policy.check_theta(theta0).copy()
    values = np.zeros(mdp.n_states) if baseline == "value" else None
    history = np.zeros(iterations)
    per_episode = np.zeros(iterations * batch_size)
    for it in range(iterations):
        eps = sample_episodes(mdp, policy.probabilities(theta), batch_size, rng, start=start, max_steps=max_steps)
        est = reinforce_gradient(policy, theta, eps, baseline=baseline, values=values)
        theta = theta + step_size * est.mean
        rets = [e.discounted_return(mdp.gamma) for e in eps]
        per_episode[it * batch_size : (it + 1) * batch_size] = rets
        history[it] = np.mean(rets)
        if progress is not None:
            progress(it + 1, iterations)
        if values is not None:
            tot, cnt = np.zeros(mdp.n_states), np.zeros(mdp.n_states)
            for e in eps:
                np.add.at(tot, e.states, rewards_to_go(e.rewards, mdp.gamma))
                np.add.at(cnt, e.states, 1.0)
            seen = cnt > 0
            values[seen] += value_step * (tot[seen] / cnt[seen] - values[seen])
    return ReinforceResult(
        theta=theta, probabilities=policy.probabilities(theta), mean_returns=history,
        episode_returns=per_episode, values=values, baseline=baseline,
    )


def most_probable_actions(mdp: MDP, probs: Any) -> IntArray:
    """The most probable action of each state (S,), first declared among ties; -1 if terminal."""
    p = pair_probabilities(mdp, probs)
    _, best = state_max(mdp, p)
    out = np.full(mdp.n_states, -1, dtype=np.int64)
    out[best >= 0] = mdp.sa_action[best[best >= 0]]
    return out


SHORT_CORRIDOR_OPTIMUM = 2.0 - np.sqrt(2.0)
"""Optimal right-probability in Sutton & Barto (2018), Example 13.1: 2 - sqrt(2) ~ 0.586."""


def short_corridor() -> MDP:
    """Sutton & Barto (2018), Example 13.1: the short corridor with switched actions.

    Reward -1 per step, gamma 1.  ``s1``: right -> ``s2``, left stays.  ``s2``
    (the switched state): right -> ``s1``, left -> ``s3``.  ``s3``: right -> ``goal``,
    left -> ``s2``.  Every state looks the same to a policy with features
    :func:`short_corridor_features`, so the best such policy is stochastic.

    >>> short_corridor().state_names
    ('s1', 's2', 's3', 'goal')
    """
    spec = {
        "name": "short-corridor",
        "gamma": 1.0,
        "start": "s1",
        "terminal": ["goal"],
        "transitions": {
            "s1": {"right": {"next": "s2", "reward": -1}, "left": {"next": "s1", "reward": -1}},
            "s2": {"right": {"next": "s1", "reward": -1}, "left": {"next": "s3", "reward": -1}},
            "s3": {"right": {"next": "goal", "reward": -1}, "left": {"next": "s2", "reward": -1}},
        },
    }
    return compile_spec(spec, source="policy_gradient:short-corridor")


def action_features(mdp: MDP) -> FloatArray:
    """One-hot of each pair's action (L, A): a policy that cannot tell states apart."""
    out = np.zeros((mdp.n_pairs, mdp.n_actions))
    out[np.arange(mdp.n_pairs), mdp.sa_action] = 1.0
    return out


def short_corridor_features(mdp: MDP) -> FloatArray:
    """The corridor's features x(s, right) = [1, 0], x(s, left) = [0, 1] (Example 13.1)."""
    return action_features(mdp)


__all__ = [
    "BASELINES",
    "SHORT_CORRIDOR_OPTIMUM",
    "Episode",
    "ExactGradient",
    "GradientEstimate",
    "ReinforceResult",
    "SoftmaxPolicy",
    "action_features",
    "bandit_gradient",
    "discounted_occupancy",
    "exact_policy_gradient",
    "linear_policy",
    "most_probable_actions",
    "reinforce",
    "reinforce_gradient",
    "sample_episode",
    "sample_episodes",
    "score_function",
    "segment_softmax",
    "short_corridor",
    "short_corridor_features",
    "softmax",
    "tabular_policy",
]
