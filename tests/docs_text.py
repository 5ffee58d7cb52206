"""The documentation as one text: the README (the map) and the docs site's guide pages, each page's
headings one level down so a page reads as the README section it used to be ("# Python API" is
"## Python API" again).  Tests that check what the documentation says read this."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide"


def demote(text: str) -> str:
    """Every Markdown heading one level down, outside fenced code blocks."""
    out, fence = [], False
    for line in text.split("\n"):
        if line.startswith("```"):
            fence = not fence
        elif not fence and re.match(r"#+ ", line):
            line = "#" + line
        out.append(line)
    return "\n".join(out)


def documentation() -> str:
    """README.md, then every docs/guide page (sorted by name), as one Markdown text."""
    pages = [demote(p.read_text(encoding="utf-8")) for p in sorted(GUIDE.glob("*.md"))]
    return "\n\n".join([(ROOT / "README.md").read_text(encoding="utf-8"), *pages])
