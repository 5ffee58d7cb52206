r"""A simulator of realistic decision logs (layer 1).

:func:`simulate_logs` draws the decision log of an access-review queue from a workflow
model and a behaviour policy, vectorised over requests (no Python loop per row):

* requests arrive as a Poisson process (``arrivals_per_hour``) from ``start_us``; a
  fraction ``returning_fraction`` come from a requester seen before;
* at each decision the behaviour policy, mixed with ``epsilon`` exploration over the
  actions not marked ``never_explore``, picks an action; its true propensity is logged;
* the outcome follows the model; the outcome's time is the decision time plus a delay
  by kind of outcome (evidence arrives after an exponential delay, an abandonment is
  noticed after a fixed timeout, reviewers decide after an exponential delay);
* from request ``drift_at`` on, an optional ``drift_model`` (same states and actions,
  e.g. another abandonment rate) generates the outcomes;
* optional ``hidden`` types of request (:class:`HiddenType`: a requester's risk, say) that the
  state does not record: each request draws its type, whose own model gives the outcomes and
  whose own behaviour chooses — *confounded* logs, where the state-level model of the log is
  biased while importance sampling with the logged (type-conditional) propensities is not.

Unlike the lesson's step semantics (one draw per stochastic step, none for a
deterministic one), the simulator draws one uniform per decision for the action and one
for the outcome of every step, which keeps it vectorised; times are integer
microseconds since the Unix epoch (UTC), computed from ``start_us`` — no clock is read.

>>> import numpy as np
>>> from accessrl.catalog import access_review_abandonment
>>> from accessrl.model import uniform_policy
>>> mdp = access_review_abandonment()
>>> log = simulate_logs(mdp, uniform_policy(mdp), n_requests=50, start_us=0,
...                     rng=np.random.default_rng(0))
>>> int(log.steps.n_episodes), bool(np.all(log.steps.propensity > 0))
(50, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from accessrl._types import FloatArray, IntArray
from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.policies import pair_probabilities
from accessrl.offline.logged import OUTCOME_KINDS, US_PER_HOUR, LoggedSteps
from accessrl.simulation import cumulative_rows, pick_rows


@dataclass(frozen=True)
class LogConfig:
    """The time model of :func:`simulate_logs` (hours unless named otherwise)."""

    arrivals_per_hour: float = 2.0
    """Rate of the Poisson process of new requests.  At two an hour a log of a few thousand
    requests spans months — long beside the 72 h abandonment timeout, so a time split can
    train on what was knowable at its cutoff (:func:`~accessrl.offline.splits.temporal_split`)."""
    returning_fraction: float = 0.3
    """Probability that a request comes from a requester seen before."""
    evidence_delay_hours: float = 24.0
    """Mean (exponential) delay until requested evidence arrives."""
    abandon_after_hours: float = 72.0
    """Timeout after which a silent requester is recorded as having abandoned."""
    review_delay_hours: float = 8.0
    """Mean (exponential) delay of a reviewer's decision."""
    other_delay_hours: float = 0.05
    """Mean delay of every other outcome (queueing, closing)."""
    max_steps: int = 50
    """Steps after which an episode is truncated."""

    def check(self) -> None:
        for name in ("arrivals_per_hour", "evidence_delay_hours", "abandon_after_hours", "review_delay_hours",
                     "other_delay_hours"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v > 0 and np.isfinite(v)):
                raise ParameterError(f"{name}: expected a positive number, got {v!r}")
        if not 0.0 <= self.returning_fraction < 1.0:
            raise ParameterError(f"returning_fraction: expected a number in [0, 1), got {self.returning_fraction!r}")
        if not (isinstance(self.max_steps, int) and self.max_steps >= 1):
            raise ParameterError(f"max_steps: expected a positive integer, got {self.max_steps!r}")


@dataclass(frozen=True)
class HiddenType:
    """A kind of request the state does not record: its share of the requests, the model of its
    outcomes (the states and actions of the main model) and the behaviour's policy for it."""

    share: float
    model: MDP
    behavior: Any


@dataclass(frozen=True, eq=False)
class GeneratedLog:
    """The output of :func:`simulate_logs`: the log, the behaviour actually used (L,)
    per model (with hidden types, their share-weighted mixture), and the outcome kind of every
    outcome of the model."""

    steps: LoggedSteps
    behavior: FloatArray
    epsilon: float
    drift_at: int | None
    extra: dict[str, Any] = field(default_factory=dict)


