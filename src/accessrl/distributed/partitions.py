r"""Off-policy evaluation and estimation over a partitioned log (layer 2).

A year of decisions does not fit one process; its *sufficient statistics* do.  The log
is given as partitions — log files (Parquet, JSON lines or CSV, each holding whole
episodes: :func:`export_partitions` writes them) or time ranges of a decision-log
database (:class:`TimeRange`: the episodes whose first decision falls in the range, the
same rule as :func:`~accessrl.offline.splits.temporal_split`) — and each partition is read
where it lies, by one task, which returns only:

* per episode and per candidate, the numbers ``(x_i, w_i)`` of each ratio estimator
  (:func:`~accessrl.offline.ope.episode_terms`: IS, WIS, PDIS), the trajectory weight and
  whether the episode was severe;
* the counts per (state, action, next state) with reward sums
  (:func:`~accessrl.offline.estimation.count_transitions`), and which pairs were logged.

The reduction concatenates episodes in partition order and adds counts, so the point
estimates, the effective sample size and the estimated model equal those of one process
reading the whole log (the tests compare them).  Bootstrap replicates are spread over
tasks too: replicate block ``b`` draws from ``SeedSequence(seed).spawn(blocks)[b]``, so the
intervals are the same on every backend (they are a different random draw from
:func:`~accessrl.offline.ope.bootstrap_ratio`'s single stream, with the same distribution),
with the same floor (:func:`~accessrl.offline.intervals.floor_interval`: the logged return range,
the effective sample size).  Support is judged from the logged propensities, as in one process
(:func:`~accessrl.offline.support.support_from_counts` over the partitions' summed counts).
Model-based and doubly robust estimates need a model fitted on a training period and
are left to :func:`~accessrl.offline.ope.evaluate_policy`.

Cost: a file partition reads only its file.  A time-range task reads the decisions from
its start to the end of the log (or ``as_of``), because an episode that starts in the
range may end after it, and keeps only its own episodes; for logs much longer than the
evaluation period, export files per period once (:func:`export_partitions`) and
evaluate those.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from accessrl.distributed.backend import Backend, get_backend, task_seeds
from accessrl.errors import DataError, ParameterError
from accessrl.offline.estimation import EstimatedModel, TransitionCounts, count_transitions, estimate_from_counts
from accessrl.offline.intervals import floor_interval
from accessrl.offline.logged import LoggedSteps
from accessrl.offline.ope import Interval, effective_sample_size, episode_returns, episode_terms
from accessrl.offline.support import offered_counts, support_from_counts
from accessrl.storage.store import DecisionLog
from accessrl.storage.times import to_us, utc_text

ESTIMATORS = ("is", "wis", "pdis")
"""The ratio estimators a partition can compute alone."""

BOOT_BLOCK = 250
"""Bootstrap replicates per task."""


@dataclass(frozen=True)
class LogFile:
    """A partition that is a log file of whole episodes (``.parquet``, ``.jsonl`` or ``.csv``)."""

    path: str


@dataclass(frozen=True)
class TimeRange:
    """A partition that is the episodes of a decision-log database starting in ``[since, until)``."""

    url: str
    since: str
    until: str
    schema: str | None = None


Partition = LogFile | TimeRange


@dataclass(frozen=True, eq=False)
class PartitionStats:
    """What one partition sends back: per-episode estimator terms and transition counts."""

    episode_ids: tuple[str, ...]
    terms: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]]
    weights: Mapping[str, np.ndarray]
    severe: Mapping[str, np.ndarray]
    offered: np.ndarray
    """(S, A): decisions at which the behaviour could take each action (:func:`~accessrl.offline.support.offered_counts`)."""
    state_decisions: np.ndarray
    """(S,): decisions per state."""
    basis: str
    return_range: tuple[float, float] | None
    """(min, max) of the partition's discounted episode returns (``None``: no episodes)."""
    counts: TransitionCounts | None
    decisions: int
    pending: int


