"""`accessrl serve --workers N`: several service processes on one PostgreSQL database.

A real `accessrl serve --workers 2` subprocess on loopback: two clients retrying the same
idempotency key on different processes store one row; a deployment written to the database
reaches every process; kill -9 of one worker under load loses no acknowledged write and
duplicates none.  Bounded to a few seconds each.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason='the decision service needs the [serve] extra: pip install "accessrl[serve]"')
httpx = pytest.importorskip("httpx")

import accessrl  # noqa: E402
from accessrl.service.http import token_hash  # noqa: E402
from cli_checks import one_error_line  # noqa: E402
from databases import postgres_schema  # noqa: E402

PG_URL = os.environ.get("ACCESSRL_TEST_POSTGRES_URL")
needs_pg = [pytest.mark.postgres, pytest.mark.skipif(not PG_URL and os.environ.get("CI") != "true",
                                                     reason="set ACCESSRL_TEST_POSTGRES_URL to run the PostgreSQL tests")]
TOKEN = "workers-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json", "Connection": "close"}
MODEL = "catalog:access-review-abandonment"


def test_several_workers_need_postgresql(tmp_path):
    from typer.testing import CliRunner

    from accessrl.cli import app

    runner = CliRunner()
    base = ["serve", "--model", MODEL, "--policy", "optimal"]
    one_error_line(runner.invoke(app, [*base, "--db", str(tmp_path / "x.db"), "--workers", "2"]), "--workers",
                   "PostgreSQL", code=2)
    one_error_line(runner.invoke(app, [*base, "--db", str(tmp_path / "x.db"), "--workers", "0"]), "--workers", code=2)
    assert not (tmp_path / "x.db").exists()


@pytest.fixture
def pg_schema_url():
    with postgres_schema("wk") as made:
        yield made


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`accessrl serve --workers N` as a subprocess (its own process group, killed at the end)."""

    def __init__(self, url: str, workers: int) -> None:
        self.port = _free_port()
        src = str(Path(accessrl.__file__).resolve().parents[1])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "accessrl", "serve", "--model", MODEL, "--policy", "optimal", "--db", url,
             "--port", str(self.port), "--workers", str(workers), "--token-hash", token_hash(TOKEN), "--seed", "3"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while len(self.processes(8)) < workers:
            assert self.proc.poll() is None, self.proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "workers did not all start"
            time.sleep(0.2)

    def processes(self, tries: int) -> set[int]:
        seen = set()
        for _ in range(tries):
            try:
                r = httpx.get(f"{self.base}/healthz", headers={"Connection": "close"}, timeout=2)
                seen.add(r.json()["process"])
            except httpx.TransportError:
                pass
        return seen

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def _count(admin, schema: str, table: str) -> int:
    with admin.connect() as conn:
        return int(conn.exec_driver_sql(f'SELECT count(*) FROM "{schema}".{table}').scalar_one())


