"""The decision log against SQLite and (when ACCESSRL_TEST_POSTGRES_URL is set) PostgreSQL:
round trips, idempotent ingest, interrupted batches, bad records, migrations, the CLI."""

import json
import os
import uuid

import numpy as np
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from accessrl.catalog.lesson import access_review_abandonment
from accessrl.cli import app
from accessrl.errors import DataError
from accessrl.model.policies import uniform_policy
from accessrl.offline.logsim import simulate_logs
from accessrl.storage import SCHEMA_VERSION, DecisionLog, current_version, normalise_url
from accessrl.storage.generated import generated_records, write_generated, write_generated_file
from accessrl.storage.store import DecisionLog as _DL
from accessrl.storage.times import to_us

PG_URL = os.environ.get("ACCESSRL_TEST_POSTGRES_URL")
if os.environ.get("CI", "").lower() == "true" and not PG_URL:
    raise RuntimeError("CI=true but ACCESSRL_TEST_POSTGRES_URL is not set: the PostgreSQL storage tests must run in CI")

try:
    import pyarrow  # noqa: F401

    HAVE_PYARROW = True
except ImportError:
    HAVE_PYARROW = False
NEEDS_PYARROW = pytest.mark.skipif(not HAVE_PYARROW, reason='Parquet needs pyarrow: pip install "accessrl[parquet]"')

BACKENDS = ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.skipif(
    not PG_URL, reason="set ACCESSRL_TEST_POSTGRES_URL to run the PostgreSQL tests")])]


@pytest.fixture(params=BACKENDS)
def make_log(request, tmp_path):
    """A factory of fresh decision logs: a new SQLite file, or a new PostgreSQL schema."""
    made = []

    def make(name="log"):
        if request.param == "sqlite":
            log = DecisionLog(str(tmp_path / f"{name}-{uuid.uuid4().hex[:6]}.db"))
        else:
            log = DecisionLog(PG_URL, schema=f"t_{uuid.uuid4().hex[:12]}")
        made.append(log)
        return log

    yield make
    for log in made:
        log.drop_schema()
        log.close()


def _generated(n=200, seed=3):
    mdp = access_review_abandonment()
    log = simulate_logs(mdp, uniform_policy(mdp), n_requests=n, start_us=to_us("2026-01-05"),
                        rng=np.random.default_rng(seed), epsilon=0.1)
    return mdp, log


def _decision(event_id="e1", **kw):
    rec = {"record": "decision", "event_id": event_id, "episode_id": "r1", "step_index": 0, "requester_id": "u1",
           "decided_at": "2026-01-05T09:00:00Z", "state": "new_request",
           "allowed_actions": ["auto_approve", "human_review"], "action": "human_review",
           "action_probabilities": {"auto_approve": 0.5, "human_review": 0.5}, "propensity": 0.5,
           "policy_id": "uniform", "policy_version": "1", "exploration": 1.0, "mode": "live"}
    rec.update(kw)
    return rec


def _outcome(event_id="e1", **kw):
    rec = {"record": "outcome", "event_id": event_id, "kind": "review_outcome",
           "occurred_at": "2026-01-05T10:00:00+00:00", "next_state": "closed", "reward": 62.0, "terminated": True}
    rec.update(kw)
    return rec


def test_round_trip_generated_logs(make_log, tmp_path):
    mdp, gen = _generated()
    a = make_log("a")
    res = write_generated(a, gen, mdp)
    assert res.decisions_inserted == gen.steps.n_steps and not res.rejected
    loaded = a.load_steps(state_names=mdp.state_names, action_names=mdp.action_names)
    s = gen.steps
    assert loaded.pending == 0
    for col in ("state", "action", "next_state", "step", "requester", "decided_at", "outcome_at", "terminated"):
        assert np.array_equal(getattr(loaded.steps, col), getattr(s, col)), col
    np.testing.assert_allclose(loaded.steps.propensity, s.propensity, rtol=0, atol=1e-15)
    np.testing.assert_allclose(loaded.steps.reward, s.reward)
    # export -> ingest into a second log -> the same records
    out = tmp_path / "export.jsonl"
    n = a.export(out)
    assert n == 2 * s.n_steps
    b = make_log("b")
    res_b = b.ingest(out)
    assert (res_b.decisions_inserted, res_b.outcomes_inserted, res_b.rejected) == (s.n_steps, s.n_steps, ())
    assert list(a.iter_records()) == list(b.iter_records())


