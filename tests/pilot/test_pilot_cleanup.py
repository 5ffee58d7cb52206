"""`accessrl pilot` leaves nothing running: SIGTERM stops it in order (its child service too), and a
child whose pilot was killed outright (SIGKILL) stops by itself.

(Before: a pilot killed with SIGTERM or SIGKILL left its child `serve` running on its port with
the database open.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("httpx", reason='the pilot needs the [serve] extra: pip install "accessrl[serve]"')


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent has not read its status yet


def _start_pilot(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    if not Path("/proc/self/task").exists():
        pytest.skip("finding the pilot's child service needs /proc")
    proc = subprocess.Popen([sys.executable, "-m", "accessrl", "pilot", "--weeks", "30", "--requests-per-week", "400",
                             "--out", str(tmp_path / "pilot"), "--db", str(tmp_path / "pilot.db")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        kids = [k for k in _children(proc.pid) if b"serve" in Path(f"/proc/{k}/cmdline").read_bytes()]
        if kids and (tmp_path / "pilot").exists():
            time.sleep(1.0)  # the service is up and the weeks are running
            return proc, kids[0]
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the pilot did not start its service")


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_sigterm_stops_the_pilot_and_its_service(tmp_path: Path) -> None:
    proc, child = _start_pilot(tmp_path)
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        err = proc.stderr.read().decode() if proc.stderr else ""
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert "Traceback" not in err and "terminated" in err
        assert _gone_within(child, 15), "the service outlived the pilot"
    finally:
        for pid in (proc.pid, child):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_service_whose_pilot_was_killed_stops_by_itself(tmp_path: Path) -> None:
    proc, child = _start_pilot(tmp_path)
    try:
        proc.kill()  # SIGKILL: the pilot runs no cleanup at all
        proc.wait(timeout=10)
        assert _gone_within(child, 20), "the orphaned service kept running"
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)
