"""Fixtures of the browser tests: the studio served by uvicorn on a free loopback port (in a thread),
and Debian's Chromium driven headless by Playwright.

Without Playwright or ``/usr/bin/chromium`` the browser tests skip locally, but fail under
``CI=true``: CI must run them (``.ci/run`` installs Chromium).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from databases import fill_demo_log, import_bpic_excerpt

CHROMIUM = os.environ.get("ACCESSRL_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but the browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def _fill_log(url: str) -> None:
    fill_demo_log(url, requests=400, reason="accessrl serve --policy always_review.yaml")


def _serve(db: str, root: Path) -> Iterator[str]:
    """The studio on ``db`` served by uvicorn on a free loopback port, in a thread."""
    try:
        import uvicorn

        from accessrl.studio.app import StudioConfig, create_app
    except ImportError as exc:
        _unavailable(f'the studio needs its extra: pip install "accessrl[studio]" ({exc})')

    app = create_app(StudioConfig(db=db, data_dir=root / "progress"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the studio did not start within 20 s")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="session")
def studio_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The studio with a small decision log, its progress in a temporary directory."""
    root = tmp_path_factory.mktemp("studio")
    db = str(root / "decisions.db")
    _fill_log(db)
    yield from _serve(db, root)


@pytest.fixture(scope="session")
def imported_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The BPIC 2012 excerpt imported into SQLite: five months of a real log, abandonments, no deployment."""
    db = str(tmp_path_factory.mktemp("imported") / "bpic.db")
    import_bpic_excerpt(db)
    return db


@pytest.fixture(scope="session")
def imported_studio_url(imported_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The studio on :func:`imported_db`."""
    yield from _serve(imported_db, tmp_path_factory.mktemp("imported-studio"))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable('Playwright is not installed: pip install "accessrl[test]"')
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    # No sandbox: Chromium's sandbox needs root-less user namespaces that CI containers often lack (and
    # refuses to run as root with it); the browser only ever loads this test's own loopback studio.
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, studio_url: str) -> Iterator[Any]:
    """A fresh page; any console error or uncaught exception on it fails the test."""
    yield from _page(browser, studio_url)


@pytest.fixture(params=[1280, 420], ids=["1280px", "420px"])
def imported_page(request: pytest.FixtureRequest, browser: Any, imported_studio_url: str) -> Iterator[Any]:
    """A fresh page of the studio on the imported log, at a wide and a narrow window."""
    yield from _page(browser, imported_studio_url, width=request.param)


def _page(browser: Any, base_url: str, width: int = 1100) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": width, "height": 900}, base_url=base_url)
    context.set_default_timeout(30_000)  # generous: a loaded machine starts compute workers slowly
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.problems = problems
    yield pg
    context.close()
    assert not problems, problems
