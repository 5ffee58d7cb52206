"""The helpdesk (Verenich, Mendeley Data, doi:10.17632/39bp3vv62t.1) and receipt (Buijs, 4TU.ResearchData,
doi:10.4121/12709127.v2) logs imported with the shipped mappings; figures checked against pandas."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accessrl.cli import app

sys.path.insert(0, str(Path(__file__).parents[1]))
from eventlog_files import EXAMPLES, real_log, xes_frame  # noqa: E402

runner = CliRunner()


def _import(log, mapping, tmp_path):
    r = runner.invoke(app, ["logs", "import", str(log), "--mapping", str(EXAMPLES / mapping),
                            "--db", str(tmp_path / "x.db"), "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_helpdesk_imports(tmp_path):
    log = real_log("helpdesk.xes.gz")
    rep = _import(log, "helpdesk.yaml", tmp_path)
    frame = xes_frame(log)
    assert rep["cases"] == frame["case"].nunique() == 4_580  # the README's counts
    assert rep["events"] == len(frame) == 21_348
    assert rep["rejects"] == 0 and rep["unused_mapping_activities"] == []
    assert rep["events_per_activity"] == frame["activity"].value_counts().to_dict()  # no lifecycle: all read
    ordered = frame.sort_values(["case", "timestamp", "order"], kind="stable")
    closed = ordered.groupby("case")["activity"].apply(lambda a: "Closed" in set(a)).sum()
    assert rep["ended"]["closed"] <= closed  # INVALID/DUPLICATE may end a ticket before 'Closed'
    assert rep["ended"]["closed"] + rep["ended"].get("closed_invalid", 0) + rep["open_cases"] == 4_580


def test_receipt_imports_and_has_no_outcome_of_its_own(tmp_path):
    pd = pytest.importorskip("pandas", reason="pandas is not installed (the cross-check reads the CSV with it)")
    log = real_log("receipt.csv.gz")
    rep = _import(log, "receipt.yaml", tmp_path)
    frame = pd.read_csv(log)
    assert rep["cases"] == frame["case:concept:name"].nunique() == 1_434
    assert rep["events"] == len(frame) == 8_577
    assert rep["rejects"] == 0
    assert rep["events_per_activity"] == frame["concept:name"].value_counts().to_dict()
    # the receipt phase has no approval, decline or withdrawal: the only end is the mapping's terminal decision
    assert set(rep["ended"]) == {"receipt_done"}
    t10 = frame.loc[frame["concept:name"] == "T10 Determine necessity to stop indication", "case:concept:name"]
    assert rep["ended"]["receipt_done"] == t10.nunique()