def _allowed_only(mdp: MDP, probs: FloatArray) -> FloatArray:
    """``probs`` with the mass on forbidden pairs taken off and each state renormalised; a
    state whose whole mass was forbidden gets the uniform policy over its allowed,
    explorable actions (over its allowed ones when none is explorable)."""
    allowed = mdp.allowed_pairs
    if allowed.all():
        return probs
    kept = np.where(allowed, probs, 0.0)
    mass = np.bincount(mdp.sa_state, weights=kept, minlength=mdp.n_states)
    safe = allowed if mdp.unsafe is None else allowed & ~np.asarray(mdp.unsafe, dtype=bool)
    n_safe = np.bincount(mdp.sa_state[safe], minlength=mdp.n_states)
    fallback = np.where(n_safe[mdp.sa_state] > 0, safe, allowed).astype(np.float64)
    fallback /= np.maximum(np.bincount(mdp.sa_state, weights=fallback, minlength=mdp.n_states), 1.0)[mdp.sa_state]
    pair_mass = mass[mdp.sa_state]
    out = np.where(pair_mass > 0, kept / np.where(pair_mass > 0, pair_mass, 1.0), fallback)
    return np.asarray(out, dtype=np.float64)


def exploring_policy(mdp: MDP, policy: Any, epsilon: float) -> FloatArray:
    r"""pi_eps(a|s) = (1 - eps) pi(a|s) + eps / |E(s)| for a in E(s), the explorable actions
    (neither ``never_explore`` nor ``forbidden``); where a state has none, pi is kept (Sutton &
    Barto 2018, §2.2).  A forbidden pair is not an action: pi's mass on one moves to the
    state's other allowed actions (in proportion, or uniformly over the explorable ones
    when pi put all its mass on forbidden actions), so the log never holds a forbidden action."""
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not 0.0 <= epsilon <= 1.0:
        raise ParameterError(f"epsilon: expected a number in [0, 1], got {epsilon!r}")
    probs = _allowed_only(mdp, pair_probabilities(mdp, policy))
    explorable = np.ones(mdp.n_pairs, dtype=bool) if mdp.unsafe is None else ~np.asarray(mdp.unsafe, dtype=bool)
    explorable &= mdp.allowed_pairs
    counts = np.bincount(mdp.sa_state[explorable], minlength=mdp.n_states).astype(np.float64)
    per_pair = counts[mdp.sa_state]
    has = per_pair > 0
    uniform = np.where(explorable & has, 1.0 / np.maximum(per_pair, 1.0), 0.0)
    mixed = np.where(has, (1.0 - epsilon) * probs + epsilon * uniform, probs)
    return np.asarray(mixed, dtype=np.float64)


def outcome_kinds(mdp: MDP) -> tuple[IntArray, tuple[str, ...]]:
    """A kind code per outcome of ``mdp`` and the kind names.

    An outcome's ``event`` label wins; otherwise, by name: a next state naming evidence
    is ``evidence_received``, a step out of a state naming review is ``review_outcome``,
    a step into a terminal state ``closed``, anything else ``transition``."""
    names = list(OUTCOME_KINDS)
    codes = np.zeros(mdp.n_outcomes, dtype=np.int64)
    pair_of = np.repeat(np.arange(mdp.n_pairs), np.diff(mdp.out_ptr))
    for j in range(mdp.n_outcomes):
        label = mdp.events[j] if mdp.events is not None else ""
        nxt = mdp.state_names[int(mdp.out_next[j])]
        here = mdp.state_names[int(mdp.sa_state[pair_of[j]])]
        if label:
            kind = label
        elif "evidence" in nxt and "evidence" not in here:
            kind = "evidence_received"
        elif "review" in here:
            kind = "review_outcome"
        elif mdp.terminal[int(mdp.out_next[j])]:
            kind = "closed"
        else:
            kind = "transition"
        if kind not in names:
            names.append(kind)
        codes[j] = names.index(kind)
    return codes, tuple(names)


def with_abandonment(mdp: MDP, p_abandon: float) -> MDP:
    """The model with every outcome labelled ``abandoned`` at probability ``p_abandon``,
    the pair's other outcomes rescaled to share the rest in their old proportions."""
    if isinstance(p_abandon, bool) or not isinstance(p_abandon, (int, float)) or not 0.0 <= p_abandon <= 1.0:
        raise ParameterError(f"drift: expected an abandonment probability in [0, 1], got {p_abandon!r}")
    if mdp.events is None or "abandoned" not in mdp.events:
        raise ParameterError(f"drift: model {mdp.name!r} has no outcome with event 'abandoned'")
    prob = mdp.out_prob.copy()
    ab = np.array([e == "abandoned" for e in mdp.events])
    for k in range(mdp.n_pairs):
        lo, hi = int(mdp.out_ptr[k]), int(mdp.out_ptr[k + 1])
        here = ab[lo:hi]
        if not here.any() or here.all():
            continue
        rest = prob[lo:hi][~here]
        share = rest / rest.sum() if rest.sum() > 0 else np.full(rest.size, 1.0 / rest.size)
        block = prob[lo:hi]
        block[here] = p_abandon / here.sum()
        block[~here] = (1.0 - p_abandon) * share
        prob[lo:hi] = block
    return replace(mdp, out_prob=prob)


