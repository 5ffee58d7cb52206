"""CPU-heavy request work off the event loop: a bounded pool of worker processes.

A server's event loop answers every connection; a handler that computes on it (solving a
spec of 20,000 actions, a long Q-learning run) stops every other request until it is done,
and a thread does not help (Python code holds the interpreter lock).  :class:`ComputePool`
runs such work in worker processes (pebble's ``ProcessPool``, started from a clean
``forkserver`` process):

* at most ``workers`` computations run at once and at most ``queue`` wait; past that the
  request is refused at once (:class:`ComputeLimit`, 503 with ``Retry-After``);
* a computation past ``timeout`` seconds is stopped — its worker process is killed and
  replaced — and answered with :class:`ComputeLimit` naming the limit; so is one whose
  request was abandoned (the client went away, the request time limit passed);
* a worker that dies (out of memory, a crash) is replaced, and its request answered with
  one line.

The function and its arguments must be picklable (a module-level function and plain
values); exceptions it raises (:class:`~accessrl.errors.AccessRLError` and the like) come
back to the caller as they were raised.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from typing import Any

from accessrl._optional import require
from accessrl.errors import AccessRLError

WORKERS = 2
"""Worker processes of a pool (computations that run at once)."""
QUEUE = 8
"""Computations that may wait for a worker; one more is refused as busy."""
TIMEOUT = 20.0
"""Seconds one computation may run before it is stopped."""
RETRY_AFTER = 2
"""Seconds a refused client is asked to wait (``Retry-After``)."""


class ComputeLimit(AccessRLError):
    """A computation refused (every worker busy, the queue full) or stopped (past its time
    limit, its worker died): a server answers 503, with ``Retry-After`` when waiting helps."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.retry_after))


def _warm(modules: Sequence[str], warm: Callable[[], Any] | None) -> None:
    """Worker start: import what the work needs (and compile it) before the first request waits for it."""
    import importlib

    for m in modules:
        importlib.import_module(m)
    if warm is not None:
        warm()


class ComputePool:
    """A bounded pool of worker processes; ``await pool.run(fn, *args)`` from a request handler.

    ``preload``: modules every worker imports when it starts (the forkserver imports them
    once, so a replacement worker starts in milliseconds); ``warm``: a module-level
    function each worker calls when it starts (e.g. compiling a numba kernel).
    """

    def __init__(self, *, workers: int = WORKERS, queue: int = QUEUE, timeout: float = TIMEOUT,
                 preload: Sequence[str] = (), warm: Callable[[], Any] | None = None) -> None:
        if workers < 1 or queue < 0 or not timeout > 0:
            raise ValueError(f"compute pool: expected workers >= 1, queue >= 0, timeout > 0; got {workers}, {queue}, "
                             f"{timeout}")
        self.workers, self.queue, self.timeout = workers, queue, timeout
        self.preload = tuple(preload)
        self.warm = warm
        self._pool: Any = None
        self._lock = threading.Lock()
        self._pending = 0
        self.stopped = 0
        """Computations stopped past their time limit or abandoned by their request."""

    def _get(self) -> Any:
        with self._lock:
            if self._pool is None or not self._pool.active:
                pebble = require("pebble", "studio", "computing off the event loop")
                ctx = multiprocessing.get_context("forkserver")
                ctx.set_forkserver_preload(["accessrl.web.compute", *self.preload])
                self._pool = pebble.ProcessPool(max_workers=self.workers, context=ctx, initializer=_warm,
                                                initargs=(self.preload, self.warm))
            return self._pool

    def start(self) -> None:
        """Start the workers in the background now rather than at the first computation (starting
        them imports the library in the forkserver: seconds, which must not hold up a server's start)."""
        threading.Thread(target=self._get, name="accessrl-compute-start", daemon=True).start()

    async def run(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """``fn(*args)`` in a worker process, at most ``timeout`` (default: the pool's) seconds."""
        limit = self.timeout if timeout is None else timeout
        if self._pending >= self.workers + self.queue:
            raise ComputeLimit(f"server busy: {self._pending} computations running or waiting; try again shortly",
                               RETRY_AFTER)
        self._pending += 1
        try:
            pool = self._pool if self._pool is not None and self._pool.active else await asyncio.to_thread(self._get)
            future = pool.schedule(fn, args=args, timeout=limit)
            try:
                return await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                future.cancel()  # the worker running it is killed and replaced
                self.stopped += 1
                raise
            except TimeoutError:
                self.stopped += 1
                raise ComputeLimit(f"computation: stopped after the limit of {limit:g} s; try a smaller model "
                                   "or fewer episodes") from None
            except Exception as exc:
                if type(exc).__name__ == "ProcessExpired":
                    raise ComputeLimit(f"computation: its worker process ended abnormally ({exc}); try a smaller "
                                       "model") from None
                raise
        finally:
            self._pending -= 1

    def close(self) -> None:
        """Stop the workers (running computations are killed)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()
            pool.join(timeout=10)


__all__ = ["QUEUE", "RETRY_AFTER", "TIMEOUT", "WORKERS", "ComputeLimit", "ComputePool"]
