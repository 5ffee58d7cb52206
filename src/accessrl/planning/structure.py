"""Graph structure of a model: termination, proper policies, end components (layer 1).

With ``gamma = 1`` (episodic, undiscounted) a value is finite only where the episode
ends with probability 1.  The stochastic-shortest-path conditions (Bertsekas &
Tsitsiklis 1991) make value iteration and policy iteration well defined:

1. some policy reaches a terminal state with probability 1 from every state, and
2. every policy that does not collects unbounded negative reward.

:func:`check_ssp` enforces both; :func:`improper_states` tells, for one policy, the
states from which it may never terminate.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse.csgraph import breadth_first_order, connected_components

from accessrl._types import BoolArray
from accessrl.errors import ModelError, NotTerminatingError
from accessrl.model.mdp import MDP


def _name_list(mdp: MDP, states: NDArray[np.int64], limit: int = 5) -> str:
    names = [mdp.state_names[int(s)] for s in states[:limit]]
    more = f" and {states.size - limit} more" if states.size > limit else ""
    return ", ".join(repr(n) for n in names) + more


def can_reach(graph: sp.csr_matrix, targets: BoolArray) -> BoolArray:
    """States from which some path in ``graph`` (S, S) reaches a target state."""
    n = graph.shape[0]
    if not targets.any():
        return np.zeros(n, dtype=bool)
    # Reverse the graph and add a super-source n that points at every target.
    rev = graph.T.tocsr()
    t = np.flatnonzero(targets)
    extra = sp.csr_matrix((np.ones(t.size), (np.full(t.size, n), t)), shape=(n + 1, n + 1))
    big = sp.bmat([[rev, None], [None, sp.csr_matrix((1, 1))]], format="csr") + extra
    order = breadth_first_order(big, n, directed=True, return_predecessors=False)
    out: BoolArray = np.zeros(n + 1, dtype=bool)
    out[order] = True
    return out[:n]


def _pair_graph(mdp: MDP, pair_mask: BoolArray) -> sp.csr_matrix:
    """State graph with an edge s -> s' for each outcome of an allowed pair."""
    counts = np.diff(mdp.out_ptr)
    src = np.repeat(mdp.sa_state, counts)
    keep = np.repeat(pair_mask, counts) & (mdp.out_prob > 0)
    n = mdp.n_states
    return sp.csr_matrix(
        (np.ones(int(keep.sum())), (src[keep], mdp.out_next[keep])), shape=(n, n)
    )


def improper_states(mdp: MDP, pair_probs: NDArray[np.float64]) -> NDArray[np.int64]:
    """States from which the policy fails to terminate with probability 1."""
    graph = _pair_graph(mdp, pair_probs > 0)
    reach_terminal = can_reach(graph, mdp.terminal)
    stuck = ~reach_terminal
    return np.flatnonzero(can_reach(graph, stuck))


def require_proper(mdp: MDP, pair_probs: NDArray[np.float64]) -> None:
    """Raise :class:`NotTerminatingError` if, with gamma = 1, the policy may never end."""
    if mdp.gamma < 1.0:
        return
    bad = improper_states(mdp, pair_probs)
    if bad.size:
        raise NotTerminatingError(
            f"{mdp.name}: gamma = 1 but the policy never reaches a terminal state with probability 1 "
            f"from state(s) {_name_list(mdp, bad)}; use gamma < 1 or a policy that ends",
            tuple(mdp.state_names[int(s)] for s in bad),
        )


def _successors_ok(mdp: MDP, ok_states: BoolArray) -> BoolArray:
    """Pairs all of whose outcomes land in ``ok_states``."""
    bad_out = ~ok_states[mdp.out_next] & (mdp.out_prob > 0)
    bad_pairs = np.add.reduceat(bad_out.astype(np.int64), mdp.out_ptr[:-1]) if mdp.n_pairs else np.zeros(0)
    bad_pairs[np.diff(mdp.out_ptr) == 0] = 0
    ok: BoolArray = bad_pairs == 0
    return ok


