"""The compiled (numba) episode loop behind ``simulate(..., engine="fast")`` (layer 1).

The loop of :func:`accessrl.simulation.simulate`, statement for statement, over the
model's CSR arrays: the same draws in the same order (the start state only when the
start distribution has more than one state, then per step the action only where the
policy is stochastic and the outcome only where the step is), the same picks (the
first entry whose running total exceeds the uniform), the same return arithmetic
(R_1 + gamma (R_2 + gamma (...)), summed backwards), so a seed gives the same numbers.

The uniforms are numpy's ``random()`` re-derived from raw PCG64 outputs
((raw >> 11) 2^-53, numpy's ``next_double``), read in blocks with
``bit_generator.random_raw``; afterwards the generator is rewound and advanced by the
outputs used, so it ends where the readable loop leaves it.  Other bit generators take
the readable loop.  The start state is found by binary search over the running totals
of the positive start probabilities (the readable loop scans them; the totals are the
same sums in the same order).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from accessrl.model.mdp import MDP

SUPPORTED = ("PCG64", "PCG64DXSM")
"""Bit generators whose raw outputs the kernel turns into numpy's uniforms."""

RAW_BLOCK = 1 << 16
"""Raw outputs read per kernel call (at least 8 episodes' worth)."""

_TWO_M53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def uniform01(raw, ctl):  # type: ignore[no-untyped-def]
    """numpy's ``random()``: the top 53 bits of the next raw output (``ctl[0]`` the read position)."""
    v = raw[ctl[0]]
    ctl[0] += 1
    return np.float64(v >> np.uint64(11)) * _TWO_M53


@njit(cache=True, inline="always")
def pick_outcome(pair, out_ptr, out_prob, u):  # type: ignore[no-untyped-def]
    """The compiled form of :func:`accessrl.simulation.sample_outcome`'s rule: the first outcome,
    in declared order, whose cumulative probability exceeds ``u`` (the last positive one at worst)."""
    c = 0.0
    last = -1
    for j in range(out_ptr[pair], out_ptr[pair + 1]):
        p = out_prob[j]
        if p > 0.0:
            c += p
            last = j
            if u < c:
                return j
    return last


@njit(cache=True)
def _episodes(  # type: ignore[no-untyped-def]  # noqa: PLR0913
    first, last, max_steps, gamma, start_states, start_cum, forced_pair, sa_ptr, sa_action, probs,
    only, out_ptr, out_next, out_prob, out_reward, ends, severe_out, event_code,
    returns, lengths, terminated, severe, event_last, event_count,
    record, rec_state, rec_action, rec_pair, rec_prob, rec_reward, rec_next, rec_outcome, rec_used,
    raw, ctl, margin, rewards,
):
    i = first
    cap = rec_state.size
    while i < last:
        if raw.size - ctl[0] < margin:
            break
        if record and cap - rec_used[0] < max_steps:
            break
        if start_states.size == 1:
            j = 0
        else:
            u = uniform01(raw, ctl)
            j = np.searchsorted(start_cum, u, side="right")
            if j >= start_cum.size:
                j = start_cum.size - 1
        s = start_states[j]
        t = 0
        sev = False
        while not ends[s] and t < max_steps:
            lo = sa_ptr[s]
            hi = sa_ptr[s + 1]
            if t == 0 and forced_pair.size > 0:
                pair = forced_pair[j]
                if pair < 0:
                    ctl[3] = s  # the forced action is not available here: the caller raises
                    return i
                p_act = 1.0
            else:
                live = 0
                pair = -1
                for k in range(lo, hi):
                    if probs[k] > 0.0:
                        live += 1
                        pair = k
                if live > 1:
                    u = uniform01(raw, ctl)
                    c = 0.0
                    for k in range(lo, hi):
                        if probs[k] > 0.0:
                            c += probs[k]
                            pair = k
                            if u < c:
                                break
                p_act = probs[pair]
            o = only[pair]
            if o < 0:
                o = pick_outcome(pair, out_ptr, out_prob, uniform01(raw, ctl))
            nxt = out_next[o]
            r = out_reward[o]
            rewards[t] = r
            if severe_out.size and severe_out[o]:
                sev = True
            if event_code.size:
                e = event_code[o]
                if e >= 0 and event_last[e] != i:
                    event_last[e] = i
                    event_count[e] += 1
            if record:
                w = rec_used[0]
                rec_state[w] = s
                rec_action[w] = sa_action[pair]
                rec_pair[w] = pair
                rec_prob[w] = p_act
                rec_reward[w] = r
                rec_next[w] = nxt
                rec_outcome[w] = o
                rec_used[0] = w + 1
            s = nxt
            t += 1
        total = 0.0
        for k in range(t - 1, -1, -1):
            total = rewards[k] + gamma * total
        returns[i] = total
        lengths[i] = t
        terminated[i] = ends[s]
        severe[i] = sev
        i += 1
    return i


