"""Small synthetic event logs (XES, CSV, Parquet) for the import tests: written by the tests,
so their answers are known by construction."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Any

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
