"""`accessrl logs import`: event logs (XES, CSV, Parquet, .gz) through a mapping into the decision log."""

from __future__ import annotations

import json
import sys
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accessrl.cli import app
from accessrl.errors import ParameterError
from accessrl.storage import DecisionLog
from accessrl.storage.eventlogs import Rejects, load_mapping, mapping_from_dict, read_cases

sys.path.insert(0, str(Path(__file__).parents[1]))
from cli_checks import one_error_line  # noqa: E402
from eventlog_files import MAPPING, cases, write_csv, write_parquet, write_xes  # noqa: E402

runner = CliRunner()


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    p = tmp_path / "map.yaml"
    p.write_text(MAPPING, encoding="utf-8")
    return p


def _import(tmp_path: Path, log: Path, mapping: Path, db: str) -> dict:
    r = runner.invoke(app, ["logs", "import", str(log), "--mapping", str(mapping), "--db", db, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_counts_known_by_construction(tmp_path, mapping_file, db_url):
    log = tmp_path / "synth.xes.gz"
    write_xes(log, cases(40))
    rep = _import(tmp_path, log, mapping_file, db_url)
    # 10 cases of each kind (eventlog_files.cases): 2 + 2 + 1 + 1 decisions, 3 + 3 + 1 + 0 outcome records
    assert (rep["cases"], rep["decisions"], rep["outcomes"], rep["open_cases"], rep["rejects"]) == (40, 60, 70, 10, 0)
    assert rep["ended"] == {"abandoned": 10, "approved": 10, "declined": 10}
    assert rep["events"] == 10 * (5 + 5 + 2 + 2)
    assert rep["events_after_case_end"] == 10  # the approvals after a withdrawal
    assert rep["filtered_events"] == 10  # the 'start' transitions
    again = _import(tmp_path, log, mapping_file, db_url)  # idempotent
    assert again["stored"]["decisions_new"] == 0 and again["stored"]["decisions_already_stored"] == 60
    assert again["stored"]["outcomes_new"] == 0 and again["stored"]["outcomes_already_stored"] == 70
    store = DecisionLog(db_url, create=False)
    assert store.counts()["decision_snapshots"] == 60
    recs = [r for r in store.iter_records() if r["record"] == "decision"]
    assert {r["mode"] for r in recs} == {"historical"}
    assert all(r["features"]["propensity"] == "estimated" for r in recs)
    loaded = store.load_steps()
    assert loaded.pending == 10  # the open cases' decisions
    assert loaded.steps.n_episodes == 30


def test_every_format_stores_the_same_log(tmp_path, mapping_file):
    data = cases(24)
    paths = [tmp_path / n for n in ("a.xes", "b.xes.gz", "c.csv", "d.csv.gz", "e.parquet", "f.csv")]
    write_xes(paths[0], data)
    write_xes(paths[1], data)
    write_csv(paths[2], data)
    write_csv(paths[3], data)
    write_parquet(paths[4], data)
    write_csv(paths[5], data, shuffle=True)  # rows of a case scattered through the file
    seen = []
    for p in paths:
        db = str(tmp_path / f"{p.name}.db")
        _import(tmp_path, p, mapping_file, db)
        seen.append(sorted(repr((r["event_id"], r.get("state"), r.get("action"), r.get("propensity"),
                                 r.get("next_state"), r.get("reward"))) for r in DecisionLog(db, create=False).iter_records()))
    assert all(s == seen[0] for s in seen[1:])
    text = "".join(seen[0])
    assert "'new|amount=<1000'" in text and "'evidence_in|amount=>=1000'" in text


def test_propensities_come_from_the_training_period_only(tmp_path, mapping_file):
    base = cases(40)
    # the same log with the test period's declines turned into evidence requests (same actions exist)
    later = [(c, a, [("Ask documents", e[0][1].replace("08:00", "09:00"), "complete")] if i % 4 == 2 and
              e[0][1] >= "2024-02-01" else e) for i, (c, a, e) in enumerate(base)]
    out = []
    for name, data in (("base", base), ("later", later)):
        p = tmp_path / f"{name}.xes"
        write_xes(p, data)
        db = str(tmp_path / f"{name}.db")
        _import(tmp_path, p, mapping_file, db)
        out.append({(r["state"], a): pr for r in DecisionLog(db, create=False).iter_records() if "state" in r
                    for a, pr in r["action_probabilities"].items()})
    assert out[0] == out[1]
    # add-one frequencies by hand from the training decisions (decided before 2024-02-01)
    recs = [r for r in DecisionLog(str(tmp_path / "base.db"), create=False).iter_records() if "state" in r]
    train = Counter((r["state"], r["action"]) for r in recs if r["decided_at"] < "2024-02-01")
    for r in recs:
        acts = r["allowed_actions"]
        n = sum(train[(r["state"], a)] for a in acts)
        assert r["propensity"] == pytest.approx((train[(r["state"], r["action"])] + 1) / (n + len(acts)))
        assert r["policy_version"] == "estimated<2024-02-01"


def test_a_bad_event_is_named_with_line_and_case_and_the_rest_kept(tmp_path, mapping_file):
    log = tmp_path / "bad.xes"
    write_xes(log, cases(8), bad={2: "yesterday"})  # the third event: case c000's 'Ask documents' complete
    r = runner.invoke(app, ["logs", "import", str(log), "--mapping", str(mapping_file), "--db",
                            str(tmp_path / "x.db"), "--json"])
    assert r.exit_code == 1
    rep = json.loads(r.stdout)
    assert rep["rejects"] == 1 and rep["cases"] == 8
    line = next(i for i, t in enumerate(log.read_text().splitlines(), start=1) if "yesterday" in t)
    assert rep["rejected"] == [f"line {line - 4}: case 'c000': time:timestamp: expected an ISO 8601 timestamp, "
                               "got 'yesterday'"]
    assert "reject: line" in r.stderr
    csv_log = tmp_path / "bad.csv"
    write_csv(csv_log, cases(8))
    text = csv_log.read_text().splitlines()
    text[3] = text[3].replace("2024-01-01T09:30:00+00:00", "")
    csv_log.write_text("\n".join(text) + "\n")
    r = runner.invoke(app, ["logs", "import", str(csv_log), "--mapping", str(mapping_file), "--db",
                            str(tmp_path / "y.db"), "--json"])
    assert r.exit_code == 1
    assert json.loads(r.stdout)["rejected"] == ["line 4: case 'c000': no timestamp ('time:timestamp' is missing)"]


def test_a_broken_xml_file_keeps_the_cases_before_the_break(tmp_path, mapping_file):
    log = tmp_path / "cut.xes"
    write_xes(log, cases(8))
    text = log.read_text()
    log.write_text(text[: text.index("c004") + 200])
    r = runner.invoke(app, ["logs", "import", str(log), "--mapping", str(mapping_file), "--db",
                            str(tmp_path / "x.db"), "--json"])
    assert r.exit_code == 1
    rep = json.loads(r.stdout)
    assert rep["cases"] == 4 and "not well-formed XML" in rep["rejected"][0]


@pytest.mark.parametrize(("text", "needle"), [
    ("decisions: {}\n", "map.yaml: line 1: decisions: expected at least one decision activity"),
    ("name: x\ndecisions:\n  A: {act: a}\n", "map.yaml: line 3: decisions.A.act: unknown key; expected one of action"),
    ("decisions: {A: a}\nstate:\n  waiting: {bounds_days: [7, 3]}\n",
     "map.yaml: line 3: state.waiting.bounds_days: expected increasing numbers, got [7, 3]"),
    ("decisions: {A: a}\nrewards:\n  actions: {b: 1}\n", "map.yaml: line 3: rewards.actions.b: unknown action"),
    ("decisions: {A: a}\ntraining: {until: soon}\n", "map.yaml: line 2: training.until: expected an ISO 8601 date"),
    ("decisions: {A: a}\noutcomes: {A: b}\n", "map.yaml: line 2: outcomes.A: this activity is already a decision"),
    ("decisions: [A\n", "map.yaml: line 2: not valid YAML"),
    ("colums: {case: id}\ndecisions: {A: a}\n", "map.yaml: line 1: colums: unknown key"),
])
def test_a_bad_mapping_is_one_located_line(tmp_path, text, needle):
    m = tmp_path / "map.yaml"
    m.write_text(text)
    log = tmp_path / "a.xes"
    write_xes(log, cases(4))
    r = runner.invoke(app, ["logs", "import", str(log), "--mapping", str(m), "--db", str(tmp_path / "x.db")])
    msg = one_error_line(r, code=2)
    assert needle in msg, msg


def test_a_mapping_whose_decisions_never_occur_says_what_the_log_holds(tmp_path):
    m = tmp_path / "map.yaml"
    m.write_text("decisions: {Nothing: a}\n")
    log = tmp_path / "a.xes"
    write_xes(log, cases(4))
    r = runner.invoke(app, ["logs", "import", str(log), "--mapping", str(m), "--db", str(tmp_path / "x.db")])
    msg = one_error_line(r)
    assert "none of the mapping's decision activities occurs" in msg and "'Submitted'" in msg


def test_mapping_defaults_are_the_xes_names():
    m = mapping_from_dict({"decisions": {"A": "a"}})
    assert dict(m.columns) == {"case": "case:concept:name", "activity": "concept:name", "timestamp": "time:timestamp",
                               "resource": "org:resource", "lifecycle": "lifecycle:transition"}
    with pytest.raises(ParameterError):
        mapping_from_dict({"decisions": {"A": "a"}, "name": "has:colon"})


def _peak_reading(path: Path, mapping: Path) -> int:
    m = load_mapping(mapping)
    tracemalloc.start()
    try:
        n = sum(1 for _ in read_cases(path, m, Rejects()))
        assert n > 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_xes_is_read_in_bounded_memory(tmp_path, mapping_file):
    small, big = tmp_path / "s.xes.gz", tmp_path / "b.xes.gz"
    write_xes(small, cases(400) * 4)  # a few of the reader's 1 MiB chunks
    write_xes(big, cases(400) * 40)  # ten times the events
    assert _peak_reading(big, mapping_file) < 2 * _peak_reading(small, mapping_file)


def test_stored_rows_are_what_the_record_checks_make(tmp_path, mapping_file):
    """The import builds row tuples directly (each distinct text checked once); the readable route -
    offline.eventlog.with_propensities then storage.records.decision_row / outcome_row - gives the same rows."""
    from accessrl.offline.eventlog import CaseTally, case_records, count_decisions, estimate_propensities, with_propensities
    from accessrl.storage.eventimport import _Rows
    from accessrl.storage.records import decision_row, outcome_row
    from accessrl.storage.store import _OUTCOME_TUPLE

    log = tmp_path / "a.xes"
    write_xes(log, cases(24))
    m = load_mapping(mapping_file)
    seen: dict = {}
    train: dict = {}
    steps = []
    for case, events, attrs in read_cases(log, m, Rejects()):
        s = case_records(m, case, events, attrs, CaseTally())
        count_decisions(s, m.train_until, seen, train)
        steps += s
    props = estimate_propensities(seen, train)
    rows = _Rows(props, "synth-behavior", m.train_until)
    for s in steps:
        assert rows.decision(s) == decision_row(with_propensities(s, props, "synth-behavior", m.train_until))
        for o in s.outcomes:
            assert rows.outcome(o) == _OUTCOME_TUPLE(outcome_row(o))


def test_the_documented_minimal_mapping_imports_a_csv_with_its_own_columns(tmp_path):
    import re

    section = (Path(__file__).resolve().parents[2] / "docs" / "guide" / "event-logs.md").read_text()
    (tmp_path / "m.yaml").write_text(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))
    (tmp_path / "t.csv").write_text(
        "ticket,step,at,agent\nT1,Ask for approval evidence,2026-01-05 09:00,ann\n"
        "T1,Evidence attached,2026-01-06 10:00:00+01:00,\nT1,Approve,2026-01-06T12:00:00Z,bob\n"
        "T2,Ask for approval evidence,2026-01-05T09:00,ann\nT2,Requester withdrew,2026-01-09T09:00,\n")
    rep = _import(tmp_path, tmp_path / "t.csv", tmp_path / "m.yaml", str(tmp_path / "t.db"))
    assert (rep["cases"], rep["decisions"], rep["open_cases"], rep["rejects"]) == (2, 3, 0, 0)
    assert rep["ended"] == {"approved": 1, "withdrawn": 1}


def test_missing_or_unknown_files_are_one_line(tmp_path, mapping_file):
    db = str(tmp_path / "x.db")
    one_error_line(runner.invoke(app, ["logs", "import", str(tmp_path / "none.xes"), "--mapping", str(mapping_file),
                                       "--db", db]), "none.xes: no such event log file")
    one_error_line(runner.invoke(app, ["logs", "import", str(tmp_path / "a.txt"), "--mapping", str(mapping_file),
                                       "--db", db]), "cannot tell the format", code=2)
    log = tmp_path / "a.xes"
    write_xes(log, cases(4))
    one_error_line(runner.invoke(app, ["logs", "import", str(log), "--mapping", str(tmp_path / "none.yaml"),
                                       "--db", db]), "--mapping", code=2)
