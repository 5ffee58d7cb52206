"""PNG plots for ``accessrl simulate --plot`` and ``accessrl learn --plot`` (layer 2: writes files).

Drawn with matplotlib's object API on an Agg canvas: no pyplot, no global figure
state, no display needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from accessrl.errors import ParameterError


def _save(fig: Figure, path: str | Path) -> Path:
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise ParameterError(f"plot file: expected a .png file name, got {str(p)!r}")
    if not p.parent.exists():
        raise ParameterError(f"plot file {str(p)!r}: directory {str(p.parent)!r} does not exist")
    FigureCanvasAgg(fig)
    fig.savefig(p, dpi=100)
    return p


def returns_histogram(
    returns: Any, path: str | Path, *, exact: float | None = None, mean: float | None = None, title: str = ""
) -> Path:
    """Histogram of sampled returns, the sample mean and (if known) the exact expected value."""
    x = np.asarray(returns, dtype=np.float64)
    fig = Figure(figsize=(7, 4))
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
        ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def learning_curve(returns: Any, path: str | Path, *, optimum: float | None = None, title: str = "") -> Path:
    """Per-episode return while learning, with a moving average and (if known) V*(start)."""
    x = np.asarray(returns, dtype=np.float64)
    window = max(1, x.size // 50)
    fig = Figure(figsize=(7, 4))
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
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


__all__ = ["learning_curve", "returns_histogram"]
