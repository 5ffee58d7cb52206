"""Reading and writing spec and policy files (layer 2: this is where file I/O lives).

YAML and JSON share one schema (:mod:`accessrl.model.spec`).  Duplicate keys, which both
parsers would silently collapse, are errors here, and every message names the file.
"""

from __future__ import annotations

import json
import math
import tokenize
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from accessrl._types import FloatArray
from accessrl.errors import PolicyError, SpecError, SpecFileError, SpecTypeError, SpecValueError
from accessrl.model.checks import check_indices, index_array, kind_of, number
from accessrl.model.mdp import MDP
from accessrl.model.parse import parse_yaml
from accessrl.model.policies import pair_probabilities, policy_from_mapping, uniform_policy
from accessrl.model.spec import compile_spec, spec_from_mdp

MAX_SPEC_BYTES = 128 * 2**20
"""Largest YAML/JSON file read (128 MiB, about 2e6 states); larger models belong in ``.npz``."""


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise SpecValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def decode_text(data: bytes, where: str) -> str:
    """UTF-8 text (or UTF-16/32 that starts with its byte-order mark), else a SpecFileError
    naming the line and byte offset of the first undecodable byte."""
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecFileError(f"{where}, line {line}: not {encoding.upper()} text (byte 0x{data[exc.start]:02x} "
                            f"at offset {exc.start}); save the file as UTF-8") from None


def read_text_file(path: str | Path, what: str, *, limit: int = MAX_SPEC_BYTES) -> str:
    """The text of a file a command reads (a spec, policy, design or answers file): missing,
    a directory, larger than ``limit`` bytes or not text is one SpecFileError naming it."""
    p = Path(path)
    if not p.exists():
        raise SpecFileError(f"{p}: no such {what} file")
    if p.is_dir():
        raise SpecFileError(f"{p}: is a directory; expected a {what} file")
    try:
        size = p.stat().st_size
        if size > limit:
            raise SpecFileError(f"{p}: the {what} file has {size} bytes, over the limit of {limit} "
                                "(write large models as .npz)")
        data = p.read_bytes()
    except OSError as exc:
        raise SpecFileError(f"{p}: cannot read the {what} file ({exc.strerror or exc})") from None
    return decode_text(data, str(p))


