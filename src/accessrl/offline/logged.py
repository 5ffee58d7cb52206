r"""Logged decisions as columns: the one array form every log estimator takes (layer 1).

:class:`LoggedSteps` has one row per logged decision, sorted by episode then step, with
integer codes into ``state_names`` and ``action_names`` (Open Bandit Pipeline's habit:
keyword arrays named after the quantity, one shared validator, :func:`check_logged_steps`).
Storage reads a decision log into it, the simulator draws one, and estimation, off-policy
evaluation and batch learning take it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from accessrl._types import BoolArray, FloatArray, IntArray
from accessrl.errors import DataError

US_PER_HOUR = 3_600_000_000
"""Microseconds in an hour (log times are integer microseconds since the epoch, UTC)."""

OUTCOME_KINDS = ("transition", "evidence_received", "abandoned", "review_outcome", "closed")
"""Built-in outcome kinds (model ``event`` labels add further ones)."""


@dataclass(frozen=True, eq=False)
class LoggedSteps:
    """One row per logged decision, sorted by (episode, step).

    ``state``/``action``/``next_state`` index ``state_names``/``action_names``;
    ``propensity`` is the behaviour probability of the logged action (in (0, 1]);
    ``reward`` the total reward of the decision's outcomes; ``decided_at``,
    ``outcome_at`` (when the outcome that set ``next_state`` arrived) and
    ``features_at`` (when the request features in the snapshot were recorded) are
    microseconds since the epoch, UTC.

    ``behavior_table`` (K, A) and ``behavior_index`` (N,) are the behaviour's logged
    probability of *every* action at each decision (row i: ``behavior_table[behavior_index[i]]``;
    a log stores the few distinct distributions once): what support is judged from
    (:mod:`~accessrl.offline.support`).  ``None`` when the source logged only the taken
    action's propensity.
    """

    state_names: tuple[str, ...]
    action_names: tuple[str, ...]
    episode: IntArray
    step: IntArray
    requester: IntArray
    state: IntArray
    action: IntArray
    propensity: FloatArray
    reward: FloatArray
    next_state: IntArray
    terminated: BoolArray
    truncated: BoolArray
    decided_at: IntArray
    outcome_at: IntArray
    features_at: IntArray
    kind: IntArray | None = None
    kind_names: tuple[str, ...] = OUTCOME_KINDS
    behavior_table: FloatArray | None = None
    behavior_index: IntArray | None = None

    @property
    def action_probabilities(self) -> FloatArray | None:
        """(N, A): the behaviour's logged probability of every action at each decision
        (``None`` when only the taken action's propensity was logged)."""
        if self.behavior_table is None or self.behavior_index is None:
            return None
        return self.behavior_table[self.behavior_index]

    @property
    def n_steps(self) -> int:
        """N, the number of logged decisions."""
        return int(self.episode.size)

    @cached_property
    def episode_ptr(self) -> IntArray:
        """Row pointers (E+1,): episode ``i`` is rows ``episode_ptr[i]:episode_ptr[i+1]``."""
        if self.n_steps == 0:
            return np.zeros(1, dtype=np.int64)
        starts = np.flatnonzero(np.diff(self.episode)) + 1
        return np.concatenate(([0], starts, [self.n_steps])).astype(np.int64)

    @property
    def n_episodes(self) -> int:
        """E, the number of logged episodes."""
        return int(self.episode_ptr.size - 1)

    @cached_property
    def episode_of_row(self) -> IntArray:
        """The episode position (0..E-1) of each row."""
        return np.repeat(np.arange(self.n_episodes, dtype=np.int64), np.diff(self.episode_ptr))

    def select_episodes(self, keep: BoolArray) -> LoggedSteps:
        """The log restricted to the episodes (by position 0..E-1) where ``keep`` is true."""
        return self.select_rows(np.asarray(keep, dtype=bool)[self.episode_of_row])

    def select_rows(self, rows: BoolArray) -> LoggedSteps:
        """The log restricted to the decisions where ``rows`` is true (the order is kept; an
        episode may lose rows, which per-decision statistics such as transition counts allow)."""
        rows = np.asarray(rows, dtype=bool)
        return self._rows(rows, {k: getattr(self, k)[rows] for k in COLUMNS})

    def _rows(self, rows: BoolArray, cols: dict[str, np.ndarray]) -> LoggedSteps:
        return LoggedSteps(self.state_names, self.action_names, **cols,
                           kind=None if self.kind is None else self.kind[rows], kind_names=self.kind_names,
                           behavior_table=self.behavior_table,
                           behavior_index=None if self.behavior_index is None else self.behavior_index[rows])

    def select_prefixes(self, keep: BoolArray) -> LoggedSteps:
        """The log restricted to the rows where ``keep`` is true, which must be a prefix of
        each episode (possibly empty): an episode cut short is marked ``truncated`` at its
        last kept row (not terminated), so estimators see a censored episode, not an ended one."""
        rows = np.asarray(keep, dtype=bool)
        if self.n_steps and np.any(rows[1:] & ~rows[:-1] & (self.episode[1:] == self.episode[:-1])):
            raise DataError("select_prefixes: expected the kept rows to be a prefix of each episode")
        cut = np.zeros(self.n_steps, dtype=bool)
        if self.n_steps:
            kept = np.add.reduceat(rows.astype(np.int64), self.episode_ptr[:-1])
            partial = (kept > 0) & (kept < np.diff(self.episode_ptr))
            cut[(self.episode_ptr[:-1] + kept - 1)[partial]] = True
        cols = {k: getattr(self, k)[rows] for k in COLUMNS}
        cols["truncated"] = (self.truncated | cut)[rows]
        return self._rows(rows, cols)


COLUMNS = ("episode", "step", "requester", "state", "action", "propensity", "reward", "next_state",
            "terminated", "truncated", "decided_at", "outcome_at", "features_at")


def check_logged_steps(steps: LoggedSteps) -> LoggedSteps:
    """Validate a log's arrays once: equal lengths, codes in range, propensities in (0, 1],
    rows sorted by (episode, step).  Raises :class:`~accessrl.errors.DataError` naming the row."""
    n = steps.n_steps
    for k in COLUMNS:
        if getattr(steps, k).shape != (n,):
            raise DataError(f"logged steps, column {k!r}: expected {n} rows, got shape {getattr(steps, k).shape}")
    s, a = len(steps.state_names), len(steps.action_names)
    for k, hi in (("state", s), ("next_state", s), ("action", a)):
        col = getattr(steps, k)
        bad = np.flatnonzero((col < 0) | (col >= hi))
        if bad.size:
            raise DataError(f"logged steps, row {int(bad[0])}, {k}: expected a code in [0, {hi}), got {int(col[bad[0]])}")
    if (steps.behavior_table is None) != (steps.behavior_index is None):
        raise DataError("logged steps: behavior_table and behavior_index come together (or neither)")
    if steps.behavior_table is not None and steps.behavior_index is not None:
        table, index = steps.behavior_table, steps.behavior_index
        if table.ndim != 2 or table.shape[1] != a or index.shape != (n,):
            raise DataError(f"logged steps, behavior: expected a (K, {a}) table and {n} row indices, got "
                            f"{table.shape} and {index.shape}")
        if index.size and (index.min() < 0 or index.max() >= table.shape[0]):
            raise DataError(f"logged steps, behavior_index: expected codes in [0, {table.shape[0]})")
        if not np.all(np.isfinite(table) & (table >= 0) & (table <= 1)):
            raise DataError("logged steps, behavior_table: expected probabilities in [0, 1]")
    bad = np.flatnonzero(~((steps.propensity > 0) & (steps.propensity <= 1)))
    if bad.size:
        raise DataError(f"logged steps, row {int(bad[0])}, propensity: expected a number in (0, 1], "
                        f"got {float(steps.propensity[bad[0]])!r}")
    if n > 1:
        order_bad = np.flatnonzero((np.diff(steps.episode) < 0)
                                   | ((np.diff(steps.episode) == 0) & (np.diff(steps.step) <= 0)))
        if order_bad.size:
            raise DataError(f"logged steps, row {int(order_bad[0]) + 1}: rows must be sorted by (episode, step)")
    return steps


__all__ = ["COLUMNS", "OUTCOME_KINDS", "US_PER_HOUR", "LoggedSteps", "check_logged_steps"]
