"""Array forms of a model: pymdptoolbox's ``(P, R)``, QuantEcon's state-action pairs and a
gymnasium toy-text ``P[s][a]`` table, each turned into the CSR fields of
:class:`~accessrl.model.MDP` (layer 0).  The functions return the constructor's keyword
arguments; :meth:`MDP.from_arrays` and its siblings build the model from them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from accessrl._types import FloatArray
from accessrl.errors import ModelError, SpecTypeError, SpecValueError
from accessrl.model.checks import PROB_TOL, check_gamma


def _index_array(indices: Any) -> Any:
    """Next-state indices as given when they are int32 or int64 (32-bit ones halve the bytes
    every sweep gathers through), anything else as int64."""
    arr = np.asarray(indices)
    return np.ascontiguousarray(arr if arr.dtype in (np.int32, np.int64) else arr.astype(np.int64))


def _as_csr_list(P: Any) -> list[sp.csr_matrix]:
    P = matrices_by_action(P, "P")
    if isinstance(P, np.ndarray):
        if P.ndim != 3 or P.shape[1] != P.shape[2]:
            raise SpecValueError(f"P: expected an (A, S, S) array, got shape {P.shape}")
        return [sp.csr_matrix(P[a]) for a in range(P.shape[0])]
    if isinstance(P, (list, tuple)):
        mats = [sp.csr_matrix(m) for m in P]
        if not mats:
            raise SpecValueError("P: expected at least one action")
        s = mats[0].shape
        for a, m in enumerate(mats):
            if m.shape != s or s[0] != s[1]:
                raise SpecValueError(f"P[{a}]: expected an (S, S) matrix like P[0] {s}, got {m.shape}")
        return mats
    raise SpecTypeError(f"P: expected an (A, S, S) array or a list of sparse (S, S), got {type(P).__name__}")


def from_pymdptoolbox(P: Any, R: Any, gamma: float, *, name: str) -> dict[str, Any]:
    """The CSR fields of pymdptoolbox's ``(P, R)`` (see :meth:`MDP.from_arrays`)."""
    g = check_gamma(gamma, error=SpecValueError)
    mats = _as_csr_list(P)
    n_a, n_s = len(mats), mats[0].shape[0]
    for a, m in enumerate(mats):
        m.eliminate_zeros()
        m.sort_indices()
        if m.nnz and (np.any(m.data < 0) or not np.all(np.isfinite(m.data))):
            raise SpecValueError(f"P[{a}]: probabilities must be finite and non-negative")
        sums = np.asarray(m.sum(axis=1)).ravel()
        bad = np.flatnonzero(np.abs(sums - 1.0) > PROB_TOL)
        if bad.size:
            s = int(bad[0])
            raise SpecValueError(
                f"P[{a}], row {s}: probabilities sum to {sums[s]:.12g}, expected 1 (off by {sums[s] - 1:+.3g})"
            )
    # Stack to rows a*S + s, then reorder to s*A + a (pairs grouped by state).
    stacked = sp.vstack(mats, format="csr")
    perm = (np.arange(n_a)[None, :] * n_s + np.arange(n_s)[:, None]).ravel()
    big = stacked[perm]
    big.sort_indices()
    rows = np.repeat(np.arange(n_s * n_a), np.diff(big.indptr))
    s_of_row, a_of_row = rows // n_a, rows % n_a
    cols = _index_array(big.indices)
    R = matrices_by_action(R, "R")
    if isinstance(R, (list, tuple)) or (isinstance(R, np.ndarray) and R.ndim == 3):
        try:
            rmats = [sp.csr_matrix(reward_array(m)) for m in R]
        except (TypeError, ValueError) as exc:
            raise SpecValueError(f"R: expected {n_a} matrices of numbers ({str(exc).splitlines()[0]})") from None
        if len(rmats) != n_a or any(m.shape != (n_s, n_s) for m in rmats):
            raise SpecValueError(f"R: expected {n_a} matrices of shape ({n_s}, {n_s})")
        reward = np.empty(big.nnz)
        for a in range(n_a):
            sel = a_of_row == a
            reward[sel] = np.asarray(rmats[a][s_of_row[sel], cols[sel]]).ravel()
    else:
        r = reward_array(R)
        if r.shape == (n_s,):
            reward = r[s_of_row]
        elif r.shape == (n_s, n_a):
            reward = r[s_of_row, a_of_row]
        else:
            raise SpecValueError(f"R: expected shape ({n_s},), ({n_s}, {n_a}) or ({n_a}, {n_s}, {n_s}), got {r.shape}")
    reward = np.ascontiguousarray(reward, dtype=np.float64)
    if np.any(np.isnan(reward)) or np.any(reward == np.inf):
        raise SpecValueError("R: expected finite rewards (or -inf in an (S, A) R to mark an unavailable action)")
    sa_ptr = np.arange(0, n_s * n_a + 1, n_a, dtype=np.int64)
    sa_action = np.tile(np.arange(n_a, dtype=np.int64), n_s)
    out_ptr = big.indptr.astype(np.int64)
    prob = big.data.astype(np.float64)
    if np.any(reward == -np.inf):
        # QuantEcon's convention: R[s, a] = -inf marks action a as unavailable in s.
        pair_ok = np.ones(n_s * n_a, dtype=bool)
        pair_ok[rows[reward == -np.inf]] = False
        if not np.all(pair_ok.reshape(n_s, n_a).any(axis=1)):
            s = int(np.flatnonzero(~pair_ok.reshape(n_s, n_a).any(axis=1))[0])
            raise SpecValueError(f"R, state {s}: every action is -inf; each state needs an available action")
        keep_out = pair_ok[rows]
        counts = np.diff(out_ptr)[pair_ok]
        out_ptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        cols, prob, reward = cols[keep_out], prob[keep_out], reward[keep_out]
        sa_action = sa_action[pair_ok]
        sa_ptr = np.concatenate(([0], np.cumsum(pair_ok.reshape(n_s, n_a).sum(axis=1)))).astype(np.int64)
    return dict(
        gamma=g,
        state_names=tuple(f"s{i}" for i in range(n_s)),
        action_names=tuple(f"a{i}" for i in range(n_a)),
        terminal=np.zeros(n_s, dtype=bool),
        sa_ptr=sa_ptr,
        sa_action=sa_action,
        out_ptr=out_ptr,
        out_next=cols,
        out_prob=prob,
        out_reward=reward,
        name=name,
    )


