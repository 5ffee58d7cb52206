r"""One definition of a period, with censoring (layer 1).

A **period** is a half-open range of *decision times* [start, end): a decision belongs to
the period in which it was decided, whatever the time its outcome arrived or its episode
began.  Every windowed reading of a log uses this definition — ``logs estimate
--since/--until`` and ``--drift-at`` (before and after the date), ``monitor --since/--until``,
and the train / validation / test cutoffs of :mod:`~accessrl.offline.splits`.  Importance
sampling scores whole trajectories, so a split keeps an episode whole and places it by its
*first* decision time — the same rule applied to the decision that opened it.

A period is read **as of its end**: what was knowable then.  Each decision has an
*outcome window* W (by default the 99% quantile of the logged outcome delays,
:func:`~accessrl.offline.splits.default_window`).  At the period's end a decision is

* **observed** — its window closed (decided at or before end - W) and its outcome was
  known (arrived before end);
* **censored, window open** — decided within W of the end: its outcome may still come;
* **censored, late** — its window closed but no outcome was known by the end.

Censored decisions are counted and reported, never used for outcome frequencies and never
silently dropped: which decisions are used is decided by decision times alone, not by
what the outcomes were or when they landed.  (Dropping the decisions whose outcome had not
arrived keeps the fast outcomes and loses the slow ones — abandonments noticed after a
timeout, cancellations weeks after an offer — so the last, cut-off period of a log shows a
false jump in whichever outcome is fast.)  Each period is judged at its own end, so every
period of a comparison is treated alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from accessrl._types import IntArray
from accessrl.errors import ParameterError
from accessrl.offline.logged import US_PER_HOUR, LoggedSteps

OBSERVED, OPEN, LATE = 0, 1, 2
"""Codes of :func:`outcome_status`."""


def outcome_status(decided_at: IntArray, outcome_at: IntArray, end: int, window: int) -> IntArray:
    """Per decision, as of ``end``: :data:`OBSERVED`, :data:`OPEN` (decided after end - ``window``)
    or :data:`LATE` (window closed, outcome not known before ``end``); times in microseconds."""
    closed = np.asarray(decided_at) <= end - window
    known = np.asarray(outcome_at) < end
    return np.where(~closed, OPEN, np.where(known, OBSERVED, LATE)).astype(np.int64)


@dataclass(frozen=True)
class DecisionPeriod:
    """Decisions decided in [start, end) (microseconds since the epoch; ``None``: unbounded)."""

    start: int | None = None
    end: int | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and not self.start < self.end:
            raise ParameterError(f"period: expected start < end, got {self.start} >= {self.end}")

    def contains(self, decided_at: IntArray) -> np.ndarray:
        """Which decision times fall in the period."""
        t = np.asarray(decided_at)
        inside = np.ones(t.shape, dtype=bool)
        if self.start is not None:
            inside &= t >= self.start
        if self.end is not None:
            inside &= t < self.end
        return inside


@dataclass(frozen=True, eq=False)
class PeriodDecisions:
    """The decisions of one period read as of ``end``: the observed ones, and counts of the rest."""

    period: DecisionPeriod
    end: int
    """The time the period was read as of (its end, or the time of reading when it is open-ended)."""
    window: int
    """The outcome window W, microseconds."""
    observed: LoggedSteps
    decided: int
    """Every decision decided in the period (observed, censored, or without any outcome yet)."""
    censored_open: int
    censored_late: int

    @property
    def censored(self) -> int:
        """Decisions decided in the period whose outcome is not used (window open or late)."""
        return self.censored_open + self.censored_late

    def to_json(self, time_text: Callable[[int], str] = str) -> dict[str, Any]:
        """The period and its counts as data."""
        p = self.period
        return {"since": None if p.start is None else time_text(p.start), "until": time_text(self.end),
                "by": "decision time", "outcome_window_hours": self.window / US_PER_HOUR, "decided": self.decided,
                "observed": self.observed.n_steps, "censored_window_open": self.censored_open,
                "censored_late": self.censored_late}


def period_decisions(steps: LoggedSteps, period: DecisionPeriod, *, as_of: int, window: int,
                     pending_at: IntArray | None = None) -> PeriodDecisions:
    """The decisions of ``steps`` in ``period``, read as of its end (``as_of`` when the period is
    open-ended or ends later: nothing after the time of reading is known).  ``pending_at`` are
    the decision times of decisions without any outcome yet (not in ``steps``): they are
    censored too."""
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 0:
        raise ParameterError(f"outcome_window: expected a non-negative number of microseconds, got {window!r}")
    end = int(as_of) if period.end is None else min(int(period.end), int(as_of))
    inside = period.contains(steps.decided_at) & (steps.decided_at < end)
    status = outcome_status(steps.decided_at, steps.outcome_at, end, int(window))
    observed = steps.select_rows(inside & (status == OBSERVED))
    n_open = int(np.count_nonzero(inside & (status == OPEN)))
    n_late = int(np.count_nonzero(inside & (status == LATE)))
    if pending_at is not None and len(pending_at):
        pend = np.asarray(pending_at, dtype=np.int64)
        pend = pend[period.contains(pend) & (pend < end)]
        opened = pend > end - int(window)
        n_open += int(np.count_nonzero(opened))
        n_late += int(np.count_nonzero(~opened))
        decided = int(np.count_nonzero(inside)) + pend.size
    else:
        decided = int(np.count_nonzero(inside))
    return PeriodDecisions(period, end, int(window), observed, decided, n_open, n_late)


__all__ = ["LATE", "OBSERVED", "OPEN", "DecisionPeriod", "PeriodDecisions", "outcome_status", "period_decisions"]
