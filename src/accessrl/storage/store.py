"""The decision log: writes (one transaction, idempotent), file ingest, export, and
loading logged transitions as arrays for the estimators."""

from __future__ import annotations

import itertools
import operator
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from accessrl.errors import DataError, ParameterError
from accessrl.offline.logged import LoggedSteps
from accessrl.storage.columnar import ValidatedChunk
from accessrl.storage.faults import database_fault
from accessrl.storage.files import read_records, write_records
from accessrl.storage.records import decision_row, json_loads, outcome_row, record_kind
from accessrl.storage.schema import (
    DECISION_COLUMNS,
    OUTCOME_COLUMNS,
    creation_lock,
    database_name,
    decision_snapshots,
    log_idempotency,
    make_engine,
    outcome_events,
    upgrade,
)
from accessrl.storage.times import iso_to_us, utc_text
from accessrl.storage.writepath import existing_engine, require_tables

LOOKUP_CHUNK = 500
_OUTCOME_TUPLE = operator.itemgetter(*OUTCOME_COLUMNS)  # an outcome dict as a row tuple (one C call)
SQLITE_ROWS_PER_STATEMENT = 100
"""Rows per multi-row INSERT on SQLite (16 columns x 100 rows stays far below SQLite's 32,766 variables)."""
DEFAULT_MODES = ("live", "logging-only", "historical")
"""Decisions that were acted on: served live, logged by another system, or imported history
(shadow decisions were not acted on and have no outcomes of their own)."""
ANALYZE_MIN_ROWS = 1_000
"""PostgreSQL: an ingest that stored this many rows or more ends with ``ANALYZE`` (:meth:`DecisionLog.analyze`)."""
COPY_MIN_ROWS = 64
"""PostgreSQL: smaller batches (a service call) are inserted row by row; a COPY pays a few round trips."""
MAX_WAITING = 200_000
"""Outcomes an ingest keeps waiting for a decision later in the file; beyond, the oldest are
rejected (so a file of millions of orphan outcomes is read in bounded memory)."""
LISTED = 20
"""Rejects and conflicts an ingest lists (with file and line); the rest are only counted, so a
file of millions of bad lines is read in bounded memory."""
_JSON_COLS = frozenset(("features", "allowed_actions", "action_probabilities", "reward_components", "details"))
_BOOL_COLS = frozenset(("severe", "terminated", "truncated"))


@dataclass(frozen=True)
class Reject:
    """A record that was not stored, with where it came from and why."""

    source: str
    where: str
    record_id: str
    reason: str

    def __str__(self) -> str:
        rid = f" {self.record_id}" if self.record_id else ""
        return f"{self.source}, {self.where}{rid}: {self.reason}"


@dataclass(frozen=True)
class IngestResult:
    """What one ingest stored, ignored as already present (the same content), found in
    conflict (the id is stored with *different* content: not stored, never merged) and
    rejected.

    ``rejected`` and ``conflicts`` list the first :data:`LISTED` of each;
    ``rejected_total`` and the ``*_conflict`` counts count them all."""

    source: str
    decisions_inserted: int
    decisions_duplicate: int
    outcomes_inserted: int
    outcomes_duplicate: int
    rejected: tuple[Reject, ...]
    batches: int
    rejected_total: int = 0
    decisions_conflict: int = 0
    outcomes_conflict: int = 0
    conflicts: tuple[Reject, ...] = ()

    @property
    def conflict_total(self) -> int:
        """Records whose id is stored with different content."""
        return self.decisions_conflict + self.outcomes_conflict


class _Tally:
    """Counts of an ingest, keeping only the first :data:`LISTED` rejects and conflicts."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.rejects: list[Reject] = []
        self.conflicts: list[Reject] = []
        self.n_rejects = 0
        self.n = [0, 0, 0, 0, 0, 0]  # decisions new, duplicate, conflict; outcomes new, duplicate, conflict

    def reject(self, where: str, record_id: str, reason: str) -> None:
        self.n_rejects += 1
        if len(self.rejects) < LISTED:
            self.rejects.append(Reject(self.source, where, record_id, reason))

    def conflict(self, where: str, record_id: str, reason: str) -> None:
        if len(self.conflicts) < LISTED:
            self.conflicts.append(Reject(self.source, where, record_id, reason))


def _stored_json(text: str, column: str, what: str) -> Any:
    """A stored JSON column, or one line naming the row (an older writer stored NaN as text)."""
    try:
        return json_loads(text)
    except ValueError:
        raise DataError(f"{what}: the stored {column} is not valid JSON ({text[:40]!r}); "
                        "it was written before accessrl refused NaN and infinities") from None


def _same(columns: Sequence[str], a: Sequence[Any], b: Sequence[Any]) -> str | None:
    """The first column where a stored row and a new row differ (JSON compared as values), or None."""
    for c, x, y in zip(columns, a, b, strict=True):
        if x == y:
            continue
        if c in _BOOL_COLS and x is not None and y is not None and bool(x) == bool(y):
            continue
        if c in _JSON_COLS and isinstance(x, str) and isinstance(y, str):
            try:
                if json_loads(x) == json_loads(y):
                    continue
            except ValueError:
                pass
        return c
    return None


@dataclass(frozen=True)
class WriteResult:
    """The effect of one :meth:`DecisionLog.write` (``replayed``: the key was seen before)."""

    decisions_inserted: int
    decisions_duplicate: int
    outcomes_inserted: int
    outcomes_duplicate: int
    replayed: bool


@dataclass(frozen=True, eq=False)
class LoadedLog:
    """Logged transitions as arrays, with the ids behind the integer codes."""

    steps: LoggedSteps
    episode_ids: tuple[str, ...]
    requester_ids: tuple[str, ...]
    pending: int
    """Decisions left out because no outcome has set their next state yet."""
    pending_at: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Their decision times (microseconds), so a period can count them as censored
    (:func:`~accessrl.offline.periods.period_decisions`)."""


