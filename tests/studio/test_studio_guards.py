"""The studio is as guarded as the service, by construction: the shared guards of
:mod:`accessrl.web.guards` sit in front of every route it has (the test walks the routes, so a
route added later is checked too), CPU-heavy work runs in worker processes with a time limit,
and one hostile request does not hold up the others.

(Before: `curl -H 'Host: evil.example' .../api/engineer` returned the decision-log view (DNS
rebinding); a cross-origin text/plain POST to /api/exercise/1 wrote progress; a 146 KB spec
delayed every other request by 2-4 s, a 0.8 MB spec with 20,000 actions blocked the studio for
~11 minutes, an 80 MB spec reached 2.8 GB; half-sent bodies were held open > 30 s; a lone
surrogate, deeply nested JSON or a 400-digit number gave 500.)"""

from __future__ import annotations

import json
import os
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("jinja2")
pytest.importorskip("pebble")
httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")
from fastapi.testclient import TestClient  # noqa: E402
from starlette.routing import Mount, Route  # noqa: E402

from accessrl.studio.app import MAX_BODY, StudioConfig, create_app  # noqa: E402
from accessrl.web.server import uvicorn_options  # noqa: E402
from databases import fill_demo_log  # noqa: E402

HOME = "http://127.0.0.1:8765"
LATENCY_LOG = os.environ.get("ACCESSRL_FAULT_LOG")


@pytest.fixture
def studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("ACCESSRL_DATA_DIR", str(tmp_path / "progress"))
    db = str(tmp_path / "log.db")
    fill_demo_log(db)
    with TestClient(create_app(StudioConfig(db=db, data_dir=tmp_path / "progress", compute_timeout=30.0)),
                    base_url=HOME) as c:
        yield c


