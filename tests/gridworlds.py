"""Sutton & Barto's gridworlds and pymdptoolbox's examples, written as accessrl specs/arrays.

The facts (layouts, rewards) come from the published sources cited beside each one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MOVES = {"north": (-1, 0), "south": (1, 0), "east": (0, 1), "west": (0, -1)}


def sb_example_4_1() -> dict[str, Any]:
    """Sutton & Barto (2018) Example 4.1: 4x4 grid, corners terminal, reward -1 per move, gamma 1.

    Cells are numbered row-major; the two shaded corners (0 and 15) are one terminal state in
    the book; here they are the states ``t0`` and ``t15``.
    """
    def name(r: int, c: int) -> str:
        i = 4 * r + c
        return f"t{i}" if i in (0, 15) else f"s{i}"

    trans: dict[str, Any] = {}
    for r in range(4):
        for c in range(4):
            if 4 * r + c in (0, 15):
                continue
            acts = {}
            for a, (dr, dc) in MOVES.items():
                nr, nc = r + dr, c + dc
                if not (0 <= nr < 4 and 0 <= nc < 4):
                    nr, nc = r, c
                acts[a] = {"next": name(nr, nc), "reward": -1}
            trans[name(r, c)] = acts
    states = [name(r, c) for r in range(4) for c in range(4)]
    return {"name": "sb-4.1", "gamma": 1.0, "states": states, "terminal": ["t0", "t15"], "transitions": trans}


def sb_example_3_5() -> dict[str, Any]:
    """Sutton & Barto (2018) Example 3.5: 5x5 grid; from A (0,1) every action -> A' (4,1), +10;
    from B (0,3) -> B' (2,3), +5; moves off the grid stay put with -1; others 0; gamma 0.9."""
    trans: dict[str, Any] = {}
    for r in range(5):
        for c in range(5):
            acts = {}
            for a, (dr, dc) in MOVES.items():
                if (r, c) == (0, 1):
                    nxt, rew = (4, 1), 10
                elif (r, c) == (0, 3):
                    nxt, rew = (2, 3), 5
                else:
                    nr, nc = r + dr, c + dc
                    if 0 <= nr < 5 and 0 <= nc < 5:
                        nxt, rew = (nr, nc), 0
                    else:
                        nxt, rew = (r, c), -1
                acts[a] = {"next": f"c{nxt[0]}{nxt[1]}", "reward": rew}
            trans[f"c{r}{c}"] = acts
    return {"name": "sb-3.5", "gamma": 0.9, "transitions": trans}


def forest(S: int = 3, r1: float = 4.0, r2: float = 2.0, p: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """pymdptoolbox's ``example.forest()``: action 0 wait, 1 cut; a fire with probability p
    resets the forest to its youngest state (pymdptoolbox documentation)."""
    P = np.zeros((2, S, S))
    P[0, :, 0] = p
    for s in range(S - 1):
        P[0, s, s + 1] = 1 - p
    P[0, S - 1, S - 1] = 1 - p
    P[1, :, 0] = 1.0
    R = np.zeros((S, 2))
    R[S - 1, 0] = r1
    R[1:, 1] = 1.0
    R[S - 1, 1] = r2
    return P, R


def small() -> tuple[np.ndarray, np.ndarray]:
    """pymdptoolbox's ``example.small()``."""
    P = np.array([[[0.5, 0.5], [0.8, 0.2]], [[0.0, 1.0], [0.1, 0.9]]])
    R = np.array([[5.0, 10.0], [-1.0, 2.0]])
    return P, R


def random_sparse(rng: np.random.Generator, S: int, A: int, k: int, gamma: float, terminal: int = 0):
    """A random sparse model in state-action-pair form (k successors per pair)."""
    from accessrl import MDP

    k = min(k, S)
    L = S * A
    cols = np.stack([rng.choice(S, size=k, replace=False) for _ in range(L)])
    probs = rng.random((L, k)) + 0.05
    probs /= probs.sum(axis=1, keepdims=True)
    import scipy.sparse as sp

    Q = sp.csr_matrix((probs.ravel(), cols.ravel(), np.arange(0, L * k + 1, k)), shape=(L, S))
    R = rng.normal(size=L)
    s_idx = np.repeat(np.arange(S), A)
    a_idx = np.tile(np.arange(A), S)
    return MDP.from_state_action_pairs(R, Q, gamma, s_idx, a_idx)
