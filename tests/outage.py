"""A database outage under load, measured: a real `accessrl serve` subprocess, client threads that
open requests with idempotency keys and retry each until it is acknowledged, a poller of
``/healthz``, and a fault put on the database in the middle (a PostgreSQL cluster stopped and
started, a file system filled and freed).

Used by the fault tests (which assert on the counts) and by ``benchmarks/bench_faults.py``
(which records them).  Every acknowledged request is looked up in the database afterwards:
lost = acknowledged but not stored under the acknowledged decision id, duplicated = stored
more than once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

import accessrl

MODEL = "catalog:access-review-abandonment"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class OutageResult:
    """What an outage under load did."""

    acknowledged: int
    lost: int
    duplicated: int
    refused_503: int
    retry_after_missing: int
    other_errors: tuple[str, ...]
    health_during: tuple[str, ...]
    """Distinct ``/healthz`` answers while the fault lasted (status code and status word)."""
    recovery_seconds: float
    """From the end of the fault to the first acknowledged write after it."""
    outage_seconds: float
    tracebacks: int
    server_log: str = field(repr=False)


class Service:
    """`accessrl serve` as a subprocess in its own session (killed as a group)."""

    def __init__(self, db: str, *, workers: int = 1, log: Path, extra: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        src = str(Path(accessrl.__file__).resolve().parents[1])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p))
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "accessrl", "serve", MODEL, "--policy", "optimal", "--db", db,
             "--port", str(self.port), "--workers", str(workers), "--seed", "5", "--reload-every", "0.5", *extra],
            env=env, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        seen: set[int] = set()
        while len(seen) < workers:
            if self.proc.poll() is not None:
                raise AssertionError("the service exited: " + log.read_text(errors="replace")[-2000:])
            if time.monotonic() > deadline:
                self.close()
                raise AssertionError("the service did not start: " + log.read_text(errors="replace")[-2000:])
            try:
                r = httpx.get(f"{self.base}/healthz", headers={"Connection": "close"}, timeout=2)
                if r.status_code == 200:
                    seen.add(r.json()["process"])
            except httpx.HTTPError:
                pass
            time.sleep(0.1)

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        self._out.close()


def run_outage(db: str, fault: Callable[[], None], heal: Callable[[], None], *, log: Path, workers: int = 1,
               clients: int = 4, before: float = 1.5, during: float = 3.0, after: float = 3.0,
               count_rows: Callable[[], dict[str, str]]) -> OutageResult:
    """Load the service, ``fault()``, wait ``during`` seconds, ``heal()``, keep loading ``after`` seconds.

    ``count_rows()`` returns the stored live decisions as ``{request id: decision id}`` (read after
    the service stopped); duplicates are counted by the caller's query too (see :func:`live_rows`)."""
    service = Service(db, workers=workers, log=log)
    acked: dict[str, str] = {}
    lock = threading.Lock()
    stop = threading.Event()
    refused = [0, 0]  # 503s, 503s without Retry-After
    errors: list[str] = []
    healed_at: list[float] = []
    first_after: list[float] = []
    faulty = threading.Event()
    health: set[str] = set()

    def client(c: int) -> None:
        with httpx.Client(base_url=service.base, timeout=10.0) as h:
            i = 0
            while not stop.is_set():
                key = f"c{c}-{i}"
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        r = h.post("/v1/requests", json={"requester_id": f"u{c}", "request_id": key},
                                   headers={"Idempotency-Key": key})
                    except httpx.HTTPError:
                        time.sleep(0.05)
                        continue
                    if r.status_code == 201:
                        with lock:
                            acked[key] = r.json()["decision"]["decision_id"]
                            if healed_at and not first_after and time.monotonic() > healed_at[0]:
                                first_after.append(time.monotonic())
                        break
                    if r.status_code == 503:
                        with lock:
                            refused[0] += 1
                            refused[1] += "retry-after" not in r.headers
                        time.sleep(0.1)
                        continue
                    with lock:
                        errors.append(f"{key}: {r.status_code} {r.text[:120]}")
                    time.sleep(0.1)
                i += 1

    def poll_health() -> None:
        with httpx.Client(base_url=service.base, timeout=5.0) as h:
            while not stop.is_set():
                if faulty.is_set():
                    try:
                        r = h.get("/healthz")
                        body = r.json()
                        health.add(f"{r.status_code} {body.get('status')} "
                                   f"{'database' if body.get('database') else ''}".strip())
                    except (httpx.HTTPError, ValueError):
                        pass
                time.sleep(0.2)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    threads.append(threading.Thread(target=poll_health))
    for t in threads:
        t.start()
    try:
        time.sleep(before)
        t0 = time.monotonic()
        fault()
        faulty.set()
        time.sleep(during)
        faulty.clear()
        heal()
        healed_at.append(time.monotonic())
        outage = healed_at[0] - t0
        time.sleep(after)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=90)
        service.close()
    text = service.log.read_text(errors="replace")
    stored = count_rows()
    lost = sum(1 for k, ev in acked.items() if stored.get(k) != ev)
    duplicated = int(stored.get("__duplicates__", "0"))
    recovery = (first_after[0] - healed_at[0]) if first_after else float("inf")
    return OutageResult(len(acked), lost, duplicated, refused[0], refused[1], tuple(errors[:5]),
                        tuple(sorted(health)), recovery, outage, text.count("Traceback"), text)


def live_rows(url: str) -> dict[str, str]:
    """Stored live decisions ``{episode id: event id}``, plus ``"__duplicates__"``: live decisions
    beyond one per episode at step 0 (each request opened once has exactly one)."""
    import sqlalchemy as sa

    from accessrl.storage.writepath import decision_snapshots, open_engine

    engine = open_engine(url)
    try:
        d = decision_snapshots.c
        with engine.connect() as conn:
            rows = conn.execute(sa.select(d.episode_id, d.event_id).where(d.mode == "live", d.step_index == 0)).all()
    finally:
        engine.dispose()
    out = {ep: ev for ep, ev in rows}
    out["__duplicates__"] = str(len(rows) - len({ep for ep, _ in rows}))
    return out
