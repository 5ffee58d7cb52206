"""The decision-log schema (SQLAlchemy Core), engines, and the migration path.

One metadata, one schema version, for everything that reads or writes a decision log:
``accessrl logs``, estimation, held-out evaluation and the decision service.

Tables::

    decision_snapshots   one row per decision, written once, never updated
      event_id PK, episode_id, step_index, previous_event_id, requester_id,
      decided_at (ISO 8601 UTC text, microseconds, '+00:00'), state, features (JSON),
      allowed_actions (JSON list), action, action_probabilities (JSON object),
      propensity, policy_id, policy_version, exploration, mode (live | shadow | logging-only | historical)
    outcome_events       appended later, joined by event_id
      outcome_id PK (autoincrement), event_id, episode_id, kind, occurred_at,
      evidence_received_at, next_state, reward, reward_components (JSON), severe,
      terminated, details (JSON), truncated [v2], outcome_key UNIQUE [v2]
    log_idempotency      keys of DecisionLog.write calls already applied [v2]
      key PK, decisions, outcomes
    service_episodes     the decision service: current state of each request [v3]
      episode_id PK, requester_id, opened_at, state, status (open | closed), steps,
      last_event_id, last_action, features (JSON)
    service_idempotency  the decision service: the stored response of each idempotency key [v3]
      key PK, body_hash, status, response
    service_deployments  the decision service: which policy is deployed or shadowed, with the model [v3]
      id PK (autoincrement), role (deployed | shadow), policy_id, policy_version, policy (JSON),
      model_spec (JSON), deployed_at, reason, promoted_by [v4], evidence (JSON) [v4],
      previous_id [v4]
    accessrl_schema      component -> version [v2]

Schema versions:

* **1** — the two record tables as the decision service first created them (no version
  table, no ``outcome_key``/``truncated``);
* **2** — adds ``outcome_events.truncated`` and ``outcome_events.outcome_key`` (unique:
  makes outcome ingestion idempotent), ``log_idempotency`` and ``accessrl_schema``;
* **3** — the decision service's tables join this schema (``service_episodes``,
  ``service_idempotency``, ``service_deployments``); the service's separate version
  table ``service_meta`` (its own version 1) is dropped.  A service database written
  before v3 keeps its episodes, idempotency records and deployments.
* **4** — ``service_deployments`` records who or what made each deployment
  (``promoted_by``), the evidence behind it (``evidence``: a JSON object with the
  estimator, the candidate's estimate and interval, the incumbent's estimate, the severe
  count and the held-out size) and the deployment it replaced (``previous_id``, which
  ``accessrl rollback`` follows).  Rows written before v4 keep NULL there.

:func:`upgrade` brings any older database to :data:`SCHEMA_VERSION` in one transaction;
a database newer than this code is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from accessrl._optional import require
from accessrl.errors import DataError, ParameterError
from accessrl.storage.faults import check_sqlite_file, install

SCHEMA_VERSION = 4
COMPONENT = "decision_log"

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
    sa.Column("truncated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("outcome_key", sa.String(200), unique=True),
)

log_idempotency = sa.Table(
    "log_idempotency", metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("decisions", sa.Integer, nullable=False),
    sa.Column("outcomes", sa.Integer, nullable=False),
)

schema_versions = sa.Table(
    "accessrl_schema", metadata,
    sa.Column("component", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
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
    sa.Column("last_action", sa.String(256)),
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
    sa.Column("promoted_by", sa.String(128)),
    sa.Column("evidence", sa.Text),
    sa.Column("previous_id", sa.Integer),
)

SERVICE_TABLES = (service_episodes, service_idempotency, service_deployments)

DECISION_COLUMNS = tuple(c.name for c in decision_snapshots.columns)
OUTCOME_COLUMNS = tuple(c.name for c in outcome_events.columns if c.name != "outcome_id")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # journal_mode=WAL is a property of the file, set by upgrade() once the file is known to be a
    # decision log (setting it here would rewrite the header of a foreign or damaged file).
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MB of page cache: index pages stay hot during ingest
    cur.close()


def normalise_url(url: str) -> str:
    """A SQLAlchemy URL: a bare path means a SQLite file; ``postgresql://`` uses psycopg 3."""
    if not isinstance(url, str) or not url:
        raise ParameterError(f"database URL: expected a database URL or a file path, got {url!r}")
    if "://" not in url:
        return f"sqlite:///{url}"
    scheme, rest = url.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    if scheme not in ("sqlite", "postgresql+psycopg"):
        raise ParameterError(f"database {url!r}: expected sqlite:///PATH or postgresql://..., got scheme {scheme!r}")
    return url