def almost_sure_termination(mdp: MDP) -> BoolArray:
    """States from which *some* policy terminates with probability 1.

    Iterates: keep the states that can reach a terminal state using allowed pairs,
    then forbid the pairs that may leave that set, until nothing changes.
    """
    good = np.ones(mdp.n_states, dtype=bool)
    allowed = np.ones(mdp.n_pairs, dtype=bool)
    while True:
        reach = can_reach(_pair_graph(mdp, allowed), mdp.terminal)
        new_allowed = allowed & _successors_ok(mdp, reach) & reach[mdp.sa_state]
        if np.array_equal(reach, good) and np.array_equal(new_allowed, allowed):
            return good
        good, allowed = reach, new_allowed


def end_components(mdp: MDP) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """Maximal end components among the non-terminal states: (states, pairs) each.

    An end component is a set of states and pairs that can keep the process inside
    it forever while visiting all its states (de Alfaro 1997).
    """
    alive = ~mdp.terminal
    allowed = _successors_ok(mdp, alive)
    while True:
        graph = _pair_graph(mdp, allowed)
        _, label = connected_components(graph, directed=True, connection="strong")
        counts = np.diff(mdp.out_ptr)
        same = label[np.repeat(mdp.sa_state, counts)] == label[mdp.out_next]
        leaves = np.add.reduceat((~same).astype(np.int64), mdp.out_ptr[:-1]) if mdp.n_pairs else np.zeros(0)
        new_allowed = allowed & (leaves == 0)
        has_pair = np.zeros(mdp.n_states, dtype=bool)
        has_pair[mdp.sa_state[new_allowed]] = True
        new_alive = alive & has_pair
        new_allowed &= _successors_ok(mdp, new_alive)
        if np.array_equal(new_allowed, allowed) and np.array_equal(new_alive, alive):
            break
        allowed, alive = new_allowed, new_alive
    comps = []
    pair_label = label[mdp.sa_state]
    for lab in np.unique(label[alive]):
        states = np.flatnonzero(alive & (label == lab))
        pairs = np.flatnonzero(allowed & (pair_label == lab))
        if pairs.size:
            comps.append((states, pairs))
    return comps


def max_gain(mdp: MDP, states: NDArray[np.int64], pairs: NDArray[np.int64]) -> float:
    """Best long-run average reward inside one end component (an LP over frequencies)."""
    r = mdp.expected_reward[pairs]
    if np.all(r < 0):
        return float(r.max())  # an upper bound that is already negative
    local = {int(s): i for i, s in enumerate(states)}
    rows, cols, vals = [], [], []
    for j, k in enumerate(pairs):
        rows.append(local[int(mdp.sa_state[k])])
        cols.append(j)
        vals.append(1.0)
        for o in range(int(mdp.out_ptr[k]), int(mdp.out_ptr[k + 1])):
            rows.append(local[int(mdp.out_next[o])])
            cols.append(j)
            vals.append(-float(mdp.out_prob[o]))
    flow = sp.csr_matrix((vals, (rows, cols)), shape=(states.size, pairs.size))
    a_eq = sp.vstack([flow, sp.csr_matrix(np.ones((1, pairs.size)))])
    b_eq = np.concatenate([np.zeros(states.size), [1.0]])
    res = linprog(-r, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    return float(-res.fun) if res.status == 0 else float(r.max())


def check_ssp(mdp: MDP) -> None:
    """Raise a clear :class:`ModelError` unless the gamma = 1 model is a proper SSP."""
    if mdp.gamma < 1.0:
        return
    if not mdp.terminal.any():
        raise NotTerminatingError(
            f"{mdp.name}: gamma = 1 needs terminal states (an episodic task); this model has none. "
            "Use gamma < 1 for a continuing task"
        )
    good = almost_sure_termination(mdp)
    if not good.all():
        bad = np.flatnonzero(~good)
        raise NotTerminatingError(
            f"{mdp.name}: gamma = 1 but no policy reaches a terminal state with probability 1 from "
            f"state(s) {_name_list(mdp, bad)}",
            tuple(mdp.state_names[int(s)] for s in bad),
        )
    for states, pairs in end_components(mdp):
        g = max_gain(mdp, states, pairs)
        if g >= -1e-12:
            raise ModelError(
                f"{mdp.name}: gamma = 1 but a policy can cycle forever among state(s) "
                f"{_name_list(mdp, states)} earning {g:.6g} per step (>= 0); every non-terminating "
                "policy must collect unbounded negative reward (make those rewards negative or use gamma < 1)"
            )


__all__ = [
    "almost_sure_termination",
    "can_reach",
    "check_ssp",
    "end_components",
    "improper_states",
    "max_gain",
    "require_proper",
]