@njit(cache=True)
def _sole(out_ptr, out_prob, out):  # type: ignore[no-untyped-def]
    for k in range(out.size):
        hit = -1
        for j in range(out_ptr[k], out_ptr[k + 1]):
            if out_prob[j] > 0.0:
                if hit >= 0:
                    hit = -1
                    break
                hit = j
        out[k] = hit


def sole_outcome_compiled(mdp: MDP) -> np.ndarray:
    """:func:`accessrl.simulation.sole_outcome` in one compiled pass (no nnz-sized temporaries)."""
    out = np.empty(mdp.n_pairs, dtype=np.int64)
    _sole(mdp.out_ptr, mdp.out_prob, out)
    return out


def run_episodes(mdp: MDP, probs: np.ndarray, dist: np.ndarray, forced: int | None, n: int, max_steps: int,
                 record: bool, rng: np.random.Generator, only: np.ndarray) -> dict[str, Any] | None:
    """The episodes of :func:`accessrl.simulation.simulate` by the compiled loop; None when
    ``rng``'s bit generator is not one the kernel reproduces (the caller runs the readable loop)."""
    bg: Any = rng.bit_generator
    if type(bg).__name__ not in SUPPORTED:
        return None
    start_states = np.flatnonzero(dist > 0).astype(np.int64)
    start_cum = np.cumsum(dist[start_states])  # left to right, as the readable scan adds
    forced_pair = np.zeros(0, dtype=np.int64)
    if forced is not None:
        forced_pair = np.full(start_states.size, -1, dtype=np.int64)
        for j, s in enumerate(start_states.tolist()):
            lo, hi = int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1])
            hit = np.flatnonzero(mdp.sa_action[lo:hi] == forced)
            if hit.size:
                forced_pair[j] = lo + int(hit[0])
    ends = np.ascontiguousarray(mdp.terminal | (mdp.n_actions_of == 0))
    severe_out = np.zeros(0, dtype=np.bool_) if mdp.severe is None else np.asarray(mdp.severe, dtype=np.bool_)
    labels: list[str] = []
    event_code = np.zeros(0, dtype=np.int64)
    if mdp.events is not None:
        labels = sorted({e for e in mdp.events if e})
        code = {e: i for i, e in enumerate(labels)}
        event_code = np.fromiter((code[e] if e else -1 for e in mdp.events), dtype=np.int64, count=len(mdp.events))
    event_last = np.full(len(labels), -1, dtype=np.int64)
    event_count = np.zeros(len(labels), dtype=np.int64)
    returns = np.empty(n)
    lengths = np.empty(n, dtype=np.int64)
    terminated = np.empty(n, dtype=bool)
    severe = np.zeros(n, dtype=bool)
    cap = max(1 << 16, 4 * max_steps) if record else 0
    cols = {k: np.empty(cap, dtype=dt) for k, dt in (("state", np.int64), ("action", np.int64), ("pair", np.int64),
                                                       ("prob", np.float64), ("reward", np.float64),
                                                       ("next", np.int64), ("outcome", np.int64))}
    chunks: dict[str, list[np.ndarray]] = {k: [] for k in cols}
    rec_used = np.zeros(1, dtype=np.int64)
    margin = 2 * max_steps + 1
    block = max(RAW_BLOCK, 8 * margin)
    rewards = np.empty(max_steps)
    i = 0
    while i < n:
        before = bg.state
        raw = bg.random_raw(min(block, (n - i) * margin + 1))
        ctl = np.array([0, 0, 0, -1], dtype=np.int64)
        i = _episodes(i, n, max_steps, float(mdp.gamma), start_states, start_cum, forced_pair, mdp.sa_ptr,
                      mdp.sa_action, probs, only, mdp.out_ptr, mdp.out_next, mdp.out_prob, mdp.out_reward, ends,
                      severe_out, event_code, returns, lengths, terminated, severe, event_last, event_count,
                      record, cols["state"], cols["action"], cols["pair"], cols["prob"], cols["reward"],
                      cols["next"], cols["outcome"], rec_used, raw, ctl, margin, rewards)
        bg.state = before
        bg.advance(int(ctl[0]))
        if ctl[3] >= 0 and forced is not None:
            mdp.pair_index(int(ctl[3]), forced)  # raises the readable loop's error
        if record:
            used = int(rec_used[0])
            for k, col in cols.items():
                chunks[k].append(col[:used].copy())
            rec_used[0] = 0
    out: dict[str, Any] = {"returns": returns, "lengths": lengths, "terminated": terminated, "severe": severe,
                           "events": {e: int(c) for e, c in zip(labels, event_count.tolist(), strict=True)}}
    if record:
        out["record"] = {k: (np.concatenate(v) if v else np.zeros(0, dtype=cols[k].dtype)) for k, v in chunks.items()}
    return out


__all__ = ["RAW_BLOCK", "SUPPORTED", "pick_outcome", "run_episodes", "sole_outcome_compiled", "uniform01"]
