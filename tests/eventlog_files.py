"""Small synthetic event logs (XES, CSV, Parquet) for the import tests, written by the tests so
their answers are known by construction; and the real event logs of ../shared/data/eventlogs
(not part of the repository: tests that read them skip with the reason when they are absent)."""

from __future__ import annotations

import csv
import gzip
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

MAPPING = """\
name: synth
lifecycle: [complete]
start_stage: new
decisions:
  Ask documents: request_evidence
  Approve: {action: approve, ends_case: approved}
  Reject: {action: decline, ends_case: declined}
  Remind: {action: remind, stage: keep}
outcomes:
  Documents received: {kind: evidence, stage: evidence_in}
  Withdrawn: {kind: abandonment, ends_case: abandoned}
state:
  attributes:
    - {name: "case:amount", bounds: [1000]}
rewards:
  outcomes: {approved: 10, abandoned: -5}
  actions: {request_evidence: -1}
training:
  until: 2024-02-01
"""

Event = tuple[str, str, str]  # activity, timestamp, lifecycle


def cases(n: int = 40) -> list[tuple[str, dict[str, Any], list[Event]]]:
    """``n`` cases over January-March 2024: evidence asked then approved, withdrawn, or declined at once."""
    out = []
    for i in range(n):
        day = 1 + (i * 60) // n
        month, d = (1 + (day - 1) // 30, 1 + (day - 1) % 30)
        t = f"2024-{month:02d}-{d:02d}"
        kind = i % 4
        evs: list[Event] = [("Submitted", f"{t}T08:00:00+00:00", "complete")]
        if kind == 0:
            evs += [("Ask documents", f"{t}T09:00:00+00:00", "start"), ("Ask documents", f"{t}T09:30:00+00:00", "complete"),
                    ("Documents received", f"{t}T15:00:00+00:00", "complete"), ("Approve", f"{t}T16:00:00+00:00", "complete")]
        elif kind == 1:
            evs += [("Ask documents", f"{t}T09:30:00+00:00", "complete"), ("Remind", f"{t}T12:00:00+00:00", "complete"),
                    ("Withdrawn", f"{t}T18:00:00+00:00", "complete"), ("Approve", f"{t}T19:00:00+00:00", "complete")]
        elif kind == 2:
            evs += [("Reject", f"{t}T10:00:00+00:00", "complete")]
        else:
            evs += [("Ask documents", f"{t}T09:30:00+00:00", "complete")]  # still open
        out.append((f"c{i:03d}", {"amount": str(500 + 100 * i)}, evs))
    return out


def write_xes(path: Path, data: list[tuple[str, dict[str, Any], list[Event]]], *, bad: dict[int, str] | None = None) -> None:
    """An XES file (``.gz`` by suffix); ``bad`` replaces the timestamp of the event with that global index."""
    lines = ['<?xml version="1.0" encoding="UTF-8" ?>', '<log xes.version="1.0" xmlns="http://www.xes-standard.org/">',
             '  <global scope="event"><string key="concept:name" value="UNKNOWN"/></global>']
    k = 0
    for case, attrs, evs in data:
        lines.append("  <trace>")
        lines.append(f'    <string key="concept:name" value="{case}"/>')
        for a, v in attrs.items():
            lines.append(f'    <string key="{a}" value="{v}"/>')
        for act, ts, lc in evs:
            ts = (bad or {}).get(k, ts)
            lines += ["    <event>", f'      <string key="concept:name" value="{act}"/>',
                      f'      <string key="lifecycle:transition" value="{lc}"/>',
                      '      <string key="org:resource" value="clerk1"/>',
                      f'      <date key="time:timestamp" value="{ts}"/>', "    </event>"]
            k += 1
        lines.append("  </trace>")
    lines.append("</log>")
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")


def rows(data: list[tuple[str, dict[str, Any], list[Event]]]) -> list[dict[str, Any]]:
    out = []
    for case, attrs, evs in data:
        for act, ts, lc in evs:
            out.append({"case:concept:name": case, "concept:name": act, "time:timestamp": ts, "lifecycle:transition": lc,
                        "org:resource": "clerk1", **{f"case:{k}": v for k, v in attrs.items()}})
    return out


def write_csv(path: Path, data: list[tuple[str, dict[str, Any], list[Event]]], *, shuffle: bool = False) -> None:
    r = rows(data)
    if shuffle:
        r = r[::2] + r[1::2]
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(r[0]))
        w.writeheader()
        w.writerows(r)


def write_parquet(path: Path, data: list[tuple[str, dict[str, Any], list[Event]]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows(data)), path)


ROOT = Path(__file__).resolve().parents[1]
EVENTLOGS = Path(os.environ.get("ACCESSRL_EVENTLOGS", "/work/shared/data/eventlogs"))
EXAMPLES = ROOT / "examples" / "eventlogs"


def real_log(name: str) -> Path:
    p = EVENTLOGS / name
    if not p.is_file():
        pytest.skip(f"{p} is absent (the real event logs are not part of the repository)")
    return p


def xes_frame(path: Path) -> Any:
    """An XES file as one row per event, read with ElementTree.iterparse and pandas: independent of
    accessrl's expat reader.  Columns case, activity, lifecycle, timestamp (UTC), order (file order).
    pandas is not a dependency of the test extra: the tests that use this skip without it."""
    pd = pytest.importorskip("pandas", reason="pandas is not installed (the cross-checks against pandas need it)")
    rows = []
    ns = "{http://www.xes-standard.org/}"
    with gzip.open(path) as fh:
        for _, el in ET.iterparse(fh):
            if el.tag != ns + "trace":
                continue
            case = next(a.get("value") for a in el if a.get("key") == "concept:name")
            for e in el.iter(ns + "event"):
                d = {a.get("key"): a.get("value") for a in e}
                rows.append((case, d.get("concept:name"), d.get("lifecycle:transition"), d.get("time:timestamp")))
            el.clear()
    df = pd.DataFrame(rows, columns=["case", "activity", "lifecycle", "timestamp"])
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True, format="ISO8601")
    df["order"] = range(len(df))
    return df
