r"""Learning action values from sampled steps: the Q-learning family (layer 1).

One engine, four targets (Sutton & Barto 2018, ch. 6).  After a step
``(S, A) -> (R, S')`` the table moves toward a target,

.. math:: Q(S, A) \leftarrow Q(S, A) + \alpha_n\,[\,\mathrm{target} - Q(S, A)\,]

* ``q-learning`` (Watkins & Dayan 1992; S&B eq. 6.8): R + gamma max_a Q(S', a);
* ``sarsa`` (S&B eq. 6.7): R + gamma Q(S', A'), A' the next action actually chosen;
* ``expected-sarsa`` (S&B eq. 6.9): R + gamma sum_a pi(a | S') Q(S', a) under the
  epsilon-greedy policy;
* ``double-q`` (van Hasselt 2010; S&B §6.7): two tables; a fair coin picks the one to
  update, its argmax at S' is scored by the other; the behaviour is greedy on their sum.

At a terminal S' the future term is 0.  **Truncation is not termination**: an
episode cut at ``max_steps`` stops, but its last update still bootstraps from S'.

Behaviour is epsilon-greedy and reproduces the lesson's random stream: every decision
draws one uniform ``u``; if ``u < epsilon`` it explores, picking uniformly among the
state's allowed actions with ``rng.integers(0, n)`` (the draw ``rng.choice`` makes),
else it exploits, taking the first declared action among ties.  Environment steps
follow :mod:`accessrl.simulation` (a deterministic step draws nothing).

Step sizes after the n-th update of a pair: ``"visits"`` alpha = n^(-omega)
(omega = 0.6 as in the lesson; Robbins-Monro conditions hold for 0.5 < omega <= 1,
Even-Dar & Mansour 2003), ``"1/n"`` the sample average (S&B eq. 2.3), or a constant.

Safe exploration: pairs flagged ``unsafe`` in the model (the spec's
``never_explore``) or named in ``never_explore`` are, with ``safe=True``, never taken
by the behaviour, neither explored nor exploited (their estimates are never learned),
and the targets range over the allowed actions only: the learner solves the model
restricted to allowed actions.  With ``safe=False`` they are only counted.

>>> import numpy as np
>>> from accessrl.catalog import access_review_abandonment
>>> res = learn(access_review_abandonment(), episodes=20_000, epsilon=0.15,
...             rng=np.random.default_rng(13))
>>> [round(float(v), 1) for v in res.q[:3]]
[-120.0, 30.5, 54.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from accessrl._types import BoolArray, FloatArray, IntArray
from accessrl.errors import AccessRLError, ParameterError
from accessrl.learning.config import (
    ENGINES,
    EpisodeProgress,
    EpsilonSchedule,
    LearningResult,
    StepSize,
    allowed_model,
    prepare,
)
from accessrl.learning.reference import ReferenceEngine
from accessrl.model.mdp import MDP
from accessrl.model.policies import default_start
from accessrl.planning.exact import policy_iteration


def greedy_allowed_policy(mdp: MDP, q: FloatArray, allowed: BoolArray) -> IntArray:
    """(S,) global action of the first allowed pair with the largest ``q`` (-1 where none).

    Vectorised: the per-state maximum by ``np.maximum.reduceat`` over the allowed values
    (-inf elsewhere), then the first allowed pair equal to it.  A NaN in ``q`` takes the
    readable loop (:func:`greedy_allowed_policy_loop`), whose ``>`` skips NaN.
    """
    q = np.asarray(q, dtype=np.float64)
    allowed = np.asarray(allowed, dtype=bool)
    pol = np.full(mdp.n_states, -1, dtype=np.int64)
    if mdp.n_pairs == 0:
        return pol
    if np.isnan(q[allowed]).any():
        return greedy_allowed_policy_loop(mdp, q, allowed)
    masked = np.where(allowed, q, -np.inf)
    lo = mdp.sa_ptr[:-1]
    has = mdp.sa_ptr[1:] > lo
    top = np.full(mdp.n_states, -np.inf)
    top[has] = np.maximum.reduceat(masked, lo[has])
    state = mdp.sa_state
    hit = np.flatnonzero(allowed & (masked == top[state]))
    first = hit[np.concatenate(([True], state[hit[1:]] != state[hit[:-1]]))] if hit.size else hit
    pol[state[first]] = mdp.sa_action[first]
    return pol


def greedy_allowed_policy_loop(mdp: MDP, q: FloatArray, allowed: BoolArray) -> IntArray:
    """The readable form of :func:`greedy_allowed_policy`: a loop over states and pairs."""
    pol = np.full(mdp.n_states, -1, dtype=np.int64)
    for s in mdp.decision_states:
        lo, hi = int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1])
        rows = [k for k in range(lo, hi) if allowed[k]]
        if rows:
            best = rows[0]
            for k in rows[1:]:
                if q[k] > q[best]:
                    best = k
            pol[s] = mdp.sa_action[best]
    return pol


def exact_q(mdp: MDP, allowed: BoolArray) -> FloatArray | None:
    """Q* of the model restricted to ``allowed`` pairs, scattered back to (L,) (nan elsewhere);
    None when the restricted model cannot be solved (e.g. gamma = 1 without termination)."""
    sub = allowed_model(mdp, allowed)
    try:
        qs = policy_iteration(sub).q_values
    except AccessRLError:
        return None
    out = np.full(mdp.n_pairs, np.nan)
    out[np.flatnonzero(allowed)] = qs
    return out


def learn(
    mdp: MDP,
    *,
    episodes: int,
    rng: np.random.Generator,
    algorithm: str = "q-learning",
    epsilon: float | EpsilonSchedule | Sequence[float] = 0.15,
    step_size: str | float | StepSize = "visits",
    omega: float = 0.6,
    max_steps: int = 10_000,
    start: Any = None,
    never_explore: Any = None,
    safe: bool = True,
    initial_q: float = 0.0,
    exact: bool = False,
    engine: str = "reference",
    progress: EpisodeProgress | None = None,
    chunks: int = 50,
) -> LearningResult:
    """Learn Q from ``episodes`` sampled episodes of ``mdp`` (see the module docstring).

    ``engine="fast"`` runs the numba engine of :mod:`accessrl.learning.fast`, which
    draws the same random stream and gives the same numbers.  ``exact=True`` also
    solves the (allowed) model and reports max|Q - Q*|.  ``progress`` is called
    between ``chunks`` equal slices of the run.
    """
    if engine not in ENGINES:
        raise ParameterError(f"engine: expected one of {list(ENGINES)}, got {engine!r}")
    prep = prepare(
        mdp, episodes=episodes, algorithm=algorithm, epsilon=epsilon, step_size=step_size, omega=omega,
        max_steps=max_steps, start=start, never_explore=never_explore, safe=safe, initial_q=initial_q,
    )
    n = int(prep.epsilons.size)
    returns = np.zeros(n)
    lengths = np.zeros(n, dtype=np.int64)
    bounds = np.unique(np.linspace(0, n, max(1, min(chunks, n)) + 1).astype(np.int64))
    if engine == "fast":
        from accessrl.learning.fast import FastEngine  # numba loads on first use, not at start-up

        runner: FastEngine | ReferenceEngine = FastEngine(mdp, prep, rng)
    else:
        runner = ReferenceEngine(mdp, prep, rng)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        runner.run(int(a), int(b), returns, lengths)
        if progress is not None:
            progress(int(b), n)
    q1, q2 = np.asarray(runner.q, dtype=np.float64), np.asarray(runner.q2, dtype=np.float64)
    visits = np.asarray(runner.visits, dtype=np.int64) + np.asarray(runner.visits2, dtype=np.int64)
    q = (q1 + q2) / 2.0 if algorithm == "double-q" else q1
    if engine == "fast":  # numba is loaded already: one compiled pass, the same rule
        from accessrl.learning.fast import greedy_policy_compiled

        policy = greedy_policy_compiled(mdp, q, prep.allowed)
    else:
        policy = greedy_allowed_policy(mdp, q, prep.allowed)
    q_star = exact_q(mdp, prep.allowed) if exact else None
    max_error = None
    if q_star is not None:
        diff = np.abs(q - q_star)[prep.allowed]
        max_error = float(diff.max()) if diff.size else 0.0
    return LearningResult(
        algorithm=algorithm,
        engine=engine,
        q=q,
        policy=policy,
        visits=visits,
        episode_returns=returns,
        episode_lengths=lengths,
        truncated=int(runner.truncated),
        steps=int(runner.steps),
        unsafe_actions=int(runner.unsafe_taken),
        allowed=prep.allowed,
        unsafe=prep.unsafe,
        q_star=q_star,
        max_error=max_error,
    )


def one_state_bandit(mdp: MDP, q: FloatArray, state: int | str | None = None) -> MDP:
    """Collapse ``mdp`` at ``state`` (default: :func:`~accessrl.model.policies.default_start`) into a one-state bandit whose arm
    ``a`` pays Q(state, a) deterministically and ends the episode (the lesson's
    exploration lab: "collapse the completed routes into one-state action returns").

    >>> from accessrl.catalog import access_review_abandonment
    >>> from accessrl.planning import policy_iteration
    >>> m = access_review_abandonment()
    >>> b = one_state_bandit(m, policy_iteration(m).q_values)
    >>> tuple(round(r, 2) for r in b.out_reward.tolist())
    (-120.0, 30.75, 54.0)
    """
    s = mdp.state_index(state) if isinstance(state, str) else (int(state) if state is not None else default_start(mdp))
    lo, hi = int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1])
    if hi == lo:
        raise ParameterError(f"state {mdp.state_names[s]!r}: a terminal state has no arms")
    k = hi - lo
    q = np.asarray(q, dtype=np.float64)
    actions = tuple(mdp.action_names[int(a)] for a in mdp.sa_action[lo:hi])
    return MDP(
        gamma=mdp.gamma,
        state_names=(mdp.state_names[s], "done"),
        action_names=actions,
        terminal=np.array([False, True]),
        sa_ptr=np.array([0, k, k], dtype=np.int64),
        sa_action=np.arange(k, dtype=np.int64),
        out_ptr=np.arange(k + 1, dtype=np.int64),
        out_next=np.ones(k, dtype=np.int64),
        out_prob=np.ones(k),
        out_reward=q[lo:hi].copy(),
        name=f"{mdp.name} bandit at {mdp.state_names[s]}",
        start=0,
    )


__all__ = ["exact_q", "greedy_allowed_policy", "greedy_allowed_policy_loop", "learn", "one_state_bandit"]
