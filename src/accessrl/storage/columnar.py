"""Columnar validation of Parquet log batches (the fast path of ``logs ingest FILE.parquet``).

Each batch is checked with vectorised predicates that are a *strict subset* of what
:func:`~accessrl.storage.records.decision_row` and
:func:`~accessrl.storage.records.outcome_row` accept: every required field present,
canonical UTC timestamps (``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``), propensity in (0, 1],
a known mode; the per-row JSON checks (action among the allowed actions, propensity
equal to the logged probability, features a JSON object) are cached per distinct value.
Rows that pass become table rows directly; every other row goes through the per-record
validators, which name the problem.  So the fast path never accepts what the slow path
would reject, and it never invents a message of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from accessrl._optional import require
from accessrl.errors import DataError
from accessrl.storage.records import (
    DECISION_REQUIRED,
    INT32_MAX,
    MODES,
    OUTCOME_REQUIRED,
    PROPENSITY_TOL,
    TEXT_LIMITS,
    json_column,
)
from accessrl.storage.schema import DECISION_COLUMNS, OUTCOME_COLUMNS


def _canonical(texts: list[Any], field: str, kind: type, cache: dict[Any, Any]) -> list[Any]:
    """Per text: ``(parsed, stored text)`` as :func:`~accessrl.storage.records.json_column`
    gives it, or ``None`` where the per-record validator must name the problem."""
    res = []
    for t in texts:
        hit = cache.get(t, cache)
        if hit is cache:
            try:
                hit = json_column(t if t else ("{}" if kind is dict else "[]"), field, kind)
            except DataError:
                hit = None
            cache[t] = hit
        res.append(hit)
    return res


def _text_ok(pc: Any, col: Any, field: str) -> np.ndarray:
    """Text within its column's length and free of NUL (what :func:`~accessrl.storage.records.checked_text` checks);
    nulls count as fine (presence is checked apart)."""
    ok = pc.invert(pc.match_substring(col, "\x00"))
    limit = TEXT_LIMITS.get(field)
    if limit is not None:
        ok = pc.and_(ok, pc.less_equal(pc.utf8_length(col), limit))
    return np.asarray(pc.fill_null(ok, True).to_numpy(zero_copy_only=False), dtype=bool)

CANONICAL_TIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$"


@dataclass(frozen=True, eq=False)
class ValidatedChunk:
    """Rows already validated: decision row tuples and outcome row tuples in
    :data:`~accessrl.storage.schema.OUTCOME_COLUMNS` order (with where they came from)."""

    decisions: list[tuple[Any, ...]]
    outcomes: list[tuple[str, tuple[Any, ...]]]
    decision_labels: list[str]

    def __len__(self) -> int:
        return len(self.decisions) + len(self.outcomes)


_DEC_TYPES = {"step_index": "int64", "propensity": "double", "exploration": "double"}


def _times_ok(pc: Any, col: Any, allow_null: bool = False) -> Any:
    ok = pc.fill_null(pc.match_substring_regex(col, CANONICAL_TIME), allow_null)
    return ok


def _parse_ok(pc: Any, col: Any, mask: np.ndarray) -> np.ndarray:
    """Rows whose canonical timestamp is also a real date (numpy refuses 2026-13-01)."""
    if not mask.any():
        return mask
    text = pc.utf8_slice_codeunits(pc.filter(col, mask), 0, 26).to_numpy(zero_copy_only=False)
    try:
        text.astype("datetime64[us]")
        return mask
    except ValueError:
        out = mask.copy()
        idx = np.flatnonzero(mask)
        for j, t in zip(idx, text, strict=True):
            try:
                np.datetime64(t, "us")
            except ValueError:
                out[j] = False
        return out


def _rows(pa: Any, batch: Any, idx: np.ndarray, columns: tuple[str, ...]) -> Any:
    """The rows ``idx`` of the columns of ``batch`` among ``columns`` (all rows: no copy)."""
    sub = batch.select([c for c in columns if c in batch.schema.names])
    return sub if len(idx) == batch.num_rows else sub.take(pa.array(idx))


def split_batch(batch: Any, first_row: int) -> Iterator[tuple[str, Mapping[str, Any] | DataError | ValidatedChunk]]:
    """Validate one pyarrow RecordBatch: yield a :class:`ValidatedChunk`, then the rows that need
    the per-record validators (``("row N", record)``)."""
    pa = require("pyarrow", "parquet", "reading Parquet")
    pc = require("pyarrow.compute", "parquet", "reading Parquet", package="pyarrow")

    n = batch.num_rows
    names = set(batch.schema.names)
    record = batch.column("record") if "record" in names else None
    if record is None or not pa.types.is_string(record.type):
        for i, rec in enumerate(batch.to_pylist()):
            yield f"row {first_row + i}", rec
        return
    is_dec = pc.fill_null(pc.equal(record, "decision"), False).to_numpy(zero_copy_only=False)
    is_out = pc.fill_null(pc.equal(record, "outcome"), False).to_numpy(zero_copy_only=False)
    dec_ok = is_dec.copy()
    out_ok = is_out.copy()

    def col(name: str) -> Any:
        return batch.column(name)

    if all(f in names for f in DECISION_REQUIRED) and dec_ok.any():
        for f in DECISION_REQUIRED:
            c = col(f)
            want = _DEC_TYPES.get(f, "string")
            if str(c.type) != want:
                dec_ok[:] = False
                break
            good = pc.is_valid(c)
            if want == "string":
                good = pc.and_(good, pc.not_equal(c, ""))
            dec_ok &= pc.fill_null(good, False).to_numpy(zero_copy_only=False)
            if want == "string":
                dec_ok &= _text_ok(pc, c, f)
        for f in ("previous_event_id", "features"):
            if f in names and str(col(f).type) not in ("string", "null"):
                dec_ok[:] = False
        if "previous_event_id" in names and str(col("previous_event_id").type) == "string":
            dec_ok &= _text_ok(pc, col("previous_event_id"), "previous_event_id")
        if dec_ok.any():
            prop = pc.fill_null(col("propensity"), -1.0).to_numpy(zero_copy_only=False)
            step = pc.fill_null(col("step_index"), -1).to_numpy(zero_copy_only=False)
            expl = pc.fill_null(col("exploration"), -1.0).to_numpy(zero_copy_only=False)
            dec_ok &= (prop > 0) & (prop <= 1) & (step >= 0) & (step <= INT32_MAX) & (expl >= 0) & (expl <= 1)
            dec_ok &= pc.fill_null(pc.is_in(col("mode"), value_set=pa.array(MODES)), False).to_numpy(
                zero_copy_only=False)
            dec_ok &= _times_ok(pc, col("decided_at")).to_numpy(zero_copy_only=False)
            dec_ok = _parse_ok(pc, col("decided_at"), dec_ok)
        allowed_c: list[Any] = []
        probs_c: list[Any] = []
        feats_c: list[Any] = []
        if dec_ok.any():
            idx = np.flatnonzero(dec_ok)
            dec_sub = _rows(pa, batch, idx, DECISION_COLUMNS)
            sub = dec_sub
            action = sub.column("action").to_pylist()
            props = sub.column("propensity").to_pylist()
            feats = sub.column("features").to_pylist() if "features" in names else [None] * len(idx)
            allowed_c = _canonical(sub.column("allowed_actions").to_pylist(), "allowed_actions", list, {})
            probs_c = _canonical(sub.column("action_probabilities").to_pylist(), "action_probabilities", dict, {})
            feats_c = _canonical(feats, "features", dict, {})
            for j, (al, pr, ac, p, fe) in enumerate(zip(allowed_c, probs_c, action, props, feats_c, strict=True)):
                ok = al is not None and pr is not None and fe is not None and "recorded_at" not in fe[0] \
                    and ac in al[0]
                v = pr[0].get(ac) if ok else None
                if not ok or isinstance(v, bool) or not isinstance(v, (int, float)) or abs(float(v) - p) > PROPENSITY_TOL:
                    dec_ok[idx[j]] = False
    else:
        dec_ok[:] = False

    if all(f in names for f in OUTCOME_REQUIRED) and out_ok.any():
        types = {"event_id": "string", "kind": "string", "occurred_at": "string", "terminated": "bool"}
        for f, want in types.items():
            c = col(f)
            if str(c.type) != want:
                out_ok[:] = False
                break
            good = pc.is_valid(c)
            if want == "string":
                good = pc.and_(good, pc.not_equal(c, ""))
            out_ok &= pc.fill_null(good, False).to_numpy(zero_copy_only=False)
        optional = {"evidence_received_at": "string", "next_state": "string", "reward": "double", "severe": "bool",
                    "truncated": "bool", "reward_components": "string", "details": "string", "outcome_key": "string",
                    "episode_id": "string"}
        for f, want in optional.items():
            if f in names and str(col(f).type) not in (want, "null"):
                out_ok[:] = False
        if out_ok.any():
            for f in ("event_id", "kind", "next_state", "outcome_key", "episode_id"):
                if f in names and str(col(f).type) == "string":
                    out_ok &= _text_ok(pc, col(f), f)
            if "reward" in names and str(col("reward").type) == "double":
                out_ok &= np.asarray(pc.fill_null(pc.is_finite(col("reward")), True).to_numpy(zero_copy_only=False),
                                     dtype=bool)
            out_ok &= _times_ok(pc, col("occurred_at")).to_numpy(zero_copy_only=False)
            out_ok = _parse_ok(pc, col("occurred_at"), out_ok)
            if "evidence_received_at" in names and str(col("evidence_received_at").type) == "string":
                ev = col("evidence_received_at")
                out_ok &= pc.or_(pc.is_null(ev), pc.fill_null(pc.match_substring_regex(ev, CANONICAL_TIME), False)) \
                    .to_numpy(zero_copy_only=False)
                has = pc.is_valid(ev).to_numpy(zero_copy_only=False)
                out_ok = np.where(has, _parse_ok(pc, ev, out_ok & has), out_ok)
    else:
        out_ok[:] = False

    chunk_dec: list[tuple[Any, ...]] = []
    dec_labels: list[str] = []
    chunk_out: list[tuple[str, tuple[Any, ...]]] = []
    if dec_ok.any():
        keep = dec_ok[idx]  # the rows of the JSON pass still good
        sub = dec_sub if keep.all() else dec_sub.filter(pa.array(keep))
        texts = {"allowed_actions": allowed_c, "action_probabilities": probs_c, "features": feats_c}
        cols = []
        for c in DECISION_COLUMNS:
            if c in texts:
                cols.append([t[1] for t, k in zip(texts[c], keep, strict=True) if k])
                continue
            if c not in names:
                cols.append([None] * sub.num_rows)
                continue
            vals = sub.column(c).to_pylist()
            if c == "previous_event_id":
                vals = [v or None for v in vals]
            cols.append(vals)
        chunk_dec = list(zip(*cols, strict=True))
        dec_labels = [f"row {first_row + r}" for r in np.flatnonzero(dec_ok).tolist()]
    if out_ok.any():
        rows = np.flatnonzero(out_ok)
        out_sub = _rows(pa, batch, rows, OUTCOME_COLUMNS)
        sub = out_sub
        m = sub.num_rows
        canon: dict[str, list[Any]] = {}
        for c in ("reward_components", "details"):
            if c in names and str(sub.column(c).type) == "string":
                vals = sub.column(c).to_pylist()
                got = _canonical(vals, c, dict, {})
                okj = np.array([v is None or v == "" or g is not None for v, g in zip(vals, got, strict=True)])
                canon[c] = [None if v is None or v == "" else g[1] if g is not None else None
                            for v, g in zip(vals, got, strict=True)]
                if not okj.all():
                    out_ok[rows[~okj]] = False
        keep = out_ok[rows]
        if not keep.all():
            rows = rows[keep]
            sub = out_sub.filter(pa.array(keep))
            m = sub.num_rows
            canon = {c: [v for v, k in zip(vals, keep, strict=True) if k] for c, vals in canon.items()}
        cols = []
        for c in OUTCOME_COLUMNS:
            if c in canon:
                cols.append(canon[c])
                continue
            if c not in names or str(sub.column(c).type) == "null":
                if c == "outcome_key":
                    cols.append(pc.binary_join_element_wise(sub.column("event_id"), sub.column("kind"),
                                                            sub.column("occurred_at"), ":").to_pylist())
                else:
                    filler: list[Any] = [False if c in ("severe", "truncated") else None] * m
                    cols.append(filler)
                continue
            col_c = sub.column(c)
            if c in ("severe", "truncated"):
                col_c = pc.fill_null(col_c, False)
            elif c == "outcome_key":
                fallback = pc.binary_join_element_wise(sub.column("event_id"), sub.column("kind"),
                                                       sub.column("occurred_at"), ":")
                given = pc.fill_null(pc.not_equal(col_c, ""), False)
                col_c = pc.if_else(given, col_c, fallback)
            elif pa.types.is_string(col_c.type):
                col_c = pc.if_else(pc.fill_null(pc.equal(col_c, ""), False), pa.scalar(None, pa.string()), col_c)
            cols.append(col_c.to_pylist())
        labels = [f"row {first_row + r}" for r in rows.tolist()]
        chunk_out = list(zip(labels, zip(*cols, strict=True), strict=True))
    yield f"rows {first_row}-{first_row + n - 1}", ValidatedChunk(chunk_dec, chunk_out, dec_labels)
    slow = np.flatnonzero(~(dec_ok | out_ok))
    if slow.size:
        for k, rec in zip(slow.tolist(), batch.take(pa.array(slow)).to_pylist(), strict=True):
            yield f"row {first_row + k}", rec


__all__ = ["CANONICAL_TIME", "ValidatedChunk", "split_batch"]
