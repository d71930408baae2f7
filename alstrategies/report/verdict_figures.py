"""Figures of the run's statistics: penalty matrix, difference to Random, score-error correlation.

Every figure uses a constrained layout with its legend outside the axes, so no legend covers
data; values are drawn in percentage points (differences) or as they are (shares, rho).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from alstrategies.report.palette import strategy_style

__all__ = ["difference_figure", "penalty_figure", "score_error_figure"]


def penalty_figure(matrix: pd.DataFrame) -> Figure:
    """Heatmap of :func:`alstrategies.report.penalty.penalty_matrix`: rows win, columns lose; every
    cell annotated with its share (two decimals), a colourbar from 0 to 1."""
    names = list(matrix.index)
    size = max(4.0, 0.7 * len(names) + 2.5)
    figure = Figure(figsize=(size + 1.2, size), dpi=120, layout="constrained")
    axis = figure.add_subplot()
    values = matrix.to_numpy(dtype=float)
    image = axis.imshow(values, cmap="Reds", vmin=0.0, vmax=1.0)
    for (r, c), value in np.ndenumerate(values):
        colour = "white" if value > 0.6 else "black"
        text = "–" if r == c else f"{value:.2f}"  # a strategy never plays itself
        axis.text(c, r, text, ha="center", va="center", fontsize=8, color=colour)
    axis.set_xticks(range(len(names)), labels=list(matrix.columns), rotation=45, ha="right")
    axis.set_yticks(range(len(names)), labels=names)
    axis.set_xlabel("loses (column strategy)")
    axis.set_ylabel("wins (row strategy)")
    axis.set_title("Share of budgets where the row beats the column (paired t, Holm)", fontsize=9)
    figure.colorbar(image, ax=axis, label="share of budgets")
    return figure


def difference_figure(bands: pd.DataFrame, baseline: str = "random", ylabel: str = "Dice") -> Figure:
    """One line per strategy of :func:`alstrategies.report.bootstrap.difference_bands`: the mean
    seed-wise difference to ``baseline`` (percentage points) against the labeled fraction (%),
    its bootstrap 95 % band, a zero line, the legend outside on the right."""
    figure = Figure(figsize=(8, 4.5), dpi=120, layout="constrained")
    axis = figure.add_subplot()
    axis.axhline(0.0, color="black", linewidth=1, label=f"= {baseline}")
    band_alpha = min(0.15, 1.0 / max(bands["strategy"].nunique(), 1))  # many bands must stay readable
    for strategy, part in bands.groupby("strategy", sort=False):
        part = part.sort_values("budget")
        x = 100 * part["budget"].to_numpy(dtype=float)
        style = strategy_style(str(strategy))
        (line,) = axis.plot(
            x, 100 * part["mean_diff"].to_numpy(dtype=float), markersize=3, label=str(strategy), **style
        )
        low, high = part["ci_low"].to_numpy(dtype=float), part["ci_high"].to_numpy(dtype=float)
        axis.fill_between(x, 100 * low, 100 * high, color=line.get_color(), alpha=band_alpha, linewidth=0)
    axis.set_xlabel("labeled fraction of the pool (%)")
    axis.set_ylabel(f"{ylabel} − {baseline} (percentage points)")
    axis.set_title(f"Difference to {baseline}, paired by seed; bands: bootstrap 95 % CI", fontsize=9)
    axis.grid(alpha=0.3)
    figure.legend(loc="outside right upper", fontsize=8)
    return figure


def score_error_figure(table: pd.DataFrame) -> Figure:
    """Mean Spearman rho over seeds (score vs the model's per-slice error) against the labeled
    fraction, one line per strategy, the seeds' values as small dots, a zero line."""
    figure = Figure(figsize=(8, 4.5), dpi=120, layout="constrained")
    axis = figure.add_subplot()
    axis.axhline(0.0, color="black", linewidth=1)
    for strategy, part in table.groupby("strategy", sort=True):
        mean = part.groupby("budget")["rho"].mean()
        (line,) = axis.plot(
            100 * mean.index.to_numpy(dtype=float),
            mean.to_numpy(dtype=float),
            markersize=3,
            label=str(strategy),
            **strategy_style(str(strategy)),
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
