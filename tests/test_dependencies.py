"""A missing optional extra is a DependencyError that names the extra to install (exit 1, one line).

Each test hides the extra's module: ``sys.modules[name] = None`` makes ``import name`` raise
ImportError, whether or not the package is installed.
"""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from accessrl._optional import dependency_error, require
from accessrl.cli import app
from accessrl.errors import AccessRLError, DependencyError
from cli_checks import one_error_line

runner = CliRunner()


def hide(monkeypatch, *modules: str, reload: tuple[str, ...] = ()) -> None:
    """Make ``modules`` (and their loaded submodules) unimportable; drop the ``reload`` modules so
    their next import runs again."""
    for m in [*modules, *(k for k in sys.modules if k.split(".")[0] in modules and k not in modules)]:
        monkeypatch.setitem(sys.modules, m, None)
    for m in list(sys.modules):
        if any(m == r or m.startswith(r + ".") for r in reload):
            monkeypatch.delitem(sys.modules, m)


def test_dependency_error_in_the_tree():
    assert issubclass(DependencyError, AccessRLError) and issubclass(DependencyError, ImportError)
    assert DependencyError.exit_code == 1
    exc = dependency_error("pyarrow.parquet", "parquet", "reading Parquet")
    assert str(exc) == 'reading Parquet needs pyarrow: pip install "accessrl[parquet]"'


def test_require_returns_the_module_or_names_the_extra(monkeypatch):
    assert require("json", "none", "x") is sys.modules["json"]
    hide(monkeypatch, "pyarrow")
    with pytest.raises(DependencyError, match=r'^reading Parquet needs pyarrow: pip install "accessrl\[parquet\]"$'):
        require("pyarrow.parquet", "parquet", "reading Parquet", package="pyarrow")


def test_installed_but_broken_module_says_so():
    broken = ModuleNotFoundError("No module named 'libfoo'", name="libfoo")
    msg = str(dependency_error("pyarrow", "parquet", "reading Parquet", broken))
    assert "installed but failed to import" in msg and 'pip install "accessrl[parquet]"' in msg


def test_parquet_without_pyarrow_library(monkeypatch, tmp_path):
    from accessrl.storage.files import read_records, write_records

    (tmp_path / "log.parquet").write_bytes(b"PAR1")
    hide(monkeypatch, "pyarrow")
    with pytest.raises(DependencyError, match=r'reading Parquet needs pyarrow: pip install "accessrl\[parquet\]"'):
        list(read_records(tmp_path / "log.parquet"))
    with pytest.raises(DependencyError, match=r'writing Parquet needs pyarrow: pip install "accessrl\[parquet\]"'):
        write_records(tmp_path / "out.parquet", [])


def test_parquet_without_pyarrow_cli(monkeypatch, tmp_path):
    (tmp_path / "log.parquet").write_bytes(b"PAR1")
    hide(monkeypatch, "pyarrow")
    r = runner.invoke(app, ["logs", "ingest", str(tmp_path / "log.parquet"), "--db", str(tmp_path / "log.db")])
    line = one_error_line(r)
    assert line == 'accessrl: error: reading Parquet needs pyarrow: pip install "accessrl[parquet]"'
    r = runner.invoke(app, ["logs", "export", "--out", str(tmp_path / "out.parquet"), "--db", str(tmp_path / "log.db")])
    assert "writing Parquet needs pyarrow" in one_error_line(r)


def test_postgres_without_psycopg_library(monkeypatch):
    from accessrl.storage.store import DecisionLog

    hide(monkeypatch, "psycopg")
    with pytest.raises(DependencyError, match=r'PostgreSQL decision log needs psycopg 3: pip install "accessrl\[postgres\]"'):
        DecisionLog("postgresql://nobody@localhost:1/none")


def test_postgres_without_psycopg_cli(monkeypatch, tmp_path):
    hide(monkeypatch, "psycopg")
    r = runner.invoke(app, ["logs", "export", "--out", str(tmp_path / "o.jsonl"), "--db", "postgresql://nobody@localhost:1/x"])
    assert 'needs psycopg 3: pip install "accessrl[postgres]"' in one_error_line(r)


def test_llm_without_torch(monkeypatch):
    hide(monkeypatch, "torch", reload=("accessrl.llm",))
    with pytest.raises(DependencyError, match=r'accessrl.llm needs PyTorch .*: pip install "accessrl\[llm\]"'):
        import accessrl.llm  # noqa: F401


def test_llm_cli_without_torch(monkeypatch):
    hide(monkeypatch, "torch", reload=("accessrl.llm",))
    r = runner.invoke(app, ["llm", "demo", "--steps", "1"])
    assert 'pip install "accessrl[llm]"' in one_error_line(r)


def test_llm_trl_engine_without_trl(monkeypatch):
    pytest.importorskip("torch", reason='the llm demo needs PyTorch: pip install "accessrl[llm]"')
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(var, "1")  # the command sets them; monkeypatch restores them
    hide(monkeypatch, "trl")
    r = runner.invoke(app, ["llm", "demo", "--engine", "trl", "--steps", "1"])
    assert 'pip install "accessrl[trl]"' in one_error_line(r)


def test_envs_without_gymnasium(monkeypatch):
    hide(monkeypatch, "gymnasium", reload=("accessrl.envs",))
    with pytest.raises(DependencyError, match=r'needs gymnasium: pip install "accessrl\[gym\]"'):
        import accessrl.envs  # noqa: F401


def test_serve_without_uvicorn(monkeypatch, tmp_path):
    hide(monkeypatch, "uvicorn")
    r = runner.invoke(app, ["serve", "--policy", "optimal", "--model", "catalog:access-review",
                            "--db", str(tmp_path / "s.db")])
    assert one_error_line(r) == 'accessrl: error: accessrl serve needs uvicorn: pip install "accessrl[serve]"'
