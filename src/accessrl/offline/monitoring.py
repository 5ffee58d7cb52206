r"""Live outcomes against a model: a goodness-of-fit drift test per state-action (layer 1).

After a deployment, each logged decision (s, a) and its next state s' is a draw from the
model's p(. | s, a) if the model still holds.  For every pair with at least ``min_count``
decisions the **G-test** of goodness of fit (Sokal & Rohlf, *Biometry*, 3rd ed. 1995,
§17.1; Agresti, *Categorical Data Analysis*, 2013, §1.5) compares the observed next-state
counts O with the expected counts E = n p:

.. math:: G = 2 \sum_{s'} O_{s'} \ln \frac{O_{s'}}{E_{s'}} \;\sim\; \chi^2_{k-1}

with k the number of next states the model gives positive probability.  A next state
the model calls impossible (p = 0) makes G infinite: the model is wrong there, whatever
the count.  Many pairs are tested at once, so the pairs flagged as drifted are those
Holm's step-down procedure (Holm 1979, *Scand. J. Statist.* 6) rejects at family-wise
level ``alpha``: the i-th smallest of m p-values is compared with alpha / (m - i + 1),
stopping at the first that is not smaller.  The Holm-adjusted p-values are reported.

The model a deployment rests on is estimated from logs, and an estimate gives
probability 0 to every outcome its sample happened not to contain — a rare abandonment
would then count as infinitely surprising.  :func:`reference_model` therefore estimates
on the *structure* of the service's model (its pairs and their possible outcomes) with a
Jeffreys prior, p = (count + 1/2) / (n + K/2) over the K outcomes of a pair (the
posterior mean under Dirichlet(1/2, ..., 1/2); Agresti 2013, §1.6), keeping the model's
own probabilities for pairs the logs never tried.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP
from accessrl.offline.estimation import count_transitions
from accessrl.offline.logged import LoggedSteps


@dataclass(frozen=True)
class PairFit:
    """One state-action pair: decisions, observed and model next-state frequencies, the G test."""

    state: str
    action: str
    n: int
    observed: dict[str, float]
    expected: dict[str, float]
    statistic: float
    df: int
    p_value: float
    adjusted_p: float
    tested: bool
    drifted: bool


@dataclass(frozen=True)
class ModelFit:
    """Every logged pair's fit to the model, Holm-adjusted at family-wise level ``alpha``."""

    pairs: tuple[PairFit, ...]
    alpha: float
    min_count: int
    n_decisions: int

    @property
    def drifted(self) -> tuple[PairFit, ...]:
        """The pairs whose outcomes no longer follow the model."""
        return tuple(p for p in self.pairs if p.drifted)

    @property
    def n_tested(self) -> int:
        """Pairs with enough decisions to be tested (the m of Holm's procedure)."""
        return sum(p.tested for p in self.pairs)

    @property
    def max_statistic(self) -> float:
        """The largest G over the tested pairs (0 when none is tested)."""
        return max((p.statistic for p in self.pairs if p.tested), default=0.0)

    @property
    def min_adjusted_p(self) -> float:
        """The smallest Holm-adjusted p-value (1 when none is tested)."""
        return min((p.adjusted_p for p in self.pairs if p.tested), default=1.0)


def g_statistic(observed: np.ndarray, expected_p: np.ndarray) -> float:
    """G = 2 sum O ln(O / (n p)) over outcomes with O > 0; infinite if some O > 0 has p = 0."""
    o = np.asarray(observed, dtype=np.float64)
    p = np.asarray(expected_p, dtype=np.float64)
    if np.any((o > 0) & (p <= 0)):
        return float("inf")
    e = o.sum() * p
    pos = o > 0
    return float(2.0 * np.sum(o[pos] * np.log(o[pos] / e[pos])))


