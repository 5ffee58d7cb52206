"""Database faults, told apart once for every reader and writer of a decision log.

A failure of the database is one of three things, and each gets one line:

* **unavailable** — the server is unreachable or restarting, the disk is full, the file
  system is read-only, a lock outlived the busy timeout: nothing was written and the same
  call may succeed later (:class:`~accessrl.errors.UnavailableError`; a server answers
  503 with ``Retry-After``);
* **damaged** — a SQLite file that is not a database, or whose pages are malformed
  (:class:`~accessrl.errors.DataError`, "database 'x': damaged (database disk image is
  malformed)"); retrying cannot help;
* anything else (a constraint, a bad statement) is the caller's to handle.

:func:`install` puts the classification on an engine (SQLAlchemy's ``handle_error``
hook), so every statement run through SQLAlchemy raises these errors instead of the
driver's; code that drives a DBAPI connection itself (the service's write path) calls
:func:`database_fault` on what it catches.  :func:`check_sqlite_file` finds a foreign,
truncated or foreign-format file before anything is read from it.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from accessrl.errors import AccessRLError, DataError, UnavailableError

SQLITE_UNAVAILABLE = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_READONLY",
                      "SQLITE_CANTOPEN", "SQLITE_PROTOCOL", "SQLITE_NOMEM")
"""SQLite result codes (prefixes of the extended names) of a fault of the moment."""
SQLITE_DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
"""SQLite result codes of a damaged or foreign file."""
PG_UNAVAILABLE_CLASSES = ("08", "53", "57P", "58")
"""PostgreSQL SQLSTATE prefixes of a fault of the moment: connection exceptions (08),
insufficient resources such as a full disk or too many connections (53), the server
shutting down or starting (57P01-57P05), system errors such as I/O (58)."""
PG_UNAVAILABLE_STATES = frozenset({"25006"})
"""Single SQLSTATEs of a fault of the moment: a read-only (standby) server (25006)."""
SQLITE_MAGIC = b"SQLite format 3\x00"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _driver_error(exc: BaseException) -> BaseException:
    """The DBAPI exception inside a SQLAlchemy one (or ``exc`` itself)."""
    orig = getattr(exc, "orig", None)
    return orig if isinstance(orig, BaseException) else exc


def fault_kind(exc: BaseException) -> str | None:
    """``"unavailable"``, ``"damaged"`` or None for a database exception (SQLAlchemy's or the driver's)."""
    if isinstance(exc, UnavailableError):
        return "unavailable"
    if isinstance(exc, (sa.exc.DisconnectionError, sa.exc.TimeoutError)):
        return "unavailable"
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return "unavailable"
    err = _driver_error(exc)
    name = getattr(err, "sqlite_errorname", None)
    if isinstance(name, str):
        if name.startswith(SQLITE_DAMAGED):
            return "damaged"
        return "unavailable" if name.startswith(SQLITE_UNAVAILABLE) else None
    module = type(err).__module__
    if module.startswith("psycopg"):
        state = getattr(err, "sqlstate", None)
        if isinstance(state, str):
            return "unavailable" if state.startswith(PG_UNAVAILABLE_CLASSES) or state in PG_UNAVAILABLE_STATES else None
        # No SQLSTATE: the connection itself failed (refused, closed, lost mid-statement).
        return "unavailable" if type(err).__name__ in ("OperationalError", "InterfaceError") else None
    if module == "sqlite3" and type(err).__name__ in ("OperationalError", "DatabaseError"):
        text = str(err)
        if "malformed" in text or "not a database" in text:
            return "damaged"
        if any(w in text for w in ("disk is full", "disk I/O", "locked", "readonly", "unable to open")):
            return "unavailable"
    return None


def database_fault(exc: BaseException, name: str) -> AccessRLError | None:
    """The one-line error for a database exception, or None when it is not a fault of the database.

    ``name`` is how messages name the database (:func:`~accessrl.storage.schema.database_name`)."""
    kind = fault_kind(exc)
    if kind is None:
        return None
    if isinstance(exc, AccessRLError):
        return exc
    reason = _reason(_driver_error(exc))
    if kind == "damaged":
        what = "not an accessrl decision log" if "not a database" in reason else "damaged"
        return DataError(f"database {name!r}: {what} ({reason})")
    return UnavailableError(f"database {name!r}: unavailable ({reason})", reason)


def install(engine: Engine, name: str) -> None:
    """Raise :func:`database_fault`'s errors from every statement of ``engine``.

    A fault of the moment on PostgreSQL also marks the connection as disconnected, so the
    pool throws it (and every connection opened before it) away; the next checkout connects
    afresh (and the pre-ping checks it)."""

    def on_error(ctx: Any) -> None:
        if ctx.is_pre_ping:  # the pool's own liveness check: it reconnects by itself
            return
        kind = fault_kind(ctx.original_exception)
        if kind == "unavailable" and engine.dialect.name == "postgresql":
            ctx.is_disconnect = True
        if kind is not None:
            fault = database_fault(ctx.original_exception, name)
            assert fault is not None
            raise fault from None

    sa.event.listen(engine, "handle_error", on_error)


def check_sqlite_file(path: str | Path, name: str | None = None) -> None:
    """A :class:`~accessrl.errors.DataError` unless ``path`` is empty or looks like a whole SQLite database.

    Reads the 100-byte header only: the magic string (else "not an accessrl decision
    log"), a valid page size, and a file at least as long as the page count the header
    vouches for (else "damaged (truncated ...)").  Damage deeper in the pages is reported
    when a statement reaches it (:func:`install`).

    A checkpoint of another connection's write-ahead log writes page 1, with the new page
    count, before the pages that lengthen the file: for a moment a whole database looks
    truncated (seen: a pilot run read 3,354 of the 3,392 pages its header promised while its
    service checkpointed). So while a non-empty ``-wal`` file sits beside it, a short file is
    read again for up to a second and then left to SQLite, which reads through the log."""
    p = Path(path)
    label = name or str(path)
    wal = Path(f"{p}-wal")
    for _ in range(10):
        try:
            _check_sqlite_header(p, label)
            return
        except _Truncated as short:
            try:
                checkpointing = wal.stat().st_size > 0
            except OSError:
                checkpointing = False
            if not checkpointing:
                raise DataError(str(short)) from None
            time.sleep(0.1)


class _Truncated(Exception):
    """The header vouches for more pages than the file holds (not yet a verdict: see above)."""


def _check_sqlite_header(p: Path, label: str) -> None:
    try:
        size = p.stat().st_size
        if size == 0:
            return
        with p.open("rb") as f:
            head = f.read(100)
    except IsADirectoryError:
        raise DataError(f"database {label!r}: a directory, not a database file") from None
    except OSError as exc:
        raise DataError(f"database {label!r}: cannot read it ({exc.strerror or exc})") from None
    if not head.startswith(SQLITE_MAGIC):
        raise DataError(f"database {label!r}: not an accessrl decision log (not a SQLite database file)")
    if len(head) < 100:
        raise DataError(f"database {label!r}: damaged (truncated to {size} bytes; a header is 100)")
    page = struct.unpack(">H", head[16:18])[0]
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1):
        raise DataError(f"database {label!r}: damaged (page size {page} in the header)")
    change, pages, valid_for = struct.unpack(">I", head[24:28])[0], struct.unpack(">I", head[28:32])[0], \
        struct.unpack(">I", head[92:96])[0]
    if change == valid_for and pages and size < pages * page:
        raise _Truncated(f"database {label!r}: damaged (truncated: {size} bytes, the header says "
                         f"{pages} pages of {page})")


def check_integrity(engine: Engine, name: str) -> None:
    """SQLite: ``PRAGMA quick_check`` over the whole file, for a process that will serve from it for
    long (the service, the studio): damage anywhere is one line now, not a failure hours later.
    Reads every page once (seconds for a log of gigabytes); PostgreSQL checks its own pages."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("PRAGMA quick_check(1)").fetchall()
    if rows and rows[0][0] != "ok":
        raise DataError(f"database {name!r}: damaged ({str(rows[0][0]).splitlines()[0][:200]})")


__all__ = ["check_integrity", "check_sqlite_file", "database_fault", "fault_kind", "install"]
