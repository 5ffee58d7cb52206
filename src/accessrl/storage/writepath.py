"""The service's adapter over the decision log (SQLAlchemy Core; SQLite or PostgreSQL).

Two kinds of record, kept apart as the lesson's last exercise asks:

* ``decision_snapshots`` — written once when the assistant acts, never updated: event
  id, episode (request) id, step index, previous event id, requester id, decision time
  (UTC), state and features, allowed actions, chosen action, full action probabilities,
  propensity of the chosen action, policy id and version, exploration setting, mode
  (``live`` or ``shadow``);
* ``outcome_events`` — appended later and joined by event id: the kind (evidence
  received, abandoned, review outcome, approval reversed), when it happened, the next
  state, reward and reward components, terminated.

These and the service's own tables — ``service_episodes`` (the current state of each
request), ``service_idempotency`` (the stored response of each idempotency key) and
``service_deployments`` (which policy is deployed or shadowed, with the model) — are all
in :mod:`accessrl.storage.schema` (one metadata, one schema version, one migration
path), so ``accessrl logs``, estimation and held-out evaluation read what the service
wrote.

Every write of one API call happens in ONE transaction together with its idempotency
record, and the response is sent only after the commit: what is acknowledged is
stored, and a retry with the same key returns the stored response instead of writing
again.  SQLite runs in WAL mode with ``synchronous=NORMAL``, which survives a killed
process (a power cut may lose the last commits; ``synchronous=FULL`` trades speed for
that).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from accessrl.errors import DataError
from accessrl.storage.faults import database_fault
from accessrl.storage.schema import (
    COMPONENT,
    current_version,
    database_name,
    decision_snapshots,
    make_engine,
    normalise_url,
    outcome_events,
    schema_versions,
    service_deployments,
    service_episodes,
    service_idempotency,
    upgrade,
)

log = logging.getLogger("accessrl.storage")

def open_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for ``url`` (a path is a SQLite file, WAL mode) with every table of
    :mod:`accessrl.storage.schema` created or migrated by :func:`~accessrl.storage.schema.upgrade`.

    ``create=False``: the database must exist and hold a decision log ("no such
    database" otherwise, and nothing is created) — for commands that only read."""
    engine = make_engine(url) if create else existing_engine(url)
    if not create:
        require_tables(engine)
    upgrade(engine)
    return engine


def existing_engine(url: str) -> Engine:
    """An engine for a database that must already exist: a missing SQLite file is a
    :class:`~accessrl.errors.DataError` before anything (even an empty file) is created."""
    full = normalise_url(url)
    if full.startswith("sqlite:"):
        path = full.split(":///", 1)[1] if ":///" in full else ""
        path = path.split("?", 1)[0]
        if path and path != ":memory:" and not Path(path).is_file():
            raise DataError(f"database {path!r}: no such database")
    return make_engine(url)


def require_tables(engine: Engine, schema: str | None = None) -> None:
    """A :class:`~accessrl.errors.DataError` unless the database holds a decision log."""
    try:
        with engine.connect() as conn:
            found = current_version(conn, schema)
    except sa.exc.OperationalError as exc:
        raise DataError(f"database {database_name(engine)!r}: cannot open it "
                        f"({str(exc.orig).splitlines()[0]})") from None
    except sa.exc.DatabaseError as exc:  # a file that is not a SQLite database
        raise DataError(f"database {database_name(engine)!r}: not a decision log "
                        f"({str(exc.orig).splitlines()[0]})") from None
    if found == 0:
        raise DataError(f"database {database_name(engine)!r}: no such database (no decision log in it)")


WAL_SOFT_LIMIT = 16 * 1024 * 1024
"""WAL size (bytes) past which the service's checkpointer truncates the WAL (SQLite)."""
WAL_POLL = 0.1
"""Seconds between looks at the WAL's size."""
MIN_FREE_BYTES = 1024 * 1024
"""SQLite: free space below which ``/healthz`` says the disk is nearly full."""


