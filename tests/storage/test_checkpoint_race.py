"""The header check of a SQLite decision log against a checkpoint in progress.

A checkpoint of the write-ahead log writes page 1 (with the new page count) before the pages that
lengthen the file, so for a moment a whole database looks truncated. CI saw it: `accessrl pilot`
read 3,354 of the 3,392 pages its header promised while its own service checkpointed, and stopped
with "damaged (truncated ...)". A file that stays short with no log beside it is still damage."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from accessrl.errors import DataError
from accessrl.storage.faults import check_sqlite_file


def whole_database(path: Path) -> bytes:
    con = sqlite3.connect(path)
    con.execute("create table t (x blob)")
    con.executemany("insert into t values (?)", [(b"x" * 3000,) for _ in range(40)])
    con.commit()
    con.close()
    return path.read_bytes()


def test_a_short_file_without_a_write_ahead_log_is_damaged(tmp_path):
    db = tmp_path / "d.sqlite"
    data = whole_database(db)
    db.write_bytes(data[: len(data) - 4096])
    with pytest.raises(DataError, match=r"damaged \(truncated: \d+ bytes, the header says \d+ pages of 4096\)"):
        check_sqlite_file(db)


def test_a_file_short_while_its_log_is_checkpointed_is_read_again(tmp_path):
    db = tmp_path / "d.sqlite"
    data = whole_database(db)
    db.write_bytes(data[: len(data) - 3 * 4096])  # page 1 written, the later pages not yet
    Path(f"{db}-wal").write_bytes(b"\0" * 4096)
    done = threading.Timer(0.3, lambda: db.write_bytes(data))  # the checkpoint finishes
    done.start()
    try:
        check_sqlite_file(db)  # no error: the file was whole again on a later read
    finally:
        done.join()
    assert db.stat().st_size == len(data)


def test_a_file_still_short_beside_a_log_is_left_to_sqlite(tmp_path):
    """Past a second the header check gives way: SQLite reads through the log, and a statement that
    reaches real damage is one line then (tests/cli/test_damaged_databases.py)."""
    db = tmp_path / "d.sqlite"
    data = whole_database(db)
    db.write_bytes(data[: len(data) - 4096])
    Path(f"{db}-wal").write_bytes(b"\0" * 4096)
    check_sqlite_file(db)