def reward_array(R: Any) -> np.ndarray:
    """``R`` as a float64 array: a SciPy sparse matrix is made dense (an (S, A) reward table is
    small); anything that is not numbers is a one-line :class:`~accessrl.errors.SpecValueError`."""
    if sp.issparse(R):
        R = R.toarray()
    try:
        return np.asarray(R, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SpecValueError(f"R: expected an array of numbers, got {type(R).__name__} "
                             f"({str(exc).splitlines()[0]})") from None


def from_pairs(R: Any, Q: Any, gamma: float, s_indices: Any, a_indices: Any, *, name: str) -> dict[str, Any]:
    """The CSR fields of QuantEcon's state-action-pair form (see :meth:`MDP.from_state_action_pairs`)."""
    g = check_gamma(gamma, error=SpecValueError)
    r = reward_array(R).ravel()
    s_idx = np.asarray(s_indices, dtype=np.int64).ravel()
    a_idx = np.asarray(a_indices, dtype=np.int64).ravel()
    q = sp.csr_matrix(Q)
    n_pairs, n_s = q.shape
    if not (r.shape == s_idx.shape == a_idx.shape == (n_pairs,)):
        raise SpecValueError(
            f"R, s_indices, a_indices: expected {n_pairs} entries each (rows of Q), got "
            f"{r.size}, {s_idx.size}, {a_idx.size}"
        )
    if n_pairs and (s_idx.min() < 0 or s_idx.max() >= n_s or a_idx.min() < 0):
        raise SpecValueError(f"s_indices: expected states in [0, {n_s}) and non-negative actions")
    n_a_declared = int(a_idx.max()) + 1 if n_pairs else 0
    if np.any(np.isnan(r)) or np.any(r == np.inf):
        raise SpecValueError("R: expected finite rewards (or -inf to mark an unavailable state-action pair)")
    if np.any(r == -np.inf):
        # QuantEcon's convention: R = -inf marks the pair as unavailable, so it is dropped.
        keep = r != -np.inf
        r, s_idx, a_idx, q = r[keep], s_idx[keep], a_idx[keep], q[np.flatnonzero(keep)]
        n_pairs = r.size
    order = np.lexsort((a_idx, s_idx))
    s_idx, a_idx, r = s_idx[order], a_idx[order], r[order]
    dup = np.flatnonzero((np.diff(s_idx) == 0) & (np.diff(a_idx) == 0))
    if dup.size:
        raise SpecValueError(f"pairs: duplicate (state {s_idx[dup[0]]}, action {a_idx[dup[0]]})")
    missing = np.setdiff1d(np.arange(n_s), s_idx)
    if missing.size:
        raise SpecValueError(f"s_indices: state {int(missing[0])} has no available action; every state needs one")
    q = q[order]
    q.eliminate_zeros()
    q.sort_indices()
    if q.nnz and (np.any(q.data < 0) or not np.all(np.isfinite(q.data))):
        raise SpecValueError("Q: probabilities must be finite and non-negative")
    sums = np.asarray(q.sum(axis=1)).ravel()
    bad = np.flatnonzero(np.abs(sums - 1.0) > PROB_TOL)
    if bad.size:
        k = int(bad[0])
        raise SpecValueError(f"Q, pair (state {s_idx[k]}, action {a_idx[k]}): probabilities sum to {sums[k]:.12g}, expected 1")
    n_a = n_a_declared
    sa_ptr = np.searchsorted(s_idx, np.arange(n_s + 1)).astype(np.int64)
    return dict(
        gamma=g,
        state_names=tuple(f"s{i}" for i in range(n_s)),
        action_names=tuple(f"a{i}" for i in range(n_a)),
        terminal=np.zeros(n_s, dtype=bool),
        sa_ptr=sa_ptr,
        sa_action=a_idx,
        out_ptr=q.indptr.astype(np.int64),
        out_next=_index_array(q.indices),
        out_prob=q.data.astype(np.float64),
        out_reward=np.repeat(r, np.diff(q.indptr)),
        name=name,
    )


KNOWN_ACTION_NAMES = {
    "FrozenLakeEnv": ("left", "down", "right", "up"),
    "CliffWalkingEnv": ("up", "right", "down", "left"),
    "TaxiEnv": ("south", "north", "east", "west", "pickup", "dropoff"),
}
"""Readable action names of gymnasium's toy-text environments (by class name)."""


def from_transition_table(env: Any, *, gamma: float = 1.0, name: str | None = None) -> dict[str, Any]:
    """The CSR fields of an environment exposing a toy-text ``P[s][a]`` table (gymnasium's
    FrozenLake, CliffWalking, Taxi; read by duck typing, so gymnasium is not imported).

    ``P[s][a]`` is a list of ``(p, next, reward, terminated)`` in gymnasium's order,
    which is kept (duplicates included) so steps sample as the environment does.
    Terminal states: those entered only by ``terminated=True`` transitions, and
    absorbing ones (every transition a reward-0 self-loop that terminates, like
    FrozenLake's holes and goal).  A terminating transition into a state that is
    otherwise not terminal is redirected to an added absorbing state ``"terminated"``.
    ``gamma`` defaults to 1 (toy-text tasks are episodic and undiscounted, Sutton &
    Barto Example 6.6); FrozenLake needs gamma < 1 to be solvable (rewards are
    non-negative, so some policies never end without penalty).
    """
    base = getattr(env, "unwrapped", env)
    table = getattr(base, "P", None)
    if not isinstance(table, Mapping) or not table:
        raise ModelError(f"from_transition_table: {type(base).__name__} has no transition table P[s][a]")
    n_s = int(base.observation_space.n)
    n_a = int(base.action_space.n)

    def rows(s: int, a: int) -> list[tuple[float, int, float, bool]]:
        try:
            return [(float(p), int(n), float(r), bool(d)) for p, n, r, d in table[s][a]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"from_transition_table: P[{s}][{a}] is not a list of "
                             f"(p, next, reward, terminated): {exc}") from None

    absorbing = np.array(
        [all(n == s and r == 0.0 and d for a in range(n_a) for _, n, r, d in rows(s, a)) for s in range(n_s)]
    )
    entered_done = np.zeros(n_s, dtype=bool)
    entered_live = np.zeros(n_s, dtype=bool)
    for s in range(n_s):
        if absorbing[s]:
            continue
        for a in range(n_a):
            for p, n, _, d in rows(s, a):
                if p > 0:
                    (entered_done if d else entered_live)[n] = True
    terminal = absorbing | (entered_done & ~entered_live)
    needs_sink = bool(np.any(entered_done & ~terminal))
    sink = n_s
    sa_ptr, sa_action, out_ptr = [0], [], [0]
    nxt, prob, rew = [], [], []
    for s in range(n_s):
        if not terminal[s]:
            for a in range(n_a):
                sa_action.append(a)
                for p, n, r, d in rows(s, a):
                    nxt.append(sink if d and not terminal[n] else n)
                    prob.append(p)
                    rew.append(r)
                out_ptr.append(len(nxt))
        sa_ptr.append(len(sa_action))
    if needs_sink:
        sa_ptr.append(len(sa_action))
    actions = KNOWN_ACTION_NAMES.get(type(base).__name__, tuple(f"a{a}" for a in range(n_a)))
    if len(actions) != n_a:
        actions = tuple(f"a{a}" for a in range(n_a))
    states = tuple(str(s) for s in range(n_s)) + (("terminated",) if needs_sink else ())
    start = None
    initial = getattr(base, "initial_state_distrib", None)
    if initial is not None and np.count_nonzero(initial) == 1:
        start = int(np.flatnonzero(initial)[0])
    spec_id = getattr(getattr(env, "spec", None), "id", None)
    return dict(
        gamma=check_gamma(gamma, error=SpecValueError),
        state_names=states,
        action_names=actions,
        terminal=np.concatenate([terminal, [True] * int(needs_sink)]).astype(bool),
        sa_ptr=np.asarray(sa_ptr, dtype=np.int64),
        sa_action=np.asarray(sa_action, dtype=np.int64),
        out_ptr=np.asarray(out_ptr, dtype=np.int64),
        out_next=np.asarray(nxt, dtype=np.int64),
        out_prob=np.asarray(prob, dtype=np.float64),
        out_reward=np.asarray(rew, dtype=np.float64),
        name=name or spec_id or type(base).__name__,
        start=start,
    )


__all__ = ["KNOWN_ACTION_NAMES", "from_pairs", "from_pymdptoolbox", "from_transition_table", "reward_array"]


def matrices_by_action(X: Any, what: str) -> Any:
    """pymdptoolbox's other containers for per-action matrices as a list: a 1-d numpy object
    array of matrices (its ``P_sparse`` fixtures) or a dict ``{a: matrix}`` with keys
    ``0..A-1``.  Anything else is returned unchanged."""
    if isinstance(X, Mapping):
        keys = list(X)
        if set(keys) != set(range(len(keys))):
            raise SpecValueError(f"{what}: expected a dict keyed by the actions 0..{len(keys) - 1}, got keys {keys[:6]!r}")
        return [X[a] for a in range(len(keys))]
    if isinstance(X, np.ndarray) and X.dtype == object:
        if X.ndim != 1:
            raise SpecValueError(f"{what}: expected a 1-d object array of (S, S) matrices, got shape {X.shape}")
        return list(X)
    return X


@dataclass(frozen=True)
class ArrayForm:
    """A model as pymdptoolbox's arrays: ``P`` (A, S, S) dense, or a list of A sparse
    (S, S) CSR matrices, and ``R`` (S, A) expected rewards.  Unpacks as ``P, R``.

    Terminal states loop to themselves with reward 0 under every action; an action a
    state does not offer loops there with reward ``unavailable`` (``-inf``, QuantEcon's
    mark for an unavailable pair, by default)."""

    P: Any
    R: FloatArray

    def __iter__(self) -> Iterator[Any]:
        return iter((self.P, self.R))


def to_pymdptoolbox(mdp: Any, *, sparse: bool | None = None, unavailable: float = -np.inf) -> ArrayForm:
    """The :class:`ArrayForm` of a compiled model (see :meth:`MDP.to_arrays`).

    ``sparse=None`` chooses CSR matrices when the dense array would hold more than
    :data:`DENSE_LIMIT` entries.
    """
    n_s, n_a = mdp.n_states, mdp.n_actions
    if sparse is None:
        sparse = n_a * n_s * n_s > DENSE_LIMIT
    pair_s = np.repeat(np.arange(n_s), np.diff(mdp.sa_ptr))
    live = ~mdp.terminal[pair_s]
    R = np.full((n_s, n_a), float(unavailable))
    R[mdp.terminal] = 0.0
    R[pair_s[live], mdp.sa_action[live]] = mdp.expected_reward[live]
    # every (s, a) without a live pair loops to s
    has = np.zeros((n_s, n_a), dtype=bool)
    has[pair_s[live], mdp.sa_action[live]] = True
    loop_s, loop_a = np.nonzero(~has)
    counts = np.diff(mdp.out_ptr)
    out_pair = np.repeat(np.arange(mdp.n_pairs), counts)
    keep = live[out_pair]
    rows_a = np.concatenate((mdp.sa_action[out_pair[keep]], loop_a))
    rows_s = np.concatenate((pair_s[out_pair[keep]], loop_s))
    cols = np.concatenate((mdp.out_next[keep], loop_s))
    vals = np.concatenate((mdp.out_prob[keep], np.ones(loop_s.size)))
    mats = []
    for a in range(n_a):
        sel = rows_a == a
        m = sp.csr_matrix((vals[sel], (rows_s[sel], cols[sel])), shape=(n_s, n_s))
        m.sum_duplicates()
        mats.append(m)
    P: Any = mats if sparse else np.stack([m.toarray() for m in mats])
    return ArrayForm(P=P, R=R)


def to_state_action_pairs(mdp: Any) -> dict[str, Any]:
    """QuantEcon's state-action-pair arrays of a compiled model: ``R`` (L,), ``Q`` (L, S)
    CSR, ``s_indices``, ``a_indices``.  A terminal state becomes one pair (its first
    action, or action 0) looping to itself with reward 0, as QuantEcon needs an action in
    every state."""
    n_s = mdp.n_states
    pair_s = np.repeat(np.arange(n_s), np.diff(mdp.sa_ptr))
    live = ~mdp.terminal[pair_s]
    q = mdp.transition_matrix[np.flatnonzero(live)]
    term = np.flatnonzero(mdp.terminal)
    first = np.zeros(term.size, dtype=np.int64)
    owned = mdp.sa_ptr[term] < mdp.sa_ptr[term + 1]
    first[owned] = mdp.sa_action[mdp.sa_ptr[term][owned]]
    loops = sp.csr_matrix((np.ones(term.size), (np.arange(term.size), term)), shape=(term.size, n_s))
    return {
        "R": np.concatenate((mdp.expected_reward[live], np.zeros(term.size))),
        "Q": sp.vstack([q, loops], format="csr"),
        "s_indices": np.concatenate((pair_s[live], term)),
        "a_indices": np.concatenate((mdp.sa_action[live], first)),
    }


DENSE_LIMIT = 10_000_000
"""Above this many A x S x S entries :func:`to_pymdptoolbox` returns sparse matrices by default."""
