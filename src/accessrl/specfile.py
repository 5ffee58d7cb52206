"""Reading and writing spec and policy files (layer 2: this is where file I/O lives).

YAML and JSON share one schema (:mod:`accessrl._spec`).  Duplicate keys, which both
parsers would silently collapse, are errors here, and every message names the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from accessrl.errors import PolicyError, SpecError, SpecFileError, SpecValueError
from accessrl.model import MDP, compile_spec, spec_from_mdp
from accessrl.policies import policy_from_mapping


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader that rejects duplicate keys and reads 1e-3 as a number (YAML 1.2 style)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in out:
            raise SpecValueError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise SpecValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def read_mapping_file(path: str | Path, what: str = "spec") -> Any:
    """Parse a YAML or JSON file (by suffix; YAML otherwise) with clear one-line errors."""
    p = Path(path)
    if not p.exists():
        raise SpecFileError(f"{p}: no such {what} file")
    if p.is_dir():
        raise SpecFileError(f"{p}: is a directory; expected a YAML or JSON {what} file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecFileError(f"{p}: cannot read the {what} file ({exc.__class__.__name__}: {exc})") from None
    if not text.strip():
        raise SpecFileError(f"{p}: the {what} file is empty; expected YAML or JSON")
    try:
        if p.suffix.lower() == ".json":
            return json.loads(text, object_pairs_hook=_json_pairs)
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except SpecError as exc:
        raise SpecValueError(f"{p}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise SpecFileError(f"{p}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "parse error"
        raise SpecFileError(f"{p}{line}: not valid YAML or JSON ({problem})") from None


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


def save_binary(mdp: MDP, path: str | Path) -> None:
    """The CSR arrays and name tables in one ``.npz`` (names stored as newline-joined text)."""
    arrays = {k: getattr(mdp, k) for k in _BINARY_ARRAYS}
    meta = {"name": mdp.name, "gamma": mdp.gamma, "start": mdp.start, "format": "accessrl-csr-1"}
    np.savez(
        path,
        **arrays,
        states=np.frombuffer("\n".join(mdp.state_names).encode(), dtype=np.uint8),
        actions=np.frombuffer("\n".join(mdp.action_names).encode(), dtype=np.uint8),
        meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
    )


def load_binary(path: str | Path) -> MDP:
    """Read a model written by :func:`save_binary`."""
    p = Path(path)
    if not p.exists():
        raise SpecFileError(f"{p}: no such model file")
    try:
        with np.load(p, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes().decode())
            arrays = {k: z[k] for k in _BINARY_ARRAYS}
            states = tuple(z["states"].tobytes().decode().split("\n"))
            actions = tuple(z["actions"].tobytes().decode().split("\n"))
    except (OSError, KeyError, ValueError) as exc:
        raise SpecFileError(f"{p}: not an accessrl binary model ({exc})") from None
    return MDP(
        gamma=float(meta["gamma"]),
        state_names=states,
        action_names=actions,
        name=str(meta.get("name", p.stem)),
        start=meta.get("start"),
        **arrays,
    )


def load_policy(mdp: MDP, path: str | Path) -> np.ndarray:
    """Pair probabilities from a policy file: ``state: action`` or ``state: {action: p}``."""
    data = read_mapping_file(path, what="policy")
    if data is None:
        raise PolicyError(f"{path}: the policy file is empty; expected a mapping of state -> action")
    return policy_from_mapping(mdp, data, source=str(path))


__all__ = [
    "load_binary",
    "load_model",
    "load_policy",
    "load_spec",
    "read_mapping_file",
    "save_binary",
    "save_model",
    "save_spec",
]
