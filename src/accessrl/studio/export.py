"""The studio's lab pages written out as static files: the same templates and the same script,
with each page's data (the lab's defaults, computed by the library) embedded in the page.

Opened from disk, a page draws exactly what the live studio draws before a control is touched;
the value-iteration stepper still steps (every sweep is in the data).  Controls that need the
server are disabled, and the page says how to start the live studio.
"""

from __future__ import annotations

import json
import posixpath
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from accessrl.lesson import LAB_ORDER
from accessrl.studio.labs import LAB_FUNCTIONS
from accessrl.studio.pages import LAB_PAGES
from accessrl.studio.render import HERE, NAV, template_env


def _json_safe(x: Any) -> Any:
    import math

    import numpy as np

    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, np.ndarray):
        return _json_safe(x.tolist())
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    return x


def _linker(here: str) -> Callable[[str], str]:
    """``url("/lab/x")`` as a path relative to the page ``here`` (a file path inside the export)."""
    def url(path: str) -> str:
        if path == "/":
            target = "index.html"
        elif path.startswith("/static/"):
            target = path[1:]
        else:
            target = path[1:] + ".html"
        return posixpath.relpath(target, posixpath.dirname(here) or ".")

    return url


def export_site(out: str | Path) -> list[Path]:
    """Write ``index.html``, ``lab/NAME.html`` for every lab and ``static/`` into ``out``."""
    root = Path(out)
    (root / "lab").mkdir(parents=True, exist_ok=True)
    shutil.copytree(HERE / "static", root / "static", dirs_exist_ok=True)
    env = template_env()
    pages = {p.name: p for p in LAB_PAGES}
    written = []
    common = {"nav": NAV, "has_db": False, "live": False}
    html = env.get_template("index.html").render(page="index", labs=LAB_PAGES, url=_linker("index.html"), **common)
    (root / "index.html").write_text(html, encoding="utf-8")
    written.append(root / "index.html")
    for i, name in enumerate(LAB_ORDER):
        here = f"lab/{name}.html"
        data = {f"/api/lab/{name}": _json_safe(LAB_FUNCTIONS[name]())}
        # Keys keep the library's order (the script draws in that order); <, > and & escaped so the
        # text cannot close the script element.
        text = json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        html = env.get_template("lab.html").render(
            page=name, lab=pages[name], number=i + 1, url=_linker(here), static_json=text,
            prev=pages[LAB_ORDER[i - 1]] if i > 0 else None,
            next=pages[LAB_ORDER[i + 1]] if i + 1 < len(LAB_ORDER) else None, **common)
        (root / here).write_text(html, encoding="utf-8")
        written.append(root / here)
    return written


__all__ = ["export_site"]
