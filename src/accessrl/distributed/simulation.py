r"""Simulation at scale: rates of rare outcomes per million requests, in chunks (layer 2).

A run of ``n`` episodes is cut into chunks of a fixed size (:func:`~accessrl.distributed.backend.chunk_sizes`);
chunk ``i`` simulates with its own generator ``default_rng(SeedSequence(seed).spawn(k)[i])``
and returns only sufficient statistics — the episode count, the sum and the sum of squares
of the returns, the severe count, the truncated count and the count of every outcome event.
The chunks are reduced in chunk order, so the numbers do not depend on where or in which
order the chunks ran.  Rates come with 95% Wilson score intervals (Wilson 1927), which
stay inside [0, 1] and are honest for the rare counts this is for; the mean return has a
normal interval.

>>> from accessrl.catalog import access_review_abandonment
>>> mdp = access_review_abandonment()
>>> r = simulate_at_scale(mdp, "optimal", 20_000, seed=3, chunk=5_000, first_action="request_evidence")
>>> r.chunks, r.episodes
(4, 20000)
>>> 0.24 < r.event_rates["abandoned"] < 0.26
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from accessrl.distributed.backend import Backend, chunk_sizes, get_backend, task_seeds
from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP
from accessrl.model.policies import pair_probabilities
from accessrl.offline.estimation import wilson_interval
from accessrl.planning.solver import solve
from accessrl.simulation import Z95, simulate

DEFAULT_CHUNK = 50_000
"""Episodes per task unless the call says otherwise (about 0.25 s of work per task)."""


@dataclass(frozen=True)
class ChunkStats:
    """What one chunk of episodes returns: counts and sums, nothing per episode."""

    episodes: int
    total: float
    total_sq: float
    severe: int
    truncated: int
    events: Mapping[str, int]


@dataclass(frozen=True)
class ScaleSimulation:
    """The reduced result of :func:`simulate_at_scale`.

    ``mean`` and ``ci95`` of the discounted return; ``severe_rate`` (per episode) with its
    Wilson interval ``severe_ci``; ``per_million`` the severe rate times 1e6 and its
    interval; ``event_rates`` / ``event_ci`` the share of episodes that saw each event.
    ``backend`` says what ran it (backend, nodes, CPUs).
    """

    episodes: int
    chunks: int
    seed: int | None
    mean: float
    std: float
    ci95: tuple[float, float]
    severe: int
    severe_rate: float
    severe_ci: tuple[float, float]
    per_million: float
    per_million_ci: tuple[float, float]
    truncated: int
    event_rates: Mapping[str, float]
    event_ci: Mapping[str, tuple[float, float]]
    backend: Mapping[str, Any]


def _chunk(shared: tuple[MDP, np.ndarray, dict[str, Any]], task: tuple[int, np.random.SeedSequence]) -> ChunkStats:
    mdp, probs, opts = shared
    n, seed = task
    sim = simulate(mdp, probs, n, rng=np.random.default_rng(seed), record=False, **opts)
    return ChunkStats(
        episodes=n, total=float(np.sum(sim.returns)), total_sq=float(np.sum(sim.returns**2)),
        severe=int(np.sum(sim.severe)), truncated=int(np.sum(~sim.terminated)), events=dict(sim.event_counts),
    )


def reduce_chunks(parts: list[ChunkStats]) -> tuple[int, float, float, int, int, dict[str, int]]:
    """Sum the chunks' statistics in chunk order (the only reduction both backends use)."""
    n, total, total_sq, severe, truncated = 0, 0.0, 0.0, 0, 0
    events: dict[str, int] = {}
    for p in parts:
        n += p.episodes
        total += p.total
        total_sq += p.total_sq
        severe += p.severe
        truncated += p.truncated
        for k, v in p.events.items():
            events[k] = events.get(k, 0) + v
    return n, total, total_sq, severe, truncated, events


def simulate_at_scale(
    mdp: MDP,
    policy: Any,
    episodes: int,
    *,
    seed: int | None,
    chunk: int = DEFAULT_CHUNK,
    backend: str | Backend | None = None,
    start: Any = None,
    first_action: int | str | None = None,
    severe_threshold: float | None = None,
    max_steps: int = 10_000,
) -> ScaleSimulation:
    """Simulate ``episodes`` episodes of ``policy`` in chunks on ``backend`` (see the module docstring).

    ``policy``: ``"optimal"``, (S,) action indices or (L,) pair probabilities.
    """
    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or not 0 < episodes <= 10**12:
        raise ParameterError(f"episodes: expected a whole number in [1, 1e12], got {episodes!r}")
    probs = pair_probabilities(mdp, solve(mdp).policy if isinstance(policy, str) and policy == "optimal" else policy)
    sizes = chunk_sizes(int(episodes), int(chunk))
    tasks = list(zip(sizes, task_seeds(seed, len(sizes)), strict=True))
    opts = {"start": start, "first_action": first_action, "severe_threshold": severe_threshold, "max_steps": max_steps}
    be = get_backend(backend)
    parts = be.map(_chunk, tasks, shared=(mdp, probs, opts))
    n, total, total_sq, severe, truncated, events = reduce_chunks(parts)
    mean = total / n
    var = max(total_sq / n - mean * mean, 0.0) * n / max(n - 1, 1)
    std = math.sqrt(var)
    half = Z95 * std / math.sqrt(n)
    lo, hi = wilson_interval(severe, n)
    names = sorted(events)
    elo, ehi = wilson_interval([events[k] for k in names], [n] * len(names)) if names else (np.zeros(0), np.zeros(0))
    return ScaleSimulation(
        episodes=n, chunks=len(sizes), seed=seed, mean=mean, std=std, ci95=(mean - half, mean + half),
        severe=severe, severe_rate=severe / n, severe_ci=(float(lo), float(hi)),
        per_million=1e6 * severe / n, per_million_ci=(1e6 * float(lo), 1e6 * float(hi)), truncated=truncated,
        event_rates={k: events[k] / n for k in names},
        event_ci={k: (float(a), float(b)) for k, a, b in zip(names, elo, ehi, strict=True)},
        backend=be.describe(),
    )


__all__ = ["DEFAULT_CHUNK", "ChunkStats", "ScaleSimulation", "reduce_chunks", "simulate_at_scale"]
