"""Spec text to plain data: YAML built straight from the parser's events, with limits (layer 0).

PyYAML's loaders compose a node graph and then construct Python objects from it, both
recursively: a deeply nested document exhausts Python's recursion limit (pure-Python
loader) or the C stack (libyaml's ``CSafeLoader`` segfaults near 10^5 levels), and the
node graph of a 7 MB spec takes over a gigabyte.  :func:`parse_yaml` instead reads the
event stream of libyaml's C parser (PyYAML's pure-Python parser when libyaml is not
installed) and builds dicts, lists and scalars with an explicit stack, so

* nesting is limited (:data:`MAX_DEPTH`) and refused as soon as it is exceeded;
* a duplicate key is an error naming its line (both parsers would keep the last);
* no node graph is kept, only the result.

Scalars resolve as PyYAML's ``SafeLoader`` resolves them (YAML 1.1: ``yes`` is true,
``1_000`` is 1000, dates are dates), plus ``1e-3`` as a number (YAML 1.2 style): the
common plain scalars by a fast path, the rest by SafeLoader's own resolver and constructor.

>>> parse_yaml("gamma: 0.9\\nterminal: [done]\\nrate: 1e-3\\nok: yes\\n")
{'gamma': 0.9, 'terminal': ['done'], 'rate': 0.001, 'ok': True}
>>> parse_yaml("a: 1\\na: 2\\n")
Traceback (most recent call last):
...
accessrl.errors.SpecValueError: line 2: duplicate key 'a'
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from accessrl.errors import SpecError, SpecFileError, SpecValueError

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists a spec file may have (a spec needs six levels)."""

_Parser: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # either yields events from text

_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_ ./|-]*")  # plain text that no YAML 1.1 rule reads as non-text
_SPECIAL_WORDS = frozenset(
    w for base in ("yes", "no", "true", "false", "on", "off", "y", "n", "null")
    for w in (base, base.capitalize(), base.upper())
)
_E_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class _Resolver(yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader's resolver and scalar constructors, plus 1e-3 as a float (never fed a stream)."""


_Resolver.add_implicit_resolver("tag:yaml.org,2002:float", _E_FLOAT, list("-+0123456789"))
_SCALARS = _Resolver("")


def _scalar(event: Any, seen: dict[str, str]) -> Any:
    value: str = event.value
    tag = event.tag
    if tag in (None, "!"):
        if event.style or tag == "!":  # quoted or block scalar: text (plain is None or "")
            return value
        if _WORD.fullmatch(value) and value not in _SPECIAL_WORDS:
            return seen.setdefault(value, value) if len(value) <= 64 else value  # one copy of each repeated name
        if _INT.fullmatch(value) and len(value) < 19:
            return int(value)
        tag = _SCALARS.resolve(yaml.ScalarNode, value, (True, False))
        if tag == "tag:yaml.org,2002:merge":
            raise SpecValueError(f"line {event.start_mark.line + 1}: merge keys (<<) are not supported in a spec")
    node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
    return _SCALARS.construct_object(node, deep=True)


class _Map:
    """An open mapping: the dict so far and the key waiting for its value."""

    __slots__ = ("d", "key", "has_key")

    def __init__(self) -> None:
        self.d: dict[Any, Any] = {}
        self.key: Any = None
        self.has_key = False

    def put(self, value: Any, ev: Any) -> None:
        if self.has_key:
            self.d[self.key] = value
            self.has_key = False
            return
        line = ev.start_mark.line + 1
        if isinstance(value, (dict, list)):
            raise SpecValueError(f"line {line}: a mapping key must be a name or number, got a {type(value).__name__}")
        if value in self.d:
            raise SpecValueError(f"line {line}: duplicate key {value!r}")
        self.key, self.has_key = value, True


def parse_yaml(text: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The data of a one-document YAML text (``None`` for an empty one).

    Raises :class:`~accessrl.errors.SpecValueError` for a duplicate key, nesting deeper
    than ``max_depth``, a merge key (``<<``) or more than one document, and
    :class:`~accessrl.errors.SpecFileError` for text that is not YAML: every error of the
    parser (libyaml's or PyYAML's, whichever version) becomes one line with its line number,
    so nothing but an :class:`~accessrl.errors.AccessRLError` leaves this function.

    >>> parse_yaml("gamma: [0.9\\n")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    accessrl.errors.SpecFileError: line 2: not valid YAML (...)
    """
    try:
        return _parse(text, max_depth)
    except yaml.YAMLError as exc:
        raise _one_line(exc, max_depth) from None


def _one_line(exc: yaml.YAMLError, max_depth: int) -> SpecError:
    """A parser's error as one line.  libyaml (0.2.5 with PyYAML 6.0.4 and later) stops at its own
    nesting limit while scanning ahead, before this module sees the events: that is our limit too."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"line {mark.line + 1}: " if mark is not None else ""
    problem = " ".join(str(getattr(exc, "problem", None) or "parse error").split())
    if "nesting depth" in problem or "nesting level" in problem:
        return SpecValueError(f"{where}nested deeper than {max_depth} levels")
    return SpecFileError(f"{where}not valid YAML ({problem})")


def _parse(text: str, max_depth: int) -> Any:
    parser = _Parser(text)
    anchors: dict[str, Any] = {}
    seen: dict[str, str] = {}
    stack: list[Any] = []  # the open containers: a list, or a _Map
    result: Any = None
    documents = 0
    try:
        while True:
            ev = parser.get_event()
            if ev is None:
                break
            kind = type(ev)
            if kind is yaml.ScalarEvent:
                value: Any = _scalar(ev, seen)
                if ev.anchor is not None:
                    anchors[ev.anchor] = value
            elif kind is yaml.AliasEvent:
                if ev.anchor not in anchors:
                    raise yaml.composer.ComposerError(None, None, f"found undefined alias {ev.anchor!r}", ev.start_mark)
                value = anchors[ev.anchor]
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if len(stack) >= max_depth:
                    raise SpecValueError(f"line {ev.start_mark.line + 1}: nested deeper than {max_depth} levels")
                if ev.tag not in (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
                    raise yaml.constructor.ConstructorError(
                        None, None, f"could not determine a constructor for the tag {ev.tag!r}", ev.start_mark)
                frame: Any = _Map() if kind is yaml.MappingStartEvent else []
                if ev.anchor is not None:
                    anchors[ev.anchor] = frame.d if kind is yaml.MappingStartEvent else frame
                stack.append(frame)
                continue
            elif kind is yaml.MappingEndEvent:
                value = stack.pop().d
            elif kind is yaml.SequenceEndEvent:
                value = stack.pop()
            else:
                if kind is yaml.DocumentStartEvent:
                    documents += 1
                    if documents > 1:
                        raise SpecValueError(f"line {ev.start_mark.line + 1}: expected one YAML document, got more")
                continue
            if not stack:
                result = value
            elif type(stack[-1]) is list:
                stack[-1].append(value)
            else:
                stack[-1].put(value, ev)
    finally:
        if hasattr(parser, "dispose"):
            parser.dispose()
    return result


__all__ = ["MAX_DEPTH", "parse_yaml"]