def behavior_table(mdp: MDP, probs: FloatArray) -> FloatArray:
    """(S, A): the probability ``probs`` (L,) gives each action in each state (0 where an
    action is not available) — the table a log of this behaviour records per decision."""
    table = np.zeros((mdp.n_states, mdp.n_actions))
    table[mdp.sa_state, mdp.sa_action] = probs
    return table


def _check_same_shape(mdp: MDP, other: MDP) -> None:
    if other.state_names != mdp.state_names or other.action_names != mdp.action_names or not (
        np.array_equal(other.sa_ptr, mdp.sa_ptr) and np.array_equal(other.sa_action, mdp.sa_action)
    ):
        raise ParameterError("drift_model: expected the same states and actions (in the same order) as the model")


def simulate_logs(
    mdp: MDP,
    behavior: Any,
    *,
    n_requests: int,
    start_us: int,
    rng: np.random.Generator,
    epsilon: float = 0.0,
    config: LogConfig = LogConfig(),
    drift_model: MDP | None = None,
    drift_at: int | None = None,
    hidden: tuple[HiddenType, ...] = (),
) -> GeneratedLog:
    """Draw the decision log of ``n_requests`` requests (see the module docstring).

    With ``hidden`` types, ``behavior`` is not used (each type has its own) and the logged
    propensities are those of each request's type; hidden types and drift do not combine."""
    if isinstance(n_requests, bool) or not isinstance(n_requests, (int, np.integer)) or n_requests < 1:
        raise ParameterError(f"n_requests: expected a positive integer, got {n_requests!r}")
    config.check()
    if mdp.start is None:
        raise ParameterError(f"model {mdp.name!r}: a start state is needed to generate requests")
    b = exploring_policy(mdp, behavior, epsilon) if not hidden else np.zeros(mdp.n_pairs)
    models = [mdp]
    if hidden:
        if drift_model is not None:
            raise ParameterError("hidden: hidden types and a drift model do not combine")
        shares = np.array([h.share for h in hidden], dtype=np.float64)
        if np.any(~np.isfinite(shares)) or np.any(shares < 0) or abs(shares.sum() - 1.0) > 1e-9:
            raise ParameterError(f"hidden: expected shares that are non-negative and sum to 1, got {shares.tolist()}")
        for h in hidden:
            _check_same_shape(mdp, h.model)
        models = [h.model for h in hidden]
        behaviors = [exploring_policy(h.model, h.behavior, epsilon) for h in hidden]
        b = np.sum([sh * bh for sh, bh in zip(shares, behaviors, strict=True)], axis=0)
    elif drift_model is not None:
        _check_same_shape(mdp, drift_model)
        if drift_at is None or not 0 <= drift_at <= n_requests:
            raise ParameterError(f"drift_at: expected a request index in [0, {n_requests}], got {drift_at!r}")
        models.append(drift_model)
    n = int(n_requests)
    cbs = [cumulative_rows(bh) for bh in behaviors] if hidden else [cumulative_rows(b)]
    out_cum = [cumulative_rows(m.out_prob) for m in models]
    kinds = [outcome_kinds(m) for m in models]
    kind_names: list[str] = list(OUTCOME_KINDS)
    for _, names in kinds:
        kind_names += [k for k in names if k not in kind_names]
    kind_maps = [np.array([kind_names.index(nm) for nm in names], dtype=np.int64)[codes] for codes, names in kinds]
    k_ev, k_ab, k_rev = (kind_names.index(x) for x in ("evidence_received", "abandoned", "review_outcome"))
    mean_delay = np.full(len(kind_names), config.other_delay_hours)
    mean_delay[k_ev], mean_delay[k_rev] = config.evidence_delay_hours, config.review_delay_hours

    gaps = rng.exponential(US_PER_HOUR / config.arrivals_per_hour, size=n)
    arrival = start_us + np.cumsum(gaps).astype(np.int64)
    returning = rng.random(n) < config.returning_fraction
    returning[0] = False
    new_id = np.cumsum(~returning) - 1
    # A returning request picks uniformly among the new_id + 1 requesters seen before it.
    pick_old = np.floor(rng.random(n) * (new_id + 1)).astype(np.int64)
    requester = np.where(returning, np.minimum(pick_old, new_id), new_id)
    which = np.zeros(n, dtype=np.int64)
    if drift_model is not None and drift_at is not None:
        which[drift_at:] = 1
    if hidden:  # one more draw per request, only for logs with hidden types (other seeds keep their logs)
        which = np.minimum(np.searchsorted(np.cumsum(shares), rng.random(n), side="right"), len(hidden) - 1)

    cols: dict[str, list[NDArray[Any]]] = {k: [] for k in ("episode", "step", "state", "action", "prop", "reward",
                                                          "next", "term", "dec", "out", "kind", "type")}
    ep = np.arange(n, dtype=np.int64)
    state = np.full(n, mdp.start, dtype=np.int64)
    now = arrival.copy()
    for t in range(config.max_steps):
        if ep.size == 0:
            break
        lo, hi = mdp.sa_ptr[state], mdp.sa_ptr[state + 1]
        u_act = rng.random(ep.size)
        pair = np.empty(ep.size, dtype=np.int64)
        prop = np.empty(ep.size)
        for t_i, cb_t in enumerate(cbs):
            sel = (which[ep] == t_i) if hidden else np.ones(ep.size, dtype=bool)
            if sel.any():
                pair[sel] = pick_rows(cb_t, lo[sel], hi[sel], u_act[sel])
                prop[sel] = (behaviors[t_i] if hidden else b)[pair[sel]]
        u_out = rng.random(ep.size)
        delay_u = rng.exponential(1.0, size=ep.size)
        out = np.empty(ep.size, dtype=np.int64)
        nxt = np.empty(ep.size, dtype=np.int64)
        rew = np.empty(ep.size)
        kind = np.empty(ep.size, dtype=np.int64)
        for m_i, m in enumerate(models):
            sel = which[ep] == m_i
            if not sel.any():
                continue
            p = pair[sel]
            o = pick_rows(out_cum[m_i], m.out_ptr[p], m.out_ptr[p + 1], u_out[sel])
            out[sel], nxt[sel], rew[sel], kind[sel] = o, m.out_next[o], m.out_reward[o], kind_maps[m_i][o]
        delay = delay_u * mean_delay[kind] * US_PER_HOUR
        delay = np.where(kind == k_ab, config.abandon_after_hours * US_PER_HOUR, delay).astype(np.int64)
        term = mdp.terminal[nxt] | (mdp.n_actions_of[nxt] == 0)
        for key, val in (("episode", ep), ("step", np.full(ep.size, t)), ("state", state),
                         ("action", mdp.sa_action[pair]), ("prop", prop), ("reward", rew), ("next", nxt),
                         ("term", term), ("dec", now), ("out", now + delay), ("kind", kind),
                         ("type", which[ep] if hidden else np.zeros(ep.size, dtype=np.int64))):
            cols[key].append(val)
        alive = ~term
        ep, state, now = ep[alive], nxt[alive], (now + delay)[alive]
    truncated_eps = ep  # still running after max_steps
    cat = {k: np.concatenate(v) for k, v in cols.items()}
    order = np.lexsort((cat["step"], cat["episode"]))
    cat = {k: v[order] for k, v in cat.items()}
    trunc = np.zeros(order.size, dtype=bool)
    if truncated_eps.size:
        last = np.concatenate((np.flatnonzero(np.diff(cat["episode"])), [order.size - 1]))
        trunc[last[np.isin(cat["episode"][last], truncated_eps)]] = True
    steps = LoggedSteps(
        state_names=mdp.state_names, action_names=mdp.action_names,
        episode=cat["episode"], step=cat["step"].astype(np.int64), requester=requester[cat["episode"]],
        state=cat["state"], action=cat["action"].astype(np.int64), propensity=cat["prop"],
        reward=cat["reward"], next_state=cat["next"], terminated=cat["term"], truncated=trunc,
        decided_at=cat["dec"], outcome_at=cat["out"], features_at=cat["dec"].copy(),
        kind=cat["kind"], kind_names=tuple(kind_names),
        behavior_table=np.vstack([behavior_table(mdp, bh) for bh in (behaviors if hidden else [b])]),
        behavior_index=cat["type"] * mdp.n_states + cat["state"],
    )
    return GeneratedLog(steps=steps, behavior=b, epsilon=float(epsilon),
                        drift_at=drift_at if drift_model is not None else None)


__all__ = [
    "GeneratedLog",
    "HiddenType",
    "LogConfig",
    "behavior_table",
    "exploring_policy",
    "outcome_kinds",
    "simulate_logs",
    "with_abandonment",
]
