"""Repository-level pytest configuration: doctest collection without the optional extras.

``--doctest-modules`` (pyproject addopts) imports every module under ``src/accessrl``; a module
built on an extra that is not installed would fail to import (a DependencyError naming the
extra), so it is left out of collection instead.  The tests of those extras skip with a reason
(``pytest.importorskip`` in their test files).
"""

from __future__ import annotations

import importlib.util


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
