"""Run the learner's code in a separate process with time and memory limits (layer 2).

Two routes, one protocol (:mod:`accessrl.lesson.coding.runner`):

* :func:`run_source` — code as text (a file, the studio's editor): a fresh ``python -I`` child
  runs it; nothing of this process is shared with it, and its working directory is a temporary one;
* :func:`run_functions` — function objects (a notebook's ``check("value-iteration", fn)``): a
  forked child calls them, so names the function uses from the notebook still resolve.  Where
  ``fork`` does not exist (Windows) the functions run in this process, without limits.

Either way an infinite loop, a crash, running out of memory or a child killed by the operating
system ends as one :attr:`Run.failure` line, and the learner's printed output comes back.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accessrl.lesson.coding import runner

RUNNER = Path(runner.__file__).resolve()


@dataclass(frozen=True)
class Limits:
    """What one check may use: wall-clock ``seconds`` (CPU time too) and ``memory_mb`` of address space."""

    seconds: float = 10.0
    memory_mb: int = 2048


@dataclass(frozen=True)
class Run:
    """What the child reported: one decoded result per task, the learner's output, or one failure line."""

    results: tuple[dict[str, Any], ...] = ()
    output: str = ""
    failure: str | None = None
    """Set when the run as a whole failed (timeout, memory, crash, an error at the file's top level)."""
    failure_line: int | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _job(tasks: Sequence[Mapping[str, Any]], limits: Limits) -> dict[str, Any]:
    return {
        "tasks": [{**t, "args": runner.encode(t.get("args", []))} for t in tasks],
        "cpu_seconds": limits.seconds,
        "memory_bytes": limits.memory_mb * 2**20,
    }


def _interpret(raw: dict[str, Any] | None, *, seconds: float, limits: Limits, stderr: str = "",
               status: int | None = None, timed_out: bool = False) -> Run:
    if timed_out:
        return Run(failure=f"your code did not finish within {limits.seconds:g} s and was stopped "
                           "(an infinite loop? a while loop whose condition never turns false?)", seconds=seconds)
    if raw is None:
        if status is not None and status < 0:
            sig = -status
            if sig in (signal.SIGXCPU, signal.SIGKILL):
                return _interpret(None, seconds=seconds, limits=limits, timed_out=True)
            else:
                why = f"the operating system stopped it ({signal.Signals(sig).name})"
        else:
            why = f"it exited with status {status}"
        last = [ln for ln in stderr.strip().splitlines() if ln.strip()][-1:] if stderr.strip() else []
        tail = f": {last[0][:300]}" if last else ""
        if "MemoryError" in stderr:
            why = f"it ran out of memory (limit {limits.memory_mb} MiB)"
        return Run(failure=f"your code crashed: {why}{tail}", seconds=seconds)
    output = str(raw.get("output", ""))
    if "fatal" in raw:
        what = {"memory": f"your code ran out of memory (limit {limits.memory_mb} MiB)",
                "recursion": "your code recursed too deeply (a function that calls itself without end?)"}
        return Run(output=output, failure=what.get(str(raw["fatal"]), str(raw["fatal"])), seconds=seconds)
    if "load_error" in raw:
        e = raw["load_error"]
        where = f"line {e['line']}: " if e.get("line") else ""
        return Run(output=output, failure=f"{where}{e['type']}: {e['message']} (while running the file's top level)",
                   failure_line=e.get("line"), seconds=seconds)
    results = tuple(_decode_result(r) for r in raw.get("results", []))
    return Run(results=results, output=output, seconds=seconds)


def _decode_result(r: dict[str, Any]) -> dict[str, Any]:
    out = dict(r)
    if "records" in out:
        out["records"] = [runner.decode(r) for r in out["records"]]
    for key in ("ok", "partial"):
        if key in out:
            out[key] = runner.decode(out[key])
    return out


class Child:
    """A fresh ``python -I runner.py`` started ahead of its job (it imports NumPy meanwhile), in its own
    temporary working directory.  Used once: :func:`run_source` sends the job, waits, and cleans up."""

    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="accessrl-exercise-")
        self.result = Path(self.tmp.name) / "result.json"
        env = {"PATH": os.environ.get("PATH", ""), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-X", "utf8", str(RUNNER), str(self.result)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
            cwd=self.tmp.name, env=env)

    def close(self) -> None:
        """Stop the child if it still runs, and remove its directory."""
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.communicate(timeout=5)
        self.tmp.cleanup()