@pytest.mark.parametrize("suffix", ["jsonl", "csv", pytest.param("parquet", marks=NEEDS_PYARROW)])
def test_file_formats_round_trip(make_log, tmp_path, suffix):
    mdp, gen = _generated(n=60)
    path = tmp_path / f"gen.{suffix}"
    write_generated_file(gen, mdp, path)
    log = make_log()
    res = log.ingest(path)
    assert res.rejected == ()
    assert res.decisions_inserted == res.outcomes_inserted == gen.steps.n_steps
    again = tmp_path / f"again.{suffix}"
    log.export(again)
    other = make_log("other")
    assert other.ingest(again).decisions_inserted == gen.steps.n_steps
    assert list(other.iter_records()) == list(log.iter_records())


def test_ingesting_twice_loses_and_duplicates_nothing(make_log, tmp_path):
    mdp, gen = _generated()
    path = tmp_path / "gen.jsonl"
    write_generated_file(gen, mdp, path)
    log = make_log()
    first = log.ingest(path, batch_size=97)
    second = log.ingest(path, batch_size=50)
    n = gen.steps.n_steps
    assert (first.decisions_inserted, first.outcomes_inserted) == (n, n)
    assert (second.decisions_inserted, second.decisions_duplicate) == (0, n)
    assert (second.outcomes_inserted, second.outcomes_duplicate) == (0, n)
    assert log.counts() == {"decision_snapshots": n, "outcome_events": n}


def _table_rows(log):
    with log.engine.connect() as conn:
        return {name: sorted(tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {name}"))
                for name in ("decision_snapshots", "outcome_events")}


def test_multirow_inserts_store_the_same_rows_as_one_row_executemany(tmp_path, monkeypatch):
    # fast path (multi-row INSERT OR IGNORE, 7 rows per statement so chunks and a tail occur)
    # against the readable path (one-row executemany), for JSONL and Parquet input, each
    # ingested twice: same stored rows, same counts, duplicates ignored the same way
    import accessrl.storage.store as store_mod

    monkeypatch.setattr(store_mod, "SQLITE_ROWS_PER_STATEMENT", 7)
    mdp, gen = _generated(n=120)
    for suffix in (".jsonl", ".parquet") if HAVE_PYARROW else (".jsonl",):
        path = tmp_path / f"gen{suffix}"
        write_generated_file(gen, mdp, path)
        fast, plain = (DecisionLog(str(tmp_path / f"{k}{suffix}.db")) for k in ("fast", "plain"))
        plain.multirow_inserts = False
        results = []
        for log in (fast, plain):
            first, second = log.ingest(path, batch_size=53), log.ingest(path, batch_size=41)
            results.append([(r.decisions_inserted, r.decisions_duplicate, r.outcomes_inserted,
                             r.outcomes_duplicate, len(r.rejected)) for r in (first, second)])
        n = gen.steps.n_steps
        assert results[0] == results[1] == [(n, 0, n, 0, 0), (0, n, 0, n, 0)]
        assert _table_rows(fast) == _table_rows(plain)
        assert len(_table_rows(fast)["decision_snapshots"]) == n
        fast.close()
        plain.close()


def test_interrupted_batch_rolls_back_and_a_rerun_completes_it(make_log, tmp_path, monkeypatch):
    mdp, gen = _generated()
    path = tmp_path / "gen.jsonl"
    write_generated_file(gen, mdp, path)
    log = make_log()
    real = _DL._insert
    calls = {"n": 0}
    monkeypatch.setattr(_DL, "_insert", lambda self, conn, d, o: _flaky_insert(self, conn, d, o, real, calls))
    with pytest.raises(KeyboardInterrupt):
        log.ingest(path, batch_size=100)
    counts = log.counts()
    assert counts["decision_snapshots"] == counts["outcome_events"] == 50  # batch 1 only: 100 records
    monkeypatch.setattr(_DL, "_insert", real)
    log.ingest(path, batch_size=100)
    n = gen.steps.n_steps
    assert log.counts() == {"decision_snapshots": n, "outcome_events": n}


def _flaky_insert(self, conn, decisions, outcomes, real, calls):
    calls["n"] += 1
    d, _ = real(self, conn, decisions, [])
    if calls["n"] == 2:
        raise KeyboardInterrupt
    _, o = real(self, conn, [], outcomes)
    return d, o


def test_bad_records_are_rejected_by_line_and_good_ones_kept(make_log, tmp_path):
    lines = [
        _decision("e1"),
        _outcome("e1"),
        {k: v for k, v in _decision("e2").items() if k != "state"},  # line 3: missing field
        _decision("e3", propensity=1.5, action_probabilities={"auto_approve": -0.5, "human_review": 1.5}),  # 4
        _outcome("nope"),  # line 5: unknown event id
        _decision("e4", decided_at="yesterday at noon"),  # line 6: timestamp does not parse
        _decision("e5", episode_id="r5"),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json at all\n")
    log = make_log()
    res = log.ingest(path)
    text = [str(r) for r in res.rejected]
    assert len(text) == 5, text
    assert any("line 3" in t and "'e2'" in t and "missing field 'state'" in t for t in text)
    assert any("line 4" in t and "'e3'" in t and "propensity: expected a number in (0, 1], got 1.5" in t for t in text)
    assert any("line 5" in t and "'nope'" in t and "unknown event id" in t for t in text)
    assert any("line 6" in t and "'e4'" in t and "decided_at: expected an ISO 8601 timestamp" in t for t in text)
    assert any("line 8" in t and "not valid JSON" in t for t in text)
    assert all("\n" not in t for t in text)
    assert (res.decisions_inserted, res.outcomes_inserted) == (2, 1)


def test_outcome_may_precede_its_decision_in_the_file(make_log, tmp_path):
    path = tmp_path / "late.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in [_outcome("e1"), _decision("e0", episode_id="r0"),
                                                     _decision("e1")]) + "\n")
    res = make_log().ingest(path, batch_size=1)
    assert (res.decisions_inserted, res.outcomes_inserted, res.rejected) == (2, 1, ())


