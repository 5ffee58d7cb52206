"""The MDP constructor refuses every array a compiled kernel could not read safely."""

from dataclasses import replace

import numpy as np
import pytest

from accessrl.catalog import load as catalog_model
from accessrl.errors import SpecTypeError, SpecValueError
from accessrl.model.mdp import MDP


def base() -> MDP:
    return catalog_model("access-review")


def with_entry(m: MDP, field: str, k: int, value) -> MDP:
    arr = np.array(getattr(m, field), copy=True)
    if not np.can_cast(np.asarray(value).dtype, arr.dtype, "same_kind") and arr.dtype.kind == "i":
        arr = arr.astype(np.int64)
    arr[k] = value
    return replace(m, **{field: arr})


@pytest.mark.parametrize(
    "field, k, value, needle",
    [
        ("out_next", 0, 10**9, "out_next[0]: expected a state index in [0, 4), got 1000000000"),
        ("out_next", 2, -5, "out_next[2]: expected a state index in [0, 4), got -5"),
        ("sa_action", 1, 4, "sa_action[1]: expected an action index in [0, 4), got 4"),
        ("sa_action", 0, -1, "sa_action[0]: expected an action index"),
        ("sa_ptr", 0, 1, "sa_ptr[0]: expected 0, got 1"),
        ("sa_ptr", 4, 5, "sa_ptr[-1]: expected 6"),
        ("sa_ptr", 2, 1, "sa_ptr: expected non-decreasing offsets"),
        ("out_ptr", 6, 7, "out_ptr[-1]: expected 6"),
        ("out_ptr", 3, 1, "out_ptr: expected non-decreasing offsets"),
        ("out_prob", 0, 5.0, "out_prob[0]: expected a probability in [0, 1], got 5.0"),
        ("out_prob", 1, -1.0, "out_prob[1]: expected a probability in [0, 1], got -1.0"),
        ("out_prob", 1, np.nan, "out_prob[1]: expected a probability in [0, 1], got nan"),
        ("out_reward", 3, np.inf, "out_reward[3]: expected a finite number, got inf"),
        ("out_reward", 3, np.nan, "out_reward[3]: expected a finite number, got nan"),
    ],
)
def test_bad_entries_are_refused(field, k, value, needle):
    with pytest.raises(SpecValueError) as info:
        with_entry(base(), field, k, value)
    assert needle in str(info.value)


def test_probabilities_must_sum_to_one_per_pair():
    m = catalog_model("access-review-abandonment")
    k = int(np.flatnonzero(np.diff(m.out_ptr) > 1)[0])
    lo = int(m.out_ptr[k])
    prob = np.array(m.out_prob, copy=True)
    prob[lo] = prob[lo] / 2
    with pytest.raises(SpecValueError, match=rf"out_prob, pair {k}: probabilities sum to"):
        replace(m, out_prob=prob)


@pytest.mark.parametrize("field", ["sa_ptr", "sa_action", "out_ptr", "out_next"])
def test_index_arrays_keep_int32_and_int64(field):
    m = base()
    for dt in (np.int32, np.int64):
        arr = np.asarray(getattr(m, field)).astype(dt)
        got = getattr(replace(m, **{field: arr}), field)
        assert got.dtype == dt and got is arr  # no copy, dtype preserved
    narrow = replace(m, **{field: np.asarray(getattr(m, field)).astype(np.int16)})
    assert getattr(narrow, field).dtype == np.int64
    big_endian = replace(m, **{field: np.asarray(getattr(m, field)).astype(">i8")})
    assert getattr(big_endian, field).dtype == np.dtype(np.int64)


@pytest.mark.parametrize("field, dtype", [("out_next", np.float64), ("sa_ptr", bool), ("out_prob", object),
                                          ("out_reward", "U3"), ("terminal", np.int64)])
def test_wrong_dtypes_are_type_errors(field, dtype):
    m = base()
    arr = np.asarray(getattr(m, field)).astype(dtype)
    with pytest.raises(SpecTypeError, match=rf"{field}: expected"):
        replace(m, **{field: arr})


def test_shapes_and_optional_arrays():
    m = base()
    with pytest.raises(SpecValueError, match="out_prob: expected 6 entries"):
        replace(m, out_prob=np.asarray(m.out_prob)[:-1])
    with pytest.raises(SpecValueError, match="out_next: expected a 1-D array"):
        replace(m, out_next=np.asarray(m.out_next).reshape(2, 3))
    with pytest.raises(SpecValueError, match="terminal: expected 4 entries"):
        replace(m, terminal=np.zeros(3, dtype=bool))
    with pytest.raises(SpecValueError, match="forbidden: expected 6 entries"):
        replace(m, forbidden=np.zeros(5, dtype=bool))
    with pytest.raises(SpecTypeError, match="unsafe: expected booleans"):
        replace(m, unsafe=np.zeros(6))
    with pytest.raises(SpecValueError, match="severe: expected 6 entries"):
        replace(m, severe=np.zeros(7, dtype=bool))
    with pytest.raises(SpecValueError, match="component 'c': expected 6 entries"):
        replace(m, components={"c": np.zeros(2)})
    with pytest.raises(SpecValueError, match="component 'c'.*finite"):
        replace(m, components={"c": np.full(6, np.nan)})
    with pytest.raises(SpecValueError, match="events: expected 6 labels"):
        replace(m, events=("x",))
    with pytest.raises(SpecValueError, match=r"start: expected a state index in \[0, 4\), got 9"):
        replace(m, start=9)
    with pytest.raises(SpecTypeError, match="start: expected a state index"):
        replace(m, start=True)
    with pytest.raises(SpecValueError, match="at least one state"):
        replace(m, state_names=(), terminal=np.zeros(0, dtype=bool), sa_ptr=np.zeros(1, dtype=np.int64))


def test_valid_models_pass_unchanged():
    """Every catalog model and every conversion still builds (the checks accept what is valid)."""
    from accessrl.catalog import CATALOG

    for name in CATALOG:
        m = catalog_model(name)
        again = replace(m)
        assert again.out_next is m.out_next and again.out_prob is m.out_prob
