"""The pilot's three plots: the deployed policy's value, estimated against true abandonment,
and the drift statistic (matplotlib's object API on an Agg canvas, PNG files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def pilot_plots(result: Any, out_dir: Path) -> tuple[Path, ...]:
    """``value.png``, ``abandonment.png`` and ``drift.png`` in ``out_dir`` for a
    :class:`~accessrl.pilot.run.PilotResult`."""
    rows = result.rows
    weeks = np.array([r.week for r in rows])
    fig = Figure(figsize=(7, 3.6))
    ax = fig.add_subplot()
    ax.plot(weeks, [r.true_value for r in rows], marker="o", label="true value of the deployed policy")
    ax.plot(weeks, [r.mean_return for r in rows], marker="s", linestyle="--",
            label="mean observed return (with exploration)")
    for r in rows:
        if r.action in ("promoted", "rollback", "relearned"):
            ax.axvline(r.week + 0.5, color="grey", linewidth=0.8, linestyle=":")
            ax.annotate(r.action, (r.week + 0.5, ax.get_ylim()[1]), rotation=90, va="top", ha="right", fontsize=8)
    ax.set_xlabel("week")
    ax.set_ylabel("value from new_request")
    ax.set_title("Value of the deployed policy")
    ax.legend(fontsize=8, loc="lower left")
    paths = [_save(fig, out_dir / "value.png")]

    fig = Figure(figsize=(7, 3.6))
    ax = fig.add_subplot()
    est = np.array([r.p_abandon_est for r in rows])
    lo = np.array([r.p_abandon_low for r in rows])
    hi = np.array([r.p_abandon_high for r in rows])
    ax.errorbar(weeks, est, yerr=[np.clip(np.nan_to_num(est - lo), 0, None), np.clip(np.nan_to_num(hi - est), 0, None)],
                fmt="o", capsize=3,
                label="estimated from the week's live log (95% Wilson)")
    ax.step(weeks, [r.p_abandon_true for r in rows], where="mid", label="true (hidden)")
    ax.set_xlabel("week")
    ax.set_ylabel("P(abandon | request_evidence)")
    ax.set_title("Estimated against true abandonment")
    ax.legend(fontsize=8)
    paths.append(_save(fig, out_dir / "abandonment.png"))

    fig = Figure(figsize=(7, 3.6))
    ax = fig.add_subplot()
    score = [min(16.0, -np.log10(max(r.drift_p, 1e-16))) for r in rows]
    ax.bar(weeks, score, color=["tab:red" if r.drift else "tab:blue" for r in rows])
    alpha = getattr(result, "alpha", None) or 0.01
    ax.axhline(-np.log10(alpha), color="black", linestyle="--", linewidth=0.8, label=f"alpha = {alpha:g} (Holm)")
    ax.set_xlabel("week")
    ax.set_ylabel("-log10 adjusted p (G-test, capped at 16)")
    ax.set_title("Drift of live outcomes against the deployed model")
    ax.legend(fontsize=8)
    paths.append(_save(fig, out_dir / "drift.png"))
    return tuple(paths)


__all__ = ["pilot_plots"]
