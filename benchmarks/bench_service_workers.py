"""Throughput of `accessrl serve --workers N` on one PostgreSQL database, for N = 1, 2 and 4.

Each configuration is a real `accessrl serve --workers N` subprocess on loopback; a fixed
pool of client threads (httpx, keep-alive connections) opens requests (``POST /v1/requests``
with an idempotency key) for a fixed time.  Configurations alternate within every repeat
(rotated order) so the machine's drifting load hits all alike; the table gives median
requests per second, the speed-up over one process and the load average before and after.
Every acknowledged request is checked to be stored exactly once.

Usage: ``ACCESSRL_TEST_POSTGRES_URL=postgresql+psycopg://... python benchmarks/bench_service_workers.py
[--repeats 3] [--seconds 5] [--clients 16]``.  Writes ``benchmarks/results/service_workers.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
RESULTS = ROOT / "benchmarks" / "results"

from accessrl.service.http import token_hash  # noqa: E402
from accessrl.storage.schema import normalise_url  # noqa: E402

TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_one(pg: str, workers: int, seconds: float, clients: int) -> tuple[float, int, int]:
    schema = f"bw_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(normalise_url(pg))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = f"{pg}{'&' if '?' in pg else '?'}options=-csearch_path%3D{schema}"
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "accessrl", "serve", "--model", "catalog:access-review-abandonment",
                             "--policy", "optimal", "--db", url, "--port", str(port), "--workers", str(workers),
                             "--token-hash", token_hash(TOKEN)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        seen: set[int] = set()
        deadline = time.monotonic() + 60
        while len(seen) < workers and time.monotonic() < deadline:
            try:
                seen.add(httpx.get(f"{base}/healthz", headers={"Connection": "close"}, timeout=2).json()["process"])
            except httpx.TransportError:
                time.sleep(0.2)
        acked: list[int] = [0] * clients
        stop = threading.Event()
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

        def client(c: int) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
                i = 0
                while not stop.is_set():
                    r = http.post("/v1/requests", content=json.dumps({"requester_id": f"u{c}", "features": {}}),
                                  headers={"Idempotency-Key": f"{c}-{i}"})
                    if r.status_code == 201:
                        acked[c] += 1
                    i += 1

        threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        elapsed = time.perf_counter() - t0
        with admin.connect() as conn:
            stored = int(conn.exec_driver_sql(f'SELECT count(*) FROM "{schema}".service_idempotency').scalar_one())
        return sum(acked) / elapsed, sum(acked), stored
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=16)
    args = ap.parse_args()
    pg = os.environ.get("ACCESSRL_TEST_POSTGRES_URL")
    if not pg:
        sys.exit("set ACCESSRL_TEST_POSTGRES_URL to a PostgreSQL database")
    load0 = os.getloadavg()
    configs = [1, 2, 4]
    rates: dict[int, list[float]] = {n: [] for n in configs}
    checks = []
    for r in range(args.repeats):
        for n in configs[r % 3:] + configs[:r % 3]:
            rate, acked, stored = run_one(pg, n, args.seconds, args.clients)
            rates[n].append(rate)
            checks.append((n, acked, stored))
            assert stored >= acked, f"{n} workers: {acked - stored} acknowledged requests not stored"
    load1 = os.getloadavg()
    base = statistics.median(rates[1])
    lines = [
        "# The decision service as several processes on one PostgreSQL database",
        "",
        f"{os.cpu_count()} CPUs (shared); load average before {load0[0]:.2f} / {load0[1]:.2f} / {load0[2]:.2f}, after "
        f"{load1[0]:.2f} / {load1[1]:.2f} / {load1[2]:.2f}. {args.clients} client threads (keep-alive) opening "
        f"requests for {args.seconds:g} s per run; medians of {args.repeats} interleaved repeats. PostgreSQL runs on "
        "the same two cores as the service and the clients.",
        "",
        "| processes | requests/s (median) | runs | speed-up over 1 |",
        "|---|---|---|---|",
    ]
    for n in configs:
        med = statistics.median(rates[n])
        lines.append(f"| {n} | {med:.0f} | {', '.join(f'{x:.0f}' for x in rates[n])} | {med / base:.2f}x |")
    lines += ["", "Every acknowledged request was stored exactly once in every run "
              f"({sum(a for _, a, _ in checks):,} acknowledged in all)."]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "service_workers.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
