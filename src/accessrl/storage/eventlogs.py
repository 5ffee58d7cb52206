"""Reading process event logs (XES, CSV, Parquet; ``.gz`` too) and their mapping file.

XES is read by a streaming XML parser (the standard library's expat, which ``iterparse``
is built on; used directly because it tells the line of every event): one trace is held at
a time, so memory stays bounded whatever the log's size.  CSV (``.csv``, ``.csv.gz``) and
Parquet (read in batches) carry one event per row; their rows are grouped by case in
memory (a compact tuple per event), since a case's events may be anywhere in the file.

The mapping file is YAML (schema in the README, "Importing event logs"); every mistake is
one line naming the file, the line and the key, and what was expected.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from accessrl._optional import require
from accessrl.errors import DataError, ParameterError
from accessrl.offline.eventlog import (
    DEFAULT_COLUMNS,
    KEEP,
    Buckets,
    DecisionRule,
    Event,
    EventMapping,
    OutcomeRule,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
LISTED = 20
"""How many rejected events are kept with their reason (all are counted)."""
CHUNK = 1 << 20




def _lines(node: Any, path: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    import yaml

    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = str(k.value)
            out[path + (key,)] = k.start_mark.line + 1
            _lines(v, path + (key,), out)


class _Where:
    def __init__(self, file: str, lines: dict[tuple[str, ...], int]) -> None:
        self.file, self.lines = file, lines

    def error(self, path: tuple[str, ...], what: str) -> ParameterError:
        line = next((self.lines[path[:i]] for i in range(len(path), -1, -1) if path[:i] in self.lines), 1)
        key = ".".join(path) if path else "the file"
        return ParameterError(f"{self.file}: line {line}: {key}: {what}")

    def text(self, value: Any, path: tuple[str, ...]) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or str(value) == "":
            raise self.error(path, f"expected a non-empty name, got {value!r}")
        if len(str(value)) > 200 or "\x00" in str(value):
            raise self.error(path, f"expected a name of at most 200 characters without NUL, got {str(value)[:40]!r}")
        return str(value)

    def number(self, value: Any, path: tuple[str, ...]) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise self.error(path, f"expected a number, got {value!r}")
        return float(value)

    def table(self, value: Any, path: tuple[str, ...], keys: tuple[str, ...] = ()) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(path, f"expected a mapping of names to values, got {type(value).__name__}")
        if keys:
            bad = [str(k) for k in value if k not in keys]
            if bad:
                raise self.error(path + (bad[0],), f"unknown key; expected one of {', '.join(keys)}")
        return {str(k): v for k, v in value.items()}

    def bounds(self, value: Any, path: tuple[str, ...]) -> tuple[float, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not value:
            raise self.error(path, f"expected a list of increasing numbers, got {value!r}")
        out = tuple(self.number(v, path) for v in value)
        if any(b <= a for a, b in zip(out, out[1:], strict=False)):
            raise self.error(path, f"expected increasing numbers, got {list(value)}")
        return out


TOP_KEYS = ("name", "columns", "lifecycle", "start_stage", "decisions", "outcomes", "state", "rewards", "training")


def load_mapping(path: str | Path, *, default_name: str = "log") -> EventMapping:
    """The mapping file at ``path``, validated (one located line per mistake)."""
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"--mapping {p}: cannot read it ({exc.__class__.__name__}: {exc})") from None
    try:
        raw = yaml.safe_load(text)
        lines: dict[tuple[str, ...], int] = {}
        node = yaml.compose(text)
        if node is not None:
            _lines(node, (), lines)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise ParameterError(f"{p}: {line}not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    return mapping_from_dict(raw, source=str(p), lines=lines, default_name=default_name)


def mapping_from_dict(raw: Any, *, source: str = "mapping", lines: dict[tuple[str, ...], int] | None = None,
                      default_name: str = "log") -> EventMapping:
    """Validate a mapping given as a dict (what the YAML file holds)."""
    w = _Where(source, lines or {})
    top = w.table(raw, (), TOP_KEYS)
    if not top:
        raise w.error((), "expected a mapping with at least 'decisions'")
    name = w.text(top.get("name", default_name), ("name",))
    if len(name) > 20 or ":" in name:
        raise w.error(("name",), f"expected at most 20 characters without ':', got {name!r}")
    cols = dict(DEFAULT_COLUMNS)
    for k, v in w.table(top.get("columns"), ("columns",), tuple(DEFAULT_COLUMNS)).items():
        cols[k] = w.text(v, ("columns", k))
    lc = top.get("lifecycle") or []
    if isinstance(lc, str):
        lc = [lc]
    if not isinstance(lc, list):
        raise w.error(("lifecycle",), f"expected a list of lifecycle transitions (e.g. [complete]), got {lc!r}")
    lifecycle = tuple(w.text(x, ("lifecycle",)).lower() for x in lc)
    start = w.text(top.get("start_stage", "arrived"), ("start_stage",))
    decisions: dict[str, DecisionRule] = {}
    for act, spec in w.table(top.get("decisions"), ("decisions",)).items():
        where = ("decisions", act)
        if not isinstance(spec, dict):
            action = w.text(spec, where)
            decisions[act] = DecisionRule(action, action)
            continue
        s = w.table(spec, where, ("action", "stage", "ends_case"))
        if "action" not in s:
            raise w.error(where, "expected an 'action' name")
        action = w.text(s["action"], where + ("action",))
        ends = None if s.get("ends_case") is None else w.text(s["ends_case"], where + ("ends_case",))
        decisions[act] = DecisionRule(action, w.text(s.get("stage", action), where + ("stage",)), ends)
    if not decisions:
        raise w.error(("decisions",), "expected at least one decision activity (activity: action)")
    outcomes: dict[str, OutcomeRule] = {}
    for act, spec in w.table(top.get("outcomes"), ("outcomes",)).items():
        where = ("outcomes", act)
        if act in decisions:
            raise w.error(where, "this activity is already a decision; an activity is one or the other")
        if not isinstance(spec, dict):
            kind = w.text(spec, where)
            outcomes[act] = OutcomeRule(kind, kind)
            continue
        s = w.table(spec, where, ("kind", "stage", "ends_case"))
        if "kind" not in s:
            raise w.error(where, "expected a 'kind' name (e.g. evidence, abandonment, approved)")
        kind = w.text(s["kind"], where + ("kind",))
        ends = None if s.get("ends_case") is None else w.text(s["ends_case"], where + ("ends_case",))
        outcomes[act] = OutcomeRule(kind, w.text(s.get("stage", kind), where + ("stage",)), ends)
    state = w.table(top.get("state"), ("state",), ("attributes", "waiting"))
    attrs: list[Buckets] = []
    raw_attrs = state.get("attributes") or []
    if not isinstance(raw_attrs, list):
        raise w.error(("state", "attributes"), "expected a list of {name, bounds}")
    for i, a in enumerate(raw_attrs):
        where = ("state", "attributes")
        s = w.table(a if isinstance(a, dict) else {"name": a}, where, ("name", "bounds"))
        if "name" not in s:
            raise w.error(where, f"item {i + 1}: expected a 'name' (a column or case attribute)")
        attrs.append(Buckets(w.text(s["name"], where), w.bounds(s.get("bounds"), where + ("bounds",))))
    waiting = None
    stages: tuple[str, ...] = ()
    if state.get("waiting") is not None:
        where = ("state", "waiting")
        s = w.table(state["waiting"], where, ("bounds_days", "stages"))
        b = w.bounds(s.get("bounds_days"), where + ("bounds_days",))
        if not b:
            raise w.error(where + ("bounds_days",), "expected a list of increasing day counts, e.g. [7, 14, 28]")
        waiting = Buckets("waited", b, "d")
        raw_st = s.get("stages") or []
        if not isinstance(raw_st, list):
            raise w.error(where + ("stages",), f"expected a list of stage names, got {raw_st!r}")
        stages = tuple(w.text(x, where + ("stages",)) for x in raw_st)
        known = {start} | {d.stage for d in decisions.values()} | {o.stage for o in outcomes.values()}
        for st in stages:
            if st not in known:
                raise w.error(where + ("stages",), f"unknown stage {st!r}; expected one of {sorted(known - {KEEP})}")
    rewards = w.table(top.get("rewards"), ("rewards",), ("outcomes", "actions"))
    out_r = {k: w.number(v, ("rewards", "outcomes", k)) for k, v in w.table(rewards.get("outcomes"),
                                                                           ("rewards", "outcomes")).items()}
    act_r = {k: w.number(v, ("rewards", "actions", k)) for k, v in w.table(rewards.get("actions"),
                                                                          ("rewards", "actions")).items()}
    actions = {d.action for d in decisions.values()}
    for k in act_r:
        if k not in actions:
            raise w.error(("rewards", "actions", k), f"unknown action; expected one of {sorted(actions)}")
    kinds = ({o.kind for o in outcomes.values()} | {o.ends_case for o in outcomes.values() if o.ends_case}
             | {d.ends_case for d in decisions.values() if d.ends_case})
    for k in out_r:
        if k not in kinds:
            raise w.error(("rewards", "outcomes", k), f"unknown outcome; expected one of {sorted(kinds)}")
    training = w.table(top.get("training"), ("training",), ("until",))
    until_us, until_text = None, None
    if training.get("until") is not None:
        from accessrl.storage.times import to_us, us_to_iso

        raw_until = training["until"]
        try:
            until_us = to_us(str(raw_until), "training.until")
        except ParameterError:
            raise w.error(("training", "until"), f"expected an ISO 8601 date such as 2012-01-01, got {raw_until!r}") \
                from None
        until_text = us_to_iso(until_us)
    return EventMapping(name=name, columns=cols, decisions=decisions, outcomes=outcomes, start_stage=start,
                        lifecycle=lifecycle, attributes=tuple(attrs), waiting=waiting, waiting_stages=stages,
                        outcome_rewards=out_r, action_rewards=act_r, train_until_us=until_us,
                        train_until=until_text)




@dataclass(frozen=True)
class EventReject:
    """An event that could not be read: where, its case (if known) and why."""

    where: str
    case: str
    reason: str

    def __str__(self) -> str:
        case = f"case {self.case!r}: " if self.case else ""
        return f"{self.where}: {case}{self.reason}"


@dataclass
class Rejects:
    """Rejected events: the first :data:`LISTED` kept, all counted."""

    listed: list[EventReject] = field(default_factory=list)
    total: int = 0

    def add(self, where: str, case: str, reason: str) -> None:
        self.total += 1
        if len(self.listed) < LISTED:
            self.listed.append(EventReject(where, case, reason))


CaseEvents = tuple[str, list[Event], dict[str, Any]]
"""A case id, its events (file order) and its attributes."""


def timestamp_us(value: Any) -> int:
    """Microseconds since the epoch of an ISO 8601 text (``T`` or a space; naive = UTC), a
    datetime or a pandas/pyarrow timestamp; :class:`ValueError` otherwise."""
    if isinstance(value, str):
        dt = datetime.fromisoformat(value.strip())
    elif isinstance(value, datetime):
        dt = value
    else:
        raise ValueError(f"expected a timestamp, got {value!r}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - EPOCH) // ONE_US


def log_format(path: str | Path) -> str:
    """'xes', 'csv' or 'parquet' from the suffix (``.gz`` allowed for XES and CSV)."""
    name = Path(path).name.lower()
    for suffix, kind in ((".xes.gz", "xes"), (".xes", "xes"), (".csv.gz", "csv"), (".csv", "csv"),
                         (".parquet", "parquet"), (".pq", "parquet")):
        if name.endswith(suffix):
            return kind
    raise ParameterError(f"{path}: cannot tell the format from the name; expected .xes, .xes.gz, .csv, .csv.gz "
                         "or .parquet")


def _open_bytes(p: Path) -> IO[bytes]:
    fh: IO[bytes] = p.open("rb")
    head = fh.read(2)
    fh.seek(0)
    if head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=fh)  # type: ignore[return-value]
    return fh


def read_cases(path: str | Path, mapping: EventMapping, rejects: Rejects) -> Iterator[CaseEvents]:
    """The cases of an event log, each with its events and attributes; unreadable events go
    to ``rejects`` (with their line or row and case) and the rest of the case is kept."""
    p = Path(path)
    kind = log_format(p)
    if not p.is_file():
        raise DataError(f"{p}: no such event log file")
    if kind == "xes":
        yield from _read_xes(p, mapping, rejects)
    else:
        rows = _csv_rows(p) if kind == "csv" else _parquet_rows(p, mapping)
        yield from _group_rows(rows, mapping, rejects)


def _event(get: Callable[[str], Any], mapping: EventMapping, where: str, case: str,
           rejects: Rejects) -> Event | None:
    c = mapping.columns
    act = get(c["activity"])
    if act is None or act == "":
        rejects.add(where, case, f"no activity ({c['activity']!r} is missing)")
        return None
    ts = get(c["timestamp"])
    if ts is None or ts == "":
        rejects.add(where, case, f"no timestamp ({c['timestamp']!r} is missing)")
        return None
    try:
        at = timestamp_us(ts)
    except (ValueError, TypeError, OverflowError):
        rejects.add(where, case, f"{c['timestamp']}: expected an ISO 8601 timestamp, got {str(ts)[:40]!r}")
        return None
    lc, res = get(c["lifecycle"]), get(c["resource"])
    return Event(at, str(act), None if lc in (None, "") else str(lc), None if res in (None, "") else str(res), where)


def _read_xes(p: Path, mapping: EventMapping, rejects: Rejects) -> Iterator[CaseEvents]:
    from xml.parsers import expat

    parser = expat.ParserCreate()
    done: list[CaseEvents] = []
    trace: dict[str, Any] | None = None  # the open trace's attributes (None: not inside a trace)
    trace_line = 0
    events: list[tuple[int, dict[str, Any]]] = []
    ev: dict[str, Any] | None = None  # the open event's attributes
    ev_line = 0
    depth = 0  # log = 1, trace = 2, its attributes and events = 3, an event's attributes = 4
    wanted = {b.name for b in mapping.attributes}
    case_key = mapping.columns["case"]
    bare_case = case_key[5:] if case_key.startswith("case:") else case_key
    needed = {*mapping.columns.values(), *wanted}  # the event attributes kept (the rest are skipped)

    def local(name: str) -> str:
        return name.rpartition(":")[2] if ":" in name else name

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth, ev, ev_line, trace, trace_line, events
        depth += 1
        if depth == 4:  # most elements: an event's attribute
            if ev is not None:
                key = attrs.get("key")
                if key in needed:
                    ev[key] = attrs.get("value")
        elif depth == 3:
            if trace is not None:
                if local(name) == "event":
                    ev, ev_line = {}, parser.CurrentLineNumber
                elif "key" in attrs:
                    trace["case:" + attrs["key"]] = attrs.get("value")
        elif depth == 2 and local(name) == "trace":
            trace, events, trace_line = {}, [], parser.CurrentLineNumber

    def end(name: str) -> None:
        nonlocal depth, ev, trace
        depth -= 1
        if depth >= 3:
            return
        if depth == 2:
            if ev is not None:
                events.append((ev_line, ev))
                ev = None
            return
        if depth != 1 or trace is None:
            return
        tr, trace = trace, None
        case = tr.get(case_key, tr.get("case:" + bare_case))
        if case is None or case == "":
            rejects.add(f"line {trace_line}", "", f"a trace without {case_key!r}: its "
                        f"{len(events)} events are left out")
            return
        case = str(case)
        out: list[Event] = []
        attrs = {k: v for k, v in tr.items() if k in wanted}
        for line, e in events:
            x = _event(e.get, mapping, f"line {line}", case, rejects)
            if x is not None:
                out.append(x)
            for k in wanted:
                if k not in attrs and e.get(k) not in (None, ""):
                    attrs[k] = e[k]
        done.append((case, out, attrs))

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    with _open_bytes(p) as fh:
        try:
            while True:
                data = fh.read(CHUNK)
                parser.Parse(data, not data)
                yield from done
                done.clear()
                if not data:
                    break
        except expat.ExpatError as exc:
            yield from done
            rejects.add(f"line {exc.lineno}", "", f"not well-formed XML ({expat.ErrorString(exc.code)}); "
                        "the rest of the file is left out")
        except (OSError, EOFError) as exc:  # a damaged .gz
            yield from done
            rejects.add("end of file", "", f"cannot read further ({exc}); the rest of the file is left out")


def _csv_rows(p: Path) -> Iterator[tuple[str, Callable[[str], Any]]]:
    with _open_bytes(p) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.reader(text)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"{p}: line 1: not a CSV header ({exc})") from None
        index = {h: i for i, h in enumerate(header)}
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield f"line {line}", _Broken(str(exc))
                continue
            if not row:
                continue

            def get(col: str, row: list[str] = row) -> Any:
                i = index.get(col)
                return row[i] if i is not None and i < len(row) else None

            yield f"line {line}", get


class _Broken:
    """A row that could not be read (a CSV quoting error)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __call__(self, col: str) -> Any:  # pragma: no cover - never asked for a value
        return None


