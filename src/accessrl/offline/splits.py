"""Train / validation / test by time, and the leakage around the cutoffs (layer 1).

Episodes are assigned by their first decision time, so an episode is never split; the
checks (Kaufman et al. 2012) count what would leak information from a later period into
an earlier one: shared requesters, late outcomes, straddling episodes, late features.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from accessrl.errors import DataError, ParameterError
from accessrl.offline.logged import LoggedSteps


@dataclass(frozen=True)
class LeakageReport:
    """Leakage found around the split cutoffs (counts of episodes, with a few examples)."""

    requester_overlap: int
    late_outcomes: int
    straddling: int
    late_features: int
    examples: tuple[str, ...]
    prevented: bool

    @property
    def clean(self) -> bool:
        """True when nothing leaked."""
        return not (self.requester_overlap or self.late_outcomes or self.straddling or self.late_features)


@dataclass(frozen=True, eq=False)
class TemporalSplit:
    """Train / validation / test by the time of each episode's first decision."""

    train: LoggedSteps
    valid: LoggedSteps
    test: LoggedSteps
    cutoffs: tuple[int, int]
    leakage: LeakageReport


def default_cutoffs(steps: LoggedSteps, fractions: tuple[float, float] = (0.6, 0.8)) -> tuple[int, int]:
    """Cutoffs at the given quantiles of the episodes' first decision times."""
    if steps.n_steps == 0:
        raise DataError("split: the log is empty")
    first = steps.decided_at[steps.episode_ptr[:-1]]
    q = np.quantile(first, fractions, method="higher")
    return int(q[0]), int(q[1])


def temporal_split(steps: LoggedSteps, cutoffs: tuple[int, int], *, prevent: bool = False,
                   time_text: Callable[[int], str] = str) -> TemporalSplit:
    """Split episodes by first decision time: train < c1 <= valid < c2 <= test.

    Times are int microseconds since the epoch; ``time_text`` writes one in an error
    message (the caller's choice, e.g. :func:`accessrl.storage.times.us_to_iso`; the raw
    number by default, as this layer formats no dates).

    Leakage checks (Kaufman et al. 2012, "Leakage in data mining", TKDD 6(4)):

    * the same requester on both sides of a cutoff;
    * a training (or validation) episode whose outcomes arrive after its cutoff;
    * an episode with decisions on both sides of a cutoff;
    * request features recorded after the decision time.

    With ``prevent`` the offending episodes are dropped (from the later split for a
    shared requester, from the earlier one otherwise).  An empty split is an error.
    """
    c1, c2 = int(cutoffs[0]), int(cutoffs[1])
    if not c1 <= c2:
        raise ParameterError(f"split: expected train cutoff <= validation cutoff, got {time_text(c1)} > {time_text(c2)}")
    ptr = steps.episode_ptr
    e = steps.n_episodes
    first = steps.decided_at[ptr[:-1]] if e else np.zeros(0, dtype=np.int64)
    last_dec = np.maximum.reduceat(steps.decided_at, ptr[:-1]) if e else first
    last_out = np.maximum.reduceat(steps.outcome_at, ptr[:-1]) if e else first
    late_feat_rows = steps.features_at > steps.decided_at
    late_feat = np.bincount(steps.episode_of_row[late_feat_rows], minlength=e) > 0
    part = np.searchsorted(np.array([c1, c2]), first, side="right")  # 0 train, 1 valid, 2 test
    cut = np.array([c1, c2, np.iinfo(np.int64).max])[part]
    straddle = last_dec >= cut
    late_out = (last_out >= cut) & (part < 2) & ~straddle
    req = steps.requester[ptr[:-1]] if e else first
    # a requester's earliest part; any episode in a later part shares the requester
    uniq, inv = np.unique(req, return_inverse=True)
    min_part = np.full(uniq.size, 3)
    np.minimum.at(min_part, inv, part)
    earlier_max = min_part[inv]
    overlap = part > earlier_max
    examples = []
    for label, mask in (("requester seen in an earlier split", overlap), ("outcome after the cutoff", late_out),
                        ("episode straddles a cutoff", straddle), ("features recorded after decision", late_feat)):
        for i in np.flatnonzero(mask)[:3]:
            examples.append(f"episode {int(steps.episode[ptr[i]])}: {label}")
    report = LeakageReport(int(overlap.sum()), int(late_out.sum()), int(straddle.sum()), int(late_feat.sum()),
                           tuple(examples), prevent)
    keep = np.ones(e, dtype=bool)
    if prevent:
        keep &= ~(overlap | late_out | straddle | late_feat)
    names = ("train", "valid", "test")
    bounds = (("the start", time_text(c1)), (time_text(c1), time_text(c2)), (time_text(c2), "the end"))
    parts = []
    for k in range(3):
        sel = keep & (part == k)
        if not sel.any():
            raise DataError(f"split {names[k]!r}: no episodes decided between {bounds[k][0]} and {bounds[k][1]}"
                            + (" after leakage was removed" if prevent and (part == k).any() else ""))
        parts.append(steps.select_episodes(sel))
    return TemporalSplit(parts[0], parts[1], parts[2], (c1, c2), report)


__all__ = ["LeakageReport", "TemporalSplit", "default_cutoffs", "temporal_split"]
