"""Layer 2: pictures and pages for people.

* :mod:`~accessrl.report.plots` — matplotlib figures (returns, learning curves, sweeps, intervals);
* :mod:`~accessrl.report.html` — the self-contained HTML report;
* :mod:`~accessrl.report.tour` — the tour: the whole story on the built-in workflow, as a report.
"""

from __future__ import annotations

from accessrl.report.html import (
    Section,
    write_html,
)
from accessrl.report.plots import (
    DPI,
    learning_curve,
    new_figure,
    plot_bars,
    plot_curves,
    plot_flip,
    plot_histograms,
    plot_intervals,
    plot_sweeps,
    returns_histogram,
    save_png,
)
from accessrl.report.tour import (
    STEPS,
    Budget,
    TourResult,
    run_tour,
)

__all__ = [
    "DPI",
    "STEPS",
    "Budget",
    "Section",
    "TourResult",
    "learning_curve",
    "new_figure",
    "plot_bars",
    "plot_curves",
    "plot_flip",
    "plot_histograms",
    "plot_intervals",
    "plot_sweeps",
    "returns_histogram",
    "run_tour",
    "save_png",
    "write_html",
]
