"""Hostile specs: mutate valid specs and spec files; every outcome is a model or an AccessRLError.

The strategies replace one node of a valid spec (found by a path through it) with a hostile
value: the wrong kind, huge and tiny numbers, NaN, deep nesting, NUL, overlong strings; and
write spec files in bad encodings.  ``COUNTS`` records how many inputs each category tried and
how they ended, for the suite's closing table (printed with ``pytest -s``).
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accessrl.catalog import access_review_abandonment_spec, access_review_deny_spec
from accessrl.errors import AccessRLError
from accessrl.model.parse import MAX_DEPTH, parse_yaml
from accessrl.model.spec import compile_spec
from accessrl.specfile import load_model

COUNTS: Counter[tuple[str, str]] = Counter()
FUZZ = settings(max_examples=150, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

BASE_SPECS = [
    {**access_review_abandonment_spec(), "forbidden": ["new_request:auto_approve"],
     "never_explore": ["evidence_ready:auto_approve"]},
    access_review_deny_spec(),
]


def paths(node, prefix=()):
    """Every path (tuple of keys/indices) to a node of a nested spec."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, (*prefix, i))


def nested(depth: int):
    out: object = 1
    for _ in range(depth):
        out = [out]
    return out


HOSTILE = st.one_of(
    st.sampled_from([None, True, False, 0, -1, 5, "", "\x00", "x" * 100_000, [], {}, [[]], {"": None},
                     10**400, -(10**400), 10**4000, float("nan"), float("inf"), -float("inf"), 1e308, 5e-324,
                     -0.0, 2**63, -(2**63) - 1, "1e400", "nan", "é" * 50, "\u202e"]),
    st.integers(), st.floats(), st.text(max_size=20), st.binary(max_size=10).map(lambda b: b.decode("latin-1")),
    st.integers(MAX_DEPTH - 2, MAX_DEPTH + 40).map(nested),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
)


def mutate(spec, data):
    spec = copy.deepcopy(spec)
    all_paths = list(paths(spec))
    n = data.draw(st.integers(1, 3), label="mutations")
    for _ in range(n):
        path = data.draw(st.sampled_from(all_paths), label="path")
        value = data.draw(HOSTILE, label="value")
        if not path:
            spec = value
            break
        parent = spec
        try:
            for k in path[:-1]:
                parent = parent[k]
            if data.draw(st.booleans(), label="replace key") and isinstance(parent, dict) and _hashable(value):
                parent[value] = parent.pop(path[-1])
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation changed the shape above this path
    return spec


def _hashable(v) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def outcome(category: str, fn) -> str:
    try:
        fn()
        result = "accepted"
    except AccessRLError:
        result = "AccessRLError"
    COUNTS[(category, result)] += 1
    return result


@FUZZ
@given(st.data())
def test_mutated_spec_mappings_compile_or_raise_accessrl_errors(data):
    spec = mutate(data.draw(st.sampled_from(BASE_SPECS)), data)
    outcome("spec mapping (compile_spec)", lambda: compile_spec(spec, source="fuzz"))


def _dump(spec, suffix: str) -> str | None:
    if suffix == ".json":
        try:
            return json.dumps(spec)
        except (ValueError, TypeError, RecursionError):
            return None
    try:
        return yaml.safe_dump(spec, allow_unicode=True)
    except (yaml.YAMLError, ValueError, RecursionError):
        return None


@FUZZ
@given(st.data(), st.sampled_from([".yaml", ".json"]),
       st.sampled_from(["utf-8", "utf-16", "utf-16-le", "latin-1", "utf-8-sig", "cp1252"]))
def test_mutated_spec_files_load_or_raise_accessrl_errors(tmp_path_factory, data, suffix, encoding):
    spec = mutate(data.draw(st.sampled_from(BASE_SPECS)), data)
    text = _dump(spec, suffix)
    if text is None:
        return
    path = tmp_path_factory.mktemp("spec") / f"s{suffix}"
    try:
        path.write_bytes(text.encode(encoding))
    except UnicodeEncodeError:
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
    outcome(f"spec file ({suffix})", lambda: load_model(path))


@FUZZ
@given(st.data())
def test_byte_level_damage_to_spec_files(tmp_path_factory, data):
    """Flip, cut or insert bytes of a valid spec file (bad encodings, NUL, truncation)."""
    raw = bytearray(yaml.safe_dump(BASE_SPECS[0]).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip":
            raw[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del raw[i:]
            if not raw:
                raw = bytearray(b"x")
        else:
            raw[i:i] = data.draw(st.sampled_from([b"\x00", b"\xff\xfe", b"[" * 200, b"&a [*a]", b"!!python/object:os.system",
                                                  b"9" * 5000, b": :", b"\t", b"\xc3"]))
    path = tmp_path_factory.mktemp("spec") / "s.yaml"
    path.write_bytes(bytes(raw))
    outcome("spec file bytes", lambda: load_model(path))


@pytest.mark.parametrize("depth", [MAX_DEPTH, MAX_DEPTH + 1, 10**5])
def test_nesting_limit_is_exact_and_cheap(depth):
    text = "a: " + "[" * depth + "]" * depth + "\n"
    if depth <= MAX_DEPTH - 1:
        assert parse_yaml(text) is not None
    else:
        with pytest.raises(AccessRLError, match=f"nested deeper than {MAX_DEPTH} levels"):
            parse_yaml(text)


def test_recursive_alias_and_merge_keys(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("gamma: 0.9\ntransitions: &t {s: *t}\n")
    with pytest.raises(AccessRLError):
        load_model(p)
    p.write_text("gamma: 0.9\nbase: &b {x: 1}\ntransitions:\n  <<: *b\n")
    with pytest.raises(AccessRLError, match="merge keys"):
        load_model(p)


def test_utf16_with_bom_is_read(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_bytes(yaml.safe_dump(BASE_SPECS[0]).encode("utf-16"))
    assert load_model(p).n_states == 4
    Path(p).write_bytes(yaml.safe_dump(BASE_SPECS[0]).encode("utf-16-le"))  # no BOM: read as UTF-8, so NULs
    with pytest.raises(AccessRLError, match="line 1: a NUL character"):
        load_model(p)
