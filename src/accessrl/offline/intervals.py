r"""Intervals that stay honest on a handful of episodes: a bootstrap with a floor (layer 1).

The percentile bootstrap (Efron & Tibshirani 1993, ch. 13) resamples what the sample
holds, so it cannot see what the sample lacks: from one matching episode that returned
+100 every resample returns +100 and the interval is [100, 100] — a certainty built on
nothing.  High-confidence off-policy evaluation (Thomas, Theocharous & Ghavamzadeh 2015,
AAAI, "High confidence off-policy evaluation") answers with a concentration bound that
holds for every sample size but needs thousands of episodes to say anything (its
deviation term is 7 c ln(2/delta) / (3 (n - 1)) of the return range, c the weight
threshold); their companion paper (ICML 2015, "High confidence policy improvement") uses
the bootstrap as the data-efficient "semi-safe" test.  We keep the bootstrap and give it a
**floor** for the mass it cannot see:

    With probability at least 1 - alpha/2, every outcome whose probability is at least
    q = ln(2 / alpha) / n appears among n independent draws, since (1 - q)^n <= e^{-qn}
    = alpha / 2.  This is the "rule of three" for zero numerators (Hanley & Lippman-Hand
    1983, JAMA 249(13), 1743-1745: with 0 events in n, 3/n is the 95% upper bound).

So outcomes the sample never showed carry at most mass q, and placed at the ends of the
range of returns [G_min, G_max] they move the mean down by at most q (v - G_min) or up by
at most q (G_max - v).  The interval reported is the bootstrap interval widened, where it
is narrower, to

.. math:: [\, v - q\,(v - G_{min}),\; v + q\,(G_{max} - v) \,], \qquad q = \min(1, \ln(2/\alpha) / n_{eff})

and clipped to [G_min, G_max] (no policy's value lies outside the returns it can earn).
For importance-weighted estimators n_eff is the effective sample size of the trajectory
weights, (sum w)^2 / sum w^2 (Kong 1992; Owen 2013, *Monte Carlo theory, methods and
examples*, §9.3) — the number of on-policy episodes the weighted sample is worth; for the
model-based estimate it is the fewest training decisions of any state-action pair the
policy reaches in the fitted model.  One episode gives q = 1: the whole range.  Five give
q = 0.74.  A hundred give q = 0.037, where the bootstrap's own width usually dominates.
A zero-width interval is impossible unless the range itself has zero width.

>>> iv = floor_interval(Interval(100.0, 100.0, 100.0), n_eff=1.0, bounds=(-90.0, 100.0))
>>> (iv.low, iv.high)
(-90.0, 100.0)
>>> round(unseen_mass(100.0), 4)
0.0369
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from accessrl.errors import ParameterError


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval."""

    value: float
    low: float
    high: float

    @property
    def width(self) -> float:
        """high - low."""
        return self.high - self.low


def unseen_mass(n_eff: float, level: float = 0.95) -> float:
    """q = min(1, ln(2 / alpha) / n_eff), alpha = 1 - ``level``: the largest probability an
    outcome can have and still be missing from ``n_eff`` draws, at confidence 1 - alpha/2."""
    if not 0.0 < level < 1.0:
        raise ParameterError(f"level: expected a number in (0, 1), got {level!r}")
    if not n_eff > 0 or not math.isfinite(n_eff):
        return 1.0
    return min(1.0, math.log(2.0 / (1.0 - level)) / n_eff)


def floor_interval(iv: Interval, *, n_eff: float, bounds: tuple[float, float], level: float = 0.95) -> Interval:
    """``iv`` widened to at least the floor of the module docstring and clipped to ``bounds``
    (G_min, G_max).  A value that is not a number gives the whole range."""
    lo, hi = float(bounds[0]), float(bounds[1])
    if not lo <= hi:
        raise ParameterError(f"bounds: expected low <= high, got {bounds!r}")
    v = iv.value
    if not math.isfinite(v):
        return Interval(v, lo, hi)
    q = unseen_mass(n_eff, level)
    vc = min(max(v, lo), hi)
    low = vc - q * (vc - lo) if not math.isfinite(iv.low) else min(iv.low, vc - q * (vc - lo))
    high = vc + q * (hi - vc) if not math.isfinite(iv.high) else max(iv.high, vc + q * (hi - vc))
    return Interval(v, min(max(low, lo), hi), min(max(high, lo), hi))


__all__ = ["Interval", "floor_interval", "unseen_mass"]
