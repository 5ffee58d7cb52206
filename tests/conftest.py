import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import accessrl

sys.path.insert(0, str(Path(__file__).parent))
from databases import BACKENDS, fresh_database  # noqa: E402

os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """A fresh database URL: a new SQLite file, or a new PostgreSQL schema (dropped afterwards)
    reached through ``search_path`` so every layer (service, store, CLI) sees only it."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


def pytest_configure(config: pytest.Config) -> None:
    """Ray with token authentication for the whole run, as a real cluster has it.

    Ray >= 2.59 turns token authentication on for a new cluster by itself whenever
    ~/.ray/auth_token exists (any local ``ray.init()`` writes that file), while a joining
    ``ray start`` or a client in the default mode sends no token; and a process reads its token
    once. So one token is fixed here, before anything starts Ray: every node, every local Ray and
    every client (this process and the CLI subprocesses the tests start) gets it from the
    environment."""
    if not os.environ.get("RAY_AUTH_TOKEN"):
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_cli() -> list[str]:
    exe = shutil.which("ray")
    return [exe] if exe else [sys.executable, "-m", "ray.scripts.scripts"]


def stop_processes_of(temp: str) -> None:
    """Stop this cluster's processes and only them: those whose command line names its temporary
    directory (GCS, raylets, monitors) and their descendants (agents, workers). ``ray stop`` would
    stop every Ray process on the machine, another run's cluster and its drivers included."""
    import psutil

    me = os.getpid()
    roots = [p for p in psutil.process_iter(["cmdline"])
             if p.pid != me and any(temp in a for a in (p.info["cmdline"] or []))]
    procs: set[psutil.Process] = set()
    for p in roots:
        procs.add(p)
        with contextlib.suppress(psutil.Error):
            procs.update(p.children(recursive=True))
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(list(procs), timeout=15)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=5)


@pytest.fixture(scope="session")
def ray_cluster():
    """``ray start --head`` plus one more node joining it; yields the head's address."""
    if os.environ.get("CI") != "true":
        pytest.importorskip("ray")
    else:
        import ray  # noqa: F401  (CI installs the [ray] extra: a missing Ray is a failure, not a skip)
    src = str(Path(accessrl.__file__).resolve().parents[1])
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0",
               PYTHONPATH=os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p))
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="rayt", dir="/tmp")  # short: Ray's socket paths must stay under 108 bytes
    address = f"127.0.0.1:{port}"
    cli = _ray_cli()
    common = ["--num-cpus=1", "--disable-usage-stats"]
    def ray(*args: str) -> None:
        """One ``ray`` command; a second try after a failure (a loaded machine can miss Ray's start-up
        deadlines), then a failure that shows what Ray said."""
        for attempt in (1, 2):
            r = subprocess.run([*cli, *args], env=env, capture_output=True, text=True, timeout=180)
            if r.returncode == 0:
                return
            if attempt == 1:
                time.sleep(5)
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-15:])
        pytest.fail(f"`ray {' '.join(args[:2])}` failed twice (exit {r.returncode}):\n{tail}", pytrace=False)

    try:
        ray("start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--include-dashboard=false",
            f"--temp-dir={temp}", *common)
        ray("start", f"--address={address}", "--node-ip-address=127.0.0.1", f"--temp-dir={temp}", *common)
        yield address
    finally:
        try:
            import ray

            ray.shutdown()
        except ImportError:
            pass
        stop_processes_of(temp)
        shutil.rmtree(temp, ignore_errors=True)