def _parquet_rows(p: Path, mapping: EventMapping) -> Iterator[tuple[str, Callable[[str], Any]]]:
    pa = require("pyarrow", "parquet", "reading Parquet")
    pq = require("pyarrow.parquet", "parquet", "reading Parquet", package="pyarrow")
    try:
        pf = pq.ParquetFile(p)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{p}: not a Parquet file ({exc})") from None
    names = set(pf.schema_arrow.names)
    wanted = [c for c in (*mapping.columns.values(), *(b.name for b in mapping.attributes)) if c in names]
    n = 1
    for batch in pf.iter_batches(batch_size=65_536, columns=list(dict.fromkeys(wanted))):
        for row in batch.to_pylist():
            yield f"row {n}", row.get
            n += 1


def _group_rows(rows: Iterator[tuple[str, Callable[[str], Any]]], mapping: EventMapping,
                rejects: Rejects) -> Iterator[CaseEvents]:
    cases: dict[str, tuple[list[Event], dict[str, Any]]] = {}
    case_col = mapping.columns["case"]
    wanted = [b.name for b in mapping.attributes]
    first = True
    for where, get in rows:
        if isinstance(get, _Broken):
            rejects.add(where, "", f"not readable as CSV ({get.reason})")
            continue
        case = get(case_col)
        if first:
            first = False
            if case is None and get(mapping.columns["activity"]) is None:
                raise DataError(f"{where}: neither {case_col!r} nor {mapping.columns['activity']!r} is a column; "
                                "set columns.case and columns.activity in the mapping")
        if case is None or case == "":
            rejects.add(where, "", f"no case id ({case_col!r} is missing)")
            continue
        case = str(case)
        ev = _event(get, mapping, where, case, rejects)
        slot = cases.get(case)
        if slot is None:
            slot = cases[case] = ([], {})
        if ev is not None:
            slot[0].append(ev)
        for k in wanted:
            if k not in slot[1]:
                v = get(k)
                if v not in (None, ""):
                    slot[1][k] = v
    for case, (evs, attrs) in cases.items():
        yield case, evs, attrs


__all__ = ["EventReject", "Rejects", "load_mapping", "log_format", "mapping_from_dict", "read_cases",
           "timestamp_us"]
