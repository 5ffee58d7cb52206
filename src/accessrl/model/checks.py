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

from accessrl._types import BoolArray, FloatArray, IntArray
from accessrl.errors import AccessRLError, ParameterError, SpecTypeError, SpecValueError

PROB_TOL = 1e-9
"""How far a row of probabilities may sum from 1."""


def kind_of(x: Any) -> str:
    """A short description of a value for an error message ("the string '3'", "a list")."""
    if isinstance(x, bool):
        return "a boolean"
    if isinstance(x, int) and abs(x) >= 10**30:  # repr of a 4,301-digit int raises (CPython's limit)
        return f"an integer of {int(x.bit_length() * 0.30103) + 1} digits or so"
    if isinstance(x, (int, float)):
        return f"the number {x!r}"
    if isinstance(x, str):
        return f"the string {x[:60]!r}" + (f" ({len(x)} characters)" if len(x) > 60 else "")
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


def index_array(x: Any, where: str) -> IntArray:
    """A 1-D integer array as a compiled kernel reads it: int32 and int64 are kept as they
    are (no copy), other integer kinds widen to int64; anything else is a SpecTypeError."""
    a = x if isinstance(x, np.ndarray) else np.asarray(x)
    if a.ndim != 1:
        raise SpecValueError(f"{where}: expected a 1-D array, got shape {a.shape}")
    if a.dtype.kind not in "iu":
        raise SpecTypeError(f"{where}: expected integers, got dtype {a.dtype}")
    if a.dtype != np.dtype(np.int32) and a.dtype != np.dtype(np.int64):  # also a non-native byte order
        if a.size and a.dtype.kind == "u" and int(a.max()) > np.iinfo(np.int64).max:
            raise SpecValueError(f"{where}: expected indices below 2**63, got {int(a.max())}")
        a = a.astype(np.int64)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def float_array(x: Any, where: str) -> FloatArray:
    """A 1-D float64 array (integers and float32 widen; booleans, text and objects are refused)."""
    a = x if isinstance(x, np.ndarray) else np.asarray(x)
    if a.ndim != 1:
        raise SpecValueError(f"{where}: expected a 1-D array, got shape {a.shape}")
    if a.dtype.kind not in "iuf":
        raise SpecTypeError(f"{where}: expected numbers, got dtype {a.dtype}")
    if a.dtype == np.dtype(np.float64) and a.flags.c_contiguous:
        return a
    return np.ascontiguousarray(a, dtype=np.float64)


def bool_array(x: Any, where: str, n: int) -> BoolArray:
    """A 1-D boolean array of ``n`` entries."""
    a = x if isinstance(x, np.ndarray) else np.asarray(x)
    if a.dtype != np.dtype(np.bool_):
        raise SpecTypeError(f"{where}: expected booleans, got dtype {a.dtype}")
    if a.shape != (n,):
        raise SpecValueError(f"{where}: expected {n} entries, got shape {a.shape}")
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def check_pointers(ptr: IntArray, where: str, n_rows: int, n_items: int, items: str) -> None:
    """``ptr`` (n_rows + 1) starts at 0, never decreases and ends at ``n_items``."""
    if ptr.shape != (n_rows + 1,):
        raise SpecValueError(f"{where}: expected {n_rows + 1} entries, got {ptr.shape[0]}")
    if int(ptr[0]) != 0:
        raise SpecValueError(f"{where}[0]: expected 0, got {int(ptr[0])}")
    if int(ptr[-1]) != n_items:
        raise SpecValueError(f"{where}[-1]: expected {n_items} (the number of {items}), got {int(ptr[-1])}")
    down = np.flatnonzero(ptr[1:] < ptr[:-1])
    if down.size:
        k = int(down[0])
        raise SpecValueError(f"{where}: expected non-decreasing offsets, got {int(ptr[k])} then {int(ptr[k + 1])} at {k}")


