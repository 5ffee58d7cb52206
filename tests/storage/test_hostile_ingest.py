"""Hostile log files: one bad record never costs the good ones, SQLite and PostgreSQL accept and
refuse the same records, conflicts are reported apart from duplicates, rejects stay bounded in
memory, and every unreadable file or database is one error line."""

import json
import os
import stat
import tracemalloc
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst
from typer.testing import CliRunner

from accessrl.cli import app
from accessrl.errors import DataError
from accessrl.storage import DecisionLog
from accessrl.storage.records import decision_row, outcome_row, record_kind
from cli_checks import one_error_line
from storage.test_storage import NEEDS_PYARROW, PG_URL, _decision, _outcome

HOSTILE_COUNTS: dict[str, int] = {}
"""Inputs tried per category by this module (printed by the summary test, for the issue's table)."""


def _count(category: str, n: int = 1) -> None:
    HOSTILE_COUNTS[category] = HOSTILE_COUNTS.get(category, 0) + n


def _logs(tmp_path):
    """One SQLite log, and one PostgreSQL log when the server is configured."""
    out = [DecisionLog(str(tmp_path / f"h-{uuid.uuid4().hex[:6]}.db"))]
    if PG_URL:
        out.append(DecisionLog(PG_URL, schema=f"h_{uuid.uuid4().hex[:12]}"))
    return out


def _close(logs):
    for log in logs:
        log.drop_schema()
        log.close()


def _jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


BAD_DECISIONS = {
    "step_index 1e30": {"step_index": 1e30},
    "step_index beyond 32 bits": {"step_index": 2**31},
    "event_id of 65 characters": {"event_id": "e" * 65},
    "state of 257 characters": {"state": "s" * 257},
    "NUL in requester_id": {"requester_id": "u\x00"},
    "NUL in state": {"state": "new\x00request"},
    "NaN exploration": {"exploration": "nan"},
    "exploration above 1": {"exploration": 7},
    "huge integer in features": {"features": {"x": 10**30}},
    "features nested 40 deep": {"features": json.loads('{"a":' * 40 + "1" + "}" * 40)},
    "policy_id of 129 characters": {"policy_id": "p" * 129},
    "decided_at past year 9999 in UTC": {"decided_at": "9999-12-31T23:00:00-05:00"},
    "decided_at as 10**30 microseconds": {"decided_at": 10**30},
}


def test_one_bad_record_never_costs_the_good_ones_on_either_backend(tmp_path):
    """The issue's report: ``step_index: 1e30`` (and on PostgreSQL an event id over 64 characters,
    a state over 256, a NUL) aborted the batch and stored 0 of the good records."""
    good = [_decision(f"g{i}", episode_id=f"r{i}") for i in range(20)]
    bad = [{**_decision(f"b{i}", episode_id=f"rb{i}"), **kw} for i, kw in enumerate(BAD_DECISIONS.values())]
    records = [x for pair in zip(good, bad, strict=False) for x in pair] + good[len(bad):]
    path = _jsonl(tmp_path / "mixed.jsonl", records)
    _count("ingest: bad records among good", len(bad) * 2)
    logs = _logs(tmp_path)
    try:
        seen = []
        for log in logs:
            res = log.ingest(path)
            assert res.decisions_inserted == len(good), [str(r) for r in res.rejected]
            assert res.rejected_total == len(bad)
            lines = sorted(r.where for r in res.rejected)
            assert lines == sorted(f"line {2 * i + 2}" for i in range(len(bad)))
            seen.append(sorted(str(r).split(": ", 1)[1] for r in res.rejected))
            assert log.counts()["decision_snapshots"] == len(good)
        assert all(s == seen[0] for s in seen)  # the same records refused, for the same reasons
    finally:
        _close(logs)