CONNECT_TIMEOUT = 5
"""Seconds a PostgreSQL connection attempt may take before the database counts as unreachable."""


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files run in WAL mode with synchronous=NORMAL.

    Every engine raises the faults of :mod:`accessrl.storage.faults` in one line (an
    unreachable or full database is an :class:`~accessrl.errors.UnavailableError`, a
    damaged file a :class:`~accessrl.errors.DataError`).  PostgreSQL connections are
    checked when taken from the pool (``pool_pre_ping``) and replaced when the server has
    restarted since, so a long-running process outlives a database restart; a SQLite
    file that is not a whole SQLite database is refused before it is opened."""
    full = normalise_url(url)
    if full.startswith("postgresql"):
        require("psycopg", "postgres", "a PostgreSQL decision log", package="psycopg 3")
    try:
        u = sa.engine.make_url(full)
        options: dict[str, Any] = {}
        if u.get_backend_name() == "postgresql":
            options = {"pool_pre_ping": True}
            if "connect_timeout" not in u.query:
                options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
        engine = sa.create_engine(u, **options)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise ParameterError(f"database {url!r}: not a usable database URL ({exc})") from None
    if engine.dialect.name == "sqlite":
        db = engine.url.database
        if db and db != ":memory:" and not db.startswith("file:") and Path(db).exists():
            check_sqlite_file(db)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    install(engine, database_name(engine))
    return engine


@dataclass(frozen=True)
class Migration:
    """One step of the migration path: from ``version`` to ``version + 1``."""

    version: int
    description: str
    apply: Callable[[Connection, str], None]


def _q(conn: Connection, schema: str | None, name: str) -> str:
    prep = conn.dialect.identifier_preparer
    return f"{prep.quote_schema(schema)}.{prep.quote(name)}" if schema else prep.quote(name)


def _v1_to_v2(conn: Connection, schema: str) -> None:
    oe = _q(conn, schema or None, "outcome_events")
    false = "false" if conn.dialect.name == "postgresql" else "0"
    conn.exec_driver_sql(f"ALTER TABLE {oe} ADD COLUMN truncated BOOLEAN NOT NULL DEFAULT {false}")
    conn.exec_driver_sql(f"ALTER TABLE {oe} ADD COLUMN outcome_key VARCHAR(200)")
    ix = conn.dialect.identifier_preparer.quote("uq_outcome_events_outcome_key")
    conn.exec_driver_sql(f"CREATE UNIQUE INDEX {ix} ON {oe} (outcome_key)")


def _v2_to_v3(conn: Connection, schema: str) -> None:
    """The service's tables join the one schema; its own version table goes.

    A database the service wrote before v3 already has ``service_episodes``,
    ``service_idempotency`` and ``service_deployments`` (same columns): they are kept as
    they are.  ``service_meta`` only held the service's separate schema version (1),
    which ``accessrl_schema`` now records for the whole database, so it is dropped.
    """
    metadata.create_all(conn, tables=list(SERVICE_TABLES), checkfirst=True)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_q(conn, schema or None, 'service_meta')}")


def _v3_to_v4(conn: Connection, schema: str) -> None:
    """Who promoted each deployment, its evidence and the deployment it replaced (nullable columns).

    A table the v2-to-v3 step has just created already has them (it is created from the
    current metadata), so only missing columns are added."""
    sd = _q(conn, schema or None, "service_deployments")
    have = {c["name"] for c in sa.inspect(conn).get_columns("service_deployments", schema=schema or None)}
    for column, kind in (("promoted_by", "VARCHAR(128)"), ("evidence", "TEXT"), ("previous_id", "INTEGER")):
        if column not in have:
            conn.exec_driver_sql(f"ALTER TABLE {sd} ADD COLUMN {column} {kind}")


MIGRATIONS: dict[int, Migration] = {
    1: Migration(1, "outcome_key (idempotent outcomes), truncated, idempotency and version tables", _v1_to_v2),
    2: Migration(2, "the decision service's tables in the one schema; service_meta dropped", _v2_to_v3),
    3: Migration(3, "deployments record who promoted them, the evidence and the deployment replaced", _v3_to_v4),
}
"""The migration from each version to the next; add one entry per future version."""


def current_version(conn: Connection, schema: str | None = None) -> int:
    """The stored schema version: 0 for an empty database, 1 for the version-less layout."""
    insp = sa.inspect(conn)
    tables = set(insp.get_table_names(schema=schema))
    if "accessrl_schema" in tables:
        row = conn.execute(sa.select(schema_versions.c.version).where(schema_versions.c.component == COMPONENT)).first()
        if row is not None:
            return int(row[0])
    if "decision_snapshots" in tables or "outcome_events" in tables:
        if not {"decision_snapshots", "outcome_events"} <= tables:
            name = database_name(conn.engine)
            raise DataError(f"database {name!r}: not an accessrl decision log (it has "
                            f"{'decision_snapshots' if 'decision_snapshots' in tables else 'outcome_events'} "
                            "but not the other record table)")
        cols = {c["name"] for c in insp.get_columns("outcome_events", schema=schema)} if "outcome_events" in tables else set()
        return 2 if "outcome_key" in cols else 1
    return 0


def creation_lock(conn: Connection, schema: str | None = None) -> None:
    """Make the transaction of ``conn`` the only one creating or migrating this decision log.

    Several processes started at once on a new database (two commands, the workers of
    ``accessrl serve --workers N``) would otherwise all find no tables and all create them,
    and all but one fail (PostgreSQL: a unique violation in its catalog).  PostgreSQL: a
    transaction-level advisory lock keyed by the schema; SQLite: the database's write lock
    (``BEGIN IMMEDIATE``), taken before anything is read.  The others wait (SQLite: within
    the busy timeout), then find the tables made."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtextextended("
                             "'accessrl decision log ' || coalesce(%(schema)s, current_schema()), 0))",
                             {"schema": schema})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade(engine: Engine, schema: str | None = None, *, migrations: dict[int, Migration] | None = None,
            target: int = SCHEMA_VERSION) -> int:
    """Create the tables on first use, or migrate an older database to ``target`` (one transaction).

    Returns the version found before upgrading.  A database already at ``target`` is only
    read; otherwise the work runs under :func:`creation_lock`, so processes that start
    together create the tables once.
    """
    steps = MIGRATIONS if migrations is None else migrations
    try:
        with engine.connect() as conn:
            found = current_version(conn, schema)
        if found == target:
            _use_wal(engine)
            return found
        found = _create_or_migrate(engine, schema, steps, target)
        _use_wal(engine)
    except sa.exc.OperationalError as exc:
        raise DataError(f"database {database_name(engine)!r}: cannot open it ({str(exc.orig).splitlines()[0]})") from None
    return found