def test_write_is_one_transaction_with_an_idempotency_key(make_log):
    log = make_log()
    first = log.write([_decision("e1")], [_outcome("e1")], idempotency_key="k1")
    assert (first.decisions_inserted, first.outcomes_inserted, first.replayed) == (1, 1, False)
    again = log.write([_decision("e1")], [_outcome("e1")], idempotency_key="k1")
    assert again.replayed and log.counts() == {"decision_snapshots": 1, "outcome_events": 1}
    # an unknown event id fails the whole call: the decision beside it is not stored either
    with pytest.raises(DataError, match="unknown event id 'ghost'"):
        log.write([_decision("e2", episode_id="r2")], [_outcome("ghost")], idempotency_key="k2")
    assert log.counts() == {"decision_snapshots": 1, "outcome_events": 1}
    # the key was rolled back with the rest, so a corrected retry goes through
    assert not log.write([_decision("e2", episode_id="r2")], [], idempotency_key="k2").replayed
    # a snapshot is never rewritten
    dup = log.write([_decision("e1", action="auto_approve", propensity=0.5)])
    assert (dup.decisions_inserted, dup.decisions_duplicate) == (0, 1)
    assert [r["action"] for r in log.iter_records() if r.get("event_id") == "e1" and r["record"] == "decision"] == [
        "human_review"]


def test_load_steps_as_of_a_date(make_log):
    log = make_log()
    log.write([_decision("e1"), _decision("e2", episode_id="r2", decided_at="2026-01-06T09:00:00Z")],
              [_outcome("e1"), _outcome("e2", occurred_at="2026-01-07T09:00:00Z")])
    assert log.load_steps().steps.n_steps == 2
    early = log.load_steps(until="2026-01-06T12:00:00Z")  # e2's outcome is not known yet
    assert (early.steps.n_steps, early.pending) == (1, 1)
    assert log.load_steps(since="2026-01-06T00:00:00Z").episode_ids == ("r2",)
    shadow = log.load_steps(modes=("shadow",))
    assert shadow.steps.n_steps == 0


