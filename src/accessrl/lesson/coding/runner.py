"""The learner's side of a check: run the learner's functions on the grader's inputs (layer 2).

This file is also a script: the sandbox starts ``python -I runner.py RESULT`` in a fresh process,
sends one job as JSON on stdin and reads one JSON result from the file RESULT.  It imports
nothing from accessrl (the child starts in a fraction of a second) and NumPy only when a task needs
it.  Values cross the process boundary as JSON with two tags, ``{"~t": [...]}`` for a tuple and
``{"~d": [[key, value], ...]}`` for a dict whose keys are not all strings (the lesson's
``transitions`` is keyed by ``(state, action)``).  The result is JSON, never a pickle: the parent
decodes what the learner's code returned without running anything it wrote.

Drivers (what one task does with the learner's function ``fn``):

* ``call`` — ``fn(*args)``, the return value;
* ``replay`` — Q-learning updates replayed from recorded experiences: ``fn(q, s, a, r, s2, gamma,
  learning_rate)`` for each, and a copy of ``q`` after each;
* ``episodes`` — the ε-greedy loop: ``fn(actions, step, start, episodes, gamma, epsilon, rng)`` with
  an environment ``step`` that samples with its own generator and records every transition (run
  once per seed given: the reruns show whether the loop draws from the ``rng`` it was given);
* ``map`` — ``fn(*item)`` for each item of a list.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

OUTPUT_LIMIT = 8_000
"""Characters of the learner's printed output kept (the rest is cut, with a note)."""


def encode(x: Any, depth: int = 0) -> Any:
    """A JSON-ready form of ``x`` (tuples and non-string-keyed dicts tagged; NumPy values as Python)."""
    if depth > 60:
        raise ValueError("the value is nested too deeply")
    if x is None or isinstance(x, (bool, str, int)):
        return x
    if isinstance(x, float):
        return x
    if isinstance(x, tuple):
        return {"~t": [encode(v, depth + 1) for v in x]}
    if isinstance(x, list):
        return [encode(v, depth + 1) for v in x]
    if isinstance(x, dict):
        if all(isinstance(k, str) for k in x):
            return {k: encode(v, depth + 1) for k, v in x.items()}
        return {"~d": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in x.items()]}
    kind = type(x).__module__ + "." + type(x).__qualname__
    if kind.startswith("numpy."):
        if hasattr(x, "shape") and getattr(x, "shape", ()) != ():
            return {"~a": encode(x.tolist(), depth + 1)}  # an array: marked, so the grader can say so
        return encode(x.item(), depth + 1)
    return {"~x": f"{type(x).__name__}: {str(x)[:200]}"}


def decode(x: Any) -> Any:
    """The inverse of :func:`encode` (arrays come back as lists, unknown objects as their description)."""
    if isinstance(x, list):
        return [decode(v) for v in x]
    if isinstance(x, dict):
        if len(x) == 1:
            (k, v), = x.items()
            if k == "~t":
                return tuple(decode(e) for e in v)
            if k == "~d":
                return {_hashable(decode(a)): decode(b) for a, b in v}
            if k == "~a":
                return decode(v)
            if k == "~x":
                return Unsupported(str(v))
        return {k: decode(v) for k, v in x.items()}
    return x


class Unsupported(str):
    """A returned value of a type the grader cannot read (a set, an object...), as its description."""


def _hashable(x: Any) -> Any:
    if isinstance(x, list):
        return tuple(_hashable(v) for v in x)
    return x


class _Capped(io.StringIO):
    def write(self, s: str) -> int:
        if self.tell() < OUTPUT_LIMIT:
            super().write(s[: OUTPUT_LIMIT - self.tell() + 1])
        return len(s)


def _where(tb: Any, filename: str | None) -> tuple[int | None, str]:
    """The line of the learner's code where an exception was raised (the deepest frame in it)."""
    line: int | None = None
    text = ""
    for frame in traceback.extract_tb(tb):
        mine = frame.filename == filename if filename else os.path.abspath(frame.filename) != os.path.abspath(__file__)
        if mine:
            line, text = frame.lineno, (frame.line or "")
    return line, text.strip()


def _error(exc: BaseException, filename: str | None) -> dict[str, Any]:
    line, text = _where(exc.__traceback__, filename)
    return {"type": type(exc).__name__, "message": str(exc)[:500], "line": line, "text": text}


class StepError(Exception):
    """The environment refused a step (an unavailable action, a step past the end, too many steps)."""


def _environment(model: dict[str, Any], seed: int, max_steps: int) -> tuple[Callable[[str, str], tuple[str, float]], list[Any]]:
    import numpy as np

    env_rng = np.random.default_rng(seed)
    actions: dict[str, list[str]] = model["actions"]
    outcomes: dict[tuple[str, str], list[tuple[float, str, float]]] = model["transitions"]
    record: list[Any] = []

    def step(state: str, action: str) -> tuple[str, float]:
        if len(record) >= max_steps:
            raise StepError(f"more than {max_steps} steps: does every episode end at a terminal state?")
        if state not in actions:
            raise StepError(f"step({state!r}, {action!r}): {state!r} is a terminal state (it has no actions); "
                            "the episode ended there")
        if action not in actions[state]:
            raise StepError(f"step({state!r}, {action!r}): {action!r} is not available in {state!r}; "
                            f"available: {actions[state]}")
        u = env_rng.random()
        acc = 0.0
        row = outcomes[(state, action)]
        nxt, reward = row[-1][1], row[-1][2]
        for p, n, r in row:
            acc += p
            if u < acc:
                nxt, reward = n, r
                break
        record.append((state, action, reward, nxt))
        return nxt, reward

    return step, record


