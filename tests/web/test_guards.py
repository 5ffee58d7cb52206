"""The shared guards on a server of their own (any new accessrl server gets exactly this by being
built with :func:`accessrl.web.guards.guarded_app`), and the bounded pool of worker processes."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from accessrl.errors import UnavailableError  # noqa: E402
from accessrl.web.compute import ComputeLimit, ComputePool  # noqa: E402
from accessrl.web.guards import GuardConfig, guarded_app  # noqa: E402

BASE = "http://127.0.0.1:9000"


def _app(**cfg):
    app = guarded_app(GuardConfig(request_timeout=cfg.pop("request_timeout", 5.0), **cfg))

    @app.get("/down")
    def down():
        raise UnavailableError("database 'x': unavailable (connection refused)", "connection refused")

    @app.get("/boom")
    def boom():
        raise RuntimeError("line one\nline two")

    @app.get("/slow")
    async def slow():
        await asyncio.sleep(30)

    @app.post("/write")
    async def write():
        return {"ok": True}

    return app


def test_failures_are_one_line_with_the_right_status(caplog):
    with TestClient(_app(), base_url=BASE, raise_server_exceptions=False) as c, \
            caplog.at_level(logging.ERROR, logger="accessrl.web"):
        r = c.get("/down")
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert r.json()["detail"].startswith("database 'x': unavailable (connection refused)")
        r = c.get("/boom")
        assert r.status_code == 500 and r.json() == {"detail": "internal error (RuntimeError: line one)"}
    lines = [rec.getMessage() for rec in caplog.records]
    assert lines == ["accessrl: GET /boom failed: RuntimeError: line one"]
    assert not any(rec.exc_info for rec in caplog.records)  # no traceback logged


def test_a_request_past_its_time_limit_is_answered_at_once():
    with TestClient(_app(request_timeout=0.5), base_url=BASE) as c:
        t0 = time.monotonic()
        r = c.get("/slow")
        assert r.status_code == 503 and "0.5 s" in r.json()["detail"]
        assert time.monotonic() - t0 < 5


def test_with_tokens_the_token_is_checked_first_and_hosts_are_free():
    app = _app(authorised=lambda h: h == "Bearer t", token_paths=("/write",), max_body=10)
    with TestClient(app, base_url="http://proxy.example") as c:
        assert c.post("/write", content=b"x" * 100).status_code == 401  # before the body limit
        assert c.post("/write", content=b"x" * 100, headers={"Authorization": "Bearer t"}).status_code == 413
        assert c.post("/write", json={}, headers={"Authorization": "Bearer t"}).status_code == 200
        two = [("Authorization", "Bearer t"), ("Authorization", "Bearer u")]
        assert c.post("/write", json={}, headers=two).status_code == 400


def test_without_tokens_the_rules_for_web_pages_apply():
    with TestClient(_app(), base_url=BASE) as c:
        assert c.post("/write", json={}).status_code == 200
        assert c.post("/write", json={}, headers={"Host": "rebound.example"}).status_code == 421
        assert c.post("/write", content=b"{}", headers={"Content-Type": "text/plain"}).status_code == 415
        assert c.post("/write", json={}, headers={"Origin": "http://127.0.0.1:9001"}).status_code == 403


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def _run_in_own_thread(coro: Any) -> None:
    """asyncio.run in a thread of its own: a session-scoped Playwright browser (the studio's browser
    tests) keeps an event loop running in the main thread, where asyncio.run refuses to start."""
    errors: list[BaseException] = []

    def main() -> None:
        try:
            asyncio.run(coro)
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    t = threading.Thread(target=main)
    t.start()
    t.join(timeout=120)
    assert not t.is_alive(), "the scenario did not finish within 120 s"
    if errors:
        raise errors[0]


def test_the_pool_stops_work_past_its_limit_and_refuses_when_full():
    pool = ComputePool(workers=1, queue=0, timeout=0.5)

    async def scenario() -> None:
        assert await pool.run(_sleep, 0.01) == 0.01
        with pytest.raises(ComputeLimit, match="stopped after the limit of 0.5 s"):
            await pool.run(_sleep, 30)
        first = asyncio.ensure_future(pool.run(_sleep, 0.3))
        await asyncio.sleep(0.05)
        with pytest.raises(ComputeLimit, match="busy") as info:
            await pool.run(_sleep, 0.01)
        assert info.value.retry_after is not None
        assert await first == 0.3  # a new worker replaced the killed one

    try:
        _run_in_own_thread(scenario())
    finally:
        pool.close()
    assert pool.stopped == 1