def holm_adjust(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values: max over j <= i of (m - j + 1) p_(j), capped at 1."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = np.minimum((m - np.arange(m)) * p[order], 1.0)
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def model_fit(steps: LoggedSteps, mdp: MDP, *, alpha: float = 0.01, min_count: int = 20) -> ModelFit:
    """Test every pair logged in ``steps`` against ``mdp``'s outcome probabilities (module docstring).

    ``steps`` names states and actions; a logged pair the model does not have is reported
    with an infinite statistic (tested when it has ``min_count`` decisions)."""
    from scipy import stats  # only drift tests need scipy.stats (slow to import)

    if not 0.0 < alpha < 1.0:
        raise ParameterError(f"alpha: expected a number in (0, 1), got {alpha!r}")
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ParameterError(f"min_count: expected a positive integer, got {min_count!r}")
    if steps.n_steps == 0:  # nothing logged since the deployment yet
        return ModelFit((), alpha, min_count, 0)
    c = count_transitions(steps)
    sn, an = steps.state_names, steps.action_names
    rows: list[tuple[str, str, int, dict[str, float], dict[str, float], float, int, float, bool]] = []
    for k in range(c.pair_count.size):
        s, a = sn[int(c.pair_state[k])], an[int(c.pair_action[k])]
        n = int(c.pair_count[k])
        mine = np.flatnonzero(c.out_pair == k)
        seen = {sn[int(c.out_next[j])]: float(c.out_count[j]) for j in mine}
        model: dict[str, float] = {}
        if s in mdp.state_names and a in mdp.action_names:
            try:
                pair = mdp.pair_index(s, a)
            except (KeyError, ValueError, LookupError):
                pair = -1
            if pair >= 0:
                for nxt, prob, _ in mdp.outcomes(pair):
                    model[mdp.state_names[nxt]] = model.get(mdp.state_names[nxt], 0.0) + float(prob)
        support = sorted(set(seen) | {x for x, q in model.items() if q > 0})
        o = np.array([seen.get(x, 0.0) for x in support])
        p = np.array([model.get(x, 0.0) for x in support])
        df = int(np.count_nonzero(p > 0)) - 1
        g = g_statistic(o, p) if model else float("inf")
        tested = n >= min_count and (df >= 1 or not np.isfinite(g))
        pv = 0.0 if not np.isfinite(g) else float(stats.chi2.sf(g, df)) if df >= 1 else 1.0
        rows.append((s, a, n, {x: v / n for x, v in seen.items()}, {x: v for x, v in model.items() if v > 0}, g, df,
                     pv, tested))
    tested_idx = [i for i, r in enumerate(rows) if r[8]]
    adjusted = holm_adjust(np.array([rows[i][7] for i in tested_idx]))
    adj_of = dict(zip(tested_idx, adjusted.tolist(), strict=True))
    pairs = tuple(PairFit(s, a, n, obs, exp, g, df, pv, adj_of.get(i, 1.0), tested,
                          tested and adj_of.get(i, 1.0) < alpha)
                  for i, (s, a, n, obs, exp, g, df, pv, tested) in enumerate(rows))
    return ModelFit(pairs, alpha, min_count, steps.n_steps)


def reference_model(steps: LoggedSteps, mdp: MDP, *, prior: float = 0.5) -> MDP:
    """``mdp`` with each logged pair's outcome probabilities re-estimated from ``steps``:
    (count + ``prior``) / (n + K ``prior``) over the pair's K outcomes (module docstring)."""
    if not (isinstance(prior, (int, float)) and prior > 0 and np.isfinite(prior)):
        raise ParameterError(f"prior: expected a positive number, got {prior!r}")
    prob = np.array(mdp.out_prob, dtype=np.float64, copy=True)
    if steps.n_steps == 0:
        return replace(mdp, out_prob=prob)
    c = count_transitions(steps)
    sn, an = steps.state_names, steps.action_names
    seen = {(sn[int(c.pair_state[c.out_pair[j]])], an[int(c.pair_action[c.out_pair[j]])], sn[int(c.out_next[j])]):
            float(c.out_count[j]) for j in range(c.out_count.size)}
    for k in range(mdp.n_pairs):
        s, a = mdp.state_names[int(mdp.sa_state[k])], mdp.action_names[int(mdp.sa_action[k])]
        lo, hi = int(mdp.out_ptr[k]), int(mdp.out_ptr[k + 1])
        counts = np.array([seen.get((s, a, mdp.state_names[int(mdp.out_next[j])]), 0.0) for j in range(lo, hi)])
        if counts.sum() > 0:
            prob[lo:hi] = (counts + prior) / (counts.sum() + prior * (hi - lo))
    return replace(mdp, out_prob=prob)


__all__ = ["ModelFit", "PairFit", "g_statistic", "holm_adjust", "model_fit", "reference_model"]