def test_a_changed_record_is_a_conflict_not_a_duplicate(tmp_path):
    logs = _logs(tmp_path)
    try:
        for log in logs:
            first = _jsonl(tmp_path / "a.jsonl", [_decision("e1"), _outcome("e1")])
            assert log.ingest(first).decisions_inserted == 1
            again = log.ingest(first)
            assert (again.decisions_duplicate, again.outcomes_duplicate, again.conflict_total) == (1, 1, 0)
            changed = _jsonl(tmp_path / "b.jsonl", [_decision("e1", state="review_queue"),
                                                    _outcome("e1", reward=-5.0), _decision("e2")])
            res = log.ingest(changed)
            assert (res.decisions_inserted, res.decisions_duplicate, res.decisions_conflict) == (1, 0, 1)
            assert (res.outcomes_duplicate, res.outcomes_conflict) == (0, 1)
            text = [str(c) for c in res.conflicts]
            assert any("line 1" in t and "different state" in t for t in text), text
            assert any("line 2" in t and "different reward" in t for t in text), text
            stored = [r for r in log.iter_records() if r["record"] == "decision" and r["event_id"] == "e1"]
            assert stored[0]["state"] == "new_request"  # never merged
            _count("ingest: conflicting re-ingest", 3)
    finally:
        _close(logs)


def test_the_cli_reports_conflicts_and_exits_1(tmp_path):
    db = str(tmp_path / "c.db")
    runner = CliRunner()
    a = _jsonl(tmp_path / "a.jsonl", [_decision("e1")])
    b = _jsonl(tmp_path / "b.jsonl", [_decision("e1", action="auto_approve")])
    assert runner.invoke(app, ["logs", "ingest", str(a), "--db", db]).exit_code == 0
    r = runner.invoke(app, ["logs", "ingest", str(b), "--db", db])
    assert r.exit_code == 1 and "1 in conflict" in r.stdout
    assert "accessrl: conflict:" in r.stderr and "different action" in r.stderr


def test_reject_heavy_files_list_20_and_count_all_in_bounded_memory(tmp_path):
    """The issue: 2M bad lines took 742 MB (every reject kept).  Here 200,000 bad lines: the
    traced peak stays far below what keeping the rejects would take (~100 MB)."""
    n = 200_000
    path = tmp_path / "bad.jsonl"
    with path.open("w") as fh:
        fh.write(json.dumps(_decision("ok")) + "\n")
        for i in range(n):
            fh.write(f'{{"record": "decision", "event_id": "x{i}", "step_index": -1}}\n')
    _count("ingest: reject-heavy file lines", n + 1)
    log = DecisionLog(str(tmp_path / "b.db"))
    tracemalloc.start()
    try:
        res = log.ingest(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res.decisions_inserted == 1 and res.rejected_total == n and len(res.rejected) == 20
    assert res.rejected[0].where == "line 2"
    assert peak < 20 * 2**20, peak
    r = CliRunner().invoke(app, ["logs", "ingest", str(path), "--db", str(tmp_path / "b2.db")])
    assert r.exit_code == 1 and f"{n} rejected" in r.stdout and f"and {n - 20} more" in r.stderr
    assert len(r.stderr.splitlines()) == 21


def test_csv_with_invalid_bytes_and_a_long_field(tmp_path):
    from accessrl.storage.files import FILE_COLUMNS, write_records

    path = tmp_path / "log.csv"
    recs = [_decision("g1"), _decision("g2", features={"note": "x" * 200_000}), _decision("g3")]
    write_records(path, recs)
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b"g3", b"g\xff3")  # not UTF-8
    path.write_bytes(b"\n".join(lines))
    assert len(FILE_COLUMNS) > 10
    log = DecisionLog(str(tmp_path / "c.db"))
    res = log.ingest(path)
    _count("ingest: CSV invalid bytes / long field", 2)
    assert res.decisions_inserted == 2, [str(r) for r in res.rejected]
    assert [r.where for r in res.rejected] == ["line 4"] and "not UTF-8" in res.rejected[0].reason


