"""Every command that takes ``--db`` refuses a damaged or foreign database in one line, exit 1, no
traceback, and adds nothing to a file that is not its own.

The commands are read from the CLI itself: a new command with ``--db`` fails here until it has
arguments in :data:`ARGS`.  (Before: 72 tracebacks across 11 of 12 such commands, e.g. a text
file passed as ``--db``; a foreign SQLite file got the decision log's tables added to it.)"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from accessrl.cli import app
from cli_checks import one_error_line

MODEL = "catalog:access-review-abandonment"
ARGS = {
    "evaluate-policy": ["--policy", "{pol}"],
    "learn-from-logs": [],
    "serve": [MODEL, "--policy", "optimal", "--port", "{port}"],
    "promote": ["--candidate", "{pol}"],
    "rollback": [],
    "monitor": ["--since", "2026-01-01"],  # a log without deployments is checked against its history
    "studio": ["--port", "{port}"],
    "pilot": ["--weeks", "4", "--requests-per-week", "30", "--out", "{tmp}/pilot-out"],
    "logs ingest": ["{tmp}/some.jsonl"],
    "logs export": ["--out", "{tmp}/out.jsonl"],
    "logs generate": [MODEL, "--requests", "5"],
    "logs estimate": ["--out", "{tmp}/est.yaml"],
    "scale evaluate": [MODEL, "--policy", "optimal", "--since", "2026-01-01", "--until", "2026-02-01"],
    "logs import": [str(Path(__file__).parents[1] / "storage" / "data" / "bpic2012_excerpt.xes.gz"), "--mapping",
                    str(Path(__file__).parents[2] / "examples" / "eventlogs" / "bpic2012.yaml")],
    "logs map": ["--out", "{tmp}/map.svg"],
    "logs abandonment": [],
}
SOME = Path(os.environ.get("TMPDIR", "/tmp")) / f"accessrl-damaged-{os.getpid()}.jsonl"
"""Twenty records of a real log, for `logs ingest` to write into the damaged database."""
SERVERS = {"serve", "studio", "pilot"}
"""Commands that would keep running on a database they accept: run as processes with a time limit."""


def _db_commands() -> list[str]:
    out = []

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        elif any("--db" in getattr(p, "opts", []) for p in cmd.params):
            out.append(" ".join(path))

    walk(get_command(app), [])
    return out


def test_every_command_with_db_is_covered():
    assert sorted(_db_commands()) == sorted(ARGS)


@pytest.fixture(scope="module")
def good_log(tmp_path_factory) -> bytes:
    """A real decision log, checkpointed into one file (no WAL beside it)."""
    d = tmp_path_factory.mktemp("good")
    r = CliRunner().invoke(app, ["logs", "generate", MODEL, "--requests", "200", "--seed", "3", "--db", str(d / "g.db")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["logs", "export", "--db", str(d / "g.db"), "--out", str(d / "some.jsonl")])
    assert r.exit_code == 0, r.output
    SOME.write_text("\n".join((d / "some.jsonl").read_text().splitlines()[:20]) + "\n")
    src, dst = sqlite3.connect(d / "g.db"), sqlite3.connect(d / "copy.db")
    src.backup(dst)  # a consistent single file (the WAL folded in)
    src.close()
    dst.close()
    return (d / "copy.db").read_bytes()


def _damaged(kind: str, good: bytes, path: Path) -> Path:
    if kind == "text":
        path.write_text("this is a text file, not a database\n" * 20)
    elif kind == "truncated":
        path.write_bytes(good[: len(good) // 3])
    elif kind == "zeroed-pages":
        b = bytearray(good)
        page = 4096
        for p in range(1, len(b) // page):  # every page but the first: the schema stays readable
            b[p * page + 8 : p * page + 200] = bytes(192)
        path.write_bytes(bytes(b))
    elif kind == "foreign-sqlite":
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        con.execute("INSERT INTO invoices VALUES (1, 9.5)")
        con.commit()
        con.close()
    elif kind == "half-a-log":
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE decision_snapshots (a TEXT)")
        con.commit()
        con.close()
    elif kind == "directory":
        path.mkdir()
    return path


KINDS = ["text", "truncated", "zeroed-pages", "foreign-sqlite", "half-a-log", "directory"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", sorted(ARGS))
def test_a_damaged_database_is_one_line(tmp_path, good_log, kind, command):
    shutil.copy(SOME, tmp_path / "some.jsonl")
    (tmp_path / "pol.yaml").write_text("new_request: human_review\nevidence_ready: auto_approve\n"
                                       "review_queue: approve_rotation\n")
    db = _damaged(kind, good_log, tmp_path / "x.db")
    before = db.read_bytes() if db.is_file() else None
    port = str(50000 + os.getpid() % 10000)
    args = [a.format(pol=tmp_path / "pol.yaml", tmp=tmp_path, port=port) for a in ARGS[command]]
    argv = [*command.split(), *args, "--db", str(db)]
    if command in SERVERS:
        r = subprocess.run([sys.executable, "-m", "accessrl", *argv], capture_output=True, text=True, timeout=240)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert r.returncode == 1, (r.returncode, r.stderr[-1500:])
        assert "Traceback" not in r.stderr and len(lines) == 1 and lines[0].startswith("accessrl: error: "), r.stderr
        line = lines[0]
    else:
        line = one_error_line(CliRunner().invoke(app, argv), code=1)
    assert str(db) in line or "decision log" in line, line
    if before is not None and kind != "zeroed-pages":  # (that one is a decision log, damaged: WAL may be set)
        assert db.read_bytes() == before, f"{command} changed a {kind} file that is not its decision log"
    shutil.rmtree(tmp_path / "pilot-out", ignore_errors=True)
