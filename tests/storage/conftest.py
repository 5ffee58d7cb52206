"""Fixtures over the real event logs (see eventlog_files.real_log)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from eventlog_files import EXAMPLES, real_log, xes_frame  # noqa: E402


@pytest.fixture(scope="session")
def bpic_frame():
    return xes_frame(real_log("bpic2012.xes.gz"))


@pytest.fixture(scope="session")
def bpic_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    """BPIC 2012 imported once through the CLI with the shipped mapping: (database, --json report)."""
    import json

    from typer.testing import CliRunner

    from accessrl.cli import app

    log = real_log("bpic2012.xes.gz")
    db = str(tmp_path_factory.mktemp("bpic") / "bpic.db")
    r = CliRunner().invoke(app, ["logs", "import", str(log), "--mapping", str(EXAMPLES / "bpic2012.yaml"),
                                 "--db", db, "--json"])
    assert r.exit_code == 0, r.output
    return db, json.loads(r.stdout)
