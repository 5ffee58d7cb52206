"""Real faults for the tests: a PostgreSQL cluster of the test's own that can be stopped and
started under load, and a small file system that can be filled.

Both are made and removed by the test that uses them; each skips with the reason when the
machine cannot provide it (no PostgreSQL server binaries, no permission to mount)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PG_VERSION = os.environ.get("ACCESSRL_TEST_PG_VERSION", "15")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateCluster:
    """A PostgreSQL cluster on its own port (``pg_createcluster``), trust auth on loopback."""

    def __init__(self) -> None:
        self.name = f"accessrl_fault_{uuid.uuid4().hex[:8]}"
        self.port = _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, action: str, *extra: str) -> None:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, self.name, action, *extra],
                       check=True, capture_output=True, timeout=120)

    def create(self) -> None:
        subprocess.run(["pg_createcluster", PG_VERSION, self.name, "--port", str(self.port),
                        "-o", "fsync=off", "--", "--auth=trust", "--no-sync"],
                       check=True, capture_output=True, timeout=180)
        self.start()

    def start(self) -> None:
        self._ctl("start")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # accepting connections, not just started
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"cluster {self.name} did not start")

    def stop(self) -> None:
        """A fast shutdown: every session is ended, as when an operator restarts the server."""
        self._ctl("stop", "-m", "fast")

    def drop(self) -> None:
        subprocess.run(["pg_dropcluster", "--stop", PG_VERSION, self.name], capture_output=True, timeout=120)


@contextmanager
def private_postgres() -> Iterator[PrivateCluster]:
    """A new PostgreSQL cluster for this test, dropped afterwards (skips without the server binaries)."""
    missing = [b for b in ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster") if shutil.which(b) is None]
    if missing:
        pytest.skip(f"a private PostgreSQL cluster needs {', '.join(missing)} (postgresql-common)")
    if not Path(f"/usr/lib/postgresql/{PG_VERSION}/bin/postgres").exists():
        pytest.skip(f"a private PostgreSQL cluster needs the PostgreSQL {PG_VERSION} server binaries")
    if os.geteuid() != 0 and not os.access("/etc/postgresql", os.W_OK):
        pytest.skip("pg_createcluster needs root or a writable /etc/postgresql")
    cluster = PrivateCluster()
    try:
        cluster.create()
    except subprocess.CalledProcessError as exc:
        cluster.drop()
        pytest.skip(f"pg_createcluster failed here: {(exc.stderr or b'').decode(errors='replace').strip()[:200]}")
    try:
        yield cluster
    finally:
        cluster.drop()


@contextmanager
def small_filesystem(tmp_path: Path, size_kib: int) -> Iterator[Path]:
    """A tmpfs of ``size_kib`` KiB mounted under ``tmp_path`` (skips where it cannot be mounted)."""
    mnt = tmp_path / "small-fs"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("filling a file system needs mount(8)")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0777", "tmpfs", str(mnt)],
                       capture_output=True, timeout=30)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.decode(errors='replace').strip()[:200]}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)


def fill(directory: Path) -> Path:
    """Fill the file system of ``directory`` to the last byte; the filler file is returned."""
    filler = directory / "filler.bin"
    try:
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    except OSError:  # already full: not even a new file fits
        return filler
    try:
        for size in (1 << 20, 1 << 16, 4096, 512, 1):
            block = b"\0" * size
            while True:
                try:
                    if os.write(fd, block) < size:
                        break
                except OSError:
                    break
    finally:
        os.close(fd)
    return filler
