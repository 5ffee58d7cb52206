"""Hostile array models: mutate the arrays of valid models (indices out of range, wrong dtypes,
non-monotone pointers, bad probabilities, wrong lengths) and of their ``.npz`` files.

Every outcome is a valid model or an :class:`~accessrl.errors.AccessRLError`.  A mutated
model that is accepted is then solved by the compiled kernels and simulated: it must be
one the kernels can read (a kernel reading out of bounds would crash this process).
``COUNTS`` tallies the outcomes for the suite's closing table.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accessrl.catalog import access_review_abandonment, rand
from accessrl.errors import AccessRLError
from accessrl.model.policies import uniform_policy
from accessrl.planning import solve
from accessrl.simulation import simulate
from accessrl.specfile import load_binary, save_binary

COUNTS: Counter[tuple[str, str]] = Counter()
FUZZ = settings(max_examples=200, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

BASES = [access_review_abandonment(), rand(30, 3, 4, gamma=0.9, rng=np.random.default_rng(0))]
INDEX_FIELDS = ("sa_ptr", "sa_action", "out_ptr", "out_next")
FLOAT_FIELDS = ("out_prob", "out_reward")
DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64, np.float32, np.float64, bool,
          ">i8", "<i4", "U4", object]
VALUES = st.one_of(st.sampled_from([-1, -5, 0, 1, 2**31, 2**31 - 1, 2**63 - 1, -(2**63), 10**9, 5.0, -1.0, 1.5,
                                    np.nan, np.inf, -np.inf, 1e308, 5e-324]), st.integers(-100, 100),
                   st.floats(allow_nan=True, allow_infinity=True))


@st.composite
def mutated_fields(draw):
    base = draw(st.sampled_from(BASES))
    fields = {k: np.array(getattr(base, k), copy=True) for k in (*INDEX_FIELDS, *FLOAT_FIELDS, "terminal")}
    extra = {}
    for _ in range(draw(st.integers(1, 3))):
        field = draw(st.sampled_from([*INDEX_FIELDS, *FLOAT_FIELDS, "terminal", "forbidden", "start"]))
        how = draw(st.sampled_from(["entry", "dtype", "length", "reverse", "shape"]))
        if field == "start":
            extra["start"] = draw(st.one_of(st.none(), st.integers(-3, 40), st.just(True), st.just(1.5)))
            continue
        if field == "forbidden":
            n = base.n_pairs + draw(st.integers(-1, 1))
            extra["forbidden"] = np.asarray(draw(st.lists(st.booleans(), min_size=max(n, 0), max_size=max(n, 0))), dtype=bool)
            continue
        arr = fields[field]
        if how == "entry" and arr.size:
            k = draw(st.integers(0, arr.size - 1))
            v = draw(VALUES)
            arr = arr.astype(np.float64) if isinstance(v, float) and arr.dtype.kind in "iub" else arr
            try:
                arr.flat[k] = v
            except (OverflowError, ValueError):
                arr = arr.astype(object)
                arr.flat[k] = v
        elif how == "dtype":
            dt = draw(st.sampled_from(DTYPES))
            try:
                arr = arr.astype(dt)
            except (OverflowError, ValueError):
                pass
        elif how == "length":
            arr = arr[: max(0, arr.size - draw(st.integers(1, 2)))] if draw(st.booleans()) else np.concatenate([arr, arr[:1]])
        elif how == "reverse":
            arr = arr[::-1]  # non-monotone pointers, and not contiguous
        else:
            arr = arr.reshape(1, -1)
        fields[field] = arr
    return base, fields, extra


def _use(mdp) -> None:
    """Run the compiled kernels and the sampler on an accepted model."""
    try:
        solve(mdp, "compiled-mpi", tol=1e-3)
        solve(mdp, "topological", tol=1e-3)
        simulate(mdp, uniform_policy(mdp), 3, rng=np.random.default_rng(0), max_steps=50)
    except AccessRLError:
        pass  # e.g. gamma = 1 without termination


@FUZZ
@given(mutated_fields())
def test_mutated_arrays_build_a_valid_model_or_raise(case):
    base, fields, extra = case
    try:
        mdp = replace(base, **fields, **extra)
    except AccessRLError:
        COUNTS[("model arrays (MDP constructor)", "AccessRLError")] += 1
        return
    COUNTS[("model arrays (MDP constructor)", "accepted")] += 1
    _use(mdp)


@FUZZ
@given(mutated_fields(), st.booleans())
def test_mutated_npz_files_load_or_raise(tmp_path_factory, case, mmap):
    base, fields, extra = case
    path = tmp_path_factory.mktemp("npz") / "m.npz"
    save_binary(base, path)
    with np.load(path) as z:
        members = {k: z[k] for k in z.files}
    members.update(fields)
    if isinstance(extra.get("forbidden"), np.ndarray):
        members["forbidden"] = extra["forbidden"]
    np.savez(path, **members)
    try:
        mdp = load_binary(path, mmap=mmap)
    except AccessRLError:
        COUNTS[(".npz model file", "AccessRLError")] += 1
        return
    COUNTS[(".npz model file", "accepted")] += 1
    _use(mdp)


@FUZZ
@given(st.binary(min_size=0, max_size=64), st.integers(0, 4000), st.sampled_from(["cut", "overwrite", "insert"]))
def test_byte_damage_to_npz_files(tmp_path_factory, junk, at, how):
    path = tmp_path_factory.mktemp("npz") / "m.npz"
    save_binary(BASES[0], path)
    raw = path.read_bytes()
    at = min(at, len(raw))
    raw = raw[:at] if how == "cut" else raw[:at] + junk + raw[at + (len(junk) if how == "overwrite" else 0):]
    path.write_bytes(raw)
    try:
        mdp = load_binary(path)
    except AccessRLError:
        COUNTS[(".npz file bytes", "AccessRLError")] += 1
        return
    COUNTS[(".npz file bytes", "accepted")] += 1
    _use(mdp)