_SAFE_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class DecisionLog:
    """A decision log in SQLite (a file, WAL mode, created on first use) or PostgreSQL.

    ``schema`` (PostgreSQL only) keeps the tables in their own namespace, created if
    missing — the tests use one per test.  ``create=False`` opens an existing decision
    log only (read-only commands): a missing SQLite file, or a database without the
    tables, is a :class:`~accessrl.errors.DataError` ("no such database") and nothing is
    created.

    For a service: :meth:`write` stores decision snapshots and outcome events in ONE
    transaction, optionally under an idempotency key (a retried key writes nothing and
    reports ``replayed``); pass ``conn`` from :meth:`transaction` to share the
    transaction with the caller's own writes.
    """

    def __init__(self, url: str, *, schema: str | None = None, create: bool = True) -> None:
        engine = make_engine(url) if create else existing_engine(url)
        self.dialect = engine.dialect.name
        self.schema = schema if self.dialect == "postgresql" else None
        if self.schema is not None and create:
            if not _SAFE_SCHEMA.match(self.schema):
                raise ParameterError(f"schema: expected a lower-case identifier, got {schema!r}")
            try:
                with engine.begin() as conn:
                    creation_lock(conn, self.schema)  # two processes creating one schema: one does
                    conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            except sa.exc.OperationalError as exc:
                raise DataError(f"database {database_name(engine)!r}: cannot open it "
                                f"({str(exc.orig).splitlines()[0]})") from None
            engine = engine.execution_options(schema_translate_map={None: self.schema})
        elif self.schema is not None:
            if not _SAFE_SCHEMA.match(self.schema):
                raise ParameterError(f"schema: expected a lower-case identifier, got {schema!r}")
            engine = engine.execution_options(schema_translate_map={None: self.schema})
        self.engine = engine
        self.url = url
        if not create:
            require_tables(engine, self.schema)
        self.found_version = upgrade(engine, self.schema)
        prefix = f'"{self.schema}".' if self.schema else ""
        verb, tail = ("INSERT OR IGNORE INTO", "") if self.dialect == "sqlite" else ("INSERT INTO", " ON CONFLICT DO NOTHING")
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        self._dec_sql = (f"{verb} {prefix}decision_snapshots ({', '.join(DECISION_COLUMNS)}) "
                         f"VALUES ({', '.join([mark] * len(DECISION_COLUMNS))}){tail}")
        self._out_sql = (f"{verb} {prefix}outcome_events ({', '.join(OUTCOME_COLUMNS)}) "
                         f"VALUES ({', '.join([mark] * len(OUTCOME_COLUMNS))}){tail}")
        self.multirow_inserts = True
        """SQLite: multi-row INSERT statements (False: the plain one-row ``executemany``; same rows)."""
        self.copy_inserts = True
        """PostgreSQL: batches of :data:`COPY_MIN_ROWS` rows or more go through ``COPY`` (False: ``executemany``)."""
        self.analyze_after_ingest = True
        """PostgreSQL: refresh the planner's statistics after an ingest of :data:`ANALYZE_MIN_ROWS` rows
        or more (False: leave it to autovacuum, as a bare ``COPY`` does; the benchmark's "before")."""
        self._dec_head = f"INSERT OR IGNORE INTO decision_snapshots ({', '.join(DECISION_COLUMNS)}) VALUES "
        self._out_head = f"INSERT OR IGNORE INTO outcome_events ({', '.join(OUTCOME_COLUMNS)}) VALUES "

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def drop_schema(self) -> None:
        """Drop this log's PostgreSQL schema and everything in it (tests clean up with it)."""
        if self.schema is not None:
            with self.engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection in one transaction: committed on success, rolled back on error."""
        with self.engine.begin() as conn:
            yield conn

    def _insert(self, conn: Connection, decisions: Sequence[tuple[Any, ...]],
                outcomes: Sequence[tuple[Any, ...]]) -> tuple[int, int]:
        """Insert row tuples (decision columns; outcome columns without outcome_id), ignoring
        rows whose key is already stored; returns how many of each were new."""
        if self.dialect == "sqlite" and self.multirow_inserts:
            return (self._insert_sqlite(conn, self._dec_head, len(DECISION_COLUMNS), decisions),
                    self._insert_sqlite(conn, self._out_head, len(OUTCOME_COLUMNS), outcomes))
        if self.dialect == "postgresql" and self.copy_inserts and len(decisions) + len(outcomes) >= COPY_MIN_ROWS:
            return self._insert_copy(conn, decisions, outcomes)
        d = o = 0
        if decisions:
            d = max(int(conn.exec_driver_sql(self._dec_sql, list(decisions)).rowcount), 0)
        if outcomes:
            o = max(int(conn.exec_driver_sql(self._out_sql, list(outcomes)).rowcount), 0)
        return d, o

    def _insert_copy(self, conn: Connection, decisions: Sequence[tuple[Any, ...]],
                     outcomes: Sequence[tuple[Any, ...]]) -> tuple[int, int]:
        """PostgreSQL: ``COPY`` the rows straight into the table (inside a savepoint: the common
        case of a first ingest, at the speed of a bare COPY); if a key is already stored (or
        repeated in the batch) the savepoint is rolled back and the rows are copied into a
        temporary table shaped like the log's, then ``INSERT ... SELECT ... ON CONFLICT DO
        NOTHING``.  Either way the same rows and the same conflict rule as the row-by-row INSERT
        (the tests compare the stored tables).  Returns how many rows were new."""
        import psycopg

        raw = conn.connection.dbapi_connection
        prefix = f'"{self.schema}".' if self.schema else ""
        new = []
        with raw.cursor() as cur:  # type: ignore[union-attr]
            try:
                for table, cols, rows in (("decision_snapshots", DECISION_COLUMNS, decisions),
                                          ("outcome_events", OUTCOME_COLUMNS, outcomes)):
                    if not rows:
                        new.append(0)
                        continue
                    names = ", ".join(cols)
                    cur.execute("SAVEPOINT accessrl_copy")
                    try:
                        self._copy(cur, f"{prefix}{table}", names, rows)
                    except psycopg.errors.UniqueViolation:
                        cur.execute("ROLLBACK TO SAVEPOINT accessrl_copy")
                    else:
                        cur.execute("RELEASE SAVEPOINT accessrl_copy")
                        new.append(len(rows))
                        continue
                    tmp = f"accessrl_in_{table}"
                    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {tmp} AS SELECT {names} FROM {prefix}{table} "
                                "WITH NO DATA")
                    cur.execute(f"TRUNCATE {tmp}")
                    self._copy(cur, tmp, names, rows)
                    cur.execute(f"INSERT INTO {prefix}{table} ({names}) SELECT {names} FROM {tmp} "
                                "ON CONFLICT DO NOTHING")
                    new.append(max(int(cur.rowcount), 0))
            except psycopg.Error as exc:
                raise sa.exc.DBAPIError.instance("COPY", None, exc, psycopg.Error) from exc
        return new[0], new[1]

    @staticmethod
    def _copy(cur: Any, target: str, names: str, rows: Sequence[tuple[Any, ...]]) -> None:
        with cur.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    @staticmethod
    def _insert_sqlite(conn: Connection, head: str, width: int, rows: Sequence[tuple[Any, ...]]) -> int:
        """SQLite: ``INSERT OR IGNORE ... VALUES (...), (...), ...`` with :data:`SQLITE_ROWS_PER_STATEMENT`
        rows per statement, on the DB-API cursor of ``conn``'s transaction.

        The same rows and the same conflict rule as one ``executemany`` of single-row
        INSERTs (the tests compare the stored tables), but the per-row statement reset and
        the per-call overhead are paid once per chunk: about a fifth less CPU per row.
        Returns how many rows were new (``changes()`` summed over the statements).
        """
        if not rows:
            return 0
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        k = SQLITE_ROWS_PER_STATEMENT
        one = "(" + ",".join("?" * width) + ")"
        full = head + ",".join([one] * k)
        flat = itertools.chain.from_iterable
        n = len(rows)
        m = n - n % k
        new = 0
        try:
            for i in range(0, m, k):
                cur.execute(full, list(flat(rows[i : i + k])))
                new += cur.rowcount
            if m < n:
                cur.execute(head + ",".join([one] * (n - m)), list(flat(rows[m:])))
                new += cur.rowcount
        except sqlite3.Error as exc:  # the driver's own error, raised as SQLAlchemy would wrap it
            raise sa.exc.DBAPIError.instance(head, None, exc, sqlite3.Error) from exc
        finally:
            cur.close()
        return new

    def _episodes_of(self, conn: Connection, event_ids: Iterable[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(event_ids))
        found: dict[str, str] = {}
        col = decision_snapshots.c
        for i in range(0, len(ids), LOOKUP_CHUNK):
            chunk = ids[i : i + LOOKUP_CHUNK]
            for ev, ep in conn.execute(sa.select(col.event_id, col.episode_id).where(col.event_id.in_(chunk))):
                found[ev] = ep
        return found

    def write(self, decisions: Sequence[Mapping[str, Any]] = (), outcomes: Sequence[Mapping[str, Any]] = (), *,
              idempotency_key: str | None = None, conn: Connection | None = None) -> WriteResult:
        """Validate and store decisions and outcomes in one transaction (see the class docstring).

        A decision whose event id is already stored is ignored (snapshots are never
        rewritten) and counted as a duplicate; an outcome for an unknown event id is a
        :class:`~accessrl.errors.DataError` and nothing is written.
        """
        d_rows = []
        for i, rec in enumerate(decisions):
            try:
                d_rows.append(decision_row(rec))
            except DataError as exc:
                raise DataError(f"decision {i} {rec.get('event_id', '')!r}: {exc}") from None
        o_rows = []
        for i, rec in enumerate(outcomes):
            try:
                o_rows.append(outcome_row(rec))
            except DataError as exc:
                raise DataError(f"outcome {i} for event {rec.get('event_id', '')!r}: {exc}") from None
        if conn is None:
            try:
                with self.transaction() as c:
                    return self._write(c, d_rows, o_rows, idempotency_key)
            except sa.exc.OperationalError as exc:
                raise self._cannot_write(exc) from None
        return self._write(conn, d_rows, o_rows, idempotency_key)

    def _write(self, conn: Connection, d_rows: list[tuple[Any, ...]], o_rows: list[dict[str, Any]],
               key: str | None) -> WriteResult:
        if key is not None:
            sql = (sqlite_insert(log_idempotency) if self.dialect == "sqlite"
                   else pg_insert(log_idempotency)).on_conflict_do_nothing()
            res = conn.execute(sql.returning(log_idempotency.c.key),
                               {"key": key, "decisions": len(d_rows), "outcomes": len(o_rows)})
            if res.first() is None:
                return WriteResult(0, 0, 0, 0, True)
        here = {r[0]: r[1] for r in d_rows}
        missing = [o["event_id"] for o in o_rows if o["event_id"] not in here]
        here.update(self._episodes_of(conn, missing) if missing else {})
        for i, o in enumerate(o_rows):
            if o["event_id"] not in here:
                raise DataError(f"outcome {i}: unknown event id {o['event_id']!r}; expected a logged decision")
            o["episode_id"] = here[o["event_id"]]
        n_d, n_o = self._insert(conn, d_rows, [_OUTCOME_TUPLE(o) for o in o_rows])
        return WriteResult(n_d, len(d_rows) - n_d, n_o, len(o_rows) - n_o, False)

    def ingest(self, path: str | Path, *, fmt: str | None = None, batch_size: int = 50_000) -> IngestResult:
        """Ingest a JSONL / CSV / Parquet log file (see :meth:`ingest_records`)."""
        return self.ingest_records(read_records(path, fmt), source=str(path), batch_size=batch_size)

    def ingest_records(self, records: Iterable[tuple[str, Any]], *, source: str = "<records>",
                       batch_size: int = 50_000) -> IngestResult:
        """Store records batch by batch, each batch in one transaction.

        Every good record is stored whatever its neighbours are: a malformed record is
        rejected with its line and reason (validation happens before the database, so
        SQLite and PostgreSQL refuse the same records); a record whose id (event id,
        outcome key) is already stored with the same content is counted as a
        duplicate, and with *different* content as a conflict (not stored, listed
        apart).  An outcome whose decision comes later in the file waits for it, and
        is rejected only if the decision never appears.  An interrupted batch rolls
        back; ingesting the same file again completes it.  ``records`` yields
        ``(where, record)`` with a mapping, a :class:`~accessrl.errors.DataError` (an
        unreadable line) or a :class:`~accessrl.storage.columnar.ValidatedChunk` of rows
        already validated.  Only the first :data:`LISTED` rejects and conflicts are kept, and at
        most :data:`MAX_WAITING` outcomes wait for their decision.
        """
        if batch_size < 1:
            raise ParameterError(f"batch_size: expected a positive integer, got {batch_size}")
        seen: dict[str, str] = {}
        tally = _Tally(source)
        waiting: list[tuple[str, tuple[Any, ...]]] = []
        batches = 0
        dec: list[tuple[Any, ...]] = []
        dec_at: list[str] = []
        out: list[tuple[str, tuple[Any, ...]]] = []

        def flush(final: bool) -> None:
            nonlocal dec, dec_at, out, waiting, batches
            candidates = waiting + out
            later: list[tuple[str, tuple[Any, ...]]] = []
            try:
                try:
                    with self.transaction() as conn:
                        ready, later = self._attach_episodes(conn, candidates, seen, tally)
                        self._store_batch(conn, dec, dec_at, ready, seen, tally)
                except sa.exc.OperationalError:
                    raise
                except sa.exc.DBAPIError:  # a row the checks let through: store the batch row by row
                    ready, later = self._attach_episodes(None, candidates, seen, tally, quiet=True)
                    self._store_rows(dec, dec_at, ready, tally)
            except sa.exc.OperationalError as exc:
                raise self._cannot_write(exc) from None
            batches += 1
            if len(later) > MAX_WAITING:  # bounded memory: the oldest waiting outcomes give up first
                for where, o in later[: len(later) - MAX_WAITING]:
                    tally.reject(where, f"outcome for event {o[0]!r}", "unknown event id; no decision for it "
                                 f"within the next {MAX_WAITING:,} outcomes of this file")
                later = later[len(later) - MAX_WAITING :]
            dec, dec_at, out, waiting = [], [], [], later
            if final:
                for where, o in later:
                    tally.reject(where, f"outcome for event {o[0]!r}",
                                 "unknown event id; expected a decision logged before or in this file")
                waiting = []

        n_batch = 0
        for where, rec in records:
            if isinstance(rec, ValidatedChunk):
                for row in rec.decisions:
                    seen[row[0]] = row[1]
                dec.extend(rec.decisions)
                dec_at.extend(rec.decision_labels)
                out.extend(rec.outcomes)
                n_batch += len(rec)
                if n_batch >= batch_size:
                    flush(False)
                    n_batch = 0
                continue
            if isinstance(rec, DataError):
                tally.reject(where, "", str(rec))
                continue
            rid = rec.get("event_id")
            try:
                kind = record_kind(rec)
                if kind == "decision":
                    row = decision_row(rec)
                    seen[row[0]] = row[1]
                    dec.append(row)
                    dec_at.append(where)
                else:
                    o = outcome_row(rec)
                    out.append((where, _OUTCOME_TUPLE(o)))
            except DataError as exc:
                label = f"event {rid!r}" if isinstance(rid, str) and rid and len(rid) <= 64 else ""
                tally.reject(where, label, str(exc))
                continue
            n_batch += 1
            if n_batch >= batch_size:
                flush(False)
                n_batch = 0
        flush(True)
        n = tally.n
        if self.analyze_after_ingest and n[0] + n[3] >= ANALYZE_MIN_ROWS:
            self.analyze()
        return IngestResult(source, n[0], n[1], n[3], n[4], tuple(tally.rejects), batches,
                            rejected_total=tally.n_rejects, decisions_conflict=n[2], outcomes_conflict=n[5],
                            conflicts=tuple(tally.conflicts))

    def analyze(self) -> bool:
        """PostgreSQL: ``ANALYZE`` the decision and outcome tables, so the planner knows their sizes.

        A bulk load by ``COPY`` leaves a table without statistics until autovacuum gets to it; the
        planner then takes a large table for a handful of rows and joins the decisions to their
        outcomes by a nested loop — quadratic in the log, a read of a 100,000-decision log that
        runs for hours instead of seconds.  Returns whether it ran (SQLite: no-op;
        a role that may not analyze: skipped, the planner's defaults stay)."""
        if self.dialect != "postgresql":
            return False
        try:
            with self.transaction() as conn:
                for t in (decision_snapshots, outcome_events):
                    conn.exec_driver_sql(f"ANALYZE {self._qualified(t.name)}")
        except sa.exc.OperationalError:
            raise
        except sa.exc.DBAPIError:  # e.g. insufficient privilege: reading still works, with default estimates
            return False
        return True

    def _qualified(self, table: str) -> str:
        return f'"{self.schema}"."{table}"' if self.schema else table

    def ensure_statistics(self) -> bool:
        """PostgreSQL: :meth:`analyze` when a log table holds rows but has never been analyzed
        (loaded by another tool, or by an accessrl before this check); returns whether it ran."""
        if self.dialect != "postgresql":
            return False
        names = [self._qualified(t.name) for t in (decision_snapshots, outcome_events)]
        sql = ("SELECT c.reltuples, s.n_live_tup, s.last_analyze, s.last_autoanalyze FROM pg_class c "
               "JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = to_regclass(%s)")
        with self.engine.connect() as conn:
            stale = False
            for name in names:
                row = conn.exec_driver_sql(sql, (name,)).first()
                if row is not None and row[2] is None and row[3] is None and (row[0] is None or row[0] < 0):
                    stale = True
        return self.analyze() if stale else False

    def _cannot_write(self, exc: sa.exc.OperationalError) -> DataError:
        return DataError(f"database {database_name(self.engine)!r}: cannot write to it "
                         f"({str(exc.orig).splitlines()[0] if str(exc.orig) else type(exc.orig).__name__})")

    def _attach_episodes(self, conn: Connection | None, candidates: list[tuple[str, tuple[Any, ...]]],
                         seen: dict[str, str], tally: _Tally, *, quiet: bool = False
                         ) -> tuple[list[tuple[str, tuple[Any, ...]]], list[tuple[str, tuple[Any, ...]]]]:
        """Outcomes whose decision is known (episode id filled in), and those still waiting."""
        unknown = [o[0] for _, o in candidates if o[0] not in seen]
        found: dict[str, str] = {}
        if unknown:
            if conn is None:
                with self.engine.connect() as c:
                    found = self._episodes_of(c, unknown)
            else:
                found = self._episodes_of(conn, unknown)
        ready, later = [], []
        for where, o in candidates:
            ep = seen.get(o[0]) or found.get(o[0])
            if ep is None:
                later.append((where, o))
            elif o[1] is None:
                ready.append((where, (o[0], ep, *o[2:])))
            elif o[1] != ep:
                if not quiet:
                    tally.reject(where, f"outcome for event {o[0]!r}",
                                 f"episode_id {o[1]!r} differs from the decision's {ep!r}")
            else:
                ready.append((where, o))
        return ready, later

    def _store_batch(self, conn: Connection, dec: list[tuple[Any, ...]], dec_at: list[str],
                     ready: list[tuple[str, tuple[Any, ...]]], seen: dict[str, str], tally: _Tally) -> None:
        """Insert one batch; rows not inserted are duplicates, or conflicts when the stored row differs."""
        outs = [o for _, o in ready]
        d, o_new = self._insert(conn, dec, outs)
        d_conf = o_conf = 0
        if d < len(dec):
            stored = self._stored(conn, decision_snapshots, DECISION_COLUMNS, "event_id", [r[0] for r in dec])
            for where, row in zip(dec_at, dec, strict=True):
                have = stored.get(row[0])
                col = None if have is None else _same(DECISION_COLUMNS, have, row)
                if col is not None:
                    d_conf += 1
                    seen[row[0]] = have[1]  # type: ignore[index]
                    tally.conflict(where, f"event {row[0]!r}", f"already stored with a different {col}")
        if o_new < len(outs):
            k = OUTCOME_COLUMNS.index("outcome_key")
            stored = self._stored(conn, outcome_events, OUTCOME_COLUMNS, "outcome_key", [r[k] for r in outs])
            for where, row in ready:
                have = stored.get(row[k])
                col = None if have is None else _same(OUTCOME_COLUMNS, have, row)
                if col is not None:
                    o_conf += 1
                    tally.conflict(where, f"outcome {row[k]!r}", f"already stored with a different {col}")
        n = tally.n
        n[0] += d
        n[1] += len(dec) - d - d_conf
        n[2] += d_conf
        n[3] += o_new
        n[4] += len(outs) - o_new - o_conf
        n[5] += o_conf

    def _store_rows(self, dec: list[tuple[Any, ...]], dec_at: list[str],
                    ready: list[tuple[str, tuple[Any, ...]]], tally: _Tally) -> None:
        """The slow path after the database refused a batch: one transaction per row, so only the
        refused rows are lost (and named)."""
        for where, row in zip(dec_at, dec, strict=True):
            self._store_one(where, f"event {row[0]!r}", [row], [], tally)
        for where, o in ready:
            self._store_one(where, f"outcome for event {o[0]!r}", [], [o], tally)

    def _store_one(self, where: str, label: str, dec: list[tuple[Any, ...]], outs: list[tuple[Any, ...]],
                   tally: _Tally) -> None:
        try:
            with self.transaction() as conn:
                self._store_batch(conn, dec, [where] * len(dec), [(where, o) for o in outs], {}, tally)
        except sa.exc.OperationalError:
            raise
        except sa.exc.DBAPIError as exc:
            fault = database_fault(exc, database_name(self.engine))
            if fault is not None:  # the database itself (damaged, full), not this row
                raise fault from None
            tally.reject(where, label, f"the database refused it ({str(exc.orig).splitlines()[0]})")

    def _stored(self, conn: Connection, table: sa.Table, columns: Sequence[str], key: str,
                ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        """Stored rows by ``key`` (looked up in chunks)."""
        uniq = list(dict.fromkeys(ids))
        cols = [table.c[c] for c in columns]
        k = list(columns).index(key)
        out: dict[str, tuple[Any, ...]] = {}
        for i in range(0, len(uniq), LOOKUP_CHUNK):
            for row in conn.execute(sa.select(*cols).where(table.c[key].in_(uniq[i : i + LOOKUP_CHUNK]))):
                out[row[k]] = tuple(row)
        return out

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """Every stored decision, then every outcome, as records that :meth:`ingest` reads back."""
        with self.engine.connect() as conn:
            q = sa.select(decision_snapshots).order_by(decision_snapshots.c.decided_at, decision_snapshots.c.event_id)
            for row in conn.execution_options(yield_per=10_000).execute(q).mappings():
                rec: dict[str, Any] = {"record": "decision", **{str(k): v for k, v in row.items()}}
                for c in ("features", "allowed_actions", "action_probabilities"):
                    rec[c] = _stored_json(rec[c], c, f"decision {rec['event_id']!r}")
                yield rec
            cols = [outcome_events.c[c] for c in OUTCOME_COLUMNS]
            q2 = sa.select(*cols).order_by(outcome_events.c.outcome_id)
            for row in conn.execution_options(yield_per=10_000).execute(q2).mappings():
                rec = {"record": "outcome", **{str(k): v for k, v in row.items()}}
                for c in ("reward_components", "details"):
                    if rec[c] is not None:
                        rec[c] = _stored_json(rec[c], c, f"outcome {rec['outcome_key']!r}")
                rec["severe"], rec["terminated"] = bool(rec["severe"]), bool(rec["terminated"])
                rec["truncated"] = bool(rec["truncated"])
                yield {k: v for k, v in rec.items() if v is not None}

    def export(self, path: str | Path, *, fmt: str | None = None) -> int:
        """Write every record to a JSONL / CSV / Parquet file; returns how many."""
        return write_records(path, self.iter_records(), fmt)

    def counts(self) -> dict[str, int]:
        """Rows in the decision and outcome tables."""
        with self.engine.connect() as conn:
            return {t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
                    for t in (decision_snapshots, outcome_events)}

    def steps_query(self, *, since: Any = None, until: Any = None, modes: Sequence[str] = DEFAULT_MODES) -> sa.Select[Any]:
        """The one query :meth:`load_steps` runs (each decision joined to its outcomes as of
        ``until``), exposed so the tests can ``EXPLAIN`` it on PostgreSQL."""
        lo = None if since is None else utc_text(since, "since")
        hi = None if until is None else utc_text(until, "until")
        dc, oc = decision_snapshots.c, outcome_events.c
        known = oc.occurred_at < hi if hi is not None else sa.true()
        # The database joins each decision to its outcomes: the reward sum over all of them,
        # and the latest one that names a next state (a window function; SQLite >= 3.25).
        rsum = (sa.select(oc.event_id, sa.func.sum(sa.func.coalesce(oc.reward, 0.0)).label("reward"))
                .where(known).group_by(oc.event_id).subquery("rsum"))
        flags = (sa.select(oc.event_id,
                           sa.func.sum(sa.case((oc.terminated, 1), else_=0)).label("nterm"),
                           sa.func.sum(sa.case((oc.truncated, 1), else_=0)).label("ntrunc"))
                 .where(known, oc.next_state.is_not(None)).group_by(oc.event_id).subquery("flags"))
        rank = sa.func.row_number().over(partition_by=oc.event_id,
                                         order_by=(oc.occurred_at.desc(), oc.outcome_id.desc()))
        last = (sa.select(oc.event_id, oc.next_state, oc.occurred_at, rank.label("rn"))
                .where(known, oc.next_state.is_not(None)).subquery("last"))
        q = (sa.select(dc.episode_id, dc.step_index, dc.requester_id, dc.decided_at, dc.state, dc.action,
                       dc.propensity, dc.features, rsum.c.reward, last.c.next_state, last.c.occurred_at,
                       flags.c.nterm, flags.c.ntrunc, dc.action_probabilities)
             .select_from(decision_snapshots.outerjoin(rsum, rsum.c.event_id == dc.event_id)
                          .outerjoin(last, sa.and_(last.c.event_id == dc.event_id, last.c.rn == 1))
                          .outerjoin(flags, flags.c.event_id == dc.event_id))
             .where(dc.mode.in_(list(modes))))
        if lo is not None:
            q = q.where(dc.decided_at >= lo)
        if hi is not None:
            q = q.where(dc.decided_at < hi)
        q = q.order_by(dc.episode_id, dc.step_index)
        return q

    def load_steps(self, *, since: Any = None, until: Any = None, modes: Sequence[str] = DEFAULT_MODES,
                   state_names: Sequence[str] = (), action_names: Sequence[str] = ()) -> LoadedLog:
        """Logged transitions as :class:`~accessrl.offline.logged.LoggedSteps`.

        Decisions with ``since <= decided_at < until`` (ISO text, a datetime or int
        microseconds since the epoch; see :func:`~accessrl.storage.times.utc_text`) in the given modes (shadow
        decisions are not acted on, so they are left out by default).  With ``until``,
        outcomes are taken *as of* ``until``: those occurring later are ignored, as if
        the log were read at that moment.  A decision's reward is the sum of its outcomes'
        rewards; its next state, outcome time and termination come from its latest outcome
        that names a next state.  An episode is cut before its first decision without one.
        ``state_names``/``action_names`` fix the code order (names not listed follow).
        """
        self.ensure_statistics()
        q = self.steps_query(since=since, until=until, modes=modes)
        s_idx = {n: i for i, n in enumerate(state_names)}
        a_idx = {n: i for i, n in enumerate(action_names)}
        ep_idx: dict[str, int] = {}
        rq_idx: dict[str, int] = {}
        keys = ("episode", "step", "requester", "state", "action", "prop", "reward", "next", "term", "trunc",
                "probs")
        probs_idx: dict[str, int] = {}
        arrays: dict[str, list[np.ndarray]] = {k: [] for k in (*keys, "dec", "out", "feat")}
        pending = 0
        pending_at: list[str] = []
        cut_episode = None
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=100_000).execute(q)
            for part in result.partitions():
                cols: dict[str, list[Any]] = {k: [] for k in (*keys, "dec", "out", "feat")}
                for ep, step, req, at, st, act, prop, feats, rew, nxt, out_at, nterm, ntrunc, probs in part:
                    if ep == cut_episode:
                        pending += 1
                        pending_at.append(at)
                        continue
                    if nxt is None:  # no outcome has set the next state yet: cut the episode here
                        pending += 1
                        pending_at.append(at)
                        cut_episode = ep
                        continue
                    cols["episode"].append(ep_idx.setdefault(ep, len(ep_idx)))
                    cols["step"].append(step)
                    cols["requester"].append(rq_idx.setdefault(req, len(rq_idx)))
                    cols["state"].append(s_idx.setdefault(st, len(s_idx)))
                    cols["action"].append(a_idx.setdefault(act, len(a_idx)))
                    cols["prop"].append(prop)
                    cols["reward"].append(rew or 0.0)
                    cols["next"].append(s_idx.setdefault(nxt, len(s_idx)))
                    cols["term"].append(bool(nterm))
                    cols["trunc"].append(bool(ntrunc))
                    cols["probs"].append(probs_idx.setdefault(probs, len(probs_idx)))
                    cols["dec"].append(at)
                    cols["out"].append(out_at)
                    cols["feat"].append(json_loads(feats).get("recorded_at", at) if feats and "recorded_at" in feats
                                        else at)
                for k in keys:  # columnar from here on: one NumPy chunk per partition
                    dtype = np.float64 if k in ("prop", "reward") else bool if k in ("term", "trunc") else np.int64
                    arrays[k].append(np.asarray(cols[k], dtype=dtype))
                for k in ("dec", "out", "feat"):
                    arrays[k].append(iso_to_us(cols[k]))

        def cat(k: str, dtype: Any) -> np.ndarray:
            return np.concatenate(arrays[k]) if arrays[k] else np.zeros(0, dtype=dtype)

        # every action the behaviour gave a positive probability is a name of the log, taken or not
        dists = [_stored_json(text, "action_probabilities", "a decision") for text in probs_idx]
        for d in dists:
            for name, p in d.items():
                if isinstance(p, (int, float)) and p > 0:
                    a_idx.setdefault(name, len(a_idx))
        table = np.zeros((len(dists), len(a_idx)))
        for i, d in enumerate(dists):
            for name, p in d.items():
                if name in a_idx and isinstance(p, (int, float)) and not isinstance(p, bool):
                    table[i, a_idx[name]] = float(p)

        steps = LoggedSteps(
            state_names=tuple(s_idx), action_names=tuple(a_idx),
            episode=cat("episode", np.int64), step=cat("step", np.int64), requester=cat("requester", np.int64),
            state=cat("state", np.int64), action=cat("action", np.int64), propensity=cat("prop", np.float64),
            reward=cat("reward", np.float64), next_state=cat("next", np.int64), terminated=cat("term", bool),
            truncated=cat("trunc", bool), decided_at=cat("dec", np.int64), outcome_at=cat("out", np.int64),
            features_at=cat("feat", np.int64), behavior_table=table, behavior_index=cat("probs", np.int64),
        )
        return LoadedLog(steps, tuple(ep_idx), tuple(rq_idx), pending,
                         iso_to_us(pending_at) if pending_at else np.zeros(0, dtype=np.int64))


__all__ = ["DEFAULT_MODES", "DecisionLog", "IngestResult", "LoadedLog", "Reject", "WriteResult"]