def _read(part: Partition, state_names: tuple[str, ...], action_names: tuple[str, ...], as_of: str | None) -> Any:
    if isinstance(part, LogFile):
        with tempfile.TemporaryDirectory(prefix="accessrl-part-") as tmp:
            log = DecisionLog(f"sqlite:///{Path(tmp) / 'part.db'}")
            try:
                res = log.ingest(part.path)
                if res.rejected:
                    raise DataError(f"{part.path}: {len(res.rejected)} bad record(s); first: {res.rejected[0]}")
                return log.load_steps(until=as_of, state_names=state_names, action_names=action_names)
            finally:
                log.close()
    log = DecisionLog(part.url, schema=part.schema)
    try:
        loaded = log.load_steps(since=part.since, until=as_of, state_names=state_names,
                                action_names=action_names)
    finally:
        log.close()
    steps = loaded.steps
    first = steps.episode_ptr[:-1]
    starts_here = (steps.step[first] == 0) & (steps.decided_at[first] < to_us(part.until, "until"))
    kept_ids = tuple(e for e, k in zip(loaded.episode_ids, starts_here, strict=True) if k)
    return type(loaded)(steps.select_episodes(starts_here), kept_ids, loaded.requester_ids, loaded.pending)


def _names_fixed(steps: LoggedSteps, state_names: tuple[str, ...], action_names: tuple[str, ...], where: str) -> None:
    if steps.state_names[:len(state_names)] != state_names or len(steps.state_names) != len(state_names):
        extra = sorted(set(steps.state_names) - set(state_names))
        raise DataError(f"{where}: the log names states the model does not have: {extra[:3]}")
    if len(steps.action_names) != len(action_names):
        extra = sorted(set(steps.action_names) - set(action_names))
        raise DataError(f"{where}: the log names actions the model does not have: {extra[:3]}")


def partition_stats(shared: tuple[Mapping[str, np.ndarray], tuple[str, ...], tuple[str, ...], float, float,
                                  str | None], part: Partition) -> PartitionStats:
    """The sufficient statistics of one partition (see the module docstring)."""
    targets, state_names, action_names, gamma, severe_threshold, as_of = shared
    loaded = _read(part, state_names, action_names, as_of)
    steps: LoggedSteps = loaded.steps
    _names_fixed(steps, state_names, action_names, part.path if isinstance(part, LogFile) else part.url)
    state_decisions, offered, basis = offered_counts(steps)
    terms: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    weights: dict[str, np.ndarray] = {}
    severe: dict[str, np.ndarray] = {}
    returns = episode_returns(steps, gamma) if steps.n_steps else None
    if steps.n_steps:
        for name, target in targets.items():
            t = episode_terms(steps, target, gamma=gamma)
            terms[name] = {k: t.terms[k] for k in ESTIMATORS}
            weights[name] = t.weight
            severe[name] = t.returns <= severe_threshold
    return PartitionStats(
        episode_ids=tuple(loaded.episode_ids), terms=terms, weights=weights, severe=severe, offered=offered,
        state_decisions=state_decisions, basis=basis,
        return_range=None if returns is None else (float(returns.min()), float(returns.max())),
        counts=count_transitions(steps) if steps.n_steps else None, decisions=steps.n_steps,
        pending=int(loaded.pending),
    )


