"""Plots: the tour's figures (SVG) and ``accessrl simulate --plot`` / ``accessrl learn --plot`` (PNG) (layer 2: writes files).

Drawn with matplotlib's object API on an Agg canvas: no pyplot, no global figure
state, no display needed.  The tour's figures are vector SVG (crisp at any zoom);
PNGs are written at :data:`DPI`.  Legends sit outside the axes, never over the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from accessrl.errors import ParameterError

DPI = 200
"""Resolution of every PNG written here."""


def new_figure(width: float = 6.4, height: float = 3.6) -> Figure:
    """A figure on an Agg canvas."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` (a ``.png`` in an existing directory)."""
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise ParameterError(f"plot file: expected a .png file name, got {str(p)!r}")
    if not p.parent.exists():
        raise ParameterError(f"plot file {str(p)!r}: directory {str(p.parent)!r} does not exist")
    FigureCanvasAgg(fig)
    fig.savefig(p, dpi=DPI)
    return p


def save_svg(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` as SVG (text kept as paths, so it looks the same everywhere)."""
    p = Path(path)
    if p.suffix.lower() != ".svg":
        raise ParameterError(f"plot file: expected a .svg file name, got {str(p)!r}")
    if not p.parent.exists():
        raise ParameterError(f"plot file {str(p)!r}: directory {str(p.parent)!r} does not exist")
    FigureCanvasAgg(fig)
    fig.savefig(p, format="svg", metadata={"Date": None})
    return p


def save(fig: Figure, path: str | Path) -> Path:
    """SVG or PNG by the file name's suffix."""
    return save_svg(fig, path) if str(path).lower().endswith(".svg") else save_png(fig, path)


def outside_legend(ax: Any) -> None:
    """A legend to the right of the axes, so it never covers a curve."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8, frameon=False)


def returns_histogram(
    returns: Any, path: str | Path, *, exact: float | None = None, mean: float | None = None, title: str = ""
) -> Path:
    """Histogram of sampled returns, the sample mean and (if known) the exact expected value."""
    x = np.asarray(returns, dtype=np.float64)
    fig = new_figure(7, 4)
    ax = fig.add_subplot()
    distinct = np.unique(x)
    bins: Any = distinct.size if distinct.size <= 50 else 50
    if distinct.size <= 50 and distinct.size > 1:
        gaps = np.diff(distinct).min() / 2
        bins = np.concatenate([distinct - gaps, [distinct[-1] + gaps]])
    ax.hist(x, bins=bins, color="#4c72b0", alpha=0.8)
    if mean is not None:
        ax.axvline(mean, color="#dd8452", linestyle="--", label=f"sample mean {mean:.3f}")
    if exact is not None:
        ax.axvline(exact, color="#c44e52", linewidth=2, label=f"exact value {exact:.3f}")
    ax.set_xlabel("discounted return")
    ax.set_ylabel("episodes")
    ax.set_title(title)
    if exact is not None or mean is not None:
        outside_legend(ax)
    return save_png(fig, path)


def learning_curve(returns: Any, path: str | Path, *, optimum: float | None = None, title: str = "") -> Path:
    """Per-episode return while learning, with a moving average and (if known) V*(start)."""
    x = np.asarray(returns, dtype=np.float64)
    window = max(1, x.size // 50)
    fig = new_figure(7, 4)
    ax = fig.add_subplot()
    ep = np.arange(1, x.size + 1)
    ax.plot(ep, x, color="#4c72b0", alpha=0.25, linewidth=0.5, label="episode return")
    if x.size >= window:
        smooth = np.convolve(x, np.ones(window) / window, mode="valid")
        ax.plot(ep[window - 1 :], smooth, color="#4c72b0", label=f"moving average ({window})")
    if optimum is not None:
        ax.axhline(optimum, color="#c44e52", linestyle="--", label=f"V*(start) {optimum:.3f}")
    ax.set_xlabel("episode")
    ax.set_ylabel("discounted return")
    ax.set_title(title)
    outside_legend(ax)
    return save_png(fig, path)


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
    outside_legend(ax)
    save(fig, out / name)
    return name


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
    outside_legend(ax)
    save(fig, out / name)
    return name


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
    outside_legend(ax)
    save(fig, out / name)
    return name


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
    outside_legend(ax)
    save(fig, out / name)
    return name


def plot_convergence(episodes: Any, curves: dict[str, Any], targets: dict[str, float], out: Path, name: str, *,
                     title: str) -> str:
    """Estimates against episodes, each with its exact target as a dashed line of the same colour."""
    fig = new_figure(7.2, 3.8)
    ax = fig.add_subplot()
    for i, (label, y) in enumerate(curves.items()):
        ax.plot(np.asarray(episodes), np.asarray(y, dtype=float), color=f"C{i}", linewidth=1.8, label=f"Q({label})")
        if label in targets:
            ax.axhline(targets[label], color=f"C{i}", linestyle="--", linewidth=1, label=f"Q*({label}) = {targets[label]:.2f}")
    ax.set_xlabel("episodes")
    ax.set_ylabel("estimate")
    ax.set_title(title, fontsize=10)
    outside_legend(ax)
    save(fig, out / name)
    return name


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
    outside_legend(ax)
    save(fig, out / name)
    return name


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
    save(fig, out / name)
    return name


__all__ = [
    "DPI",
    "outside_legend",
    "save",
    "save_svg",
    "learning_curve",
    "new_figure",
    "plot_bars",
    "plot_convergence",
    "plot_curves",
    "plot_flip",
    "plot_histograms",
    "plot_intervals",
    "plot_sweeps",
    "returns_histogram",
    "save_png",
]


def abandonment_figure(stages: list[dict[str, Any]], out: str | Path) -> Path:
    """Kaplan-Meier survival (with its 95% band) and the bucket hazards (with intervals) of each
    stage, as ``logs abandonment --json`` gives them, side by side."""
    fig = new_figure(10.0, 3.8)
    left, right = fig.subplots(1, 2)
    width = 0.8 / max(len(stages), 1)
    for i, r in enumerate(stages):
        km = r["kaplan_meier"]
        days = [0.0, *km["days"]]
        line = left.step(days, [1.0, *km["survival"]], where="post", label=f"{r['stage']} ({r['visits']} visits)")
        colour = line[0].get_color()
        left.fill_between(days, [1.0, *km["low"]], [1.0, *km["high"]], step="post", alpha=0.2, color=colour)
        hz = r["hazard"]
        xs = [j + (i - (len(stages) - 1) / 2) * width for j in range(len(hz))]
        vals = [h["hazard"] for h in hz]
        err = [[max(0.0, h["hazard"] - h["low"]) for h in hz], [max(0.0, h["high"] - h["hazard"]) for h in hz]]
        right.bar(xs, vals, width=width, color=colour, yerr=err, capsize=2, label=r["stage"])
    left.set_xlabel("days waited in the stage")
    left.set_ylabel("share not abandoned (Kaplan-Meier)")
    left.set_ylim(0, 1.02)
    labels = [f"{h['start']:g}-{h['end']:g}" if h["end"] != float("inf") else f">={h['start']:g}"
              for h in (stages[0]["hazard"] if stages else [])]
    right.set_xticks(range(len(labels)), labels)
    right.set_xlabel("days waited (bucket)")
    right.set_ylabel("abandonment hazard (95% interval)")
    outside_legend(right)
    left.legend(fontsize=7, frameon=False)
    return save(fig, out)