def test_non_utf8_and_utf16_jsonl(tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(json.dumps(_decision("g1")).encode() + b"\n" +
                     json.dumps(_decision("g2", requester_id="jos\u00e9"), ensure_ascii=False).encode("latin-1") + b"\n")
    log = DecisionLog(str(tmp_path / "d.db"))
    res = log.ingest(path)
    assert res.decisions_inserted == 1 and [r.where for r in res.rejected] == ["line 2"]
    u16 = tmp_path / "u16.jsonl"
    u16.write_text(json.dumps(_decision("g3")) + "\n", encoding="utf-16")
    r = CliRunner().invoke(app, ["logs", "ingest", str(u16), "--db", str(tmp_path / "d.db")])
    one_error_line(r, "UTF-16", code=1)
    _count("ingest: non-UTF-8 / UTF-16 files", 2)


@NEEDS_PYARROW
def test_parquet_with_a_struct_features_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{**_decision(f"p{i}"), "features": {"stale": i % 2 == 0}} for i in range(3)]
    for r in rows:
        r["allowed_actions"] = json.dumps(r["allowed_actions"])
        r["action_probabilities"] = json.dumps(r["action_probabilities"])
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "s.parquet")
    log = DecisionLog(str(tmp_path / "p.db"))
    res = log.ingest(tmp_path / "s.parquet")
    _count("ingest: Parquet struct features", 1)
    assert res.decisions_inserted == 3 and res.rejected_total == 0
    assert {json.dumps(r["features"]) for r in log.iter_records()} == {'{"stale": true}', '{"stale": false}'}


@NEEDS_PYARROW
def test_parquet_fast_path_refuses_what_the_record_path_refuses(tmp_path):
    """The columnar checks stay a subset of the per-record ones: long text, NUL, 32-bit steps."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from accessrl.storage.files import write_records

    recs = [_decision("ok"), _decision("e" * 65), _decision("n1", state="a\x00b"), _decision("s1", step_index=2**31),
            _decision("x1", exploration=float("inf"))]
    write_records(tmp_path / "f.parquet", recs)
    assert pq.read_table(tmp_path / "f.parquet").num_rows == 5 and pa is not None
    log = DecisionLog(str(tmp_path / "f.db"))
    res = log.ingest(tmp_path / "f.parquet")
    assert res.decisions_inserted == 1 and res.rejected_total == 4, [str(r) for r in res.rejected]


def test_ingest_into_a_read_only_database_is_one_line(tmp_path):
    db = tmp_path / "ro.db"
    DecisionLog(str(db)).close()
    path = _jsonl(tmp_path / "a.jsonl", [_decision("e1")])
    os.chmod(db, stat.S_IRUSR)
    os.chmod(tmp_path, stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.access(db, os.W_OK):
            pytest.skip("running as a user who can write read-only files (root)")
        r = CliRunner().invoke(app, ["logs", "ingest", str(path), "--db", str(db)])
        one_error_line(r, "ro.db", code=1)
    finally:
        os.chmod(tmp_path, stat.S_IRWXU)
        os.chmod(db, stat.S_IRUSR | stat.S_IWUSR)
    _count("ingest: read-only database", 1)


def test_ingest_into_a_database_opened_read_only_is_one_line(tmp_path):
    """The same refusal through the CLI whoever runs it (root can write read-only files): SQLite's
    own read-only mode, by URI."""
    db = tmp_path / "ro.db"
    DecisionLog(str(db)).close()
    path = _jsonl(tmp_path / "a.jsonl", [_decision("e1")])
    r = CliRunner().invoke(app, ["logs", "ingest", str(path), "--db", f"sqlite:///file:{db}?mode=ro&uri=true"])
    one_error_line(r, "cannot write to it", "readonly", code=1)
    assert DecisionLog(str(db)).counts()["decision_snapshots"] == 0
    _count("ingest: read-only database", 1)


def test_ingest_into_a_database_that_cannot_be_written(tmp_path, monkeypatch):
    """Root can write read-only files, so the refusal is also produced by the database itself:
    SQLite's query_only mode refuses every write as a read-only file does."""
    import sqlalchemy as sa

    db = tmp_path / "q.db"
    log = DecisionLog(str(db))

    @sa.event.listens_for(log.engine, "connect")
    def _query_only(dbapi_conn, _rec):
        dbapi_conn.execute("PRAGMA query_only=1")

    log.engine.dispose()
    with pytest.raises(DataError, match="cannot write to it"):
        log.ingest(_jsonl(tmp_path / "a.jsonl", [_decision("e1")]))