def _wal_path(engine: Engine) -> Path | None:
    db = engine.url.database if engine.dialect.name == "sqlite" else None
    return None if not db or db == ":memory:" else Path(db + "-wal")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def wal_bytes(engine: Engine) -> int:
    """Size of a SQLite database's write-ahead log in bytes (0 without one, or on PostgreSQL)."""
    wal = _wal_path(engine)
    return 0 if wal is None else _size(wal)


@dataclass(frozen=True)
class StoredResponse:
    """A response recorded under an idempotency key."""

    body_hash: str
    status: int
    body: str


@dataclass(frozen=True, slots=True)
class CompiledStatement:
    """Driver SQL of one statement, its parameter order (positional drivers; ``None`` for named
    parameters) and the values of its literal parameters."""

    sql: str
    order: tuple[str, ...] | None
    defaults: dict[str, Any]


@dataclass(frozen=True)
class EpisodeView:
    """One episode as people read it: its current row, its decision snapshots and its outcome events."""

    episode: dict[str, Any]
    decisions: tuple[dict[str, Any], ...]
    outcomes: tuple[dict[str, Any], ...]


WRITE_CONFLICT_STATES = frozenset({"23505", "40001", "40P01"})
"""PostgreSQL SQLSTATEs of a transaction another process won: unique violation,
serialization failure, deadlock.  Retrying the whole call is the remedy for each."""


