"""The real decision service for the pilot: ``accessrl serve`` in a child process on loopback.

Started on a free port of 127.0.0.1 in a process group of its own and stopped (SIGTERM to
the group, then SIGKILL) when the pilot ends, whatever happens in between — an error, Ctrl-C,
or SIGTERM (the CLI turns it into an orderly exit).  The child also watches its parent
(:func:`accessrl.web.server.watch_parent`): if the pilot is killed outright (SIGKILL), the
service stops by itself within a second.  No token is configured because it listens on
loopback only.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from accessrl._optional import require
from accessrl.errors import DataError
from accessrl.web.server import PARENT_ENV


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServiceProcess:
    """``accessrl serve`` as a child process; use as a context manager."""

    def __init__(self, *, policy: Path, model: Path, db: str, epsilon: float, seed: int, log: Path,
                 reload_every: float = 0.05, start_timeout: float = 60.0) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._args = [sys.executable, "-m", "accessrl", "serve", str(model), "--policy", str(policy),
                      "--db", db, "--host", "127.0.0.1", "--port", str(self.port), "--epsilon", str(epsilon),
                      "--seed", str(seed), "--reload-every", str(reload_every)]
        self._log_path = log
        self._timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def __enter__(self) -> ServiceProcess:
        httpx = require("httpx", "serve", "accessrl pilot")
        self._log = open(self._log_path, "wb")  # noqa: SIM115 - closed in __exit__
        env = {**os.environ, PARENT_ENV: str(os.getpid())}
        self._proc = subprocess.Popen(self._args, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                      start_new_session=True)
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self.__exit__(None, None, None)
                tail = self._log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
                raise DataError(f"pilot: the decision service exited at start-up: {tail[0]}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.__exit__(None, None, None)
        raise DataError(f"pilot: the decision service did not answer on {self.base_url} within {self._timeout:g} s")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._proc is not None:
            stop_group(self._proc)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop a child started with ``start_new_session=True`` and everything it started: SIGTERM to
    its process group, SIGKILL after ``timeout`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue


__all__ = ["ServiceProcess", "free_port", "stop_group"]
