"""Layer 2: work that outgrows one process, on a local or a Ray backend.

* :mod:`~accessrl.distributed.backend` — where tasks run (:class:`LocalBackend`,
  :class:`RayBackend`), per-task seeds from one ``SeedSequence``;
* :mod:`~accessrl.distributed.simulation` — severe-outcome rates per million, in chunks;
* :mod:`~accessrl.distributed.grids` — probability grids, reward designs, limit settings;
* :mod:`~accessrl.distributed.runs` — learning runs over seeds x algorithms x settings;
* :mod:`~accessrl.distributed.partitions` — off-policy evaluation and estimation over
  partitioned logs (Parquet files or time ranges of the database).

The same call with the same seed gives the same numbers on every backend.
"""

from __future__ import annotations

from accessrl.distributed.backend import Backend, LocalBackend, RayBackend, chunk_sizes, get_backend, task_seeds
from accessrl.distributed.grids import GridPoint, GridSweep, LimitSetting, audit_designs, constrain_grid, sweep_grid
from accessrl.distributed.runs import ConfigSummary, LearningGrid, Run, learning_grid
from accessrl.distributed.simulation import ChunkStats, ScaleSimulation, simulate_at_scale

__all__ = [
    "Backend",
    "ChunkStats",
    "ConfigSummary",
    "GridPoint",
    "GridSweep",
    "LearningGrid",
    "LimitSetting",
    "LocalBackend",
    "RayBackend",
    "Run",
    "ScaleSimulation",
    "audit_designs",
    "chunk_sizes",
    "constrain_grid",
    "get_backend",
    "learning_grid",
    "simulate_at_scale",
    "sweep_grid",
    "task_seeds",
]
