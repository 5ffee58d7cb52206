"""The workflow editor's server side: YAML text in, the diagram and the solution out, or the
library's one-line error with the line of the text it concerns.

The text goes through the same reader as a spec file on the command line
(:func:`accessrl.specfile.load_model`, which parses with duplicate-key checks and compiles
with :func:`accessrl.model.spec.compile_spec`), so the editor shows exactly the error
``accessrl solve`` would print, with the file called ``editor``.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from accessrl.catalog import CATALOG, load
from accessrl.errors import AccessRLError, ParameterError
from accessrl.model.spec import spec_from_mdp
from accessrl.specfile import load_model
from accessrl.studio.labs import solution

EDITOR_NAME = "editor"
"""What the error messages call the text being edited."""

MAX_STATES = 1_000
"""Largest model the editor solves and draws, in states (``accessrl solve`` takes millions)."""
MAX_OUTCOMES = 10_000
"""Largest model the editor solves and draws, in outcomes."""

STARTERS = ("access-review-abandonment", "access-review", "access-review-components", "access-review-deny")
"""Catalog models the editor offers to start from (the generated workflows are too large to read)."""


def _flow(x: Any) -> str:
    return str(yaml.safe_dump(x, default_flow_style=True, sort_keys=False, width=10_000)).strip()


def spec_text(name: str) -> str:
    """A catalog model as compact YAML: one line per outcome list."""
    if name not in CATALOG:
        load(name)  # raises the catalog's own one-line error
    spec = spec_from_mdp(load(name))
    head = {k: v for k, v in spec.items() if k != "transitions"}
    lines = [yaml.safe_dump(head, sort_keys=False, default_flow_style=None, width=100).rstrip(), "transitions:"]
    for state, acts in spec["transitions"].items():
        lines.append(f"  {state}:")
        for action, outcomes in acts.items():
            if len(outcomes) == 1:
                lines.append(f"    {action}: [{_flow(outcomes[0])}]")
            else:
                lines.append(f"    {action}:")
                lines.extend(f"      - {_flow(o)}" for o in outcomes)
    return "\n".join(lines) + "\n"


def _child(node: Any, key: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
    return None


def error_line(text: str, message: str) -> int | None:
    """The 1-based line of ``text`` an error message points at (its ``line N``, or the deepest of
    ``state``, ``action``, ``outcome N`` and ``field`` that the text has)."""
    m = re.search(r"\bline (\d+)", message)
    if m:
        return max(1, min(int(m.group(1)), len(text.splitlines())))
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if root is None:
        return None
    best: int | None = None
    state = re.search(r"state '([^']+)'", message)
    action = re.search(r"action '([^']+)'", message)
    outcome = re.search(r"outcome (\d+)", message)
    fld = re.search(r"field '?([\w.-]+)'?", message)
    node = root
    if state:
        hit = _child(_child(root, "transitions")[1] if _child(root, "transitions") else None, state.group(1))
        if hit:
            best, node = hit[0].start_mark.line + 1, hit[1]
            if action:
                hit = _child(node, action.group(1))
                if hit:
                    best, node = hit[0].start_mark.line + 1, hit[1]
                    if outcome and isinstance(node, yaml.SequenceNode):
                        i = int(outcome.group(1)) - 1
                        if 0 <= i < len(node.value):
                            node = node.value[i]
                            best = node.start_mark.line + 1
                    elif outcome is None and isinstance(node, yaml.SequenceNode) and node.value:
                        node = node.value[0]
    if fld and node is not root:
        hit = _child(node, fld.group(1))
        if hit:
            best = hit[0].start_mark.line + 1
    if best is None:
        # The first line that holds a name the message quotes (the last quoted first), else the
        # top-level field it names.
        lines = text.splitlines()
        for token in reversed(re.findall(r"'([^']+)'", message)):
            for i, line in enumerate(lines, start=1):
                if re.search(rf"(?<![\w-]){re.escape(token)}(?![\w-])", line):
                    return i
        hit = _child(root, fld.group(1)) if fld else None
        if hit:
            best = hit[0].start_mark.line + 1
    return best


def solve_text(text: Any) -> dict[str, Any]:
    """``{"ok": True, ...solution}`` or ``{"ok": False, "error": one line, "line": N or None}``."""
    if not isinstance(text, str):
        return {"ok": False, "error": f"{EDITOR_NAME}: expected the spec as text", "line": None}
    with tempfile.TemporaryDirectory(prefix="accessrl-editor-") as d:
        path = Path(d) / f"{EDITOR_NAME}.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            mdp = load_model(path)
            if mdp.n_states > MAX_STATES or mdp.out_next.shape[0] > MAX_OUTCOMES:
                raise ParameterError(f"{EDITOR_NAME}: {mdp.n_states:,} states and {mdp.out_next.shape[0]:,} outcomes; "
                                     f"the studio solves and draws models of at most {MAX_STATES:,} states and "
                                     f"{MAX_OUTCOMES:,} outcomes (accessrl solve takes larger ones)")
            out = solution(mdp)
        except AccessRLError as exc:
            msg = str(exc).replace(str(path), EDITOR_NAME)
            return {"ok": False, "error": f"accessrl: error: {msg}", "line": error_line(text, msg)}
    return {"ok": True, **out}


__all__ = ["EDITOR_NAME", "MAX_OUTCOMES", "MAX_STATES", "STARTERS", "error_line", "solve_text", "spec_text"]
