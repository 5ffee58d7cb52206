"""Compile pymdptoolbox- and QuantEcon-style arrays into an MDP (layer 0)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from accessrl.errors import SpecTypeError, SpecValueError
from accessrl.model import MDP, PROB_TOL


def _check_gamma(gamma: Any) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.floating)):
        raise SpecTypeError(f"gamma: expected a number in (0, 1], got {gamma!r}")
    g = float(gamma)
    if not 0.0 < g <= 1.0:
        raise SpecValueError(f"gamma: expected a number in (0, 1], got {gamma!r}")
    return g


def _as_csr_list(P: Any) -> list[sp.csr_matrix]:
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


def compile_arrays(cls: type[MDP], P: Any, R: Any, gamma: float, *, name: str) -> MDP:
    g = _check_gamma(gamma)
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
    cols = big.indices.astype(np.int64)
    if isinstance(R, (list, tuple)) or (isinstance(R, np.ndarray) and R.ndim == 3):
        rmats = [sp.csr_matrix(m) for m in R]
        if len(rmats) != n_a or any(m.shape != (n_s, n_s) for m in rmats):
            raise SpecValueError(f"R: expected {n_a} matrices of shape ({n_s}, {n_s})")
        reward = np.empty(big.nnz)
        for a in range(n_a):
            sel = a_of_row == a
            reward[sel] = np.asarray(rmats[a][s_of_row[sel], cols[sel]]).ravel()
    else:
        r = np.asarray(R, dtype=np.float64)
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
    return cls(
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


def compile_pairs(
    cls: type[MDP], R: Any, Q: Any, gamma: float, s_indices: Any, a_indices: Any, *, name: str
) -> MDP:
    g = _check_gamma(gamma)
    r = np.asarray(R, dtype=np.float64).ravel()
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
    if not np.all(np.isfinite(r)):
        raise SpecValueError("R: expected finite rewards")
    order = np.lexsort((a_idx, s_idx))
    s_idx, a_idx, r = s_idx[order], a_idx[order], r[order]
    dup = np.flatnonzero((np.diff(s_idx) == 0) & (np.diff(a_idx) == 0))
    if dup.size:
        raise SpecValueError(f"pairs: duplicate (state {s_idx[dup[0]]}, action {a_idx[dup[0]]})")
    missing = np.setdiff1d(np.arange(n_s), s_idx)
    if missing.size:
        raise SpecValueError(f"s_indices: state {int(missing[0])} has no action; every state needs one")
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
    n_a = int(a_idx.max()) + 1 if n_pairs else 0
    sa_ptr = np.searchsorted(s_idx, np.arange(n_s + 1)).astype(np.int64)
    return cls(
        gamma=g,
        state_names=tuple(f"s{i}" for i in range(n_s)),
        action_names=tuple(f"a{i}" for i in range(n_a)),
        terminal=np.zeros(n_s, dtype=bool),
        sa_ptr=sa_ptr,
        sa_action=a_idx,
        out_ptr=q.indptr.astype(np.int64),
        out_next=q.indices.astype(np.int64),
        out_prob=q.data.astype(np.float64),
        out_reward=np.repeat(r, np.diff(q.indptr)),
        name=name,
    )
