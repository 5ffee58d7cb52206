"""The decision log (layer 2): a real database through SQLAlchemy Core.

SQLite by default (a file in WAL mode, created on first use), PostgreSQL by URL
(``postgresql://...``, driven by psycopg 3).  Decision snapshots and outcome events are
kept apart (see :mod:`accessrl.storage.schema` for the tables, the schema version and
the migration path); ingestion of JSONL / CSV / Parquet files is idempotent and keeps
the good records of a file with bad lines in it.

>>> import tempfile, pathlib
>>> log = DecisionLog(str(pathlib.Path(tempfile.mkdtemp()) / "log.db"))
>>> log.write([{"event_id": "e1", "episode_id": "r1", "step_index": 0, "requester_id": "u1",
...             "decided_at": "2026-01-05T09:00:00Z", "state": "new_request",
...             "allowed_actions": ["auto_approve", "human_review"], "action": "human_review",
...             "action_probabilities": {"auto_approve": 0.5, "human_review": 0.5}, "propensity": 0.5,
...             "policy_id": "uniform", "policy_version": "1", "exploration": 1.0, "mode": "live"}],
...           [{"event_id": "e1", "kind": "review_outcome", "occurred_at": "2026-01-05T10:00:00Z",
...             "next_state": "closed", "reward": 62, "terminated": True}],
...           idempotency_key="req-1").decisions_inserted
1
>>> log.write([], [], idempotency_key="req-1").replayed
True
>>> log.load_steps().steps.reward.tolist()
[62.0]
"""

from accessrl.storage.schema import MIGRATIONS, SCHEMA_VERSION, current_version, normalise_url, upgrade
from accessrl.storage.store import (
    DEFAULT_MODES,
    DecisionLog,
    IngestResult,
    LoadedLog,
    Reject,
    WriteResult,
)
from accessrl.storage.times import iso_to_us, us_to_iso

__all__ = [
    "DEFAULT_MODES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "DecisionLog",
    "IngestResult",
    "LoadedLog",
    "Reject",
    "WriteResult",
    "current_version",
    "iso_to_us",
    "normalise_url",
    "upgrade",
    "us_to_iso",
]
