"""Where a batch of independent tasks runs: this process, or a Ray cluster (layer 2).

Every distributed workload in :mod:`accessrl.distributed` is written as *one pure
function applied to a list of tasks*, followed by a reduction in task order.  A backend
only decides where the applications run:

* :class:`LocalBackend` (the default) runs them here, one after the other, and needs
  nothing beyond the core install;
* :class:`RayBackend` submits one Ray task per item to a cluster (the ``[ray]`` extra)
  and gathers the results in submission order.  The shared input (a model, a log
  partition list) is put in Ray's object store once, not once per task.

Because the list of tasks, each task's seed and the order of the reduction are fixed
before any backend sees them, the same call with the same seed gives the same numbers
on either backend, however many nodes or workers the cluster has.  Seeds come from one
:class:`numpy.random.SeedSequence` (:func:`task_seeds`), never from the worker.

>>> backend = get_backend(None)
>>> backend.name
'local'
>>> backend.map(lambda base, x: base + x, [1, 2], shared=10)
[11, 12]
>>> [s.generate_state(1)[0] for s in task_seeds(7, 2)] == [s.generate_state(1)[0] for s in task_seeds(7, 2)]
True
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from accessrl._optional import require
from accessrl.errors import AccessRLError, BackendError, ParameterError


class Backend(Protocol):
    """Runs ``fn(shared, item)`` for every item and returns the results in item order."""

    name: str

    def map(self, fn: Callable[[Any, Any], Any], items: Sequence[Any], *, shared: Any = None) -> list[Any]:
        """The results of ``fn(shared, item)`` over ``items``, in the order of ``items``."""
        ...  # pragma: no cover

    def describe(self) -> dict[str, Any]:
        """What ran the work: backend name, nodes and CPUs (for reports)."""
        ...  # pragma: no cover


class LocalBackend:
    """Runs every task in this process, in order (no Ray needed or started)."""

    name = "local"

    def map(self, fn: Callable[[Any, Any], Any], items: Sequence[Any], *, shared: Any = None) -> list[Any]:
        """``[fn(shared, x) for x in items]``."""
        return [fn(shared, x) for x in items]

    def describe(self) -> dict[str, Any]:
        """``{"backend": "local", "nodes": 1, "cpus": the CPUs this process may use}``."""
        return {"backend": "local", "nodes": 1, "cpus": len(os.sched_getaffinity(0))}


class RayBackend:
    """Runs each task as a Ray task on the cluster at ``address``.

    ``address``: ``"auto"`` joins the cluster this machine belongs to (started with
    ``ray start``, or named by ``RAY_ADDRESS``) and, when there is none, starts a
    private local Ray instance for this process; ``"local"`` always starts the private
    instance; anything else (``"HOST:PORT"`` of a head node, ``"ray://HOST:10001"`` for
    Ray Client) is passed to :func:`ray.init`.  Ray is initialised once per process;
    a later backend with another address is refused rather than silently reusing the
    first cluster.
    """

    name = "ray"

    def __init__(self, address: str = "auto", *, num_cpus: int | None = None, task_cpus: float = 1.0) -> None:
        ray = require("ray", "ray", "running on a Ray cluster")
        self._ray = ray
        self.address = address
        self.task_cpus = float(task_cpus)
        self._remote: dict[Callable[..., Any], Any] = {}
        if ray.is_initialized():
            return
        quiet: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        with _ray_output():
            if address == "local":
                try:
                    ray.init(address="local", num_cpus=num_cpus, **quiet)
                except (ConnectionError, ValueError, RuntimeError) as exc:
                    raise BackendError(f"--ray local: cannot start a local Ray instance ({_first_line(exc)})") from None
            elif address == "auto":
                try:
                    ray.init(address="auto", **quiet)
                except ConnectionError:
                    ray.init(address="local", num_cpus=num_cpus, **quiet)
            else:
                try:
                    ray.init(address=address, **quiet)
                except (ConnectionError, ValueError, RuntimeError) as exc:
                    hint = ("; a cluster with token authentication needs RAY_AUTH_MODE=token and its token in RAY_AUTH_TOKEN"
                            if os.environ.get("RAY_AUTH_MODE") != "token" else "")
                    reason = _first_line(exc)
                    raise ParameterError(f"--ray {address}: cannot connect to a Ray cluster there ({reason}{hint})") from None

    def map(self, fn: Callable[[Any, Any], Any], items: Sequence[Any], *, shared: Any = None) -> list[Any]:
        """One Ray task per item; results gathered in submission order."""
        ray = self._ray
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = ray.remote(num_cpus=self.task_cpus)(fn)
        with _ray_output():
            try:
                ref = ray.put(shared)
                return list(ray.get([remote.remote(ref, item) for item in items]))
            except ray.exceptions.RayTaskError as exc:
                cause = getattr(exc, "cause", None)
                if isinstance(cause, AccessRLError):  # the library's own one-line error, as the local backend raises it
                    raise cause from None
                what = type(cause).__name__ if cause is not None else type(exc).__name__
                raise BackendError(f"Ray: a task failed after its retries ({what}: "
                                   f"{_first_line(cause if cause is not None else exc)})") from None
            except ray.exceptions.RayError as exc:  # a worker or node died, an object was lost, ...
                raise BackendError(f"Ray: {type(exc).__name__} after the task's retries ({_first_line(exc)})") from None

    def describe(self) -> dict[str, Any]:
        """Alive nodes and total CPUs of the cluster."""
        nodes = [n for n in self._ray.nodes() if n.get("Alive")]
        cpus = int(sum(n.get("Resources", {}).get("CPU", 0) for n in nodes))
        return {"backend": "ray", "nodes": len(nodes), "cpus": cpus, "address": self.address}


def _first_line(exc: BaseException) -> str:
    lines = [x.strip() for x in str(exc).splitlines() if x.strip()]
    return lines[0][:200] if lines else type(exc).__name__


@contextlib.contextmanager
def _ray_output() -> Iterator[None]:
    """Whatever Ray prints while it starts or runs tasks (its own log lines, a dead worker's
    notice) goes to stderr: a command's stdout stays exactly what the command writes (one JSON
    document with ``--json``)."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def get_backend(spec: str | Backend | None) -> Backend:
    """The backend named by ``spec``: ``None``/``"local"`` → :class:`LocalBackend`;
    ``"ray"``/``"auto"`` or an address → :class:`RayBackend`; a backend object as is."""
    if spec is None or spec == "local":
        return LocalBackend()
    if isinstance(spec, str):
        if not spec.strip():
            raise ParameterError("--ray: expected auto, local or a cluster address such as 127.0.0.1:6379, got ''")
        return RayBackend("auto" if spec == "ray" else spec)
    if not (hasattr(spec, "map") and hasattr(spec, "describe")):
        raise ParameterError(f"backend: expected 'local', 'ray', an address or a Backend, got {spec!r}")
    return spec


def task_seeds(seed: int | None, n: int) -> list[np.random.SeedSequence]:
    """``n`` independent child seeds of ``SeedSequence(seed)``, one per task, in task order."""
    return np.random.SeedSequence(seed).spawn(n)


def chunk_sizes(total: int, chunk: int) -> list[int]:
    """``total`` split into pieces of ``chunk`` (the last one shorter): fixed by the call, not the cluster."""
    if total <= 0 or chunk <= 0:
        raise ParameterError(f"chunks: expected positive sizes, got total={total}, chunk={chunk}")
    full, rest = divmod(total, chunk)
    return [chunk] * full + ([rest] if rest else [])


__all__ = ["Backend", "LocalBackend", "RayBackend", "chunk_sizes", "get_backend", "task_seeds"]
