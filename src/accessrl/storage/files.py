"""Reading and writing decision-log files: JSON lines, CSV and Parquet.

Readers yield ``(label, record)`` where ``label`` names the place ("line 12", or "row
12" in Parquet) and ``record`` is a mapping, or a :class:`~accessrl.errors.DataError`
when the line itself cannot be read; the ingester turns the latter into a reject.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

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


STDIN = "-"
"""The file name that means standard input (``logs ingest - --format jsonl``)."""


def file_format(path: str | Path, fmt: str | None = None) -> str:
    """'jsonl', 'csv' or 'parquet' from ``fmt`` or the file suffix (``.gz`` after it is allowed for
    JSON lines and CSV)."""
    if fmt is not None:
        if fmt not in ("jsonl", "csv", "parquet"):
            raise ParameterError(f"format: expected jsonl, csv or parquet, got {fmt!r}")
        return fmt
    if str(path) == STDIN:
        raise ParameterError("-: standard input has no suffix; give --format jsonl or csv")
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".gz":
        inner = Path(p.stem).suffix.lower()
        if FORMATS.get(inner) in ("jsonl", "csv"):
            return FORMATS[inner]
        raise ParameterError(f"{path}: cannot tell the format from the suffix {inner + suffix!r}; expected "
                             ".jsonl.gz or .csv.gz (Parquet compresses itself: give the .parquet file)")
    if suffix not in FORMATS:
        raise ParameterError(f"{path}: cannot tell the format from the suffix {suffix!r}; "
                             "expected .jsonl, .csv or .parquet (or .jsonl.gz, .csv.gz)")
    return FORMATS[suffix]


def read_records(path: str | Path, fmt: str | None = None) -> Iterator[tuple[str, Any]]:
    """The records of a log file (``-``: standard input), each with the line (or row) it came from.

    A gzip-compressed file (by its first bytes) is read as its content.  Parquet batches come
    first as a :class:`~accessrl.storage.columnar.ValidatedChunk` of the rows that passed the
    columnar checks, then the other rows one by one."""
    kind = file_format(path, fmt)
    if str(path) == STDIN:
        if kind == "parquet":
            raise ParameterError("-: Parquet cannot be read from standard input; give the file")
        import sys

        stream = sys.stdin.buffer
        yield from (_read_jsonl(Path("<stdin>"), _maybe_gzip(stream)) if kind == "jsonl"
                    else _read_csv(Path("<stdin>"), _maybe_gzip(stream)))
        return
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such log file")
    if kind == "parquet":
        yield from _read_parquet(p)
        return
    with p.open("rb") as raw:
        yield from (_read_jsonl(p, _maybe_gzip(raw)) if kind == "jsonl" else _read_csv(p, _maybe_gzip(raw)))


def _maybe_gzip(raw: IO[bytes]) -> IO[bytes]:
    """``raw`` itself, or its decompressed content when it starts with gzip's magic bytes; read once,
    so a pipe works (reading a pipe twice loses what the first read took)."""
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[type-var]
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=buffered)  # type: ignore[return-value]
    return buffered


def _not_utf16(p: Path, head: bytes) -> None:
    if head.startswith(_UTF16_BOMS):
        raise DataError(f"{p}: expected UTF-8 text, got UTF-16 (a byte-order mark); convert the file to UTF-8")


def _peek(fh: IO[bytes], n: int) -> bytes:
    peek = getattr(fh, "peek", None)
    return bytes(peek(n)[:n]) if peek is not None else b""


def _read_jsonl(p: Path, fh: IO[bytes]) -> Iterator[tuple[str, Mapping[str, Any] | DataError]]:
    _not_utf16(p, _peek(fh, 2))
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


def _read_csv(p: Path, raw: IO[bytes]) -> Iterator[tuple[str, Mapping[str, Any] | DataError]]:
    """CSV rows; a row with bytes that are not UTF-8 (read as surrogate escapes, so the rest of the
    file is still read), a field over :data:`CSV_FIELD_LIMIT` or a quoting error rejects its line."""
    _not_utf16(p, _peek(raw, 2))
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    fh = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
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
