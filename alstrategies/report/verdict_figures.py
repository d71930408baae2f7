"""Figures of the run's statistics: penalty matrix, difference to Random, score-error correlation.

Every figure uses a constrained layout with its legend outside the axes, so no legend covers
data; values are drawn in percentage points (differences) or as they are (shares, rho).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from alstrategies.report.palette import figure_styles
from alstrategies.report.penalty import NOT_TESTED

__all__ = ["band_coverage", "difference_figure", "penalty_figure", "score_error_figure"]


#: The footnote of the penalty figure when a pair was never tested.
NOT_TESTED_NOTE = "n.t.: not tested (fewer than 2 paired seeds at every budget)"


def penalty_figure(matrix: pd.DataFrame) -> Figure:
    """Heatmap of :func:`alstrategies.report.penalty.penalty_matrix`: rows win, columns lose; every
    cell annotated with its share (two decimals), a pair never tested (NaN) ``n.t.`` on grey with
    a footnote in the title, a colourbar from 0 to 1."""
    names = list(matrix.index)
    size = max(4.0, 0.7 * len(names) + 2.5)
    figure = Figure(figsize=(size + 1.2, size), dpi=120, layout="constrained")
    axis = figure.add_subplot()
    title = "Share of budgets where the row beats the column (paired t, Holm)"
    if matrix.empty:
        axis.text(0.5, 0.5, "no strategy of the pairwise family to show", ha="center", va="center")
        axis.set_axis_off()
        axis.set_title(title, fontsize=9)
        return figure
    values = matrix.to_numpy(dtype=float)
    cmap = colormaps["Reds"].with_extremes(bad="#DDDDDD")
    image = axis.imshow(values, cmap=cmap, vmin=0.0, vmax=1.0)
    untested = False
    for (r, c), value in np.ndenumerate(values):
        colour = "white" if value > 0.6 else "black"
        if matrix.index[r] == matrix.columns[c]:
            text = "–"  # a strategy never plays itself
        elif not np.isfinite(value):
            text, untested = NOT_TESTED, True
        else:
            text = f"{value:.2f}"
        axis.text(c, r, text, ha="center", va="center", fontsize=8, color=colour)
    axis.set_xticks(range(len(matrix.columns)), labels=list(matrix.columns), rotation=45, ha="right")
    axis.set_yticks(range(len(names)), labels=names)
    axis.set_xlabel("loses (column strategy)")
    axis.set_ylabel("wins (row strategy)")
    axis.set_title(title + (f"\n{NOT_TESTED_NOTE}" if untested else ""), fontsize=9)
    figure.colorbar(image, ax=axis, label="share of budgets")
    return figure


def band_coverage(bands: pd.DataFrame) -> str:
    """Whether the differences of :func:`~alstrategies.report.bootstrap.difference_bands` have a
    bootstrap interval: ``"all"`` (every one has at least 2 paired seeds), ``"none"`` or
    ``"some"`` (a single difference has no interval)."""
    counts = pd.to_numeric(bands["n_seeds"]) if "n_seeds" in bands else pd.Series(dtype=float)
    if counts.empty or (counts >= 2).all():
        return "all"
    return "none" if (counts < 2).all() else "some"


_BAND_TITLES = {
    "all": "bands: bootstrap 95 % CI",
    "some": "bands: bootstrap 95 % CI, where at least 2 seeds are paired",
    "none": "no bands: one paired seed (a 95 % CI needs at least 2)",
}


def difference_figure(bands: pd.DataFrame, baseline: str = "random", ylabel: str = "Dice") -> Figure:
    """One line per strategy of :func:`alstrategies.report.bootstrap.difference_bands`: the mean
    seed-wise difference to ``baseline`` (percentage points) against the labeled fraction (%),
    its bootstrap 95 % band where it has at least 2 paired seeds (the title says which:
    :func:`band_coverage`), a zero line, the legend outside on the right."""
    figure = Figure(figsize=(8, 4.5), dpi=120, layout="constrained")
    axis = figure.add_subplot()
    axis.axhline(0.0, color="black", linewidth=1, label=f"= {baseline}")
    band_alpha = min(0.15, 1.0 / max(bands["strategy"].nunique(), 1))  # many bands must stay readable
    styles = figure_styles(str(name) for name in bands["strategy"])
    for strategy, part in bands.groupby("strategy", sort=False):
        part = part.sort_values("budget")
        x = 100 * part["budget"].to_numpy(dtype=float)
        (line,) = axis.plot(
            x,
            100 * part["mean_diff"].to_numpy(dtype=float),
            markersize=3,
            label=str(strategy),
            **styles[str(strategy)],
        )
        low, high = part["ci_low"].to_numpy(dtype=float), part["ci_high"].to_numpy(dtype=float)
        axis.fill_between(x, 100 * low, 100 * high, color=line.get_color(), alpha=band_alpha, linewidth=0)
    axis.set_xlabel("labeled fraction of the pool (%)")
    axis.set_ylabel(f"{ylabel} − {baseline} (percentage points)")
    bands_text = _BAND_TITLES[band_coverage(bands)]
    axis.set_title(f"Difference to {baseline}, paired by seed; {bands_text}", fontsize=9)
    axis.grid(alpha=0.3)
    figure.legend(loc="outside right upper", fontsize=8)
    return figure


def score_error_figure(table: pd.DataFrame) -> Figure:
    """Mean Spearman rho over seeds (score vs the model's per-slice error) against the labeled
    fraction, one line per strategy, the seeds' values as small dots, a zero line."""
    figure = Figure(figsize=(8, 4.5), dpi=120, layout="constrained")
    axis = figure.add_subplot()
    axis.axhline(0.0, color="black", linewidth=1)
    styles = figure_styles(str(name) for name in table["strategy"])
    for strategy, part in table.groupby("strategy", sort=True):
        mean = part.groupby("budget")["rho"].mean()
        (line,) = axis.plot(
            100 * mean.index.to_numpy(dtype=float),
            mean.to_numpy(dtype=float),
            markersize=3,
            label=str(strategy),
            **styles[str(strategy)],
        )
        axis.scatter(
            100 * part["budget"].to_numpy(dtype=float),
            part["rho"].to_numpy(dtype=float),
            s=6,
            color=line.get_color(),
            alpha=0.4,
        )
    axis.set_ylim(-1.05, 1.05)
    axis.set_xlabel("labeled fraction of the pool (%)")
    axis.set_ylabel("Spearman rho(score, 1 − slice Dice)")
    axis.set_title("How well each score finds the round model's errors on the unlabeled pool", fontsize=9)
    axis.grid(alpha=0.3)
    figure.legend(loc="outside right upper", fontsize=8)
    return figure