def start_child() -> Child:
    """A child for :func:`run_source`, started now so it is ready by the time the job is."""
    return Child()


_spare: list[Child] = []
_spare_lock = threading.Lock()


def warm_child() -> Child:
    """A child that has already started (a long-lived server keeps one spare), and a new spare behind it.

    Each child still runs one job only; the spare only moves the interpreter's start-up off the
    learner's wait.  The spare is stopped when this process exits."""
    with _spare_lock:
        ready = [c for c in _spare if c.proc.poll() is None]
        for c in _spare:
            if c not in ready:
                c.close()
        _spare.clear()
        child = ready[0] if ready else Child()
        _spare.append(Child())
    return child


@atexit.register
def _stop_spare() -> None:
    with _spare_lock:
        for c in _spare:
            c.close()
        _spare.clear()


def run_source(code: str, tasks: Sequence[Mapping[str, Any]], *, filename: str = "exercise.py",
               limits: Limits | None = None, module_name: str = "learner", child: Child | None = None) -> Run:
    """Run ``code`` in a fresh interpreter (``child``, or one started now), then ``tasks`` on the functions it defines."""
    lim = limits or Limits()
    job = _job(tasks, lim) | {"code": code, "filename": filename, "module_name": module_name}
    c = child or Child()
    t0 = time.perf_counter()
    try:
        try:
            out, err = c.proc.communicate(json.dumps(job, allow_nan=True), timeout=lim.seconds + 5.0)
        except subprocess.TimeoutExpired:
            return _interpret(None, seconds=time.perf_counter() - t0, limits=lim, timed_out=True)
        seconds = time.perf_counter() - t0
        raw = _read(c.result) if c.proc.returncode == 0 else None
        run = _interpret(raw, seconds=seconds, limits=lim, stderr=err, status=c.proc.returncode)
    finally:
        c.close()
    if raw is not None and (out or err):  # writes below Python's sys.stdout (C code, os.write) reach the learner too
        run = Run(run.results, (run.output + out + err)[: runner.OUTPUT_LIMIT], run.failure, run.failure_line, run.seconds)
    return run


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _address_space() -> int:
    """Bytes of address space this process uses now (0 when unknown)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def run_functions(functions: Mapping[str, Callable[..., Any]], tasks: Sequence[Mapping[str, Any]], *,
                  limits: Limits | None = None) -> Run:
    """Call ``functions`` (name -> function) on ``tasks`` in a forked child with limits."""
    lim = limits or Limits()
    job = _job(tasks, lim)
    if not hasattr(os, "fork"):  # pragma: no cover - Windows: no fork, so no separate process either
        t0 = time.perf_counter()
        raw = json.loads(json.dumps(runner.run_job(lambda: dict(functions), job, None), allow_nan=True))
        return _interpret(raw, seconds=time.perf_counter() - t0, limits=lim)
    with tempfile.TemporaryDirectory(prefix="accessrl-exercise-") as tmp:
        result_path = Path(tmp) / "result.json"
        budget = _address_space() + lim.memory_mb * 2**20
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: the child only runs Python code
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child (coverage does not follow it)
            code = 1
            try:
                runner.limit_resources(lim.seconds, budget)
                try:
                    raw = runner.run_job(lambda: dict(functions), job, None)
                except MemoryError:
                    raw = {"fatal": "memory"}
                except RecursionError:
                    raw = {"fatal": "recursion"}
                result_path.write_text(json.dumps(raw, allow_nan=True), encoding="utf-8")
                code = 0
            finally:
                os._exit(code)
        status = _wait(pid, lim.seconds + 5.0)
        seconds = time.perf_counter() - t0
        if status is None:
            return _interpret(None, seconds=seconds, limits=lim, timed_out=True)
        raw = _read(result_path) if status == 0 else None
        return _interpret(raw, seconds=seconds, limits=lim, status=status)


def _wait(pid: int, seconds: float) -> int | None:
    """Wait for a child; kill it after ``seconds``.  Its exit status (negative: the signal), None on timeout."""
    deadline = time.monotonic() + seconds
    pause = 0.0005
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


__all__ = ["RUNNER", "Child", "Limits", "Run", "run_functions", "run_source", "start_child", "warm_child"]
