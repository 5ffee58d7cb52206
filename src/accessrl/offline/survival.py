r"""Abandonment as a function of the time waited, with censoring (layer 1).

A *stage visit* starts when a case enters a stage and ends when it leaves it: by
abandonment (the event), or otherwise — another decision or outcome moves it on, it ends
in another way, or the log ends while it waits (censored: we only know it had not
abandoned by then).  Ignoring censoring would count the open and the moved-on cases as
survivors for ever (hazard too low) or drop them (too high).

* :func:`kaplan_meier` — the product-limit estimate :math:`\hat S(t) = \prod_{t_i \le t}
  (1 - d_i / n_i)` with Greenwood's variance and the log(-log) 95% interval (Kaplan & Meier
  1958, JASA 53(282), 457-481; Greenwood 1926; Kalbfleisch & Prentice 2002, §1.4).
* :func:`bucket_hazard` — the discrete (life-table) hazard in waiting-time buckets: of the
  visits still waiting at the bucket's start, the share that abandon within it, with the
  actuarial correction that counts a visit censored inside the bucket as half at risk
  (Cutler & Ederer 1958), and a 95% Wilson interval.  This is what the state's waiting-time
  bucket (the mapping's ``state.waiting``) lets the estimated model represent: one
  abandonment probability per bucket instead of one flat probability.

>>> km = kaplan_meier([6, 6, 6, 7, 10, 13, 16, 22, 23, 6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35],
...                   [1] * 9 + [0] * 12)  # 6-MP group of Freireich et al. 1963
>>> [round(float(s), 3) for s in km.survival]
[0.857, 0.807, 0.753, 0.69, 0.627, 0.538, 0.448]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from accessrl._types import FloatArray
from accessrl.offline.estimation import wilson_interval
from accessrl.simulation import Z95


@dataclass(frozen=True)
class KaplanMeier:
    """The product-limit curve at each distinct event time: at risk, events, S(t), Greenwood
    standard error and the log(-log) 95% interval."""

    times: FloatArray
    at_risk: FloatArray
    events: FloatArray
    survival: FloatArray
    std_error: FloatArray
    low: FloatArray
    high: FloatArray


def _checked(durations: Sequence[float] | FloatArray, events: Sequence[int] | FloatArray) -> tuple[FloatArray, FloatArray]:
    t = np.asarray(durations, dtype=np.float64)
    e = np.asarray(events, dtype=np.float64)
    if t.shape != e.shape or t.ndim != 1:
        raise ValueError(f"durations and events: expected two 1-d arrays of one length, got {t.shape} and {e.shape}")
    if not np.all(np.isfinite(t)) or (t < 0).any():
        raise ValueError("durations: expected finite non-negative numbers")
    if not np.isin(e, (0.0, 1.0)).all():
        raise ValueError("events: expected 0 (censored) or 1 (event)")
    return t, e


def kaplan_meier(durations: Sequence[float] | FloatArray, events: Sequence[int] | FloatArray,
                 z: float = Z95) -> KaplanMeier:
    """Kaplan-Meier estimate (see the module docstring); ties: events before censorings."""
    t, e = _checked(durations, events)
    times = np.unique(t[e == 1])
    n = np.array([(t >= x).sum() for x in times], dtype=np.float64)
    d = np.array([((t == x) & (e == 1)).sum() for x in times], dtype=np.float64)
    s: FloatArray = np.cumprod(1.0 - d / n).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n > d, d / (n * (n - d)), np.inf)
        g = np.cumsum(terms)  # Greenwood: Var(S) = S^2 * sum d / (n (n - d))
        se = s * np.sqrt(g)
        # log(-log S) interval: S^exp(+-z sqrt(g) / log S), inside [0, 1] by construction
        c = z * np.sqrt(g) / np.log(s)
        low = np.where((s > 0) & (s < 1), s ** np.exp(-c), np.where(s >= 1, 1.0, 0.0))
        high = np.where((s > 0) & (s < 1), s ** np.exp(c), np.where(s >= 1, 1.0, 0.0))
    return KaplanMeier(times, n, d, s, np.nan_to_num(se, nan=0.0, posinf=0.0), np.nan_to_num(low), np.nan_to_num(high))


@dataclass(frozen=True)
class HazardBucket:
    """One waiting-time bucket ``[start, end)``: visits waiting at its start, abandonments and
    censorings inside it, the hazard (actuarial) and its 95% Wilson interval."""

    start: float
    end: float
    entering: int
    events: int
    censored: int
    hazard: float
    low: float
    high: float


def bucket_hazard(durations: Sequence[float] | FloatArray, events: Sequence[int] | FloatArray,
                  bounds: Sequence[float]) -> tuple[HazardBucket, ...]:
    """Life-table hazard in ``[0, b1), [b1, b2), ..., [bk, inf)`` (see the module docstring)."""
    t, e = _checked(durations, events)
    edges = [0.0, *map(float, bounds), float("inf")]
    if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError(f"bounds: expected increasing positive numbers, got {list(bounds)}")
    out = []
    for lo, hi in zip(edges, edges[1:], strict=False):
        entering = int((t >= lo).sum())
        inside = (t >= lo) & (t < hi)
        d = int((inside & (e == 1)).sum())
        c = int((inside & (e == 0)).sum())
        exposed = entering - c / 2.0
        h = d / exposed if exposed > 0 else 0.0
        wl, wh = wilson_interval(d, exposed)
        out.append(HazardBucket(lo, hi, entering, d, c, h, float(wl), float(wh)))
    return tuple(out)


@dataclass(frozen=True)
class StageVisits:
    """The visits of one stage: how long each waited (days) and whether it ended in abandonment."""

    stage: str
    durations: FloatArray
    events: FloatArray

    @property
    def n(self) -> int:
        """Number of visits."""
        return int(self.durations.size)


US_PER_DAY = 86_400_000_000


def stage_visits(observations: Sequence[tuple[str, str, int, int, bool, bool]], log_end: int) -> dict[str, StageVisits]:
    """Stage visits from what the decision log saw during them.

    ``observations``: ``(episode, stage, entered_at, at, abandoned, terminated)`` for every
    decision and outcome, with the stage the case was in and when it entered it (times in
    microseconds).  A visit is one ``(episode, stage, entered_at)``; it ends at its first
    abandonment (event), else at the start of the episode's next visit, else when the
    episode terminated, else at ``log_end`` (censored)."""
    by_episode: dict[str, dict[tuple[str, int], list[int | None]]] = {}
    for ep, stage, since, at, abandoned, terminated in observations:
        visits = by_episode.setdefault(ep, {})
        v = visits.setdefault((stage, since), [None, None])  # [abandoned at, terminated at]
        if abandoned and (v[0] is None or at < v[0]):
            v[0] = at
        if terminated and (v[1] is None or at < v[1]):
            v[1] = at
    out: dict[str, tuple[list[float], list[float]]] = {}
    for visits in by_episode.values():
        order = sorted(visits, key=lambda k: k[1])
        for i, key in enumerate(order):
            stage, since = key
            abandoned_at, terminated_at = visits[key]
            if abandoned_at is not None:
                end, event = abandoned_at, 1.0
            elif i + 1 < len(order):
                end, event = order[i + 1][1], 0.0
            elif terminated_at is not None:
                end, event = terminated_at, 0.0
            else:
                end, event = max(log_end, since), 0.0
            d, e = out.setdefault(stage, ([], []))
            d.append((end - since) / US_PER_DAY)
            e.append(event)
    return {k: StageVisits(k, np.asarray(d), np.asarray(e)) for k, (d, e) in sorted(out.items())}


DEFAULT_BOUNDS_DAYS = (7.0, 14.0, 28.0, 35.0)
"""Waiting-time buckets (days) of ``logs abandonment`` and the studio's engineer view."""


def stage_curve(visits: StageVisits, bounds: Sequence[float] = DEFAULT_BOUNDS_DAYS) -> dict[str, object]:
    """One stage's abandonment as plain data (``logs abandonment --json``, the engineer view):
    visits, abandonments, censorings, the bucket hazards and the Kaplan-Meier curve."""
    km = kaplan_meier(visits.durations, visits.events)
    hz = bucket_hazard(visits.durations, visits.events, bounds)
    return {"stage": visits.stage, "visits": visits.n, "abandoned": int(visits.events.sum()),
            "censored": int(visits.n - visits.events.sum()),
            "hazard": [h.__dict__ for h in hz],
            "kaplan_meier": {"days": km.times.tolist(), "survival": km.survival.tolist(),
                             "low": km.low.tolist(), "high": km.high.tolist(),
                             "at_risk": km.at_risk.tolist(), "events": km.events.tolist()}}


__all__ = ["DEFAULT_BOUNDS_DAYS", "HazardBucket", "KaplanMeier", "StageVisits", "bucket_hazard", "kaplan_meier",
           "stage_curve", "stage_visits"]