def is_write_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` means another process committed a clashing write first.

    With several service processes on one PostgreSQL database, two calls with the same
    idempotency key (or request id) may both find no stored reply and both decide; the
    database's unique constraint lets one commit and refuses the other, which then
    retries and finds the stored reply.
    """
    for e in (exc, getattr(exc, "orig", None), exc.__cause__):
        if e is not None and getattr(e, "sqlstate", None) in WRITE_CONFLICT_STATES:
            return True
    return False


class Store:
    """Reads and writes of the service.

    The write path of every API call runs on one DBAPI connection inside
    :meth:`transaction`, with statements compiled once by SQLAlchemy for the engine's
    dialect (SQLite or PostgreSQL) and executed by the driver directly: the per-call cost
    is a handful of driver round trips, which is what lets one process log over a
    thousand decisions a second.  Reads for people (episode history, deployments) use
    ordinary SQLAlchemy Core.
    """

    def __init__(self, engine: Engine, *, background_checkpoints: bool = False) -> None:
        self.engine = engine
        self._background = background_checkpoints and engine.dialect.name == "sqlite"
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self._raw: Any = None
        self._cur: Any = None
        self._compiled: dict[tuple[str, str], CompiledStatement] = {}
        self.name = database_name(engine)
        self.truncations = 0
        """TRUNCATE checkpoints the background checkpointer ran (the WAL passed its soft limit)."""
        self.checkpoint_problem: str | None = None
        """Why the latest background checkpoint failed (None: the last one worked)."""
        self.retry_safe = False
        """Whether the last transaction's fault struck before its commit on a connection it
        had not opened itself (see :meth:`transaction`)."""

    def close(self) -> None:
        """Stop the checkpointer and release the connection."""
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=5)
            self._checkpointer = None
        if self._raw is not None:
            try:
                self._raw.close()
            except Exception:  # noqa: BLE001 - a connection the database already dropped
                pass
            self._raw = self._cur = None
        self.engine.dispose()

    def _sql(self, name: str, stmt: Any, keys: tuple[str, ...] = ()) -> CompiledStatement:
        """A statement compiled once for the engine's dialect (``stmt`` may be a function building it)."""
        cached = self._compiled.get((name, ",".join(keys)))
        if cached is None:
            if callable(stmt):
                stmt = stmt()
            compiled = stmt.compile(dialect=self.engine.dialect, column_keys=list(keys) or None)
            order = tuple(compiled.positiontup) if compiled.positional else None
            cached = CompiledStatement(str(compiled), order, dict(compiled.params))
            self._compiled[(name, ",".join(keys))] = cached
        return cached

    def _run(self, name: str, stmt: Any, params: dict[str, Any], keys: tuple[str, ...] = ()) -> Any:
        c = self._sql(name, stmt, keys)
        if c.defaults:
            params = {**c.defaults, **params}
        self._cur.execute(c.sql, tuple(params[k] for k in c.order) if c.order is not None else params)
        return self._cur

    def _connect(self) -> None:
        """Take a connection for the write path (checked by the pool's pre-ping on PostgreSQL)."""
        self._raw = self.engine.raw_connection()
        self._cur = self._raw.cursor()
        if self._background:
            # Checkpoints fsync; keep them off the request path (see _checkpoint_loop).
            self._cur.execute("PRAGMA wal_autocheckpoint=0")
            self._cur.execute(f"PRAGMA journal_size_limit={WAL_SOFT_LIMIT}")
            if self._checkpointer is None:
                self._checkpointer = threading.Thread(target=self._checkpoint_loop, daemon=True,
                                                      name="accessrl-wal-checkpoint")
                self._checkpointer.start()

    def _drop(self) -> None:
        """Throw the write path's connection away (the next transaction takes a new one)."""
        raw, self._raw, self._cur = self._raw, None, None
        if raw is not None:
            try:
                raw.invalidate()
            except Exception:  # noqa: BLE001 - a dead connection may fail to close; it is gone either way
                pass

    def _fault(self, exc: BaseException) -> BaseException:
        """The one-line error for a database fault (the connection is dropped), else ``exc`` itself."""
        fault = database_fault(exc, self.name)
        if fault is None:
            return exc
        self._drop()
        return fault

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """One transaction: committed when the block ends, rolled back if it raises.

        A database fault (server gone, disk full, damaged file) is raised as
        :class:`~accessrl.errors.UnavailableError` or :class:`~accessrl.errors.DataError`
        and the connection is dropped, so the next transaction connects afresh: a restarted
        database is used again as soon as it answers.  :attr:`retry_safe` then says whether
        the fault struck before the commit was sent on a connection this transaction did not
        open (a connection that died while idle), when running the call again is safe.
        """
        reused = self._raw is not None
        self.retry_safe = False
        if not reused:
            try:
                self._connect()
            except Exception as exc:
                raise self._fault(exc) from None
        try:
            yield self
        except BaseException as exc:
            try:
                if self._raw is not None:
                    self._raw.rollback()
            except Exception:  # noqa: BLE001 - the connection is broken: dropped below
                self._drop()
            fault = self._fault(exc) if isinstance(exc, Exception) else exc
            if fault is exc:
                raise
            self.retry_safe = reused
            raise fault from None
        try:
            self._raw.commit()
        except Exception as exc:
            fault = self._fault(exc)
            if fault is exc:
                raise
            raise fault from None

    def _checkpoint_loop(self, every: float = 0.5) -> None:
        """Copy the WAL into the database file in the background, and keep the WAL bounded.

        With the writer's automatic checkpoints off, the fsync of each checkpoint happens
        here, so a decision's latency is one WAL append and no disk flush.  A PASSIVE
        checkpoint never blocks the writer, but under continuous writes it may never
        catch up with the end of the WAL, which then grows without limit (575 MB for an
        18 MB database in 30 s of 16 clients).  So once the WAL passes
        :data:`WAL_SOFT_LIMIT` bytes, a TRUNCATE checkpoint waits (busy timeout) for the
        writer's current transaction, copies everything and truncates the WAL to zero
        bytes; the writer pauses for that one checkpoint only.

        A checkpoint that fails (the disk is full: the database file cannot grow) does not
        end the loop: it is recorded in :attr:`checkpoint_problem`, and a TRUNCATE checkpoint
        is tried at every tick until one succeeds, so when space returns the WAL is copied
        and cut back at once instead of growing until it fills the disk again.
        """
        conn: Any = None
        wal = _wal_path(self.engine)
        ticks = max(int(every / WAL_POLL), 1)
        n = 0
        try:
            while not self._stop.wait(WAL_POLL):  # the WAL's size is polled often (a stat), checkpoints less
                n += 1
                try:
                    if conn is None:
                        conn = self.engine.raw_connection()
                    cur = conn.cursor()
                    try:
                        if self.checkpoint_problem is not None or (wal is not None and _size(wal) > WAL_SOFT_LIMIT):
                            row = cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                            if row is not None and row[0]:  # busy: the writer held on; try again next tick
                                continue
                            self.truncations += 1
                            if self.checkpoint_problem is not None:
                                log.warning("accessrl: checkpoints of %s work again", self.name)
                                self.checkpoint_problem = None
                        elif n % ticks == 0:
                            cur.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    finally:
                        cur.close()
                except Exception as exc:  # noqa: BLE001 - the loop outlives any one failed checkpoint
                    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    if self.checkpoint_problem is None:
                        log.warning("accessrl: a checkpoint of %s failed (%s); retrying", self.name, reason)
                    self.checkpoint_problem = reason
                    if conn is not None:
                        try:
                            conn.invalidate()
                        except Exception:  # noqa: BLE001
                            pass
                        conn = None
        finally:
            if conn is not None:
                conn.close()

    def idempotent(self, key: str) -> StoredResponse | None:
        t = service_idempotency
        row = self._run("idem", lambda: sa.select(t.c.body_hash, t.c.status, t.c.response)
                        .where(t.c.key == sa.bindparam("key")), {"key": key}).fetchone()
        return None if row is None else StoredResponse(row[0], int(row[1]), row[2])

    _EPISODE_COLS = ("episode_id", "requester_id", "state", "status", "steps", "last_event_id", "last_action",
                     "features")

    def episode(self, episode_id: str) -> dict[str, Any] | None:
        """The current row of one episode (the write path's view), locked until the transaction ends.

        On PostgreSQL the row lock (``FOR UPDATE``) serialises the events of one request
        across service processes; SQLite has one writer at a time anyway (the clause is
        not emitted there).
        """
        t = service_episodes
        row = self._run("episode", lambda: sa.select(*[t.c[c] for c in self._EPISODE_COLS])
                        .where(t.c.episode_id == sa.bindparam("eid")).with_for_update(),
                        {"eid": episode_id}).fetchone()
        return None if row is None else dict(zip(self._EPISODE_COLS, row, strict=False))

    def episode_view(self, episode_id: str) -> EpisodeView | None:
        """An episode, its decision snapshots and its outcome events (for people); ``None`` if unknown."""
        with self.engine.connect() as conn:
            ep = conn.execute(sa.select(service_episodes).where(service_episodes.c.episode_id == episode_id)
                              ).mappings().first()
            if ep is None:
                return None
            d = conn.execute(
                sa.select(decision_snapshots).where(decision_snapshots.c.episode_id == episode_id)
                .order_by(decision_snapshots.c.step_index, decision_snapshots.c.mode)
            ).mappings().all()
            o = conn.execute(
                sa.select(outcome_events).where(outcome_events.c.episode_id == episode_id)
                .order_by(outcome_events.c.outcome_id)
            ).mappings().all()
        return EpisodeView(_decode(dict(ep)), tuple(_decode(dict(r)) for r in d), tuple(_decode(dict(r)) for r in o))

    def deployments(self) -> list[dict[str, Any]]:
        """All deployment records, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(service_deployments).order_by(service_deployments.c.id)).mappings().all()
        return [dict(r) for r in rows]

    def outcomes_of_kind(self, event_id: str, kind: str) -> int:
        """How many outcome events of ``kind`` a decision has (the write path's view)."""
        t = outcome_events

        def stmt() -> Any:
            return sa.select(sa.func.count()).select_from(t).where(t.c.event_id == sa.bindparam("ev"),
                                                                   t.c.kind == sa.bindparam("kind"))

        return int(self._run("outcomes_of_kind", stmt, {"ev": event_id, "kind": kind}).fetchone()[0])

    def latest_deployment_id(self) -> int:
        def stmt() -> Any:
            return sa.select(sa.func.coalesce(sa.func.max(service_deployments.c.id), 0))

        return int(self._run("latest", stmt, {}).fetchone()[0])

    def ping(self) -> None:
        """A trivial query (health check)."""
        self._run("ping", lambda: sa.select(sa.literal(1)), {}).fetchone()

    def probe_write(self) -> None:
        """A write that changes nothing (the schema version set to itself): proves the database
        takes writes again after it refused them (a full disk, a read-only server)."""
        t = schema_versions

        def stmt() -> Any:
            return sa.update(t).where(t.c.component == sa.bindparam("c")).values(version=t.c.version)

        self._run("probe", stmt, {"c": COMPONENT})

    def disk_problem(self) -> str | None:
        """SQLite: a note when the database's file system has less than :data:`MIN_FREE_BYTES` free."""
        db = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if not db or db == ":memory:":
            return None
        try:
            free = shutil.disk_usage(Path(db).resolve().parent).free
        except OSError:
            return None
        if free >= MIN_FREE_BYTES:
            return None
        return f"{free:,} bytes free on the file system of {self.name} (writes fail when it is full)"

    def add(self, table: sa.Table, row: dict[str, Any]) -> None:
        keys = tuple(row)
        self._run("insert:" + table.name, lambda: sa.insert(table), row, keys)

    def update_episode(self, episode_id: str, **values: Any) -> None:
        keys = tuple(values)
        def stmt() -> Any:
            return sa.update(service_episodes).where(service_episodes.c.episode_id == sa.bindparam("eid_"))

        self._run("update_episode", stmt, {**values, "eid_": episode_id}, keys)

    def remember(self, key: str, body_hash: str, status: int, body: str) -> None:
        self.add(service_idempotency, {"key": key, "body_hash": body_hash, "status": status, "response": body})

    def deploy(self, row: dict[str, Any]) -> None:
        """Append a deployment record (its own transaction)."""
        with self.engine.begin() as conn:
            conn.execute(sa.insert(service_deployments), row)

    def deploy_chain(self, rows: list[dict[str, Any]]) -> list[int]:
        """Append deployment records in one transaction, each after the first replacing the one
        before it (its ``previous_id``); returns their ids.  All are written or none."""
        ids: list[int] = []
        with self.engine.begin() as conn:
            for row in rows:
                res = conn.execute(sa.insert(service_deployments),
                                   {**row, "previous_id": ids[-1] if ids else row.get("previous_id")})
                key = res.inserted_primary_key
                assert key is not None  # an insert of one row
                ids.append(int(key[0]))
        return ids


_JSON_COLUMNS = ("features", "allowed_actions", "action_probabilities", "reward_components", "details")


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for c in _JSON_COLUMNS:
        if c in row and isinstance(row[c], str):
            row[c] = json.loads(row[c])
    return row


def count_rows(engine: Engine) -> dict[str, int]:
    """Rows per table (for checks that nothing was lost or duplicated)."""
    with engine.connect() as conn:
        return {
            t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
            for t in (decision_snapshots, outcome_events, service_episodes, service_idempotency)
        }


__all__ = [
    "WRITE_CONFLICT_STATES",
    "is_write_conflict",
    "EpisodeView",
    "Store",
    "StoredResponse",
    "count_rows",
    "decision_snapshots",
    "existing_engine",
    "open_engine",
    "require_tables",
    "wal_bytes",
    "outcome_events",
    "service_deployments",
    "service_episodes",
    "service_idempotency",
]