def run_task(fn: Callable[..., Any], task: dict[str, Any], filename: str | None) -> dict[str, Any]:
    """One task: ``{"ok": value}`` or ``{"error": ..., "partial": ...}``."""
    driver = task["driver"]
    args = decode(task.get("args", []))
    if driver == "call":
        try:
            return {"ok": encode(fn(*args))}
        except Exception as exc:  # the learner's code: any exception is feedback
            return {"error": _error(exc, filename)}
    if driver == "replay":
        q, experiences, gamma, rates = args
        snapshots: list[Any] = []
        for (s, a, r, s2), lr in zip(experiences, rates, strict=True):
            try:
                fn(q, s, a, r, s2, gamma, lr)
            except Exception as exc:
                return {"error": _error(exc, filename), "partial": encode(snapshots)}
            snapshots.append(copy.deepcopy(q))
        return {"ok": encode(snapshots)}
    if driver == "episodes":
        import numpy as np

        model, start, episodes, gamma, epsilon, seeds, env_seed, max_steps = args
        out: dict[str, Any] = {"records": []}
        for i, seed in enumerate(seeds):  # the first run is graded; reruns show whether the given rng is used
            step, record = _environment(model, env_seed, max_steps)
            rng = np.random.default_rng(seed)
            try:
                q = fn(copy.deepcopy(model["actions"]), step, start, episodes if i == 0 else min(episodes, 40), gamma,
                       epsilon, rng)
            except Exception as exc:
                out["records"].append(encode(record if i == 0 else record[:200]))
                return out | {"error": _error(exc, filename)}
            out["records"].append(encode(record if i == 0 else record[:200]))
            if i == 0:
                out["ok"] = encode(q)
        return out
    if driver == "map":
        values = []
        for item in args[0]:
            try:
                values.append(encode(fn(*item)))
            except Exception as exc:
                return {"error": _error(exc, filename), "partial": encode(values)}
        return {"ok": values}
    raise ValueError(f"unknown driver {driver!r}")


def run_job(namespace_of: Callable[[], dict[str, Any]], job: dict[str, Any], filename: str | None) -> dict[str, Any]:
    """Run every task of ``job`` with stdout and stderr captured; the learner's output comes back too."""
    out = _Capped()
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = out
    results: list[dict[str, Any]] = []
    try:
        try:
            namespace = namespace_of()
        except BaseException as exc:  # an error while the file itself runs (its top level)
            if isinstance(exc, KeyboardInterrupt):
                raise
            return {"load_error": _error(exc, filename), "output": _output(out)}
        for task in job["tasks"]:
            fn = namespace.get(task["fn"])
            if fn is None or not callable(fn):
                results.append({"missing": task["fn"]})
                continue
            results.append(run_task(fn, task, filename))
    finally:
        sys.stdout, sys.stderr = saved
    return {"results": results, "output": _output(out)}


def _output(buf: _Capped) -> str:
    text = buf.getvalue()
    if len(text) > OUTPUT_LIMIT:
        text = text[:OUTPUT_LIMIT] + f"\n... (output cut at {OUTPUT_LIMIT} characters)"
    return text


def limit_resources(cpu_seconds: float, memory_bytes: int) -> None:
    """CPU time and address-space limits for this process (POSIX; a no-op elsewhere)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return
    cpu = max(1, math.ceil(cpu_seconds))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def main() -> None:
    """The child process: one job from stdin, one result to the file named on the command line.

    NumPy is imported before the job is read: the sandbox starts the child ahead of the job (while it
    builds the cases), so most learners' code finds it loaded; the limits apply from the job on."""
    result_path = sys.argv[1]
    try:
        import numpy  # noqa: F401
    except ImportError:  # pragma: no cover - NumPy is a dependency of accessrl
        pass
    raw = sys.stdin.read()
    if not raw:  # the parent went away before sending a job (a spare child at exit)
        return
    job = json.loads(raw)
    limit_resources(job["cpu_seconds"], job["memory_bytes"])
    os.dup2(2, 1)  # anything written to descriptor 1 below the Python level lands in stderr, not the result
    filename = job["filename"]
    code = job["code"]

    def namespace_of() -> dict[str, Any]:
        namespace: dict[str, Any] = {"__name__": job.get("module_name", "learner"), "__file__": filename}
        exec(compile(code, filename, "exec"), namespace)  # noqa: S102 - running the learner's code is the point
        return namespace

    try:
        result = run_job(namespace_of, job, filename)
    except MemoryError:
        result = {"fatal": "memory"}
    except RecursionError:
        result = {"fatal": "recursion"}
    data = json.dumps(result, allow_nan=True)
    with open(result_path, "w", encoding="utf-8") as f:
        f.write(data)


if __name__ == "__main__":
    main()