def _use_wal(engine: Engine) -> None:
    """SQLite: write-ahead logging (readers never block the writer); a no-op once the file uses it."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            if str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()).lower() != "wal":
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")


def _create_or_migrate(engine: Engine, schema: str | None, steps: dict[int, Migration], target: int) -> int:
    """The locked part of :func:`upgrade`: returns the version found under the lock."""
    with engine.begin() as conn:
        creation_lock(conn, schema)
        found = current_version(conn, schema)  # another process may have done it meanwhile
        if found > target:
            raise DataError(f"database schema version {found} is newer than this accessrl ({target}); upgrade accessrl")
        if found == target:
            return found
        if found == 0:
            _refuse_foreign(conn, engine, schema)
            metadata.create_all(conn)
        else:
            for v in range(found, target):
                if v not in steps:
                    raise DataError(f"database schema version {v}: no migration to {v + 1}")
                steps[v].apply(conn, schema or "")
            metadata.create_all(conn)  # tables a migration introduces
        conn.execute(sa.delete(schema_versions).where(schema_versions.c.component == COMPONENT))
        conn.execute(sa.insert(schema_versions), {"component": COMPONENT, "version": target})
    return found


def _refuse_foreign(conn: Connection, engine: Engine, schema: str | None) -> None:
    """A SQLite file is one application's: one that holds other tables is not a decision log to add ours to."""
    if conn.dialect.name != "sqlite":
        return
    others = sorted(t for t in sa.inspect(conn).get_table_names(schema=schema) if not t.startswith("sqlite_"))
    if others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        raise DataError(f"database {database_name(engine)!r}: not an accessrl decision log (it holds other tables: "
                        f"{shown})")


def database_name(engine: Engine) -> str:
    """How messages name the database: the SQLite file, or the URL without its password."""
    if engine.dialect.name == "sqlite":
        return str(engine.url.database or ":memory:")
    return engine.url.render_as_string(hide_password=True)


__all__ = [
    "COMPONENT",
    "DECISION_COLUMNS",
    "MIGRATIONS",
    "OUTCOME_COLUMNS",
    "SCHEMA_VERSION",
    "SERVICE_TABLES",
    "Migration",
    "creation_lock",
    "current_version",
    "database_name",
    "decision_snapshots",
    "log_idempotency",
    "make_engine",
    "metadata",
    "normalise_url",
    "outcome_events",
    "schema_versions",
    "service_deployments",
    "service_episodes",
    "service_idempotency",
    "upgrade",
]