def _routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route, path parameters filled in."""
    out = []
    for r in app.routes:
        if isinstance(r, Mount):
            out.append(("GET", f"{r.path}/studio.css"))
        elif isinstance(r, Route):
            path = r.path.replace("{name}", "returns").replace("{n}", "1").replace("{path}", "x")
            for m in sorted(r.methods or {"GET"}):
                if m != "HEAD":
                    out.append((m, path))
    return out


def test_every_route_refuses_a_foreign_host(studio: TestClient) -> None:
    routes = _routes(studio.app)
    assert ("GET", "/api/engineer") in routes and ("POST", "/api/exercise/1") in routes
    for method, path in routes:
        r = studio.request(method, path, headers={"Host": "evil.example"}, json={})
        assert r.status_code == 421, (method, path, r.status_code)
        assert "evil.example" in r.json()["error"]
    ok = studio.get("/api/engineer", headers={"Host": "localhost:8765"})
    assert ok.status_code == 200, ok.text


def test_no_route_changes_anything_for_another_site(studio: TestClient, tmp_path: Path) -> None:
    posts = [(m, p) for m, p in _routes(studio.app) if m not in ("GET", "HEAD", "OPTIONS")]
    assert posts
    cases = [({"Content-Type": "text/plain"}, 415),
             ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
             ({"Content-Type": "application/json", "Origin": "https://evil.example"}, 403),
             ({"Content-Type": "application/json", "Origin": "null"}, 403),
             ({"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403)]
    for method, path in posts:
        for headers, status in cases:
            r = studio.request(method, path, content=b'{"answer": "x"}', headers=headers)
            assert r.status_code == status, (path, headers, r.status_code, r.text)
    assert not (tmp_path / "progress").exists() or not any((tmp_path / "progress").iterdir())
    same = studio.post("/api/lab/returns", json={}, headers={"Origin": HOME})
    assert same.status_code == 200


@pytest.mark.parametrize("header", ["Host", "Origin", "Content-Type"])
def test_a_header_given_twice_is_refused(studio: TestClient, header: str) -> None:
    values = {"Host": ("127.0.0.1:8765", "evil.example"), "Origin": (HOME, "https://evil.example"),
              "Content-Type": ("application/json", "text/plain")}[header]
    others = [(k, v) for k, v in (("Host", "127.0.0.1:8765"), ("Content-Type", "application/json")) if k != header]
    r = studio.post("/api/lab/returns", content=b"{}", headers=[*others, (header, values[0]), (header, values[1])])
    assert r.status_code == 400 and "more than once" in r.json()["error"], r.text


@pytest.mark.parametrize("raw, needle", [
    (b'{"text": "\\ud800"}', "surrogate"),
    (b'{"a":' * 200 + b"1" + b"}" * 200, "deep"),
    (b'{"episodes": ' + b"9" * 400 + b"}", "strict JSON"),
    (b'{"episodes": NaN}', "strict JSON"),
    (b'\xff\xfe', "strict JSON"),
])
def test_hostile_json_is_one_line_not_500(studio: TestClient, raw: bytes, needle: str) -> None:
    for path in ("/api/lab/q-learning", "/api/editor/solve", "/api/quiz/check", "/api/exercise/1"):
        r = studio.post(path, content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, (path, r.status_code, r.text)
        msg = r.json()["error"]
        assert msg.startswith("accessrl: error: request body") and "\n" not in msg
        assert needle in msg or needle == "deep" and ("nested" in msg or "depth" in msg), msg


def test_bodies_past_the_limit_are_413(studio: TestClient) -> None:
    big = json.dumps({"text": "x" * (MAX_BODY + 1)}).encode()
    r = studio.post("/api/editor/solve", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and str(MAX_BODY) in r.json()["error"]


def test_the_editor_caps_the_model_it_solves(studio: TestClient) -> None:
    lines = ["gamma: 0.9", "terminal: [done]", "transitions:"]
    lines += [f"  s{i}: {{go: [{{next: {'done' if i == 1199 else f's{i + 1}'}, p: 1, reward: 1}}]}}" for i in range(1200)]
    r = studio.post("/api/editor/solve", json={"text": "\n".join(lines)})
    assert r.status_code == 200 and r.json()["ok"] is False
    assert "at most 1,000 states" in r.json()["error"]


def test_work_past_its_time_limit_is_stopped_and_the_pool_recovers(tmp_path: Path) -> None:
    with TestClient(create_app(StudioConfig(data_dir=tmp_path, compute_timeout=1.0)), base_url=HOME) as c:
        assert c.post("/api/lab/returns", json={}).status_code == 200  # the workers are up
        t0 = time.monotonic()
        r = c.post("/api/editor/solve", json={"text": _hostile_spec(3000)})
        assert r.status_code == 503 and "stopped after the limit of 1 s" in r.json()["error"], r.text
        assert time.monotonic() - t0 < 30
        assert c.post("/api/lab/returns", json={}).status_code == 200  # a new worker took its place


def _hostile_spec(actions: int) -> str:
    """Two states and ``actions`` actions with two outcomes each: within the body limit and the size
    cap, heavy to parse, solve and draw."""
    outs = "[{next: b, p: 0.5, reward: 1}, {next: a, p: 0.5, reward: -1}]"
    body = "\n".join(f"    x{i}: {outs}" for i in range(actions))
    return f"gamma: 0.9\nterminal: [b]\ntransitions:\n  a:\n{body}\n"


@contextmanager
def served(tmp_path: Path, **cfg) -> Iterator[str]:
    """The studio behind a real uvicorn (the same protocol options as `accessrl studio`)."""
    app = create_app(StudioConfig(data_dir=tmp_path, **cfg))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **uvicorn_options()))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the studio did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


def test_a_half_sent_body_is_timed_out(tmp_path: Path) -> None:
    with served(tmp_path, body_timeout=0.5) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"POST /api/lab/returns HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1000\r\n\r\n{")
            s.settimeout(10)
            t0 = time.monotonic()
            reply = s.recv(4096)
            assert reply.startswith(b"HTTP/1.1 408"), reply[:100]
            assert time.monotonic() - t0 < 5


def _timed(client: httpx.Client, method: str, path: str, **kw) -> float:
    t0 = time.perf_counter()
    r = client.request(method, path, **kw)
    assert r.status_code == 200, (path, r.status_code, r.text[:200])
    return time.perf_counter() - t0


def test_one_hostile_request_does_not_hold_up_the_others(tmp_path: Path) -> None:
    """Normal requests (a page, a quiz question, a small lab) timed alone and while a hostile
    spec is being solved: the median added delay stays under 200 ms (the issue's bound; the
    figures go to the fault log when ACCESSRL_FAULT_LOG is set)."""
    normal = [("GET", "/quiz", {}), ("GET", "/api/quiz", {}), ("POST", "/api/lab/returns", {"json": {}}),
              ("POST", "/api/lab/bellman-backup", {"json": {}})]
    with served(tmp_path, compute_timeout=60.0) as url, httpx.Client(base_url=url, timeout=30) as h:
        for m, p, kw in normal:  # warm: workers up, templates compiled
            _timed(h, m, p, **kw)
        alone = [_timed(h, m, p, **kw) for _ in range(5) for m, p, kw in normal]
        hostile_done = threading.Event()
        hostile_status: list[int] = []

        def hostile() -> None:
            with httpx.Client(base_url=url, timeout=90) as hc:
                hostile_status.append(hc.post("/api/editor/solve", json={"text": _hostile_spec(4900)}).status_code)
            hostile_done.set()

        t = threading.Thread(target=hostile)
        t.start()
        time.sleep(0.5)  # the hostile solve is running in a worker
        during = []
        while not hostile_done.is_set() and len(during) < 40:
            during += [_timed(h, m, p, **kw) for m, p, kw in normal]
        still_running = not hostile_done.is_set()
        t.join(timeout=120)
    delay = statistics.median(during) - statistics.median(alone)
    if LATENCY_LOG:
        with open(LATENCY_LOG, "a") as f:
            f.write(json.dumps({"studio": "normal request during a hostile solve", "alone_median_s":
                                statistics.median(alone), "during_median_s": statistics.median(during),
                                "during_max_s": max(during), "requests": len(during),
                                "hostile_still_running": still_running, "load": os.getloadavg()[0]}) + "\n")
    assert hostile_status and hostile_status[0] in (200, 503), hostile_status  # sent whole (not 431), solved or stopped
    assert len(during) >= 8, "the hostile request ended before it could be measured against"
    assert delay < 0.2, (statistics.median(alone), statistics.median(during), max(during))
