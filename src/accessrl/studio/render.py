"""The studio's templates, shared by the live application and the static export (Jinja2 only)."""

from __future__ import annotations

from pathlib import Path

import jinja2

from accessrl.studio.pages import LAB_PAGES

HERE = Path(__file__).resolve().parent
"""The studio package's folder (templates/ and static/ live here)."""

NAV = [{"href": f"/lab/{p.name}", "title": p.title} for p in LAB_PAGES]
"""The lesson's labs in the navigation bar, in order."""


def template_env() -> jinja2.Environment:
    """The studio's templates (autoescaped HTML; an undefined name is an error, not blank text)."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                              autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined)


__all__ = ["HERE", "NAV", "template_env"]
