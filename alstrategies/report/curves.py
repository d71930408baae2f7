"""Learning curves: a metric (default Dice) against labeled fraction, mean with a std band per strategy."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from alstrategies.metrics import metric_of_column
from alstrategies.report.io import save_figure
from alstrategies.report.tables import summarise

__all__ = ["learning_curve_figure", "plot_learning_curves"]


def learning_curve_figure(results: pd.DataFrame, metric: str = "dice") -> Figure:
    """One line per strategy over the AL budgets (mean over seeds, band: ± one std), in the
    metric's display scale (Dice in percent); the mean of the 100 % rows as a dashed horizontal
    line. ``metric`` is a results.csv column: a registered metric or one of its class columns."""
    found = metric_of_column(metric)
    scale, unit = (100.0, " (%)") if found is None else (found[0].scale, found[0].title_unit)
    summary = summarise(results, metric)
    al = summary[summary["budget"] < 1.0]
    full = summary[summary["budget"] >= 1.0]
    figure = Figure(figsize=(7, 4.5), dpi=120)
    axis = figure.add_subplot()
    for strategy in dict.fromkeys(results["strategy"]):
        part = al[al["strategy"] == strategy].sort_values("budget")
        if part.empty:
            continue
        x = 100 * part["budget"]
        y = scale * part["mean"]
        (line,) = axis.plot(x, y, marker="o", markersize=3, label=strategy)
        band = scale * part["std"]
        axis.fill_between(x, y - band, y + band, color=line.get_color(), alpha=0.15)
    if not full.empty:
        bound = scale * full["mean"].mean()
        axis.axhline(bound, color="black", linestyle="--", linewidth=1, label=f"100% labels ({bound:.1f})")
    axis.set_xlabel("labeled fraction of the pool (%)")
    axis.set_ylabel(f"mean {metric.replace('_', ' ')}{unit}")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    return figure


def plot_learning_curves(
    results: pd.DataFrame, path: str | Path, metric: str = "dice", *, extra_suffixes: tuple[str, ...] = ()
) -> Path:
    """Draw :func:`learning_curve_figure` once and save it atomically to ``path`` (format from the
    suffix) and to ``path`` with each of ``extra_suffixes`` (e.g. ``(".pdf",)``); returns ``path``."""
    path = Path(path)
    figure = learning_curve_figure(results, metric)
    save_figure(figure, path)
    for suffix in extra_suffixes:
        save_figure(figure, path.with_suffix(suffix))
    return path
