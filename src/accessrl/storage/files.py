"""Reading and writing decision-log files: JSON lines, CSV and Parquet.

Readers yield ``(label, record)`` where ``label`` names the place ("line 12", or "row
12" in Parquet) and ``record`` is a mapping, or a :class:`~accessrl.errors.DataError`
when the line itself cannot be read; the ingester turns the latter into a reject.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from accessrl._optional import require
from accessrl.errors import DataError, ParameterError
from accessrl.storage.records import JSON_ERRORS, json_dumps, json_loads

CSV_FIELD_LIMIT = 16 * 1024 * 1024
"""Longest CSV field read (characters); Python's default of 131,072 would stop a file at a long
``features`` value.  A longer field rejects its line."""
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet",
           ".pq": "parquet"}
NESTED = ("features", "allowed_actions", "action_probabilities", "reward_components", "details")
FILE_COLUMNS = (
    "record", "event_id", "episode_id", "step_index", "previous_event_id", "requester_id", "decided_at", "state",
    "features", "allowed_actions", "action", "action_probabilities", "propensity", "policy_id", "policy_version",
    "exploration", "mode", "outcome_key", "kind", "occurred_at", "evidence_received_at", "next_state", "reward",
    "reward_components", "severe", "terminated", "truncated", "details",
)
"""Columns of a flat (CSV/Parquet) log file: decisions and outcomes share one table."""


def file_format(path: str | Path, fmt: str | None = None) -> str:
    """'jsonl', 'csv' or 'parquet' from ``fmt`` or the file suffix."""
    if fmt is not None:
        if fmt not in ("jsonl", "csv", "parquet"):
            raise ParameterError(f"format: expected jsonl, csv or parquet, got {fmt!r}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ParameterError(f"{path}: cannot tell the format from the suffix {suffix!r}; "
                             "expected .jsonl, .csv or .parquet")
    return FORMATS[suffix]


def read_records(path: str | Path, fmt: str | None = None) -> Iterator[tuple[str, Any]]:
    """The records of a log file, each with the line (or row) it came from.

    Parquet batches come first as a :class:`~accessrl.storage.columnar.ValidatedChunk` of
    the rows that passed the columnar checks, then the other rows one by one."""
    p = Path(path)
    kind = file_format(p, fmt)
    if not p.exists():
        raise DataError(f"{p}: no such log file")
    if kind == "jsonl":
        yield from _read_jsonl(p)
    elif kind == "csv":
        yield from _read_csv(p)
    else:
        yield from _read_parquet(p)


def _not_utf16(p: Path, head: bytes) -> None:
    if head.startswith(_UTF16_BOMS):
        raise DataError(f"{p}: expected UTF-8 text, got UTF-16 (a byte-order mark); convert the file to UTF-8")


def _read_jsonl(p: Path) -> Iterator[tuple[str, Mapping[str, Any] | DataError]]:
    with p.open("rb") as fh:
        _not_utf16(p, fh.read(2))
        fh.seek(0)
        for n, line in enumerate(fh, start=1):
            if n == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if not line.strip():
                continue
            try:
                rec = json_loads(line)
            except JSON_ERRORS as exc:
                yield f"line {n}", DataError(f"not valid JSON ({str(exc).splitlines()[0]})")
                continue
            if isinstance(rec, dict):
                yield f"line {n}", rec
            else:
                yield f"line {n}", DataError(f"expected a JSON object, got {type(rec).__name__}")


def _read_csv(p: Path) -> Iterator[tuple[str, Mapping[str, Any] | DataError]]:
    """CSV rows; a row with bytes that are not UTF-8 (read as surrogate escapes, so the rest of the
    file is still read), a field over :data:`CSV_FIELD_LIMIT` or a quoting error rejects its line."""
    with p.open("rb") as raw:
        _not_utf16(p, raw.read(2))
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    with p.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"{p}: line 1: not a CSV header ({exc})") from None
        if any(_bad_text(h) for h in header):
            raise DataError(f"{p}: line 1: the header is not UTF-8 text")
        width = len(header)
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield f"line {start}", DataError(f"not readable as CSV ({exc})")
                continue
            where = f"line {start}"
            if not row:
                continue
            if len(row) > width:
                yield where, DataError("more values than header columns")
                continue
            bad = next((h for h, v in zip(header, row, strict=False) if _bad_text(v)), None)
            if bad is not None:
                yield where, DataError(f"{bad}: expected UTF-8 text, got bytes that are not UTF-8")
                continue
            rec: dict[str, str | None] = dict(zip(header, row, strict=False))
            for h in header[len(row):]:
                rec[h] = None
            yield where, rec


def _bad_text(value: str) -> bool:
    """Surrogate escapes: bytes of the file that were not UTF-8."""
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _read_parquet(p: Path) -> Iterator[tuple[str, Any]]:
    pa = require("pyarrow", "parquet", "reading Parquet")
    pq = require("pyarrow.parquet", "parquet", "reading Parquet", package="pyarrow")
    from accessrl.storage.columnar import split_batch

    try:
        pf = pq.ParquetFile(p)
    except (pa.ArrowException, OSError, ValueError) as exc:  # ArrowInvalid: not Parquet; OSError: unreadable
        raise DataError(f"{p}: not a Parquet file ({exc})") from None
    first = 1
    for batch in pf.iter_batches(batch_size=65_536):
        yield from split_batch(batch, first)
        first += batch.num_rows


def _flat(rec: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for c in FILE_COLUMNS:
        v = rec.get(c)
        if c in NESTED and v is not None and not isinstance(v, str):
            v = json_dumps(v)
        out[c] = v
    return out


def write_records(path: str | Path, records: Iterable[Mapping[str, Any]], fmt: str | None = None) -> int:
    """Write records (decisions and outcomes) to a log file; returns how many."""
    p = Path(path)
    kind = file_format(p, fmt)
    n = 0
    if kind == "jsonl":
        with p.open("w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json_dumps(rec) + "\n")
                n += 1
        return n
    if kind == "csv":
        with p.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(FILE_COLUMNS))
            w.writeheader()
            for rec in records:
                w.writerow({k: ("" if v is None else v) for k, v in _flat(rec).items()})
                n += 1
        return n
    pa = require("pyarrow", "parquet", "writing Parquet")
    pq = require("pyarrow.parquet", "parquet", "writing Parquet", package="pyarrow")

    schema = pa.schema([(c, pa.int64() if c == "step_index" else pa.float64()
                         if c in ("propensity", "exploration", "reward") else pa.bool_()
                         if c in ("severe", "terminated", "truncated") else pa.string()) for c in FILE_COLUMNS])
    writer = pq.ParquetWriter(p, schema)
    try:
        chunk: list[dict[str, Any]] = []
        for rec in records:
            chunk.append(_flat(rec))
            n += 1
            if len(chunk) >= 65_536:
                writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
                chunk = []
        if chunk or n == 0:
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
    finally:
        writer.close()
    return n


__all__ = ["FILE_COLUMNS", "FORMATS", "file_format", "read_records", "write_records"]