@pytest.mark.parametrize("_", [pytest.param(None, marks=needs_pg)])
def test_one_row_per_key_across_processes_and_deployments_reach_every_process(_, pg_schema_url):
    url, admin, schema = pg_schema_url
    server = Server(url, workers=2)
    try:
        assert len(server.processes(20)) == 2
        keys = [f"k{i:03d}" for i in range(30)]
        replies: dict[str, list] = {k: [] for k in keys}

        def send(key: str) -> None:
            body = json.dumps({"requester_id": f"u-{key}", "features": {"tier": 1}})
            r = httpx.post(f"{server.base}/v1/requests", content=body, headers={**AUTH, "Idempotency-Key": key},
                           timeout=10)
            replies[key].append((r.status_code, r.text))

        threads = [threading.Thread(target=send, args=(k,)) for k in keys for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        for k in keys:
            (s1, b1), (s2, b2) = replies[k]
            assert (s1, s2) == (201, 201) and b1 == b2  # the retry on the other process got the stored reply
        assert _count(admin, schema, "service_idempotency") == len(keys)
        assert _count(admin, schema, "service_episodes") == len(keys)
        assert _count(admin, schema, "decision_snapshots") == len(keys)

        # A promotion written to the database (as `accessrl promote` writes it) reaches every process.
        from accessrl.service.workers import ServeOptions, service_config
        from accessrl.storage.writepath import Store, open_engine

        cand = Path(os.environ.get("TMPDIR", "/tmp")) / f"cand-{schema}.yaml"
        cand.write_text("new_request: request_evidence\nevidence_ready: auto_approve\n"
                        "review_queue: approve_rotation\n")
        new = service_config(ServeOptions(model=MODEL, policy=str(cand), db=url)).policy
        store = Store(open_engine(url))
        dep = store.deployments()[-1]
        store.deploy({**{k: dep[k] for k in ("role", "model_spec")}, "policy_id": new.policy_id,
                      "policy_version": new.version, "policy": json.dumps(new.mapping),
                      "deployed_at": dep["deployed_at"], "reason": "test promotion"})
        store.close()
        cand.unlink()
        deadline = time.monotonic() + 20
        seen: dict[int, str] = {}
        while time.monotonic() < deadline:
            r = httpx.get(f"{server.base}/v1/policies", headers=AUTH, timeout=5)
            h = httpx.get(f"{server.base}/healthz", headers={"Connection": "close"}, timeout=5)
            del h
            seen[len(seen)] = r.json()["deployed"]["version"]
            if sum(v == new.version for v in list(seen.values())[-10:]) == 10:
                break
            time.sleep(0.1)
        assert list(seen.values())[-10:] == [new.version] * 10, "not every process picked up the deployment"
    finally:
        server.close()


@pytest.mark.parametrize("_", [pytest.param(None, marks=needs_pg)])
def test_kill_9_of_one_worker_loses_no_acknowledged_write(_, pg_schema_url):
    url, admin, schema = pg_schema_url
    server = Server(url, workers=2)
    acked: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def client(c: int) -> None:
        i = 0
        while not stop.is_set():
            key = f"c{c}-{i}"
            body = json.dumps({"requester_id": f"u{c}", "features": {"n": i}})
            for _attempt in range(50):  # retry the same key until it is acknowledged
                try:
                    r = httpx.post(f"{server.base}/v1/requests", content=body,
                                   headers={**AUTH, "Idempotency-Key": key}, timeout=5)
                except httpx.TransportError:
                    time.sleep(0.05)
                    continue
                if r.status_code == 201:
                    with lock:
                        acked.add(key)
                    break
                time.sleep(0.05)
            i += 1

    try:
        pids = server.processes(20)
        assert len(pids) == 2
        threads = [threading.Thread(target=client, args=(c,)) for c in range(6)]
        for t in threads:
            t.start()

        def wait_for(n: int) -> int:  # progress, not a fixed time: a loaded machine acknowledges slower
            deadline = time.monotonic() + 120
            while len(acked) < n and time.monotonic() < deadline:
                time.sleep(0.05)
            return len(acked)

        before = wait_for(25)
        assert before >= 25, f"only {before} writes acknowledged in 120 s before the kill"
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        after = wait_for(before + 25)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert after >= before + 25, f"only {after - before} writes acknowledged in 120 s after the kill"
        with admin.connect() as conn:
            stored = [r[0].removeprefix("open:") for r in  # keys are stored per operation
                      conn.exec_driver_sql(f'SELECT key FROM "{schema}".service_idempotency')]
        assert len(stored) == len(set(stored))  # no key twice
        assert acked <= set(stored), f"{len(acked - set(stored))} acknowledged writes lost"
        assert _count(admin, schema, "service_episodes") == len(stored)  # one request per stored key
        assert victim not in server.processes(20)  # the manager replaced the killed worker
    finally:
        stop.set()
        server.close()
