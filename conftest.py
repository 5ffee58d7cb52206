"""Repository-level pytest configuration: doctest collection without the optional extras, and
the PostgreSQL and browser tests discovered, counted and (under ``CI=true``) required.

``--doctest-modules`` (pyproject addopts) imports every module under ``src/accessrl``; a module
built on an extra that is not installed would fail to import (a DependencyError naming the
extra), so it is left out of collection instead.  The tests of those extras skip with a reason
(``pytest.importorskip`` in their test files).
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from typing import Any

import pytest


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True


EXTRA_MODULES = {
    "torch": ["src/accessrl/llm/*.py"],
    "gymnasium": ["src/accessrl/envs.py"],
    "fastapi": ["src/accessrl/service/http.py", "src/accessrl/service/schemas.py", "src/accessrl/studio/app.py"],
    "fastapi_offline": ["src/accessrl/service/http.py"],
    "prometheus_client": ["src/accessrl/service/metrics.py", "src/accessrl/service/decisions.py",
                          "src/accessrl/service/http.py"],
    "jinja2": ["src/accessrl/studio/app.py"],
}
"""Modules whose doctests need an optional import at module level, by that import."""

collect_ignore_glob = [pattern for module, patterns in EXTRA_MODULES.items() if _missing(module)
                       for pattern in patterns]


# --- PostgreSQL and the browser: discovered, counted, and required in CI -----------------------
#
# The PostgreSQL tests run whenever a server is reachable: ``ACCESSRL_TEST_POSTGRES_URL`` names a
# database to use, else a server at 127.0.0.1:5432 (user postgres, trust or PG* environment
# authentication) is discovered and a scratch database is created for this run and dropped after
# it.  ``ACCESSRL_TEST_POSTGRES=off`` turns them off.  This happens when this file is imported,
# before any test module reads the variable.  The run ends with one line for PostgreSQL and one
# for the browser tests saying whether they ran and why not; under ``CI=true`` a run in which
# either did not run fails (.ci/run sets it).

REQUIRED = os.environ.get("CI", "").lower() == "true"
DISCOVER_AT = ("127.0.0.1", 5432)


class _Postgres:
    url: str | None = None
    why: str = ""
    scratch: str | None = None  # the database this run created (dropped at the end)
    admin_dsn: str = ""


def _discover_postgres() -> None:
    given = os.environ.get("ACCESSRL_TEST_POSTGRES_URL")
    if given:
        _Postgres.url, _Postgres.why = given, "ACCESSRL_TEST_POSTGRES_URL"
        return
    if os.environ.get("ACCESSRL_TEST_POSTGRES", "").lower() == "off":
        _Postgres.why = "ACCESSRL_TEST_POSTGRES=off"
        return
    try:
        import psycopg
    except ImportError:
        _Postgres.why = 'psycopg is not installed (pip install "accessrl[postgres]")'
        return
    host, port = DISCOVER_AT
    _Postgres.admin_dsn = f"host={host} port={port} dbname=postgres connect_timeout=3"
    if not os.environ.get("PGUSER"):
        _Postgres.admin_dsn += " user=postgres"
    name = f"accessrl_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(_Postgres.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        _Postgres.why = (f"no usable server at {host}:{port} ({first}); set ACCESSRL_TEST_POSTGRES_URL "
                         "to a database you may create schemas in")
        return
    user = "" if os.environ.get("PGUSER") else "postgres@"
    _Postgres.url = f"postgresql+psycopg://{user}{host}:{port}/{name}"
    _Postgres.scratch, _Postgres.why = name, f"scratch database {name} at {host}:{port}, dropped after the run"
    os.environ["ACCESSRL_TEST_POSTGRES_URL"] = _Postgres.url


def _drop_scratch() -> None:
    if _Postgres.scratch is None:
        return
    import psycopg

    try:
        with psycopg.connect(_Postgres.admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{_Postgres.scratch}" WITH (FORCE)')
    except psycopg.Error as exc:  # a leftover database is worth one line, not a failed run
        print(f"PostgreSQL: could not drop the scratch database {_Postgres.scratch}: {exc}")
    _Postgres.scratch = None


if os.environ.get("PYTEST_XDIST_WORKER") is None:
    _discover_postgres()

_RAN: dict[str, int] = {"postgres": 0, "browser": 0}
_SKIPPED: dict[str, list[str]] = {"postgres": [], "browser": []}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Chromium through Playwright")
    if REQUIRED and _Postgres.url is None:
        raise pytest.UsageError(f"CI=true but the PostgreSQL tests cannot run: {_Postgres.why}")


def pytest_unconfigure(config: pytest.Config) -> None:
    _drop_scratch()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for kind in _RAN:
        if kind not in report.keywords:
            continue
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            _SKIPPED[kind].append(str(reason).removeprefix("Skipped: "))
        elif report.when == "call":
            _RAN[kind] += 1


def _lines() -> list[str]:
    def why_not(kind: str, default: str) -> str:
        return _SKIPPED[kind][0] if _SKIPPED[kind] else default

    pg = (f"PostgreSQL tests: {_RAN['postgres']} ran ({_Postgres.why})" if _RAN["postgres"]
          else f"PostgreSQL tests: none ran ({_Postgres.why if _Postgres.url is None else why_not('postgres', 'none selected')})")
    br = (f"Browser tests: {_RAN['browser']} ran (Chromium through Playwright)" if _RAN["browser"]
          else f"Browser tests: none ran ({why_not('browser', 'none selected')})")
    return [pg, br]


def pytest_report_header(config: pytest.Config) -> str:
    return (f"PostgreSQL tests: {'will run' if _Postgres.url else 'will not run'} ({_Postgres.why})")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    for line in _lines():
        terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not REQUIRED or session.config.option.collectonly:
        return
    selected = {k: any(k in item.keywords for item in session.items) for k in _RAN}
    missing = [k for k in _RAN if selected[k] and _RAN[k] == 0]
    if missing and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\nCI=true but no {' and no '.join(missing)} test ran")
