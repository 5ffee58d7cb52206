"""The tour's HTML report (layer 2: writes files): one ``index.html`` beside the SVG figures of
:mod:`accessrl.report.plots` and :mod:`accessrl.report.diagram`."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Section:
    """One step of the report: what ran, what it found, and its figure."""

    key: str
    title: str
    status: str
    """``done`` or ``skipped`` (the data of an earlier step is missing)."""
    lines: tuple[str, ...]
    figure: str | None
    note: str
    seconds: float
    command: str = ""
    """The commands that reproduce the step on its own, one a line, run in order."""
    table: tuple[tuple[str, ...], ...] = ()
    """A small table (first row: the header)."""
    figures: tuple[str, ...] = ()
    """Further figures after ``figure``."""
    reproduced: tuple[str, ...] = ()
    """Numbers the section shows that its commands print too (a test compares them)."""


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:920px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{margin-bottom:.2em} .sub{color:#555;margin-top:0}
section{border-top:1px solid #ddd;padding:1em 0}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.85em}
.badge{font-size:.75em;padding:.15em .5em;border-radius:.6em;margin-left:.5em;vertical-align:middle}
.done{background:#dcfce7;color:#166534}.skipped{background:#fef9c3;color:#854d0e}
table{border-collapse:collapse;font-size:.9em} td,th{padding:.2em .8em;border-bottom:1px solid #eee;text-align:left}
img{max-width:100%} .cmd code{background:#f1f5f9;padding:.1em .35em;font-size:.85em}
"""


def write_html(out: Path, sections: Sequence[Section], *, title: str, subtitle: str, total_seconds: float) -> Path:
    """Write ``out/index.html`` from the sections."""
    esc = html.escape
    toc = "".join(
        f'<tr><td><a href="#{esc(s.key)}">{esc(s.title)}</a></td><td><span class="badge {esc(s.status)}">'
        f"{esc(s.status)}</span></td><td>{s.seconds:.2f} s</td></tr>"
        for s in sections
    )
    body = []
    for i, s in enumerate(sections, start=1):
        parts = [f'<section id="{esc(s.key)}"><h2>{i}. {esc(s.title)}<span class="badge {esc(s.status)}">'
                 f"{esc(s.status)}</span></h2>"]
        if s.note:
            parts.append(f"<p>{esc(s.note)}</p>")
        for cmd in s.command.splitlines():
            parts.append(f'<p class="cmd">Reproduce: <code>{esc(cmd)}</code></p>')
        if s.lines:
            parts.append("<pre>" + esc("\n".join(s.lines)) + "</pre>")
        if s.table:
            head, *rows = s.table
            parts.append("<table><tr>" + "".join(f"<th>{esc(c)}</th>" for c in head) + "</tr>"
                         + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
                         + "</table>")
        for fig in (s.figure, *s.figures):
            if fig:
                parts.append(f'<img src="{esc(fig)}" alt="{esc(s.title)}">')
        parts.append("</section>")
        body.append("".join(parts))
    studio = ('<p>The lesson\'s labs as pages, with the workflow diagram and every chart: '
              '<a href="studio/index.html">studio/index.html</a> (a static export of <code>accessrl studio</code>).</p>'
              if (out / "studio" / "index.html").exists() else "")
    doc = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{esc(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{esc(title)}</h1><p class=sub>{esc(subtitle)}</p>"
        f"<table><tr><th>step</th><th>status</th><th>time</th></tr>{toc}</table>"
        f"<p>Total: {total_seconds:.1f} s.</p>{studio}{''.join(body)}</body></html>\n"
    )
    path = out / "index.html"
    path.write_text(doc, encoding="utf-8")
    return path


__all__ = ["Section", "write_html"]
