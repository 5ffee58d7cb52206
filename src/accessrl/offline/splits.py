"""Train / validation / test by time, and the leakage around the cutoffs (layer 1).

Episodes are assigned by their first decision time, so an episode is never split (the
period rule of :mod:`~accessrl.offline.periods` applied to the decision that opens it); the
checks (Kaufman et al. 2012) count what would leak information from a later period into
an earlier one: shared requesters, late outcomes, straddling episodes, late features.

Leakage prevention keeps the training period to **what was knowable at its cutoff**, with
an *outcome window* W: a decision belongs to it only if its window closed
before the cutoff (decided at or before cutoff − W), so membership is decided by the
decision time alone, never by what the outcome was or when it landed (dropping
episodes whose outcome landed late drops mostly abandonments, which are noticed after a
timeout, and biases every estimate towards the outcomes that arrive fast).  A decision
whose window closed but whose outcome still came after the cutoff is *censored*: the
episode is cut before it (marked truncated) and the count is reported.  Episodes of an
training period are cut at the first decision that does not qualify, so it holds each
episode's knowable prefix (the model, FQI and SPIBB learn from transitions, which a
prefix keeps unbiased).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from accessrl.errors import DataError, ParameterError
from accessrl.offline.logged import US_PER_HOUR, LoggedSteps
from accessrl.offline.periods import OBSERVED, OPEN, outcome_status

WINDOW_QUANTILE = 0.99
"""The default outcome window is this quantile of the logged outcome delays."""


@dataclass(frozen=True)
class LeakageReport:
    """Leakage found around the split cutoffs (counts of episodes, with a few examples)."""

    requester_overlap: int
    late_outcomes: int
    straddling: int
    late_features: int
    examples: tuple[str, ...]
    prevented: bool
    outcome_window: int = 0
    """W in microseconds (0 when leakage is not prevented)."""
    embargoed: int = 0
    """Training decisions left out because their window had not closed at the cutoff."""
    censored: int = 0
    """Decisions whose window closed before the cutoff but whose outcome came after it."""

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


def default_window(steps: LoggedSteps, quantile: float = WINDOW_QUANTILE) -> int:
    """The default outcome window: the ``quantile`` of the outcome delays (outcome time minus
    decision time) in the log, at least one microsecond.

    It is not shortened to fit a short log: a window shorter than the delays would censor
    the slow outcomes (abandonments, noticed after a timeout) and bring back the bias the
    window exists to remove; a log shorter than its delays has no knowable training period."""
    if steps.n_steps == 0:
        raise DataError("split: the log is empty")
    return max(1, int(np.quantile(steps.outcome_at - steps.decided_at, quantile, method="higher")))


def temporal_split(steps: LoggedSteps, cutoffs: tuple[int, int], *, prevent: bool = False,
                   outcome_window: int | None = None, time_text: Callable[[int], str] = str) -> TemporalSplit:
    """Split episodes by first decision time: train < c1 <= valid < c2 <= test.

    Times are int microseconds since the epoch; ``time_text`` writes one in an error
    message (the caller's choice, e.g. :func:`accessrl.storage.times.us_to_iso`; the raw
    number by default, as this layer formats no dates).

    Leakage checks (Kaufman et al. 2012, "Leakage in data mining", TKDD 6(4)):

    * the same requester on both sides of a cutoff;
    * a training (or validation) episode whose outcomes arrive after its cutoff;
    * an episode with decisions on both sides of a cutoff;
    * request features recorded after the decision time.

    With ``prevent``, train keeps what was knowable at its cutoff (module docstring;
    ``outcome_window`` W in microseconds, default :func:`default_window`): each episode's
    prefix of decisions decided at or before c1 − W whose outcome arrived before c1.
    Validation and test episodes stay whole (they are scored as trajectories; a
    validation episode's tail after c2 is its own outcome, not the test period's).
    Episodes with late features are dropped, and an episode whose requester was seen in
    an earlier period is dropped from the later one; both are decided before any
    outcome.  An empty split is an error.
    """
    c1, c2 = int(cutoffs[0]), int(cutoffs[1])
    if not c1 <= c2:
        raise ParameterError(f"split: expected train cutoff <= validation cutoff, got {time_text(c1)} > {time_text(c2)}")
    if outcome_window is not None and (isinstance(outcome_window, bool) or not isinstance(outcome_window, (int, np.integer))
                                       or outcome_window < 0):
        raise ParameterError(f"outcome_window: expected a non-negative number of microseconds, got {outcome_window!r}")
    ptr = steps.episode_ptr
    e = steps.n_episodes
    first = steps.decided_at[ptr[:-1]] if e else np.zeros(0, dtype=np.int64)
    last_dec = np.maximum.reduceat(steps.decided_at, ptr[:-1]) if e else first
    last_out = np.maximum.reduceat(steps.outcome_at, ptr[:-1]) if e else first
    late_feat_rows = steps.features_at > steps.decided_at
    late_feat = np.bincount(steps.episode_of_row[late_feat_rows], minlength=e) > 0
    part = np.searchsorted(np.array([c1, c2]), first, side="right")  # 0 train, 1 valid, 2 test
    big = np.iinfo(np.int64).max
    cut = np.array([c1, c2, big])[part]
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
    keep_ep = np.ones(e, dtype=bool)
    window = embargoed = censored = 0
    rows = np.ones(steps.n_steps, dtype=bool)
    if prevent:
        window = default_window(steps) if outcome_window is None else int(outcome_window)
        keep_ep &= ~(overlap | late_feat)
        row_cut = cut[steps.episode_of_row]  # the window rule applies to train (c1) only
        earlier = row_cut == c1
        status = outcome_status(steps.decided_at, steps.outcome_at, c1, window)  # one rule: offline.periods
        closed, known = status != OPEN, status == OBSERVED
        ok = ~earlier | (closed & known)
        # the knowable prefix: every row up to the first that does not qualify
        bad_before = np.cumsum(~ok) - np.repeat(np.concatenate(([0], np.cumsum(~ok)[ptr[1:-1] - 1])), np.diff(ptr)) \
            if steps.n_steps else np.zeros(0, dtype=np.int64)
        rows = bad_before == 0
        in_kept = keep_ep[steps.episode_of_row] & earlier
        embargoed = int(np.count_nonzero(in_kept & ~closed))
        censored = int(np.count_nonzero(in_kept & closed & ~known))
    report = LeakageReport(int(overlap.sum()), int(late_out.sum()), int(straddle.sum()), int(late_feat.sum()),
                           tuple(examples), prevent, window, embargoed, censored)
    if prevent and steps.n_steps:
        kept_rows = np.add.reduceat(rows.astype(np.int64), ptr[:-1])
        keep_ep &= kept_rows > 0
    names = ("train", "valid", "test")
    bounds = (("the start", time_text(c1)), (time_text(c1), time_text(c2)), (time_text(c2), "the end"))
    parts = []
    for k in range(3):
        sel = keep_ep & (part == k)
        if not sel.any():
            why = ""
            if prevent and (part == k).any():
                why = (f" whose outcome window ({window / US_PER_HOUR:g} h) closed before the cutoff (the log is "
                       "shorter than its outcome delays: a later train cutoff or a shorter outcome window)" if k == 0
                       else " after leakage was removed")
            raise DataError(f"split {names[k]!r}: no episodes decided between {bounds[k][0]} and {bounds[k][1]}{why}")
        chosen = steps.select_episodes(sel)
        if prevent and k == 0:
            chosen = chosen.select_prefixes(rows[sel[steps.episode_of_row]])
        parts.append(chosen)
    return TemporalSplit(parts[0], parts[1], parts[2], (c1, c2), report)


__all__ = ["WINDOW_QUANTILE", "LeakageReport", "TemporalSplit", "default_cutoffs", "default_window", "temporal_split"]