def read_mapping_file(path: str | Path, what: str = "spec") -> Any:
    """Parse a YAML or JSON file (by suffix; YAML otherwise) with clear one-line errors.

    Limits: :data:`MAX_SPEC_BYTES` of text, nesting :data:`~accessrl.model.parse.MAX_DEPTH`
    deep (:func:`~accessrl.model.parse.parse_yaml`); duplicate keys are errors.
    """
    p = Path(path)
    text = read_text_file(p, what)
    if not text.strip():
        raise SpecFileError(f"{p}: the {what} file is empty; expected YAML or JSON")
    if "\x00" in text:
        at = text.count("\n", 0, text.index("\x00")) + 1
        raise SpecFileError(f"{p}, line {at}: a NUL character; expected YAML or JSON text "
                            "(UTF-8, or UTF-16 with a byte-order mark)")
    try:
        if p.suffix.lower() == ".json":
            return json.loads(text, object_pairs_hook=_json_pairs)
        return parse_yaml(text)
    except SpecError as exc:  # parse_yaml's errors (every YAML error among them) carry their line
        raise (SpecFileError if isinstance(exc, SpecFileError) else SpecValueError)(f"{p}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise SpecFileError(f"{p}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise SpecFileError(f"{p}: nested too deeply to read") from None
    except ValueError as exc:  # an integer past Python's digit limit (int from str), a bad date
        raise SpecFileError(f"{p}: not a valid {what} file ({' '.join(str(exc).split(';')[0].split())})") from None


def load_model_ref(ref: str | Path) -> MDP:
    """A model named the way a command line or :class:`~accessrl.envs.MDPEnv` names it:
    ``catalog:NAME`` (a catalog model with its default parameters), or the path of a spec
    file (``.yaml``/``.yml``/``.json``) or binary model (``.npz``).

    >>> load_model_ref("catalog:access-review").name
    'access-review'
    """
    text = str(ref)
    if text.startswith("catalog:"):
        from accessrl.catalog import load

        return load(text.split(":", 1)[1])
    return load_model(Path(text))


def load_spec(path: str | Path) -> dict[str, Any]:
    """The spec mapping in a YAML/JSON file."""
    data = read_mapping_file(path)
    if data is None:
        raise SpecFileError(f"{path}: the spec file is empty; expected YAML or JSON")
    if not isinstance(data, dict):
        raise SpecFileError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def load_model(path: str | Path) -> MDP:
    """Compile a spec file (``.yaml``/``.yml``/``.json``) or a binary model (``.npz``)."""
    p = Path(path)
    if p.suffix.lower() == ".npz":
        return load_binary(p)
    return compile_spec(load_spec(p), source=str(p))


def save_spec(spec: dict[str, Any], path: str | Path) -> None:
    """Write a spec mapping as YAML (or JSON for a ``.json`` path)."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        p.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    else:
        p.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, width=100), encoding="utf-8")


def save_model(mdp: MDP, path: str | Path) -> None:
    """Write a model as a spec (YAML/JSON) or as a compact binary ``.npz``."""
    p = Path(path)
    if p.suffix.lower() == ".npz":
        save_binary(mdp, p)
    else:
        save_spec(spec_from_mdp(mdp), p)


_BINARY_ARRAYS = ("terminal", "sa_ptr", "sa_action", "out_ptr", "out_next", "out_prob", "out_reward")
_BINARY_FLAGS = ("severe", "forbidden", "unsafe")  # optional bool arrays, stored when present
_BINARY_FORMATS = ("accessrl-csr-1", "accessrl-csr-2")  # csr-1: no flags, events, components, weights


def save_binary(mdp: MDP, path: str | Path) -> None:
    """The CSR arrays, name tables and annotations in one uncompressed ``.npz``.

    Names are stored as newline-joined text, except a generated workflow's computed
    names (:class:`~accessrl.catalog.workflows.FactoredNames`), which are stored as their factor
    sizes in the metadata.  The optional ``severe``, ``forbidden`` and ``unsafe`` flags are
    bool members, each component is a member ``component_<i>`` (names in the metadata),
    ``events`` is an ``event_code`` member indexing the labels in the metadata, and the
    weights are in the metadata.  Uncompressed members let :func:`load_binary` map the arrays.
    """
    from accessrl.catalog.workflows import FactoredNames

    arrays: dict[str, Any] = {k: getattr(mdp, k) for k in _BINARY_ARRAYS}
    meta: dict[str, Any] = {
        "name": mdp.name, "gamma": float(mdp.gamma),
        "start": None if mdp.start is None else int(mdp.start), "format": _BINARY_FORMATS[-1],
        "weights": {str(k): float(v) for k, v in mdp.weights.items()},
        "components": [str(c) for c in mdp.components],
    }
    for k in _BINARY_FLAGS:
        if getattr(mdp, k) is not None:
            arrays[k] = np.asarray(getattr(mdp, k), dtype=bool)
    for i, c in enumerate(mdp.components):
        arrays[f"component_{i}"] = np.asarray(mdp.components[c], dtype=np.float64)
    if mdp.events is not None:
        labels = sorted(set(mdp.events))
        code = {e: i for i, e in enumerate(labels)}
        meta["event_labels"] = labels
        arrays["event_code"] = np.fromiter((code[e] for e in mdp.events), dtype=np.int32, count=len(mdp.events))
    names = mdp.state_names
    if isinstance(names, FactoredNames):
        meta["factored_names"] = {"radix": list(names.radix), "tail": list(names.tail)}
        state_text = b""
    else:
        state_text = "\n".join(names).encode()
    np.savez(
        path,
        **arrays,
        states=np.frombuffer(state_text, dtype=np.uint8),
        actions=np.frombuffer("\n".join(mdp.action_names).encode(), dtype=np.uint8),
        meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
    )


def _mapped_members(p: Path) -> dict[str, np.ndarray]:
    """Memory-map the uncompressed ``.npy`` members of an ``.npz`` (empty if any is compressed)."""
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(p) as zf, open(p, "rb") as fh:
        for info in zf.infolist():
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                return {}
            fh.seek(info.header_offset)
            local = fh.read(30)
            start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little")
            fh.seek(start)
            version = np.lib.format.read_magic(fh)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(fh)
            if dtype.hasobject or fortran:
                return {}
            offset = fh.tell()
            name = info.filename[:-4]
            if int(np.prod(shape)) == 0:
                out[name] = np.zeros(shape, dtype=dtype)
            else:
                out[name] = np.memmap(p, dtype=dtype, mode="r", offset=offset, shape=shape)
    return out


def load_binary(path: str | Path, *, mmap: bool = True) -> MDP:
    """Read a model written by :func:`save_binary`.

    ``mmap=True`` maps the arrays of an uncompressed file read-only instead of copying
    them (pages are read on first use; the model's constructor validates every array
    once, so they are then in the page cache).  Object arrays are never unpickled.  A
    damaged, truncated or foreign file, a missing member or bad metadata is one
    :class:`~accessrl.errors.SpecFileError` naming the file; arrays that do not form a
    valid model are a :class:`~accessrl.errors.SpecError` naming the file and the array.
    """
    p = Path(path)
    if not p.exists():
        raise SpecFileError(f"{p}: no such model file")
    if p.is_dir():
        raise SpecFileError(f"{p}: is a directory; expected an .npz model file")
    try:
        fields = _binary_fields(p, mmap)
    except SpecError as exc:
        raise SpecFileError(f"{p}: not an accessrl binary model ({exc})") from None
    except (OSError, KeyError, IndexError, ValueError, TypeError, OverflowError, EOFError,
            RecursionError, NotImplementedError, SyntaxError, tokenize.TokenError,  # a damaged .npy header
            zipfile.BadZipFile, zlib.error) as exc:
        detail = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
        raise SpecFileError(f"{p}: not an accessrl binary model ({detail})") from None
    try:
        return MDP(**fields)
    except SpecTypeError as exc:
        raise SpecTypeError(f"{p}: {exc}") from None
    except SpecError as exc:
        raise SpecValueError(f"{p}: {exc}") from None


def _meta_field(meta: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    v = meta.get(key, default)
    if v is not None and (not isinstance(v, kind) or isinstance(v, bool) and kind is not bool):
        raise SpecValueError(f"metadata {key!r}: expected {getattr(kind, '__name__', kind)}, got {kind_of(v)}")
    return v


def _binary_fields(p: Path, mmap: bool) -> dict[str, Any]:
    """The constructor arguments stored in an ``.npz`` (raises on anything malformed)."""
    from accessrl.catalog.workflows import FactoredNames

    z: Any = _mapped_members(p) if mmap else {}
    if not z:
        with np.load(p, allow_pickle=False) as zz:
            if not hasattr(zz, "files"):
                raise SpecValueError("a single .npy array, not an .npz archive")
            z = {k: zz[k] for k in zz.files}
    missing = [k for k in ("meta", "states", "actions", *_BINARY_ARRAYS) if k not in z]
    if missing:
        raise SpecValueError(f"missing member {missing[0]!r}")
    meta = json.loads(_text_member(z, "meta"))
    if not isinstance(meta, dict):
        raise SpecValueError(f"metadata: expected a JSON object, got {kind_of(meta)}")
    fmt = meta.get("format", _BINARY_FORMATS[0])
    if fmt not in _BINARY_FORMATS:
        raise SpecValueError(f"unknown binary model format {fmt!r}; expected one of {list(_BINARY_FORMATS)}")
    if "gamma" not in meta:
        raise SpecValueError("metadata 'gamma': missing")
    out: dict[str, Any] = {k: _member(z, k) for k in _BINARY_ARRAYS}
    out.update({k: _member(z, k) for k in _BINARY_FLAGS if k in z})
    out["gamma"] = number(meta["gamma"], "metadata 'gamma'", error=SpecValueError)
    out["name"] = str(_meta_field(meta, "name", str, p.stem))
    out["start"] = _meta_field(meta, "start", int)
    comps = _meta_field(meta, "components", list, [])
    out["components"] = {str(c): _member(z, f"component_{i}") for i, c in enumerate(comps)}
    weights = _meta_field(meta, "weights", dict, {})
    out["weights"] = {str(k): number(v, f"metadata 'weights', {k!r}", error=SpecValueError) for k, v in weights.items()}
    if "event_code" in z:
        labels = [str(e) for e in _meta_field(meta, "event_labels", list, [])]
        code = index_array(z["event_code"], "event_code")
        check_indices(code, "event_code", len(labels), "an event label")
        out["events"] = tuple(labels[i] for i in code.tolist())
    fn = _meta_field(meta, "factored_names", dict)
    if fn is not None:
        radix = tuple(int(number(r, "metadata 'factored_names'", error=SpecValueError)) for r in fn["radix"])
        if not radix or min(radix) < 1 or math.prod(radix) > 2**40:
            raise SpecValueError(f"metadata 'factored_names': expected positive factor sizes, got {list(radix)}")
        out["state_names"] = FactoredNames(radix, tuple(str(t) for t in fn["tail"]))
    else:
        out["state_names"] = _names(_text_member(z, "states"), "states")
    out["action_names"] = _names(_text_member(z, "actions"), "actions")
    return out


def _text_member(z: Any, key: str) -> str:
    a = np.asarray(z[key])
    if a.dtype != np.dtype(np.uint8) or a.ndim != 1:
        raise SpecValueError(f"member {key!r}: expected UTF-8 bytes (uint8), got dtype {a.dtype}, shape {a.shape}")
    return a.tobytes().decode("utf-8")


def _names(text: str, key: str) -> tuple[str, ...]:
    names = tuple(text.split("\n"))
    if len(set(names)) != len(names):
        seen: set[str] = set()
        for n in names:
            if n in seen:
                raise SpecValueError(f"member {key!r}: duplicate name {n!r}")
            seen.add(n)
    return names


def _member(z: Any, key: str) -> np.ndarray:
    """A member as stored: a memory map stays one, anything else becomes an ndarray."""
    v = z[key]
    return v if isinstance(v, np.memmap) else np.asarray(v)


def read_policy_file(path: str | Path, *, states: Sequence[str] | None = None) -> dict[str, Any]:
    """The ``{state: action}`` or ``{state: {action: p}}`` mapping of a policy file.

    Refused with a :class:`~accessrl.errors.PolicyError` naming the file: an empty file, one
    that is not a mapping, a workflow spec given as a policy, and (when ``states`` is given,
    e.g. the states of a model or of a log) a state that is not among ``states``.
    """
    data = read_mapping_file(path, what="policy")
    if data is None:
        raise PolicyError(f"{path}: the policy file is empty; expected a mapping of state -> action")
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: expected a mapping of state -> action, got {kind_of(data)}")
    if "transitions" in data and ("gamma" in data or isinstance(data["transitions"], dict)):
        raise PolicyError(f"{path}: this is a workflow spec (it has transitions), not a policy; "
                          "expected a mapping of state -> action")
    if states is not None:
        known = set(states)
        unknown = [k for k in data if k not in known]
        if unknown:
            more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
            raise PolicyError(f"{path}, state {unknown[0]!r}{more}: unknown state; expected states of the model or log")
    return data


def load_policy(mdp: MDP, path: str | Path) -> np.ndarray:
    """Pair probabilities from a policy file: ``state: action`` or ``state: {action: p}``."""
    return policy_from_mapping(mdp, read_policy_file(path), source=str(path))


@dataclass(frozen=True, eq=False)
class ResolvedPolicy:
    """A policy named by :func:`resolve_policy`.

    ``policy_id`` is ``optimal``, ``uniform`` or the policy file's stem; ``source`` the
    text as given (the file path for a file); ``probabilities`` (L,) pair probabilities.
    """

    policy_id: str
    source: str
    probabilities: FloatArray


def resolve_policy(mdp: MDP, text: str) -> ResolvedPolicy:
    """``optimal`` (the solved policy), ``uniform``, or the path of a policy file.

    >>> from accessrl.catalog import access_review
    >>> r = resolve_policy(access_review(), "uniform")
    >>> r.policy_id, r.probabilities[-3:].tolist()
    ('uniform', [0.5, 0.5, 1.0])
    """
    if text == "optimal":
        from accessrl.planning.solver import solve

        return ResolvedPolicy("optimal", text, pair_probabilities(mdp, solve(mdp).policy))
    if text == "uniform":
        return ResolvedPolicy("uniform", text, uniform_policy(mdp))
    return ResolvedPolicy(Path(text).stem, text, load_policy(mdp, text))


__all__ = [
    "ResolvedPolicy",
    "load_binary",
    "load_model",
    "load_model_ref",
    "load_policy",
    "load_spec",
    "read_mapping_file",
    "read_policy_file",
    "read_text_file",
    "resolve_policy",
    "save_binary",
    "save_model",
    "save_spec",
]
