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
from accessrl.storage.records import DECISION_REQUIRED, JSON_ERRORS, MODES, OUTCOME_REQUIRED, PROPENSITY_TOL, json_loads
from accessrl.storage.schema import DECISION_COLUMNS, OUTCOME_COLUMNS

_NOT_JSON: tuple[type[Exception], ...] = (*JSON_ERRORS, TypeError)
"""What parsing a logged JSON text raises when it is not JSON text, or not text at all."""

CANONICAL_TIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$"


@dataclass(frozen=True, eq=False)
class ValidatedChunk:
    """Rows already validated: decision row tuples and outcome row tuples in
    :data:`~accessrl.storage.schema.OUTCOME_COLUMNS` order (with where they came from)."""

    decisions: list[tuple[Any, ...]]
    outcomes: list[tuple[str, tuple[Any, ...]]]

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


def _json_object_ok(texts: list[Any], cache: dict[Any, bool], forbid: str | None = None) -> list[bool]:
    res = []
    for t in texts:
        hit = cache.get(t)
        if hit is None:
            try:
                v = json_loads(t) if t else {}
                hit = isinstance(v, dict) and (forbid is None or forbid not in v)
            except _NOT_JSON:
                hit = False
            cache[t] = hit
        res.append(hit)
    return res


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
        if dec_ok.any():
            prop = pc.fill_null(col("propensity"), -1.0).to_numpy(zero_copy_only=False)
            step = pc.fill_null(col("step_index"), -1).to_numpy(zero_copy_only=False)
            dec_ok &= (prop > 0) & (prop <= 1) & (step >= 0)
            dec_ok &= pc.fill_null(pc.is_in(col("mode"), value_set=pa.array(MODES)), False).to_numpy(
                zero_copy_only=False)
            dec_ok &= _times_ok(pc, col("decided_at")).to_numpy(zero_copy_only=False)
            dec_ok = _parse_ok(pc, col("decided_at"), dec_ok)
        if dec_ok.any():
            idx = np.flatnonzero(dec_ok)
            sub = batch.take(pa.array(idx))
            allowed, probs, action = (sub.column(c).to_pylist() for c in ("allowed_actions", "action_probabilities",
                                                                          "action"))
            props = sub.column("propensity").to_pylist()
            feats = sub.column("features").to_pylist() if "features" in names else [None] * len(idx)
            cache: dict[Any, Any] = {}
            fcache: dict[Any, bool] = {}
            f_ok = _json_object_ok(feats, fcache, forbid="recorded_at")
            for j, (al, pr, ac, p, fo) in enumerate(zip(allowed, probs, action, props, f_ok, strict=True)):
                key = (al, pr, ac)
                logged = cache.get(key, cache)
                if logged is cache:
                    try:
                        al_v, pr_v = json_loads(al), json_loads(pr)
                        ok = isinstance(al_v, list) and isinstance(pr_v, dict) and ac in al_v
                        v = pr_v.get(ac) if ok else None
                        logged = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
                    except _NOT_JSON:
                        logged = None
                    cache[key] = logged
                if not fo or logged is None or abs(logged - p) > PROPENSITY_TOL:
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
    chunk_out: list[tuple[str, tuple[Any, ...]]] = []
    if dec_ok.any():
        sub = batch.take(pa.array(np.flatnonzero(dec_ok)))
        cols = []
        for c in DECISION_COLUMNS:
            if c not in names:
                cols.append([None if c == "previous_event_id" else "{}"] * sub.num_rows)
                continue
            vals = sub.column(c).to_pylist()
            if c == "previous_event_id":
                vals = [v or None for v in vals]
            elif c == "features":
                vals = [v or "{}" for v in vals]
            cols.append(vals)
        chunk_dec = list(zip(*cols, strict=True))
    if out_ok.any():
        rows = np.flatnonzero(out_ok)
        sub = batch.take(pa.array(rows))
        m = sub.num_rows
        jcache: dict[Any, bool] = {}
        for c in ("reward_components", "details"):
            if c in names:
                vals = sub.column(c).to_pylist()
                okj = [v is None or v == "" or hit for v, hit in zip(vals, _json_object_ok(vals, jcache), strict=True)]
                if not all(okj):
                    out_ok[rows[~np.array(okj)]] = False
        keep = out_ok[rows]
        if not keep.all():
            rows = rows[keep]
            sub = batch.take(pa.array(rows))
            m = sub.num_rows
        cols = []
        for c in OUTCOME_COLUMNS:
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
    yield f"rows {first_row}-{first_row + n - 1}", ValidatedChunk(chunk_dec, chunk_out)
    slow = np.flatnonzero(~(dec_ok | out_ok))
    if slow.size:
        for k, rec in zip(slow.tolist(), batch.take(pa.array(slow)).to_pylist(), strict=True):
            yield f"row {first_row + k}", rec


__all__ = ["CANONICAL_TIME", "ValidatedChunk", "split_batch"]
