"""The one strict reader of JSON request bodies, for every server.

Python's ``json`` accepts what later breaks a handler: ``NaN`` and ``Infinity``, lone
surrogates (text that cannot be encoded again), integers of any length, nesting deep
enough to exhaust the stack.  :func:`json_object` refuses each with one line, using the
decision log's own rules (:func:`accessrl.storage.records.check_json_value`).
"""

from __future__ import annotations

from typing import Any

from accessrl.errors import DataError, ParameterError
from accessrl.storage.records import JSON_ERRORS, check_json_value, json_loads


def json_object(raw: bytes, where: str = "request body") -> dict[str, Any]:
    """``raw`` as a JSON object, or a :class:`~accessrl.errors.ParameterError` naming ``where``.

    >>> json_object(b'{"episodes": 10}')
    {'episodes': 10}
    >>> json_object(b'{"x": NaN}')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    accessrl.errors.ParameterError: request body: expected strict JSON (...)
    """
    if not raw.strip():
        raise ParameterError(f"{where}: expected a JSON object, got an empty body")
    try:
        data = json_loads(raw)
    except JSON_ERRORS as exc:
        raise ParameterError(f"{where}: expected strict JSON ({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(data, dict):
        raise ParameterError(f"{where}: expected a JSON object, got {type(data).__name__}")
    try:
        check_json_value(data, where)
    except DataError as exc:
        raise ParameterError(str(exc)) from None
    return data


__all__ = ["json_object"]