def merge_counts(parts: Sequence[TransitionCounts]) -> TransitionCounts:
    """The counts of the union of the partitions' logs (they must share name tables)."""
    first = parts[0]
    s_n, a_n = len(first.state_names), len(first.action_names)
    keys, cnt, rsum, rsq, term, starts = [], [], [], [], [], np.zeros(s_n)
    for c in parts:
        keys.append((c.pair_state[c.out_pair] * a_n + c.pair_action[c.out_pair]) * s_n + c.out_next)
        cnt.append(c.out_count)
        rsum.append(c.reward_sum)
        rsq.append(c.reward_sq)
        term.append(c.terminal_next)
        starts = starts + c.start_counts
    uniq, inv = np.unique(np.concatenate(keys), return_inverse=True)
    out_count = np.bincount(inv, weights=np.concatenate(cnt), minlength=uniq.size)
    pair_key = uniq // s_n
    pkeys, out_pair = np.unique(pair_key, return_inverse=True)
    return TransitionCounts(
        state_names=first.state_names, action_names=first.action_names,
        pair_state=(pkeys // a_n).astype(np.int64), pair_action=(pkeys % a_n).astype(np.int64),
        pair_count=np.bincount(out_pair, weights=out_count, minlength=pkeys.size).astype(np.float64),
        out_pair=out_pair.astype(np.int64), out_next=(uniq % s_n).astype(np.int64),
        out_count=out_count.astype(np.float64),
        reward_sum=np.bincount(inv, weights=np.concatenate(rsum), minlength=uniq.size).astype(np.float64),
        reward_sq=np.bincount(inv, weights=np.concatenate(rsq), minlength=uniq.size).astype(np.float64),
        terminal_next=np.unique(np.concatenate(term)).astype(np.int64), start_counts=starts,
    )


def _boot_block(shared: tuple[np.ndarray, np.ndarray, int], task: tuple[int, np.random.SeedSequence]) -> np.ndarray:
    pairs, counts, n = shared
    reps, seed = task
    draws = np.random.default_rng(seed).multinomial(n, counts / n, size=reps).astype(np.float64)
    num, den = draws @ pairs[:, 0], draws @ pairs[:, 1]
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def bootstrap_blocks(x: np.ndarray, w: np.ndarray, *, seed: int | None, n_boot: int, level: float,
                     backend: Backend) -> Interval:
    """Percentile interval of sum x / sum w, replicates drawn in blocks of :data:`BOOT_BLOCK` on ``backend``."""
    n = x.size
    value = float(np.sum(x) / np.sum(w)) if np.sum(w) > 0 else float("nan")
    pairs, counts = np.unique(np.stack([x, w], axis=1), axis=0, return_counts=True)
    sizes = [BOOT_BLOCK] * (n_boot // BOOT_BLOCK) + ([n_boot % BOOT_BLOCK] if n_boot % BOOT_BLOCK else [])
    stats = np.concatenate(backend.map(_boot_block, list(zip(sizes, task_seeds(seed, len(sizes)), strict=True)),
                                       shared=(pairs, counts.astype(np.float64), n)))
    stats = stats[np.isfinite(stats)]
    if stats.size == 0:
        return Interval(value, float("nan"), float("nan"))
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(stats, [a, 1.0 - a])
    return Interval(value, float(lo), float(hi))


@dataclass(frozen=True)
class CandidateEstimate:
    """One candidate over all partitions: estimates with intervals, ESS, severe rate, or why not."""

    policy: str
    supported: bool
    reason: str
    estimates: Mapping[str, Interval]
    effective_sample_size: float
    matching_episodes: int
    severe_rate: Interval | None


@dataclass(frozen=True, eq=False)
class PartitionedEvaluation:
    """The result of :func:`evaluate_partitions`."""

    partitions: int
    episodes: int
    decisions: int
    pending: int
    candidates: tuple[CandidateEstimate, ...]
    model: EstimatedModel | None
    backend: Mapping[str, Any]


def evaluate_partitions(
    partitions: Sequence[Partition],
    candidates: Mapping[str, np.ndarray],
    *,
    state_names: Sequence[str],
    action_names: Sequence[str],
    gamma: float,
    seed: int | None = 0,
    n_boot: int = 1000,
    level: float = 0.95,
    severe_threshold: float = -100.0,
    as_of: Any = None,
    estimate: bool = True,
    min_support: int = 10,
    backend: str | Backend | None = None,
) -> PartitionedEvaluation:
    """Every candidate (name -> (S, A) target matrix) over every partition (see the module docstring).

    ``state_names``/``action_names`` fix the codes (the model's); ``as_of`` reads the
    outcomes as known at that time (default: everything stored).  ``estimate`` also
    estimates the model from the summed counts.
    """
    if not partitions:
        raise ParameterError("partitions: expected at least one log file or time range")
    if not 0.0 < gamma <= 1.0:
        raise ParameterError(f"gamma: expected a number in (0, 1], got {gamma!r}")
    sn, an = tuple(state_names), tuple(action_names)
    targets = {}
    for name, t in candidates.items():
        arr = np.asarray(t, dtype=np.float64)
        if arr.shape != (len(sn), len(an)):
            raise ParameterError(f"policy {name!r}: expected a ({len(sn)}, {len(an)}) matrix, got {arr.shape}")
        targets[name] = arr
    be = get_backend(backend)
    when = None if as_of is None else utc_text(as_of, "as_of")
    parts: list[PartitionStats] = be.map(partition_stats, list(partitions),
                                         shared=(targets, sn, an, float(gamma), float(severe_threshold), when))
    seen: dict[str, int] = {}
    for i, p in enumerate(parts):
        for e in p.episode_ids:
            if seen.setdefault(e, i) != i:
                raise DataError(f"partitions {seen[e] + 1} and {i + 1} both hold episode {e!r}; "
                                "a partition must hold whole episodes")
    full = [p for p in parts if p.decisions]
    if not full:
        raise DataError("partitions: no decisions in any partition")
    offered = np.sum([p.offered for p in full], axis=0)
    state_decisions = np.sum([p.state_decisions for p in full], axis=0)
    basis: Any = "sample" if any(p.basis == "sample" for p in full) else "propensities"
    bounds = (min(p.return_range[0] for p in full if p.return_range is not None),
              max(p.return_range[1] for p in full if p.return_range is not None))
    out = []
    for c, (name, target) in enumerate(targets.items()):
        reason = support_from_counts(state_decisions, offered, target, sn, an, basis).reason()
        weight = np.concatenate([p.weights[name] for p in full])
        if not reason and not np.any(weight > 0):
            reason = "no logged episode follows the policy: its weights are all zero"
        if reason:
            out.append(CandidateEstimate(name, False, reason, {}, 0.0, 0, None))
            continue
        base = None if seed is None else seed * 1_000 + c * 10
        est = {}
        for j, key in enumerate(ESTIMATORS):
            x = np.concatenate([p.terms[name][key][0] for p in full])
            w = np.concatenate([p.terms[name][key][1] for p in full])
            est[key] = floor_interval(bootstrap_blocks(x, w, seed=None if base is None else base + j, n_boot=n_boot,
                                                       level=level, backend=be),
                                      n_eff=effective_sample_size(weight), bounds=bounds, level=level)
        severe = np.concatenate([p.severe[name] for p in full]).astype(np.float64)
        rate = floor_interval(bootstrap_blocks(weight * severe, weight, seed=None if base is None else base + 9,
                                               n_boot=n_boot, level=level, backend=be),
                              n_eff=effective_sample_size(weight), bounds=(0.0, 1.0), level=level)
        out.append(CandidateEstimate(name, True, "", est, effective_sample_size(weight),
                                     int(np.count_nonzero(weight > 0)), rate))
    model = None
    if estimate:
        model = estimate_from_counts(merge_counts([p.counts for p in full if p.counts is not None]), gamma=gamma,
                                     min_support=min_support, n_decisions=sum(p.decisions for p in full),
                                     n_episodes=len(seen))
    return PartitionedEvaluation(partitions=len(parts), episodes=len(seen), decisions=sum(p.decisions for p in parts),
                                 pending=sum(p.pending for p in parts), candidates=tuple(out), model=model,
                                 backend=be.describe())


def export_partitions(url: str, out_dir: str | Path, boundaries: Sequence[Any], *, schema: str | None = None,
                      fmt: str = "parquet") -> list[LogFile]:
    """Write a database's log as one file per period of ``boundaries`` (episodes by first decision).

    ``boundaries`` are the k+1 times delimiting k periods; records of episodes starting
    outside them are not written.  Returns the partitions in order.
    """
    from accessrl.storage.files import write_records

    edges = [to_us(b, "boundary") for b in boundaries]
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ParameterError("boundaries: expected two or more increasing times")
    log = DecisionLog(url, schema=schema)
    try:
        records = list(log.iter_records())
    finally:
        log.close()
    first: dict[str, int] = {}
    episode_of: dict[str, str] = {}
    for r in records:
        if r["record"] == "decision":
            t = to_us(r["decided_at"], "decided_at")
            ep = r["episode_id"]
            first[ep] = min(first.get(ep, t), t)
            episode_of[r["event_id"]] = ep
    buckets: list[list[dict[str, Any]]] = [[] for _ in edges[:-1]]
    for r in records:
        ep = r["episode_id"] if r["record"] == "decision" else episode_of.get(r["event_id"], "")
        begun = first.get(ep)
        if begun is None:
            continue
        k = int(np.searchsorted(edges, begun, side="right")) - 1
        if 0 <= k < len(buckets):
            buckets[k].append(r)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = []
    for k, recs in enumerate(buckets):
        path = out_dir / f"part-{k:05d}.{fmt}"
        write_records(path, iter(recs), fmt)
        parts.append(LogFile(str(path)))
    return parts


__all__ = [
    "BOOT_BLOCK",
    "ESTIMATORS",
    "CandidateEstimate",
    "LogFile",
    "Partition",
    "PartitionStats",
    "PartitionedEvaluation",
    "TimeRange",
    "bootstrap_blocks",
    "evaluate_partitions",
    "export_partitions",
    "merge_counts",
    "partition_stats",
]