def test_migration_from_the_version_1_layout(tmp_path):
    url = f"sqlite:///{tmp_path / 'v1.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # the layout the decision service created before versioning
        conn.exec_driver_sql(
            "CREATE TABLE decision_snapshots (event_id VARCHAR(64) PRIMARY KEY, episode_id VARCHAR(64) NOT NULL, "
            "step_index INTEGER NOT NULL, previous_event_id VARCHAR(64), requester_id VARCHAR(128), "
            "decided_at VARCHAR(40) NOT NULL, state VARCHAR(256) NOT NULL, features TEXT NOT NULL, "
            "allowed_actions TEXT NOT NULL, action VARCHAR(256) NOT NULL, action_probabilities TEXT NOT NULL, "
            "propensity FLOAT NOT NULL, policy_id VARCHAR(128) NOT NULL, policy_version VARCHAR(64) NOT NULL, "
            "exploration FLOAT NOT NULL, mode VARCHAR(16) NOT NULL)")
        conn.exec_driver_sql(
            "CREATE TABLE outcome_events (outcome_id INTEGER PRIMARY KEY AUTOINCREMENT, event_id VARCHAR(64) NOT NULL, "
            "episode_id VARCHAR(64) NOT NULL, kind VARCHAR(64) NOT NULL, occurred_at VARCHAR(40) NOT NULL, "
            "evidence_received_at VARCHAR(40), next_state VARCHAR(256), reward FLOAT, reward_components TEXT, "
            "severe BOOLEAN NOT NULL, terminated BOOLEAN NOT NULL, details TEXT)")
        conn.exec_driver_sql(
            "INSERT INTO decision_snapshots VALUES ('e1','r1',0,NULL,'u1','2026-01-05T09:00:00.000000+00:00',"
            "'new_request','{}','[\"human_review\"]','human_review','{\"human_review\":1.0}',1.0,'p','1',0.0,'live')")
        conn.exec_driver_sql(
            "INSERT INTO outcome_events (event_id, episode_id, kind, occurred_at, next_state, reward, severe, "
            "terminated) VALUES ('e1','r1','review_outcome','2026-01-05T10:00:00.000000+00:00','closed',62,0,1)")
        assert current_version(conn) == 1
    log = DecisionLog(url)
    assert log.found_version == 1
    with log.engine.connect() as conn:
        assert current_version(conn) == SCHEMA_VERSION
    assert log.load_steps().steps.reward.tolist() == [62.0]
    # outcome keys now make outcome ingestion idempotent
    log.write([], [_outcome("e1", kind="approval_reversed", reward=-30.0, next_state=None, terminated=False)])
    log.write([], [_outcome("e1", kind="approval_reversed", reward=-30.0, next_state=None, terminated=False)])
    assert log.counts()["outcome_events"] == 2
    assert DecisionLog(url).found_version == SCHEMA_VERSION


def test_migration_of_a_version_2_service_database(make_log):
    """A database the decision service wrote before v3: its tables kept, service_meta dropped."""
    from accessrl.storage import schema

    log = make_log("v2")
    q = f'"{log.schema}".' if log.schema else ""  # raw SQL is not schema-translated
    with log.engine.begin() as conn:  # back to what the service left: v2 plus its own version table
        conn.exec_driver_sql(f"UPDATE {q}accessrl_schema SET version = 2")
        conn.exec_driver_sql(f"CREATE TABLE {q}service_meta (key VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL)")
        conn.exec_driver_sql(f"INSERT INTO {q}service_meta VALUES ('schema_version', '1')")
        conn.execute(schema.service_episodes.insert(), {
            "episode_id": "r1", "requester_id": "u1", "opened_at": "2026-01-05T09:00:00.000000+00:00",
            "state": "new_request", "status": "open", "steps": 1, "last_event_id": "e1",
            "last_action": "human_review", "features": "{}"})
        schema.service_deployments.drop(conn)  # as if written by a service without deployments
    again = DecisionLog(log.url, schema=log.schema)
    assert again.found_version == 2
    with again.engine.connect() as conn:
        assert current_version(conn, again.schema) == SCHEMA_VERSION == 4
        tables = set(sa.inspect(conn).get_table_names(schema=again.schema))
        assert {"service_episodes", "service_idempotency", "service_deployments"} <= tables
        assert "service_meta" not in tables
        assert conn.execute(sa.select(schema.service_episodes.c.episode_id)).scalars().all() == ["r1"]
    assert DecisionLog(log.url, schema=log.schema).found_version == SCHEMA_VERSION


