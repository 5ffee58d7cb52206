r"""Generated models at scale (layer 0): a factored access-review workflow and ``rand``.

:func:`access_review_workflow` builds the queue an access assistant actually faces.
A *request* is described by seven factors (mixed-radix, day most significant, escalation
fastest)::

    day         days waiting, 0 .. max_days-1       (max_days)
    tier        low / medium / high risk           (3)
    review      policy requires human review?      no / yes (2)
    evidence    none / requested / partial / strong (4)
    reminders   reminders sent, 0 .. max_reminders  (max_reminders + 1)
    queue       reviewer backlog, 0 .. queue_capacity-1 (queue_capacity)
    escalation  0 .. max_escalation                 (max_escalation + 1)

plus four terminal states ``approved``, ``denied``, ``abandoned``, ``expired``; so
S = 24 * max_days * (max_reminders+1) * queue_capacity * (max_escalation+1) + 4, from 28
states to tens of millions (:func:`workflow_params_for` picks sizes for a target S).

Actions (declared order, so ties break toward the earlier one): ``auto_approve`` (only
when review is not required), ``request_evidence`` (evidence none or partial),
``send_reminder`` (evidence requested, reminders left), ``human_review``, ``escalate``
(escalation left), ``deny_request`` and ``wait``.  One step is one day:

* approving or denying ends the request now; the reward is the expected value of the
  decision under the posterior that the request is legitimate, which rises with the
  evidence (likelihood ratios ``lr_partial``, ``lr_strong`` on the tier's prior odds);
* ``human_review``: the reviewer decides today with probability
  min(1, review_rate (1 + escalation_boost x) / (1 + queue)), approving correctly with
  ``reviewer_accuracy``; otherwise the request keeps waiting;
* every day a waiting requester abandons with hazard
  min(hazard_cap, hazard_base + hazard_per_day * day + hazard_per_reminder * reminders);
* requested evidence arrives with the tier's ``p_evidence`` (times 1 + ``reminder_boost``
  on a reminder day), strong with the tier's ``p_strong``, partial otherwise;
* the reviewer backlog is a birth-death chain: +1 with p_arrival (1 - p_service), -1 with
  p_service (1 - p_arrival).

``cyclic=False``: time always moves forward, and a request still open after
``max_days`` expires (the model is acyclic).  With the day the most significant digit and the
terminal states last, every transition of the acyclic model leads to a larger index, so the
planner solves it in one ordered pass with no graph search.  ``cyclic=True``: the last day
bucket means "``max_days-1`` days or more" and loops, so backlog moves and evidence re-requests form
cycles (strongly connected components of up to a few hundred states).

The whole model is built with vectorised NumPy over chunks of states; nothing loops in
Python per state.  Each chunk is merged and written straight into the output arrays, which
are allocated for the largest possible model and shrunk in place at the end (pages never
written are never resident), so the peak memory is the model plus one chunk.
State names are computed on demand (:class:`FactoredNames`).

>>> mdp = access_review_workflow(max_days=3, max_reminders=1, queue_capacity=2, max_escalation=1)
>>> mdp.n_states, mdp.action_names[:3]
(580, ('auto_approve', 'request_evidence', 'send_reminder'))
>>> mdp.state_names[0]
'low|no-review|none|d0|r0|q0|x0'
>>> m = rand(100, 4, 10, gamma=0.9, rng=np.random.default_rng(0))
>>> m.n_pairs, m.n_outcomes
(400, 4000)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, overload

import numpy as np

from accessrl._types import FloatArray, IntArray
from accessrl.errors import ParameterError
from accessrl.model.checks import check_gamma
from accessrl.model.mdp import MDP

TIERS = ("low", "medium", "high")
EVIDENCE = ("none", "requested", "partial", "strong")
ACTIONS = ("auto_approve", "request_evidence", "send_reminder", "human_review", "escalate",
           "deny_request", "wait")
TERMINALS = ("approved", "denied", "abandoned", "expired")
_AUTO, _REQ, _REM, _REV, _ESC, _DENY, _WAIT = range(7)
_NONE, _REQUESTED, _PARTIAL, _STRONG = range(4)


def _p(default: Any, doc: str) -> Any:
    """A dataclass field with its one-line documentation in the metadata."""
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class WorkflowParams:
    """Parameters of :func:`access_review_workflow`; the defaults read as a plausible queue.

    Rewards are in "staff-minutes equivalent" points; tier tuples are (low, medium, high).
    """

    max_days: int = _p(14, "Days a request may wait (acyclic: then it expires; cyclic: the last bucket loops).")
    max_reminders: int = _p(3, "Reminders the assistant may send for one request.")
    queue_capacity: int = _p(10, "Reviewer-backlog levels 0 .. queue_capacity-1.")
    max_escalation: int = _p(2, "Escalation levels above 0.")
    cyclic: bool = _p(False,
        "False: time always moves forward (acyclic). True: waiting loops in the last day bucket.")
    gamma: float = _p(0.99, "Daily discount factor.")
    prior_legit: tuple[float, float, float] = _p((0.97, 0.90, 0.75),
        "Probability that a request of each tier is legitimate, before evidence.")
    lr_partial: float = _p(3.0, "Likelihood ratio (legit : not) of partial evidence.")
    lr_strong: float = _p(30.0, "Likelihood ratio (legit : not) of strong evidence.")
    p_evidence: tuple[float, float, float] = _p((0.5, 0.4, 0.3),
        "Daily probability that requested evidence arrives, per tier.")
    p_strong: tuple[float, float, float] = _p((0.7, 0.6, 0.5),
        "Share of arriving evidence that is strong (the rest is partial), per tier.")
    reminder_boost: float = _p(0.5, "A reminder multiplies that day's evidence arrival probability by 1 + boost.")
    hazard_base: float = _p(0.01, "Daily abandonment hazard of a fresh request.")
    hazard_per_day: float = _p(0.005, "Added hazard per day already waited.")
    hazard_per_reminder: float = _p(0.02, "Added hazard per reminder sent (nagging annoys).")
    hazard_cap: float = _p(0.5, "Upper bound on the daily abandonment hazard.")
    review_rate: float = _p(0.6, "Probability that an idle reviewer (empty backlog) decides a request today.")
    escalation_boost: float = _p(0.5, "Each escalation level multiplies the review rate by 1 + boost.")
    reviewer_accuracy: float = _p(0.95, "Probability that a reviewer decides a request correctly.")
    p_arrival: float = _p(0.3, "Daily probability that another request joins the reviewer backlog.")
    p_service: float = _p(0.3, "Daily probability that reviewers clear one backlog item.")
    grant_value: float = _p(10.0, "Value of granting a legitimate request.")
    breach_cost: tuple[float, float, float] = _p((20.0, 100.0, 500.0),
        "Cost of granting an illegitimate request, per tier.")
    denial_cost: float = _p(15.0, "Cost of denying a legitimate request.")
    review_cost: float = _p(4.0, "Reviewer time for one human review decision.")
    escalation_cost: float = _p(3.0, "Manager time for one escalation.")
    evidence_cost: float = _p(1.0, "Requester effort for one evidence request.")
    reminder_cost: float = _p(0.5, "Cost of one reminder.")
    wait_cost: float = _p(1.0, "Cost of one more day of waiting (lost requester productivity).")
    abandon_cost: float = _p(12.0, "Cost when a legitimate requester gives up (also charged when a request expires).")

    def n_states(self) -> int:
        """S, terminal states included."""
        return workflow_size(self)


def _check(p: WorkflowParams) -> None:
    for f in ("max_days", "queue_capacity"):
        v = getattr(p, f)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ParameterError(f"{f}: expected an integer >= 1, got {v!r}")
    for f in ("max_reminders", "max_escalation"):
        v = getattr(p, f)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ParameterError(f"{f}: expected an integer >= 0, got {v!r}")
    check_gamma(p.gamma)
    probs = ("p_arrival", "p_service", "hazard_base", "hazard_cap", "review_rate", "reviewer_accuracy")
    for f in probs:
        v = getattr(p, f)
        if not 0.0 <= v <= 1.0:
            raise ParameterError(f"{f}: expected a probability in [0, 1], got {v!r}")
    for f in ("prior_legit", "p_evidence", "p_strong"):
        v = getattr(p, f)
        if len(v) != 3 or not all(0.0 <= x <= 1.0 for x in v):
            raise ParameterError(f"{f}: expected three probabilities (low, medium, high), got {v!r}")
    if len(p.breach_cost) != 3:
        raise ParameterError(f"breach_cost: expected three numbers (low, medium, high), got {p.breach_cost!r}")
    for f in ("lr_partial", "lr_strong", "reminder_boost", "hazard_per_day", "hazard_per_reminder",
              "escalation_boost"):
        if not getattr(p, f) >= 0:
            raise ParameterError(f"{f}: expected a non-negative number, got {getattr(p, f)!r}")


def index_dtype(n_states: int) -> type[np.signedinteger[Any]]:
    """The dtype generated models store next states in: int32 below 2**31 states (half the
    bytes every sweep gathers through), int64 beyond.

    >>> index_dtype(1000), index_dtype(2**31)
    (<class 'numpy.int32'>, <class 'numpy.int64'>)
    """
    return np.int32 if n_states < 2**31 else np.int64


def _radix(p: WorkflowParams) -> tuple[int, ...]:
    return (p.max_days, 3, 2, 4, p.max_reminders + 1, p.queue_capacity, p.max_escalation + 1)


def workflow_size(params: WorkflowParams | None = None, **overrides: Any) -> int:
    """The number of states the parameters give (terminal states included).

    >>> workflow_size()
    40324
    """
    p = replace(params or WorkflowParams(), **overrides)
    return int(np.prod(_radix(p), dtype=np.int64)) + len(TERMINALS)


def workflow_params_for(n_states: int, *, cyclic: bool = False, **overrides: Any) -> WorkflowParams:
    """Parameters whose model has about ``n_states`` states (at least that many).

    Keeps the default reminders and escalation levels and grows days and backlog together.

    >>> workflow_size(workflow_params_for(1_000_000))
    1002532
    """
    base = replace(WorkflowParams(cyclic=cyclic), **overrides)
    per = 24 * (base.max_reminders + 1) * (base.max_escalation + 1)
    cells = max(1, -(-int(n_states) // per))
    days = max(1, int(np.ceil(np.sqrt(cells))))
    queue = max(1, -(-cells // days))
    return replace(base, max_days=days, queue_capacity=queue)


class FactoredNames(Sequence[str]):
    """State names of a factored workflow, computed on demand (a tuple would cost GBs).

    Seven factors are (day, tier, review, evidence, reminders, queue, escalation), day the
    most significant digit; with a radix of other than seven factors the names are ``s0, s1, ...``.
    """

    name_order = (1, 2, 3, 0, 4, 5, 6)
    """For each field of a name (tier|review|evidence|day|reminders|queue|escalation), its
    factor's position in ``radix`` (day first): state numbers and names order factors differently."""

    def __init__(self, radix: tuple[int, ...], tail: tuple[str, ...]) -> None:
        self.radix = radix
        self.tail = tail
        self.n_inner = int(np.prod(radix, dtype=np.int64))

    def __len__(self) -> int:
        return self.n_inner + len(self.tail)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[str, ...]: ...
    def __getitem__(self, i: int | slice) -> str | tuple[str, ...]:
        if isinstance(i, slice):
            return tuple(self[j] for j in range(*i.indices(len(self))))
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        if i >= self.n_inner:
            return self.tail[i - self.n_inner]
        if len(self.radix) != 7:
            return f"s{i}"
        digits = []
        for r in reversed(self.radix):
            digits.append(i % r)
            i //= r
        d, t, rv, e, m, q, x = reversed(digits)
        return f"{TIERS[t]}|{'review' if rv else 'no-review'}|{EVIDENCE[e]}|d{d}|r{m}|q{q}|x{x}"

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))


