"""The checks every layer shares: probability tolerance, discount factors, numbers and names.

One definition each, so a spec, an array model and a library argument are held to the
same rule and get the same message.

>>> check_gamma(0.9)
0.9
>>> number("3", "weights, field 'x'")
Traceback (most recent call last):
...
accessrl.errors.SpecTypeError: weights, field 'x': expected a number, got the string '3'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from accessrl.errors import AccessRLError, ParameterError, SpecTypeError, SpecValueError

PROB_TOL = 1e-9
"""How far a row of probabilities may sum from 1."""


def kind_of(x: Any) -> str:
    """A short description of a value for an error message ("the string '3'", "a list")."""
    if isinstance(x, bool):
        return "a boolean"
    if isinstance(x, (int, float)):
        return f"the number {x!r}"
    if isinstance(x, str):
        return f"the string {x!r}"
    if isinstance(x, list):
        return "a list"
    if isinstance(x, Mapping):
        return "a mapping"
    if x is None:
        return "nothing"
    return type(x).__name__


def number(x: Any, where: str, *, error: type[AccessRLError] | None = None, parse_text: bool = False) -> float:
    """A finite real number (not a boolean, not text), or an error naming ``where``.

    ``error`` is the class raised for both the wrong kind and the wrong value; by default a
    :class:`~accessrl.errors.SpecTypeError` for the kind and a
    :class:`~accessrl.errors.SpecValueError` for a non-finite value.  ``parse_text`` also
    reads numeric text (a CSV field, a command-line value) as Python's ``float`` does.

    >>> number(" 2.5", "reward", parse_text=True)
    2.5
    >>> number("nan", "reward", parse_text=True)
    Traceback (most recent call last):
    ...
    accessrl.errors.SpecValueError: reward: expected a finite number, got 'nan'
    """
    if parse_text and isinstance(x, str):
        try:
            v = float(x)
        except ValueError:
            raise (error or SpecTypeError)(f"{where}: expected a number, got {x!r}") from None
        if not math.isfinite(v):
            raise (error or SpecValueError)(f"{where}: expected a finite number, got {x!r}")
        return v
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise (error or SpecTypeError)(f"{where}: expected a number, got {kind_of(x)}")
    try:
        v = float(x)
    except OverflowError:
        raise (error or SpecValueError)(f"{where}: expected a finite number, got an integer too large") from None
    if not math.isfinite(v):
        raise (error or SpecValueError)(f"{where}: expected a finite number, got {x!r}")
    return v


def name(x: Any, where: str) -> str:
    """A non-empty name, or a SpecTypeError naming ``where``."""
    if not isinstance(x, str) or not x:
        raise SpecTypeError(f"{where}: expected a non-empty name, got {kind_of(x)}")
    return x


def check_gamma(gamma: Any, where: str = "gamma", *, allow_zero: bool = False,
                error: type[AccessRLError] = ParameterError) -> float:
    """A discount factor in (0, 1] (``allow_zero``: [0, 1], as for the return of one sequence).

    ``error`` is raised for a value out of range: a :class:`~accessrl.errors.ParameterError`
    for a library argument, a :class:`~accessrl.errors.SpecValueError` for a model's field
    (whose wrong kind is then a :class:`~accessrl.errors.SpecTypeError`).
    """
    interval = "[0, 1]" if allow_zero else "(0, 1]"
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.integer, np.floating)):
        kind_error = SpecTypeError if error is SpecValueError else error
        raise kind_error(f"{where}: expected a number in {interval}, got {kind_of(gamma)}")
    g = float(gamma)
    if not (0.0 <= g <= 1.0 if allow_zero else 0.0 < g <= 1.0):
        raise error(f"{where}: expected a number in {interval}, got {gamma!r}")
    return g


__all__ = ["PROB_TOL", "check_gamma", "kind_of", "name", "number"]