def test_a_newer_database_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    log = DecisionLog(url)
    with log.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE accessrl_schema SET version = 99")
    with pytest.raises(DataError, match="schema version 99 is newer"):
        DecisionLog(url)


def test_sqlite_is_created_in_wal_mode(tmp_path):
    path = tmp_path / "sub.db"
    log = DecisionLog(str(path))
    assert path.exists()
    with log.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_urls():
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("logs.db") == "sqlite:///logs.db"
    with pytest.raises(Exception, match="expected sqlite"):
        normalise_url("mysql://x")


def test_generated_records_are_valid_snapshots():
    mdp, gen = _generated(n=20)
    recs = list(generated_records(gen, mdp))
    dec = [r for r in recs if r["record"] == "decision"]
    assert all(abs(r["action_probabilities"][r["action"]] - r["propensity"]) < 1e-12 for r in dec)
    assert all(r["action"] in r["allowed_actions"] for r in dec)


runner = CliRunner()


def test_cli_generate_ingest_export_estimate_evaluate(tmp_path):
    db = str(tmp_path / "cli.db")
    gen = tmp_path / "gen.jsonl"
    r = runner.invoke(app, ["logs", "generate", "--model", "catalog:access-review-abandonment", "--requests", "400",
                            "--epsilon", "0.3", "--seed", "2", "--db", db, "--out", str(gen)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["logs", "ingest", str(gen), "--db", db])
    assert r.exit_code == 0 and "0 new" in r.output
    r = runner.invoke(app, ["logs", "export", "--db", db, "--out", str(tmp_path / "x.csv")])
    assert r.exit_code == 0 and (tmp_path / "x.csv").exists()
    spec = tmp_path / "est.yaml"
    r = runner.invoke(app, ["logs", "estimate", "--db", db, "--out", str(spec), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["interval"] == "Wilson score, 95%"
    pol = tmp_path / "review.yaml"
    pol.write_text("new_request: human_review\nevidence_ready: auto_approve\nreview_queue: approve_rotation\n")
    r = runner.invoke(app, ["evaluate-policy", "--db", db, "--split", "test", "--policy", str(pol), "--json",
                            "--n-boot", "200"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)["policies"][0]
    assert out["supported"] and out["estimates"]["wis"]["value"] == pytest.approx(54.0)


def test_cli_ingest_reports_rejects_and_exits_1(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(_decision("e1")) + "\n" + json.dumps(_decision("e2", propensity=0)) + "\n")
    r = runner.invoke(app, ["logs", "ingest", str(path), "--db", str(tmp_path / "b.db")])
    assert r.exit_code == 1
    assert "line 2 event 'e2': propensity: expected a number in (0, 1], got 0" in r.output
    assert "decisions 1 new" in r.output


def test_cli_empty_test_split_is_one_line(tmp_path):
    db = str(tmp_path / "one.db")
    DecisionLog(db).write([_decision("e1"), _decision("e2", episode_id="r2", decided_at="2026-01-06T09:00:00Z")],
                          [_outcome("e1"), _outcome("e2", occurred_at="2026-01-06T10:00:00Z")])
    pol = tmp_path / "p.yaml"
    pol.write_text("new_request: human_review\n")
    r = runner.invoke(app, ["evaluate-policy", "--db", db, "--policy", str(pol), "--train-end", "2026-01-06",
                            "--valid-end", "2030-01-01"])
    assert r.exit_code == 1
    assert "split 'test': no episodes decided between 2030-01-01" in r.output
    assert "Traceback" not in r.output


@NEEDS_PYARROW
def test_parquet_fast_path_keeps_good_rows_and_names_bad_ones(make_log, tmp_path):
    from accessrl.storage.columnar import ValidatedChunk
    from accessrl.storage.files import read_records, write_records

    t_dec, t_out = "2026-01-05T09:00:00.000000+00:00", "2026-01-05T10:00:00.000000+00:00"  # canonical: fast path
    rows = [
        _decision("e1", decided_at=t_dec),
        _outcome("e1", occurred_at=t_out),
        _decision("e2", episode_id="r2", state=""),  # row 3: missing field
        _decision("e3", episode_id="r3", propensity=1.5,
                  action_probabilities={"auto_approve": -0.5, "human_review": 1.5}),  # row 4
        _outcome("nope", occurred_at=t_out),  # row 5: unknown event id
        _decision("e4", episode_id="r4", decided_at="2026-13-05T09:00:00.000000+00:00"),  # row 6: no 13th month
        _decision("e5", episode_id="r5", decided_at="2026-01-05T09:00:00.000000+00:00"),
        _decision("e6", episode_id="r6", propensity=0.25),  # row 8: differs from the logged probability
    ]
    path = tmp_path / "bad.parquet"
    write_records(path, rows)
    items = list(read_records(path))
    fast = [x for _, x in items if isinstance(x, ValidatedChunk)]
    assert len(fast) == 1 and len(fast[0].decisions) == 2 and len(fast[0].outcomes) == 2
    res = make_log().ingest(path)
    text = sorted(str(r) for r in res.rejected)
    assert len(text) == 5, text
    assert any("row 3" in t and "missing field 'state'" in t for t in text)
    assert any("row 4" in t and "propensity: expected a number in (0, 1], got 1.5" in t for t in text)
    assert any("row 5" in t and "unknown event id" in t for t in text)
    assert any("row 6" in t and "decided_at: expected an ISO 8601 timestamp" in t for t in text)
    assert any("row 8" in t and "differs from action_probabilities" in t for t in text)
    assert (res.decisions_inserted, res.outcomes_inserted) == (2, 1)


def test_features_recorded_after_the_decision_reach_the_leakage_check(make_log):
    from accessrl.offline.splits import temporal_split
    from accessrl.storage import iso_to_us

    log = make_log()
    days = ["2026-01-05", "2026-01-06", "2026-01-07"]
    decisions = [_decision(f"e{i}", episode_id=f"r{i}", requester_id=f"u{i}", decided_at=f"{d}T09:00:00Z")
                 for i, d in enumerate(days)]
    decisions[2]["features"] = {"recorded_at": "2026-01-08T00:00:00Z", "stale": True}
    outcomes = [_outcome(f"e{i}", occurred_at=f"{d}T10:00:00Z") for i, d in enumerate(days)]
    log.write(decisions, outcomes)
    steps = log.load_steps().steps
    assert steps.features_at[2] == iso_to_us(["2026-01-08T00:00:00.000000+00:00"])[0]
    cut = iso_to_us(["2026-01-06T00:00:00.000000+00:00", "2026-01-07T00:00:00.000000+00:00"])
    assert temporal_split(steps, (int(cut[0]), int(cut[1]))).leakage.late_features == 1


def _model_support(mdp):
    """(state, action, next state) names the model can produce."""
    pairs = set()
    for k in range(mdp.n_pairs):
        s, a = mdp.state_names[int(mdp.sa_state[k])], mdp.action_names[int(mdp.sa_action[k])]
        for j in range(int(mdp.out_ptr[k]), int(mdp.out_ptr[k + 1])):
            pairs.add((s, a, mdp.state_names[int(mdp.out_next[j])]))
    return pairs


def test_two_generated_runs_in_one_log_stay_intact(make_log):
    mdp = access_review_abandonment()
    one = simulate_logs(mdp, uniform_policy(mdp), n_requests=150, start_us=to_us("2026-01-05"),
                        rng=np.random.default_rng(1), epsilon=0.2)
    two = simulate_logs(mdp, uniform_policy(mdp), n_requests=150, start_us=to_us("2026-01-05"),
                        rng=np.random.default_rng(2), epsilon=0.2)
    log = make_log()
    r1, r2 = write_generated(log, one, mdp), write_generated(log, two, mdp)
    for res, g in ((r1, one), (r2, two)):
        assert (res.decisions_inserted, res.outcomes_inserted) == (g.steps.n_steps, g.steps.n_steps)
        assert (res.decisions_duplicate, res.outcomes_duplicate, res.rejected) == (0, 0, ())
    again = write_generated(log, two, mdp)  # the same run twice is stored once
    assert (again.decisions_inserted, again.outcomes_inserted) == (0, 0)
    loaded = log.load_steps(state_names=mdp.state_names, action_names=mdp.action_names).steps
    assert loaded.n_episodes == 300 and loaded.n_steps == one.steps.n_steps + two.steps.n_steps
    assert float(loaded.reward.sum()) == pytest.approx(float(one.steps.reward.sum() + two.steps.reward.sum()))
    seen = {(loaded.state_names[s], loaded.action_names[a], loaded.state_names[n])
            for s, a, n in zip(loaded.state, loaded.action, loaded.next_state, strict=True)}
    assert seen <= _model_support(mdp)


def test_cli_two_generate_runs_then_estimate(tmp_path):
    db = str(tmp_path / "two.db")
    said = []
    for seed in (1, 2):
        r = runner.invoke(app, ["logs", "generate", "--model", "catalog:access-review-abandonment", "--requests",
                                "300", "--seed", str(seed), "--db", db])
        assert r.exit_code == 0, r.output
        said.append(" ".join(r.output.split()))
    n_decisions = sum(int(s.split(" requests, ")[1].split(" decisions")[0]) for s in said)
    r = runner.invoke(app, ["logs", "estimate", "--db", db, "--out", str(tmp_path / "est.yaml"), "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert (report["n_episodes"], report["n_decisions"]) == (600, n_decisions)
    support = _model_support(access_review_abandonment())
    assert {(o["state"], o["action"], o["next_state"]) for o in report["outcomes"]} <= support
    assert all("(0 decisions and 0 outcomes already stored)" in s for s in said)


def test_migration_of_a_version_3_deployments_table(make_log):
    """v3 -> v4: deployments gain promoted_by, evidence and previous_id; old rows keep NULL there."""
    from accessrl.storage import schema

    log = make_log("v3")
    q = f'"{log.schema}".' if log.schema else ""
    old = sa.MetaData()
    v3 = sa.Table("service_deployments", old, *[sa.Column(c.name, c.type, primary_key=c.primary_key,
                                                          nullable=c.nullable)
                                               for c in schema.service_deployments.columns
                                               if c.name not in ("promoted_by", "evidence", "previous_id")])
    with log.engine.begin() as conn:  # back to the v3 layout, with one deployment
        schema.service_deployments.drop(conn)
        v3.create(conn)
        conn.execute(v3.insert(), {"role": "deployed", "policy_id": "p", "policy_version": "1", "policy": "{}",
                                   "model_spec": "{}", "deployed_at": "2026-01-05T09:00:00.000000+00:00",
                                   "reason": "serve"})
        conn.exec_driver_sql(f"UPDATE {q}accessrl_schema SET version = 3")
    again = DecisionLog(log.url, schema=log.schema)
    assert again.found_version == 3
    with again.engine.begin() as conn:
        assert current_version(conn, again.schema) == SCHEMA_VERSION == 4
        cols = {c["name"] for c in sa.inspect(conn).get_columns("service_deployments", schema=again.schema)}
        assert {"promoted_by", "evidence", "previous_id"} <= cols
        rows = conn.execute(sa.select(schema.service_deployments)).mappings().all()
        assert [(r["policy_id"], r["promoted_by"], r["evidence"], r["previous_id"]) for r in rows] == [
            ("p", None, None, None)]
        conn.execute(schema.service_deployments.insert(), {
            "role": "deployed", "policy_id": "c", "policy_version": "2", "policy": "{}", "model_spec": "{}",
            "deployed_at": "2026-01-06T09:00:00.000000+00:00", "reason": "promoted", "promoted_by": "tester",
            "evidence": json.dumps({"estimate": 54.0}), "previous_id": rows[0]["id"]})
    assert DecisionLog(log.url, schema=log.schema).found_version == SCHEMA_VERSION