def _posterior(p: WorkflowParams, tier: IntArray, ev: IntArray) -> FloatArray:
    prior = np.asarray(p.prior_legit)[tier]
    lr = np.where(ev == _STRONG, p.lr_strong, np.where(ev == _PARTIAL, p.lr_partial, 1.0))
    odds = prior * lr
    return np.asarray(odds / (odds + (1.0 - prior)), dtype=np.float64)


def _chunk(p: WorkflowParams, lo: int, hi: int) -> tuple[Any, ...]:
    """CSR pieces of states lo..hi-1 (pairs in state, action order; outcome slots dropped if p = 0)."""
    radix = _radix(p)
    n_inner = int(np.prod(radix, dtype=np.int64))
    idx = np.arange(lo, hi, dtype=np.int64)
    digits = []
    rest = idx.copy()
    for r in reversed(radix):
        digits.append(rest % r)
        rest //= r
    day, tier, rv, ev, rem, q, x = reversed(digits)
    strides = np.cumprod((1, *reversed(radix[1:])))[::-1]  # stride of each factor
    st_d = int(strides[0])
    st_e, st_m, st_q, st_x = (int(s) for s in strides[3:])
    approved, denied, abandoned, expired = (n_inner + k for k in range(4))
    n = idx.size
    K = MAX_OUTCOMES  # outcome slots per pair: abandon + (approve, deny) or 3 evidence x 3 backlog moves
    A = len(ACTIONS)
    nxt = np.zeros((n, A, K), dtype=np.int64)
    prob = np.zeros((n, A, K))
    rew = np.zeros((n, A, K))
    avail = np.zeros((n, A), dtype=bool)

    legit = _posterior(p, tier, ev)
    breach = np.asarray(p.breach_cost)[tier]
    # immediate decisions
    avail[:, _AUTO] = rv == 0
    nxt[:, _AUTO, 0], prob[:, _AUTO, 0] = approved, 1.0
    rew[:, _AUTO, 0] = p.grant_value * legit - breach * (1 - legit)
    avail[:, _DENY] = True
    nxt[:, _DENY, 0], prob[:, _DENY, 0] = denied, 1.0
    rew[:, _DENY, 0] = -p.denial_cost * legit

    # backlog moves (same for every waiting action)
    up = np.where(q < p.queue_capacity - 1, p.p_arrival * (1 - p.p_service), 0.0)
    down = np.where(q > 0, p.p_service * (1 - p.p_arrival), 0.0)
    qmoves = ((up, st_q), (down, -st_q), (1.0 - up - down, 0))
    last_day = day == p.max_days - 1
    day_step = np.where(last_day, 0, st_d)  # cyclic: the last bucket loops
    p_arr = np.asarray(p.p_evidence)[tier]
    p_str = np.asarray(p.p_strong)[tier]

    def waiting(a: int, cont: FloatArray, base_next: IntArray, evid_from: IntArray, boost: float,
                reminders: IntArray, cost: float, first_slot: int) -> None:
        """Abandonment, then evidence arrival x backlog move for continuing mass ``cont``."""
        hazard = np.minimum(p.hazard_cap, p.hazard_base + p.hazard_per_day * day + p.hazard_per_reminder * reminders)
        nxt[:, a, first_slot] = abandoned
        prob[:, a, first_slot] = cont * hazard
        rew[:, a, first_slot] = -cost - p.abandon_cost * legit
        stay = cont * (1 - hazard)
        requested = evid_from == _REQUESTED
        arrive = np.where(requested, np.minimum(0.95, p_arr * (1 + boost)), 0.0)
        evo = ((1 - arrive, 0), (arrive * p_str, (_STRONG - _REQUESTED) * st_e),
               (arrive * (1 - p_str), (_PARTIAL - _REQUESTED) * st_e))
        slot = first_slot + 1
        for pe, de in evo:
            for pq, dq in qmoves:
                if p.cyclic:
                    nxt[:, a, slot] = base_next + day_step + de + dq
                else:
                    nxt[:, a, slot] = np.where(last_day, expired, base_next + st_d + de + dq)
                prob[:, a, slot] = stay * pe * pq
                rew[:, a, slot] = -cost - p.wait_cost - np.where(last_day & (not p.cyclic), p.abandon_cost * legit, 0.0)
                slot += 1

    ones = np.ones(n)
    # request_evidence: evidence becomes 'requested' from tomorrow
    avail[:, _REQ] = (ev == _NONE) | (ev == _PARTIAL)
    waiting(_REQ, ones, idx + (_REQUESTED - ev) * st_e, np.full(n, _NONE), 0.0, rem, p.evidence_cost, 0)
    # send_reminder
    avail[:, _REM] = (ev == _REQUESTED) & (rem < p.max_reminders)
    waiting(_REM, ones, idx + st_m, ev, p.reminder_boost, rem + 1, p.reminder_cost, 0)
    # human_review: decided today with p_dec, else keeps waiting
    avail[:, _REV] = True
    p_dec = np.minimum(1.0, p.review_rate * (1 + p.escalation_boost * x) / (1.0 + q))
    acc = p.reviewer_accuracy
    p_app = legit * acc + (1 - legit) * (1 - acc)
    nxt[:, _REV, 0], nxt[:, _REV, 1] = approved, denied
    prob[:, _REV, 0], prob[:, _REV, 1] = p_dec * p_app, p_dec * (1 - p_app)
    with np.errstate(divide="ignore", invalid="ignore"):
        rew[:, _REV, 0] = np.where(p_app > 0, (p.grant_value * legit * acc - breach * (1 - legit) * (1 - acc))
                                   / p_app, 0.0) - p.review_cost
        rew[:, _REV, 1] = np.where(p_app < 1, -p.denial_cost * legit * (1 - acc) / (1 - p_app), 0.0) - p.review_cost
    # the undecided branch takes slots 2..: abandon + 9 moves would need 12; evidence rarely matters
    # while under review, so the undecided request keeps its evidence (backlog still moves)
    hazard = np.minimum(p.hazard_cap, p.hazard_base + p.hazard_per_day * day + p.hazard_per_reminder * rem)
    cont = 1 - p_dec
    nxt[:, _REV, 2], prob[:, _REV, 2] = abandoned, cont * hazard
    rew[:, _REV, 2] = -p.review_cost - p.abandon_cost * legit
    for j, (pq, dq) in enumerate(qmoves):
        nxt[:, _REV, 3 + j] = (idx + day_step + dq) if p.cyclic else np.where(last_day, expired, idx + st_d + dq)
        prob[:, _REV, 3 + j] = cont * (1 - hazard) * pq
        rew[:, _REV, 3 + j] = -p.review_cost - p.wait_cost - np.where(last_day & (not p.cyclic), p.abandon_cost * legit, 0.0)
    # escalate
    avail[:, _ESC] = x < p.max_escalation
    waiting(_ESC, ones, idx + st_x, ev, 0.0, rem, p.escalation_cost, 0)
    # wait
    avail[:, _WAIT] = True
    waiting(_WAIT, ones, idx, ev, 0.0, rem, 0.0, 0)

    keep = (prob > 0) & avail[:, :, None]
    per_pair = keep.sum(axis=2)[avail]
    sa_count = avail.sum(axis=1)
    sa_action = np.broadcast_to(np.arange(A, dtype=np.int64), (n, A))[avail]
    # outcomes sorted by next state within each pair (canonical CSR; repeated expiry slots adjacent)
    pair_of = np.repeat(np.arange(per_pair.size), per_pair)
    nk, pk, rk = nxt[keep], prob[keep], rew[keep]
    perm = np.lexsort((nk, pair_of))
    return sa_count, sa_action, per_pair, nk[perm], pk[perm], rk[perm]


