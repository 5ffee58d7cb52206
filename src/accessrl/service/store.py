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

The service also keeps ``service_episodes`` (the current state of each request),
``service_idempotency`` (the stored response of each idempotency key) and
``service_deployments`` (which policy is deployed or shadowed, with the model).

Every write of one API call happens in ONE transaction together with its idempotency
record, and the response is sent only after the commit: what is acknowledged is
stored, and a retry with the same key returns the stored response instead of writing
again.  SQLite runs in WAL mode with ``synchronous=NORMAL``, which survives a killed
process (a power cut may lose the last commits; ``synchronous=FULL`` trades speed for
that).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from accessrl.errors import DataError, ParameterError

SCHEMA_VERSION = 1

metadata = sa.MetaData()

decision_snapshots = sa.Table(
    "decision_snapshots", metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("episode_id", sa.String(64), nullable=False, index=True),
    sa.Column("step_index", sa.Integer, nullable=False),
    sa.Column("previous_event_id", sa.String(64)),
    sa.Column("requester_id", sa.String(128)),
    sa.Column("decided_at", sa.String(40), nullable=False, index=True),
    sa.Column("state", sa.String(256), nullable=False),
    sa.Column("features", sa.Text, nullable=False),
    sa.Column("allowed_actions", sa.Text, nullable=False),
    sa.Column("action", sa.String(256), nullable=False),
    sa.Column("action_probabilities", sa.Text, nullable=False),
    sa.Column("propensity", sa.Float, nullable=False),
    sa.Column("policy_id", sa.String(128), nullable=False),
    sa.Column("policy_version", sa.String(64), nullable=False),
    sa.Column("exploration", sa.Float, nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
)

outcome_events = sa.Table(
    "outcome_events", metadata,
    sa.Column("outcome_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False, index=True),
    sa.Column("episode_id", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("occurred_at", sa.String(40), nullable=False),
    sa.Column("evidence_received_at", sa.String(40)),
    sa.Column("next_state", sa.String(256)),
    sa.Column("reward", sa.Float),
    sa.Column("reward_components", sa.Text),
    sa.Column("severe", sa.Boolean, nullable=False, default=False),
    sa.Column("terminated", sa.Boolean, nullable=False),
    sa.Column("details", sa.Text),
)

service_episodes = sa.Table(
    "service_episodes", metadata,
    sa.Column("episode_id", sa.String(64), primary_key=True),
    sa.Column("requester_id", sa.String(128)),
    sa.Column("opened_at", sa.String(40), nullable=False),
    sa.Column("state", sa.String(256), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("steps", sa.Integer, nullable=False),
    sa.Column("last_event_id", sa.String(64)),
    sa.Column("features", sa.Text, nullable=False),
)

service_idempotency = sa.Table(
    "service_idempotency", metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("body_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("response", sa.Text, nullable=False),
)

service_deployments = sa.Table(
    "service_deployments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("policy_id", sa.String(128), nullable=False),
    sa.Column("policy_version", sa.String(64), nullable=False),
    sa.Column("policy", sa.Text, nullable=False),
    sa.Column("model_spec", sa.Text, nullable=False),
    sa.Column("deployed_at", sa.String(40), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

service_meta = sa.Table(
    "service_meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def open_engine(url: str) -> Engine:
    """An engine for ``url`` (a path is taken as a SQLite file); tables created on first use."""
    if "://" not in url:
        url = f"sqlite:///{url}"
    try:
        engine = sa.create_engine(url, future=True)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise ParameterError(f"--db {url!r}: not a usable database URL ({exc})") from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            row = conn.execute(sa.select(service_meta.c.value).where(service_meta.c.key == "schema_version")).first()
            if row is None:
                conn.execute(sa.insert(service_meta), {"key": "schema_version", "value": str(SCHEMA_VERSION)})
            elif int(row[0]) != SCHEMA_VERSION:
                raise DataError(f"--db {url!r}: service schema version {row[0]}, expected {SCHEMA_VERSION}")
    except sa.exc.OperationalError as exc:
        raise DataError(f"--db {url!r}: cannot open the database ({exc.orig})") from None
    return engine


@dataclass(frozen=True)
class StoredResponse:
    """A response recorded under an idempotency key."""

    body_hash: str
    status: int
    body: str


class Store:
    """Reads and writes of the service; every API call's writes go through one :meth:`transaction`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            self._conn = self.engine.connect()
        return self._conn

    def close(self) -> None:
        """Release the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction on the service's connection; committed on success, rolled back on error."""
        conn = self._connection()
        with conn.begin():
            yield conn

    # --------------------------------------------------------------- reads
    def idempotent(self, conn: Connection, key: str) -> StoredResponse | None:
        row = conn.execute(
            sa.select(service_idempotency.c.body_hash, service_idempotency.c.status, service_idempotency.c.response)
            .where(service_idempotency.c.key == key)
        ).first()
        return None if row is None else StoredResponse(row[0], int(row[1]), row[2])

    def episode(self, conn: Connection, episode_id: str) -> dict[str, Any] | None:
        row = conn.execute(sa.select(service_episodes).where(service_episodes.c.episode_id == episode_id)).mappings().first()
        return None if row is None else dict(row)

    def episode_history(self, conn: Connection, episode_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        d = conn.execute(
            sa.select(decision_snapshots).where(decision_snapshots.c.episode_id == episode_id)
            .order_by(decision_snapshots.c.step_index, decision_snapshots.c.mode)
        ).mappings().all()
        o = conn.execute(
            sa.select(outcome_events).where(outcome_events.c.episode_id == episode_id)
            .order_by(outcome_events.c.outcome_id)
        ).mappings().all()
        return [_decode(dict(r)) for r in d], [_decode(dict(r)) for r in o]

    def deployments(self) -> list[dict[str, Any]]:
        """All deployment records, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(service_deployments).order_by(service_deployments.c.id)).mappings().all()
        return [dict(r) for r in rows]

    def latest_deployment_id(self, conn: Connection) -> int:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(service_deployments.c.id), 0))).scalar_one())

    # -------------------------------------------------------------- writes
    def add(self, conn: Connection, table: sa.Table, row: dict[str, Any]) -> None:
        conn.execute(sa.insert(table), row)

    def update_episode(self, conn: Connection, episode_id: str, **values: Any) -> None:
        conn.execute(sa.update(service_episodes).where(service_episodes.c.episode_id == episode_id), values)

    def remember(self, conn: Connection, key: str, body_hash: str, status: int, body: str) -> None:
        conn.execute(sa.insert(service_idempotency), {"key": key, "body_hash": body_hash, "status": status,
                                                      "response": body})

    def deploy(self, row: dict[str, Any]) -> None:
        """Append a deployment record (its own transaction)."""
        with self.engine.begin() as conn:
            conn.execute(sa.insert(service_deployments), row)


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
    "SCHEMA_VERSION",
    "Store",
    "StoredResponse",
    "count_rows",
    "decision_snapshots",
    "metadata",
    "open_engine",
    "outcome_events",
    "service_deployments",
    "service_episodes",
    "service_idempotency",
]