@pytest.mark.parametrize("argv", [
    ["logs", "estimate", "--out", "{tmp}/s.yaml"],
    ["logs", "export", "--out", "{tmp}/o.jsonl"],
    ["evaluate-policy", "--policy", "{tmp}/p.yaml"],
    ["promote", "--candidate", "{tmp}/p.yaml"],
])
def test_read_only_commands_do_not_create_a_database(tmp_path, argv):
    (tmp_path / "p.yaml").write_text("new_request: human_review\n")
    missing = tmp_path / "missing.db"
    r = CliRunner().invoke(app, [a.format(tmp=tmp_path) for a in argv] + ["--db", str(missing)])
    one_error_line(r, "no such database", code=1)
    assert not missing.exists() and not (tmp_path / "missing.db-wal").exists()
    _count("read-only commands on a missing database", 1)


def _mutations():
    """Hostile values for one field of a valid decision or outcome."""
    weird = hst.one_of(
        hst.integers(min_value=-(2**70), max_value=2**70), hst.floats(allow_nan=True, allow_infinity=True),
        hst.sampled_from([10**400, 1e309, -0.0, 5e-324, "nan", "inf", "1e30", "", "\x00", "a\x00b", "\ud800",
                          "x" * 65, "x" * 257, "x" * 129, True, None, [], {}, [1, [2]], {"k": float("nan")},
                          '{"a": NaN}', "2026-13-01T00:00:00Z", "9999-12-31T23:59:59-01:00", "{}", "[]"]),
        hst.text(max_size=80), hst.binary(max_size=20).map(lambda b: b.decode("latin-1")),
    )
    dec_fields = list(_decision())
    out_fields = list(_outcome())
    return hst.one_of(
        hst.tuples(hst.just("decision"), hst.sampled_from(dec_fields + ["features"]), weird),
        hst.tuples(hst.just("outcome"), hst.sampled_from(out_fields + ["details", "reward_components"]), weird),
    )


def _accepts(rec) -> bool:
    try:
        (decision_row if record_kind(rec) == "decision" else outcome_row)(rec)
        return True
    except DataError:
        return False


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(muts=hst.lists(_mutations(), min_size=1, max_size=4))
def test_mutated_records_store_every_good_one_identically_on_both_backends(tmp_path, muts):
    records = []
    for i, (kind, field, value) in enumerate(muts):
        good = _decision(f"d{i}", episode_id=f"r{i}")
        records.append(good)
        bad = dict(_decision(f"m{i}", episode_id=f"q{i}") if kind == "decision" else _outcome(f"d{i}"))
        bad[field] = value
        records.append(bad)
    _count("hypothesis: mutated log records", len(muts))
    expected_good = sum(_accepts(r) for r in records)
    logs = _logs(tmp_path)
    try:
        results = []
        for log in logs:
            res = log.ingest_records(((f"line {n}", r) for n, r in enumerate(records, start=1)), source="m")
            stored = log.counts()
            assert res.decisions_inserted + res.outcomes_inserted + res.decisions_duplicate + res.outcomes_duplicate \
                + res.conflict_total + res.rejected_total == len(records)
            assert res.decisions_inserted + res.outcomes_inserted + res.decisions_duplicate + \
                res.outcomes_duplicate + res.conflict_total <= expected_good
            assert stored["decision_snapshots"] == res.decisions_inserted
            results.append((sorted(r.where for r in res.rejected), res.decisions_inserted, res.outcomes_inserted,
                            sorted(json.dumps(x, sort_keys=True, default=str) for x in log.iter_records())))
        for r in results[1:]:
            for a, b in zip(r, results[0], strict=True):
                assert a == b, (muts, a, b)
    finally:
        _close(logs)


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="set ACCESSRL_TEST_POSTGRES_URL to run the PostgreSQL tests")
def test_copy_stores_the_same_rows_as_row_by_row_inserts(tmp_path):
    """PostgreSQL's COPY path against the readable executemany path: the same stored rows, the
    same counts of new, duplicate and conflicting records, with duplicates inside one batch."""
    import sqlalchemy as sa

    from accessrl.storage.generated import write_generated_file
    from accessrl.storage.schema import DECISION_COLUMNS, OUTCOME_COLUMNS, decision_snapshots, outcome_events
    from storage.test_storage import _generated

    def table_rows(log):
        with log.engine.connect() as conn:
            return [sorted(tuple(r) for r in conn.execute(sa.select(*[t.c[c] for c in cols])))
                    for t, cols in ((decision_snapshots, DECISION_COLUMNS), (outcome_events, OUTCOME_COLUMNS))]

    mdp, gen = _generated(n=150)
    path = tmp_path / "gen.jsonl"
    write_generated_file(gen, mdp, path)
    lines = path.read_text().splitlines()
    changed = json.loads(lines[0])
    changed["state"] = "review_queue"
    path.write_text("\n".join([*lines, lines[5], lines[6], json.dumps(changed)]) + "\n")
    copy, plain = (DecisionLog(PG_URL, schema=f"cp_{uuid.uuid4().hex[:10]}") for _ in range(2))
    plain.copy_inserts = False
    try:
        results = []
        for log in (copy, plain):
            runs = (log.ingest(path, batch_size=97), log.ingest(path, batch_size=200))
            results.append([(r.decisions_inserted, r.decisions_duplicate, r.decisions_conflict, r.outcomes_inserted,
                             r.outcomes_duplicate, r.rejected_total) for r in runs])
        n = gen.steps.n_steps
        assert results[0] == results[1]
        assert results[0][0][0] == n and results[0][0][2] == 1 and results[0][1][2] == 1
        assert table_rows(copy) == table_rows(plain)
    finally:
        _close([copy, plain])


