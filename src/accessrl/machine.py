"""How many threads the compiled kernels should use on this machine, now (layer 2).

The planners take ``threads`` as a plain argument (layer 1 reads no clocks and no process
state); the entry points ask :func:`choose_threads`.  Two facts decide it:

* the CPUs this process may run on (``os.sched_getaffinity``, which honours ``taskset``
  and container CPU sets, unlike ``os.cpu_count``), capped at numba's thread pool;
* a probe: the same contiguous gather sweep (the kernel of MPI's evaluation step) timed
  on one thread and on all of them, interleaved, best of three each, on a model of a few
  MB.  On a shared machine whose other cores are busy a second thread can be slower, and
  the probe sees that.  Parallel is chosen only when it is at least 15% faster.

The probe costs about 0.1 s (its kernels come from numba's on-disk cache after the
first run) and runs once per process.
"""

from __future__ import annotations

import os
import time
from functools import cache

import numpy as np

PROBE_STATES = 1 << 17
"""States of the probe model (8 successors each: about 12 MB of CSR)."""

MIN_GAIN = 1.15
"""Parallel must beat one thread by this factor in the probe to be chosen."""


def available_cores() -> int:
    """CPUs this process may run on (affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


@cache
def _probe(cores: int) -> tuple[int, float, float]:
    from accessrl.catalog.workflows import rand
    from accessrl.planning.kernels import PolicyMatrix, pair_rewards

    mdp = rand(PROBE_STATES, 1, 8, gamma=0.9, rng=np.random.default_rng(0))
    r = pair_rewards(mdp)
    best = np.arange(mdp.n_states, dtype=np.int64)
    mats = {t: PolicyMatrix(mdp, r, best, threads=t) for t in (1, cores)}
    v = np.ones(mdp.n_states)
    u = np.empty_like(v)
    times: dict[int, list[float]] = {1: [], cores: []}
    for t in (1, cores):
        mats[t].apply(v, u)  # compile or load from the cache
    for _ in range(3):
        for t in (1, cores):
            t0 = time.perf_counter()
            for _ in range(4):
                mats[t].apply(v, u)
            times[t].append(time.perf_counter() - t0)
    one, many = min(times[1]), min(times[cores])
    return (cores if one >= MIN_GAIN * many else 1), one, many


def choose_threads(requested: int | str = "auto") -> int:
    """Threads for the compiled kernels: ``requested`` if an integer, else decided by
    affinity and the probe (see the module docstring)."""
    if isinstance(requested, int) and not isinstance(requested, bool):
        return requested
    import numba

    cores = min(available_cores(), int(numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    if cores <= 1:
        return 1
    return _probe(cores)[0]


def probe_report() -> dict[str, float]:
    """The probe's numbers (seconds for 4 sweeps, best of 3) and its choice, for benchmarks."""
    import numba

    cores = min(available_cores(), int(numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    if cores <= 1:
        return {"cores": 1, "chosen": 1}
    chosen, one, many = _probe(cores)
    return {"cores": cores, "chosen": chosen, "one_thread_s": one, "all_threads_s": many}


__all__ = ["MIN_GAIN", "PROBE_STATES", "available_cores", "choose_threads", "probe_report"]