def check_indices(idx: IntArray, where: str, bound: int, what: str) -> None:
    """Every entry of ``idx`` is in [0, bound)."""
    if idx.size == 0:
        return
    lo, hi = int(idx.min()), int(idx.max())
    if lo < 0 or hi >= bound:
        k = int(np.argmax(idx < 0)) if lo < 0 else int(np.argmax(idx >= bound))
        raise SpecValueError(f"{where}[{k}]: expected {what} index in [0, {bound}), got {int(idx[k])}")


def check_distributions(prob: FloatArray, ptr: IntArray, where: str) -> None:
    """Finite probabilities in [0, 1] whose segments ``ptr[k]:ptr[k+1]`` each sum to 1."""
    bad = ~((prob >= 0.0) & (prob <= 1.0))  # NaN fails both comparisons
    if bad.any():
        k = int(np.argmax(bad))
        raise SpecValueError(f"{where}[{k}]: expected a probability in [0, 1], got {float(prob[k])!r}")
    sums = np.zeros(ptr.size - 1)
    nonempty = ptr[1:] > ptr[:-1]
    if nonempty.any():
        sums[nonempty] = np.add.reduceat(prob, ptr[:-1][nonempty])
    off = np.flatnonzero(np.abs(sums - 1.0) > PROB_TOL)
    if off.size:
        k = int(off[0])
        raise SpecValueError(f"{where}, pair {k}: probabilities sum to {sums[k]:.12g}, expected 1")


def check_finite(x: FloatArray, where: str) -> None:
    """Every entry finite."""
    bad = ~np.isfinite(x)
    if bad.any():
        k = int(np.argmax(bad))
        raise SpecValueError(f"{where}[{k}]: expected a finite number, got {float(x[k])!r}")


VALUE_LIMIT = 1e150
"""Largest magnitude a value (a discounted sum of rewards) may reach: its square, which variances
and confidence intervals take, still fits in a float64 (about 1.8e308)."""
HORIZON_LIMIT = 1e6
"""With ``gamma = 1`` the sum of rewards is bounded by the episode's length, which a model does not
state: the bound assumes episodes of at most this many steps."""


def check_reward_scale(rewards: FloatArray, gamma: float, where: str = "out_reward") -> None:
    """Rewards whose sums every solver and simulator can represent: ``max |r| * H <= VALUE_LIMIT``,
    with the horizon ``H = 1 / (1 - gamma)`` (``HORIZON_LIMIT`` for ``gamma = 1``).

    A finite reward near the float limit (1.7e308 with gamma 0.9) passes :func:`check_finite` but
    makes every value infinite; this refuses it in one line, naming the outcome.

    >>> check_reward_scale(np.array([1.0, -1e140]), 0.9)
    >>> check_reward_scale(np.array([1.0, 1.7e308]), 0.9)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    accessrl.errors.SpecValueError: out_reward[1]: 1.7e+308 is too large: with gamma 0.9 ... up to 1e+149 are supported
    """
    if rewards.size == 0:
        return
    horizon = 1.0 / (1.0 - gamma) if gamma < 1 else HORIZON_LIMIT
    mags = np.abs(rewards)
    k = int(np.argmax(mags))
    if float(mags[k]) * horizon > VALUE_LIMIT:
        raise SpecValueError(f"{where}[{k}]: {float(rewards[k]):.3g} is too large: with gamma {gamma:g} values could "
                             f"reach {float(mags[k]) * horizon:.3g}; rewards of magnitude up to "
                             f"{VALUE_LIMIT / horizon:.3g} are supported")


__all__ = [
    "HORIZON_LIMIT",
    "PROB_TOL",
    "VALUE_LIMIT",
    "bool_array",
    "check_distributions",
    "check_finite",
    "check_gamma",
    "check_indices",
    "check_reward_scale",
    "check_pointers",
    "float_array",
    "index_array",
    "kind_of",
    "name",
    "number",
]
