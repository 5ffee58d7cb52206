"""Timestamps, one set of conversions (layer 2: the clock is read here, never below).

Decision logs store times as canonical ISO 8601 UTC text with microseconds and
``+00:00`` (``2026-01-05T00:00:00.000000+00:00``: it sorts as it compares), and the
algorithms (layer 1) work in int64 microseconds since the Unix epoch.  This module
converts between the two, parses what people type, and reads the clock.

>>> to_us("2026-01-05")
1767571200000000
>>> us_to_iso(1767571200000000)
'2026-01-05T00:00:00.000000+00:00'
>>> utc_text("2026-01-05T01:00:00+01:00", "decided_at")
'2026-01-05T00:00:00.000000+00:00'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from accessrl._types import IntArray
from accessrl.errors import AccessRLError, DataError, ParameterError


def utc_text(value: Any, field: str, *, error: type[AccessRLError] = DataError) -> str:
    """Canonical UTC text of an ISO 8601 string, a :class:`~datetime.datetime` or int
    microseconds since the epoch (naive times are taken as UTC); ``error`` (naming
    ``field``) for anything else."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if not MIN_US <= int(value) <= MAX_US:
            raise error(f"{field}: expected microseconds since the epoch within years 1-9999, got {_short(value)}")
        return us_to_iso(int(value))
    else:
        if not isinstance(value, str) or not value or len(value) > 64:
            raise error(f"{field}: expected an ISO 8601 timestamp, got {_short(value)}")
        if len(value) == 32 and value.endswith("+00:00") and value[10] == "T":
            try:
                datetime.fromisoformat(value)
                return value
            except ValueError:
                pass
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise error(f"{field}: expected an ISO 8601 timestamp, got {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC).isoformat(timespec="microseconds")
    except OverflowError:  # an offset that moves the time outside years 1-9999
        raise error(f"{field}: expected a time within years 1-9999 in UTC, got {_short(value)}") from None


MIN_US = int(np.datetime64("0001-01-01T00:00:00", "us").astype(np.int64))
MAX_US = int(np.datetime64("9999-12-31T23:59:59.999999", "us").astype(np.int64))


def _short(value: Any) -> str:
    if isinstance(value, int) and abs(value) >= 10**30:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def to_us(value: Any, field: str = "start date", *, error: type[AccessRLError] = ParameterError) -> int:
    """Microseconds since the epoch of an ISO date or date-time (naive means UTC)."""
    try:
        text = utc_text(value, field, error=error)
    except error:
        raise error(f"{field}: expected an ISO 8601 date such as 2026-01-05, got {value!r}") from None
    return int(np.datetime64(text[:26], "us").astype(np.int64))


def iso_to_us(texts: Sequence[str]) -> IntArray:
    """Timestamps (canonical UTC text, or anything :func:`utc_text` reads) as int64 microseconds."""
    if not texts:
        return np.zeros(0, dtype=np.int64)
    if all(len(t) == 32 and t.endswith("+00:00") for t in texts):
        return np.array([t[:26] for t in texts], dtype="datetime64[us]").astype(np.int64)
    return np.array([utc_text(t, "timestamp")[:26] for t in texts], dtype="datetime64[us]").astype(np.int64)


def us_to_iso(us: int) -> str:
    """int64 microseconds since the epoch as canonical UTC text."""
    return str(np.datetime64(int(us), "us")) + "+00:00"


def us_to_iso_array(us: IntArray) -> np.ndarray:
    """Many microsecond timestamps as canonical UTC text at once (a NumPy string array)."""
    text = np.datetime_as_string(np.asarray(us).astype("datetime64[us]"), unit="us")
    return np.char.add(text, "+00:00")


def now_text(timespec: str = "microseconds") -> str:
    """The clock: the current UTC time as ISO 8601 text (``timespec`` as in :meth:`datetime.isoformat`)."""
    return datetime.now(UTC).isoformat(timespec=timespec)


__all__ = ["iso_to_us", "now_text", "to_us", "us_to_iso", "us_to_iso_array", "utc_text"]