@pytest.mark.parametrize("reader", ["default", "stdlib"])
def test_export_of_a_row_an_older_writer_stored_as_invalid_json_is_one_line(tmp_path, monkeypatch, reader):
    """Before this version the service stored NaN features as the text ``NaN``; export names the row.
    Both JSON readers refuse it: orjson, and the standard library's (which accepts NaN unless told
    not to, so a machine without orjson once exported ``{"x": NaN}`` into the user's file)."""
    import sqlalchemy as sa

    import accessrl.storage.store as store_mod
    from accessrl.storage.records import stdlib_json_loads
    from accessrl.storage.schema import decision_snapshots

    if reader == "stdlib":
        monkeypatch.setattr(store_mod, "json_loads", stdlib_json_loads)

    db = tmp_path / "old.db"
    log = DecisionLog(str(db))
    log.ingest(_jsonl(tmp_path / "a.jsonl", [_decision("e1")]))
    with log.engine.begin() as conn:
        conn.execute(sa.update(decision_snapshots).values(features='{"x": NaN}'))
    r = CliRunner().invoke(app, ["logs", "export", "--db", str(db), "--out", str(tmp_path / "o.jsonl")])
    one_error_line(r, "decision 'e1'", "features", code=1)
    _count("export: invalid JSON stored by an older writer", 1)


def test_orphan_outcomes_wait_in_bounded_memory(tmp_path, monkeypatch):
    """Outcomes whose decision never comes wait at most MAX_WAITING at a time; an outcome whose
    decision follows within that window is still stored."""
    import accessrl.storage.store as store_mod

    monkeypatch.setattr(store_mod, "MAX_WAITING", 30)
    records = [_outcome(f"orphan{i}", outcome_key=f"k{i}") for i in range(100)]
    records += [_outcome("late"), _decision("late")]
    log = DecisionLog(str(tmp_path / "o.db"))
    res = log.ingest(_jsonl(tmp_path / "o.jsonl", records), batch_size=10)
    assert res.outcomes_inserted == 1 and res.decisions_inserted == 1
    assert res.rejected_total == 100 and "within the next 30 outcomes" in res.rejected[0].reason
    assert res.rejected[0].where == "line 1"
    _count("ingest: orphan outcomes", 101)