def _merge_duplicates(per_pair: IntArray, nxt: IntArray, prob: FloatArray, rew: FloatArray) -> tuple[Any, ...]:
    """Merge repeated next states within a pair (expiry slots), reward averaged by probability."""
    pair = np.repeat(np.arange(per_pair.size, dtype=np.int64), per_pair)
    dup = np.zeros(nxt.size, dtype=bool)
    dup[1:] = (nxt[1:] == nxt[:-1]) & (pair[1:] == pair[:-1])
    if not dup.any():
        return per_pair, nxt, prob, rew
    group = np.cumsum(~dup) - 1
    gp = np.bincount(group, weights=prob)
    gr = np.bincount(group, weights=prob * rew)
    with np.errstate(invalid="ignore", divide="ignore"):
        gr = np.where(gp > 0, gr / gp, rew[~dup])
    counts = np.bincount(pair[~dup], minlength=per_pair.size)
    return counts, nxt[~dup], gp, gr


MAX_OUTCOMES = 10
"""Outcome slots per pair in the generator (abandon + 9 evidence x backlog moves)."""


def _chunk_size(n_inner: int) -> int:
    """States per generator chunk: small enough that one chunk's temporaries stay a few
    percent of the model, large enough that NumPy's per-call overhead does not show."""
    return int(min(1 << 18, max(1 << 13, n_inner // 64)))


def access_review_workflow(params: WorkflowParams | None = None, *, chunk: int | None = None,
                           **overrides: Any) -> MDP:
    """The factored access-review workflow (see the module docstring for the dynamics).

    ``params`` (defaults :class:`WorkflowParams`) with keyword ``overrides``; e.g.
    ``access_review_workflow(cyclic=True, max_days=30)``.  The start state is a fresh
    medium-tier request that needs review, with an empty backlog.  ``chunk``: states built
    per vectorised step (default: about 1/64 of the model, see the module docstring).
    """
    try:
        p = replace(params or WorkflowParams(), **overrides)
    except TypeError as exc:
        known = [f.name for f in fields(WorkflowParams)]
        raise ParameterError(f"workflow: {exc}; expected parameters among {known}") from None
    _check(p)
    radix = _radix(p)
    n_inner = int(np.prod(radix, dtype=np.int64))
    n_states = n_inner + len(TERMINALS)
    step = _chunk_size(n_inner) if chunk is None else int(chunk)
    if step < 1:
        raise ParameterError(f"chunk: expected an integer >= 1, got {chunk!r}")
    A = len(ACTIONS)
    # Allocated for the largest model the parameters allow; only written pages become resident,
    # and the in-place shrink at the end returns the rest (no copy, so no second model in memory).
    sa_ptr = np.zeros(n_states + 1, dtype=np.int64)
    sa_action = np.empty(n_inner * A, dtype=np.int64)
    out_ptr = np.empty(n_inner * A + 1, dtype=np.int64)
    out_ptr[0] = 0
    cap = n_inner * A * MAX_OUTCOMES
    nxt = np.empty(cap, dtype=index_dtype(n_states))
    prob = np.empty(cap)
    rew = np.empty(cap)
    n_pairs = n_out = 0
    for lo in range(0, n_inner, step):
        hi = min(n_inner, lo + step)
        sa_count, act, per_pair, nk, pk, rk = _chunk(p, lo, hi)
        per_pair, nk, pk, rk = _merge_duplicates(per_pair, nk, pk, rk)  # duplicates never cross pairs
        np.cumsum(sa_count, out=sa_ptr[lo + 1 : hi + 1])
        sa_ptr[lo + 1 : hi + 1] += n_pairs
        l_, o_ = act.size, nk.size
        sa_action[n_pairs : n_pairs + l_] = act
        np.cumsum(per_pair, out=out_ptr[n_pairs + 1 : n_pairs + l_ + 1])
        out_ptr[n_pairs + 1 : n_pairs + l_ + 1] += n_out
        nxt[n_out : n_out + o_] = nk
        prob[n_out : n_out + o_] = pk
        rew[n_out : n_out + o_] = rk
        n_pairs += l_
        n_out += o_
        del sa_count, act, per_pair, nk, pk, rk
    sa_ptr[n_inner + 1 :] = n_pairs
    for arr, size in ((sa_action, n_pairs), (out_ptr, n_pairs + 1), (nxt, n_out), (prob, n_out), (rew, n_out)):
        arr.resize(size, refcheck=False)
    terminal = np.zeros(n_states, dtype=bool)
    terminal[n_inner:] = True
    start = int(np.ravel_multi_index((0, 1, 1, 0, 0, 0, 0), radix))
    return MDP(
        gamma=float(p.gamma),
        state_names=FactoredNames(radix, TERMINALS),  # type: ignore[arg-type]
        action_names=ACTIONS,
        terminal=terminal,
        sa_ptr=sa_ptr,
        sa_action=sa_action,
        out_ptr=out_ptr,
        out_next=nxt,
        out_prob=prob,
        out_reward=rew,
        name=f"access-review-workflow{'-cyclic' if p.cyclic else ''}",
        start=start,
    )


def workflow_param_docs() -> dict[str, tuple[Any, str]]:
    """Each parameter's default and one-line description (for the CLI and docs).

    >>> workflow_param_docs()["max_days"][0]
    14
    """
    return {f.name: (f.default, str(f.metadata.get("doc", ""))) for f in fields(WorkflowParams)}


def rand(n_states: int, n_actions: int, n_successors: int, *, gamma: float = 0.9,
         rng: np.random.Generator) -> MDP:
    """A random sparse MDP in the spirit of pymdptoolbox's ``mdptoolbox.example.rand``.

    Every state has every action; each pair has ``n_successors`` distinct next states
    (k sorted draws from S - k + 1 values plus 0..k-1, so distinct without rejection),
    probabilities uniform then normalised, rewards per transition uniform on [-1, 1).
    No terminal states.  Next states are 32-bit when S allows (:func:`index_dtype`).
    """
    for name, v, lo in (("n_states", n_states, 1), ("n_actions", n_actions, 1), ("n_successors", n_successors, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ParameterError(f"{name}: expected an integer >= {lo}, got {v!r}")
    if n_successors > n_states:
        raise ParameterError(f"n_successors: expected at most n_states = {n_states}, got {n_successors}")
    gamma = check_gamma(gamma)
    s, a, k = int(n_states), int(n_actions), int(n_successors)
    n_pairs = s * a
    nxt = np.empty((n_pairs, k), dtype=index_dtype(s))
    prob = np.empty((n_pairs, k))
    step = 1 << 20
    for lo in range(0, n_pairs, step):  # chunks keep the temporaries small
        hi = min(n_pairs, lo + step)
        draws = np.sort(rng.integers(0, s - k + 1, size=(hi - lo, k)), axis=1)
        nxt[lo:hi] = draws + np.arange(k)
        w = rng.random((hi - lo, k))
        prob[lo:hi] = w / w.sum(axis=1, keepdims=True)
    reward = rng.uniform(-1.0, 1.0, size=n_pairs * k)
    return MDP(
        gamma=float(gamma),
        state_names=FactoredNames((s,), ()),  # type: ignore[arg-type]
        action_names=tuple(f"a{i}" for i in range(a)),
        terminal=np.zeros(s, dtype=bool),
        sa_ptr=np.arange(0, n_pairs + 1, a, dtype=np.int64),
        sa_action=np.tile(np.arange(a, dtype=np.int64), s),
        out_ptr=np.arange(0, n_pairs * k + 1, k, dtype=np.int64),
        out_next=nxt.reshape(-1),
        out_prob=prob.reshape(-1),
        out_reward=reward,
        name=f"rand-{s}x{a}x{k}",
    )


__all__ = [
    "ACTIONS",
    "EVIDENCE",
    "TERMINALS",
    "TIERS",
    "FactoredNames",
    "WorkflowParams",
    "access_review_workflow",
    "index_dtype",
    "rand",
    "workflow_param_docs",
    "workflow_params_for",
    "workflow_size",
]
