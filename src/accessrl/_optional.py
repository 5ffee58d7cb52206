"""Optional dependencies (layer 0): one way to import an extra and one message when it is missing.

=============  ==================================  ===============================
extra          packages                            used by
=============  ==================================  ===============================
``parquet``    pyarrow                             Parquet log files
``postgres``   psycopg 3                           a PostgreSQL decision log
``serve``      fastapi, uvicorn, httptools, httpx, the decision service (Swagger UI assets
               fastapi-offline, prometheus-client  served locally; Prometheus metrics)
``llm``        torch                               :mod:`accessrl.llm`
``trl``        trl, transformers, datasets,        ``accessrl llm demo --engine trl``
               accelerate, tokenizers              (:mod:`accessrl.llm.trl_engine`)
``gym``        gymnasium                           :mod:`accessrl.envs`
``sb3``        stable-baselines3, sb3-contrib      agents over :mod:`accessrl.envs` (tests, README)
``quantecon``  quantecon                           :meth:`MDP.to_quantecon <accessrl.model.MDP.to_quantecon>`
=============  ==================================  ===============================

>>> require("json", "none", "reading JSON").__name__
'json'
>>> require("no_such_module_xyz", "parquet", "reading Parquet", package="pyarrow")
Traceback (most recent call last):
...
accessrl.errors.DependencyError: reading Parquet needs pyarrow: pip install "accessrl[parquet]"
"""

from __future__ import annotations

import importlib
from types import ModuleType

from accessrl.errors import DependencyError


def dependency_error(module: str, extra: str, purpose: str, exc: ImportError | None = None, *,
                     package: str | None = None) -> DependencyError:
    """The :class:`~accessrl.errors.DependencyError` for ``module`` missing (``exc`` the import's error).

    ``package`` is the name to show (the module's top-level name by default).  When the
    module is installed but one of its own imports fails, the message says so.
    """
    top = module.split(".", 1)[0]
    shown = package or top
    hint = f'pip install "accessrl[{extra}]"'
    failed = getattr(exc, "name", None)
    if exc is not None and failed is not None and failed != top and not module.startswith(failed):
        return DependencyError(f"{purpose} needs {shown}, which is installed but failed to import ({exc}); {hint}")
    return DependencyError(f"{purpose} needs {shown}: {hint}")


def require(module: str, extra: str, purpose: str, *, package: str | None = None) -> ModuleType:
    """Import ``module`` (e.g. ``"pyarrow.parquet"``), or raise a DependencyError naming ``extra``.

    ``purpose`` says what needs it ("reading Parquet"); the message is
    ``{purpose} needs {package}: pip install "accessrl[{extra}]"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise dependency_error(module, extra, purpose, exc, package=package) from exc


__all__ = ["dependency_error", "require"]
