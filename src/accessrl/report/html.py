"""The tour's HTML report and its plots (layer 2: writes files).

Plots are drawn with matplotlib's object API on an Agg canvas (no pyplot, no global
figure state, no display).  The report is one self-contained ``index.html`` beside its
PNG files.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


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


def new_figure(width: float = 6.4, height: float = 3.6) -> Figure:
    """A figure on an Agg canvas."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, out: Path, name: str) -> str:
    """Write ``fig`` as ``out/name`` (PNG) and return the file name."""
    fig.savefig(out / name, dpi=90)
    return name


def plot_sweeps(sweeps: Sequence[Any], labels: Sequence[str], out: Path, name: str) -> str:
    """Value of each state after each value-iteration sweep."""
    fig = new_figure()
    ax = fig.add_subplot()
    v = np.array([np.asarray(s) for s in sweeps])
    x = np.arange(1, len(v) + 1)
    for j, label in enumerate(labels):
        ax.plot(x, v[:, j], marker="o", label=label)
    ax.set_xlabel("sweep")
    ax.set_ylabel("V(s)")
    ax.set_xticks(x)
    ax.set_title("Value iteration from V = 0")
    ax.legend(fontsize=8)
    return save(fig, out, name)


def plot_flip(p: Any, curves: dict[str, Any], breakeven: float | None, out: Path, name: str) -> str:
    """Q at the start state against the abandonment probability, with the breakeven marked."""
    fig = new_figure()
    ax = fig.add_subplot()
    for label, y in curves.items():
        ax.plot(p, y, label=label)
    if breakeven is not None:
        ax.axvline(breakeven, color="k", linestyle="--", linewidth=1)
        ax.annotate(f"breakeven p = {breakeven:.4f}", (breakeven, ax.get_ylim()[0]), xytext=(6, 12),
                    textcoords="offset points", fontsize=8)
    ax.set_xlabel("p(abandon | request_evidence)")
    ax.set_ylabel("Q(new_request, a)")
    ax.set_title("The policy flips as abandonment grows")
    ax.legend(fontsize=8)
    return save(fig, out, name)


def plot_histograms(samples: dict[str, Any], out: Path, name: str) -> str:
    """Distributions of discounted returns."""
    fig = new_figure()
    ax = fig.add_subplot()
    values = np.concatenate([np.asarray(v, dtype=float) for v in samples.values()])
    bins = np.linspace(values.min() - 1, values.max() + 1, 40).tolist()
    for label, v in samples.items():
        ax.hist(np.asarray(v, dtype=float), bins=bins, alpha=0.6, label=f"{label} (mean {np.mean(v):.2f})")
    ax.set_xlabel("discounted return")
    ax.set_ylabel("episodes")
    ax.set_title("Return distributions by first action")
    ax.legend(fontsize=8)
    return save(fig, out, name)


def plot_curves(curves: dict[str, Any], out: Path, name: str, *, xlabel: str, ylabel: str, title: str,
                hlines: dict[str, float] | None = None, window: int = 1) -> str:
    """Learning curves (moving average over ``window``)."""
    fig = new_figure()
    ax = fig.add_subplot()
    for label, y in curves.items():
        y = np.asarray(y, dtype=float)
        if window > 1 and y.size >= window:
            y = np.convolve(y, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(y.size) + 1, y, label=label)
    for i, (label, y0) in enumerate((hlines or {}).items()):
        ax.axhline(y0, color=f"C{i + 3}", linestyle="--", linewidth=1, label=f"{label} {y0:.2f}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return save(fig, out, name)


def plot_bars(groups: Sequence[str], series: dict[str, Sequence[float]], out: Path, name: str, *, title: str,
              ylabel: str) -> str:
    """Grouped bars (one group per design or policy)."""
    fig = new_figure()
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    for i, (label, vals) in enumerate(series.items()):
        ax.bar(x + i * width, vals, width, label=label)
    ax.set_xticks(x + width * (len(series) - 1) / 2, groups)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return save(fig, out, name)


def plot_intervals(rows: Sequence[tuple[str, float, float, float, float | None]], out: Path, name: str, *,
                   title: str, xlabel: str) -> str:
    """Point estimates with intervals, and (where known) the true value as a cross."""
    fig = new_figure(6.4, 0.5 + 0.45 * max(1, len(rows)))
    ax = fig.add_subplot()
    y = np.arange(len(rows))[::-1]
    for yi, (_, v, lo, hi, truth) in zip(y, rows, strict=True):
        ax.errorbar([v], [yi], xerr=[[max(0.0, v - lo)], [max(0.0, hi - v)]], fmt="o", color="C0", capsize=3)
        if truth is not None:
            ax.plot([truth], [yi], "x", color="C3", markersize=9)
    ax.set_yticks(y, [r[0] for r in rows], fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title + " (x: true value)")
    return save(fig, out, name)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:920px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{margin-bottom:.2em} .sub{color:#555;margin-top:0}
section{border-top:1px solid #ddd;padding:1em 0}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.85em}
.badge{font-size:.75em;padding:.15em .5em;border-radius:.6em;margin-left:.5em;vertical-align:middle}
.done{background:#dcfce7;color:#166534}.skipped{background:#fef9c3;color:#854d0e}
table{border-collapse:collapse;font-size:.9em} td,th{padding:.2em .8em;border-bottom:1px solid #eee;text-align:left}
img{max-width:100%}
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
        if s.lines:
            parts.append("<pre>" + esc("\n".join(s.lines)) + "</pre>")
        if s.figure:
            parts.append(f'<img src="{esc(s.figure)}" alt="{esc(s.title)}">')
        parts.append("</section>")
        body.append("".join(parts))
    doc = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{esc(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{esc(title)}</h1><p class=sub>{esc(subtitle)}</p>"
        f"<table><tr><th>step</th><th>status</th><th>time</th></tr>{toc}</table>"
        f"<p>Total: {total_seconds:.1f} s.</p>{''.join(body)}</body></html>\n"
    )
    path = out / "index.html"
    path.write_text(doc, encoding="utf-8")
    return path


__all__ = [
    "Section",
    "new_figure",
    "plot_bars",
    "plot_curves",
    "plot_flip",
    "plot_histograms",
    "plot_intervals",
    "plot_sweeps",
    "save",
    "write_html",
]
