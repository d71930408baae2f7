"""Learning curves: a metric (default Dice) against labeled fraction, mean with a std band per strategy."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from alstrategies.metrics import metric_of_column
from alstrategies.report.io import save_figure
from alstrategies.report.palette import strategy_style
from alstrategies.report.tables import summarise

__all__ = ["learning_curve_figure", "paired_difference", "plot_learning_curves"]


def learning_curve_figure(results: pd.DataFrame, metric: str = "dice", title: str | None = None) -> Figure:
    """One line per strategy over the AL budgets (mean over seeds, a thin band: ± one std), in
    the metric's display scale (Dice in percent); the mean of the 100 % rows as a dashed
    horizontal line. When the run has ``random``, a second panel shows each strategy's mean
    paired difference to it. ``metric`` is a results.csv column: a registered metric or one of
    its class columns. The title names ``title`` (e.g. the dataset) and the seed count."""
    found = metric_of_column(metric)
    scale, unit = (100.0, " (%)") if found is None else (found[0].scale, found[0].title_unit)
    summary = summarise(results, metric)
    al = summary[summary["budget"] < 1.0]
    full = summary[summary["budget"] >= 1.0]
    has_random = "random" in set(results["strategy"])
    figure = Figure(figsize=(8, 6.5 if has_random else 4.5), dpi=120, layout="constrained")
    axes = figure.subplots(2, 1, sharex=True, height_ratios=[2, 1]) if has_random else [figure.add_subplot()]
    axis = axes[0]
    strategies = list(dict.fromkeys(results["strategy"]))
    band_alpha = min(0.08, 0.6 / max(len(strategies), 1))  # many overlapping bands must not turn to mud
    for strategy in strategies:
        part = al[al["strategy"] == strategy].sort_values("budget")
        if part.empty:
            continue
        x = 100 * part["budget"]
        y = scale * part["mean"]
        (line,) = axis.plot(x, y, markersize=3, linewidth=1.4, label=strategy, **strategy_style(strategy))
        band = scale * part["std"]
        axis.fill_between(x, y - band, y + band, color=line.get_color(), alpha=band_alpha, linewidth=0)
    if not full.empty:
        bound = scale * full["mean"].mean()
        axis.axhline(bound, color="black", linestyle="--", linewidth=1, label=f"100% labels ({bound:.1f})")
    axis.set_ylabel(f"mean {metric.replace('_', ' ')}{unit}")
    axis.grid(alpha=0.3)
    seeds = results["seed"].nunique()
    heading = f"{seeds} seed{'s' if seeds != 1 else ''}"
    axis.set_title(f"{title}: {heading}" if title else heading, fontsize=10)
    if has_random:
        _difference_panel(axes[1], results, metric, scale, unit, strategies)
    axes[-1].set_xlabel("labeled fraction of the pool (%)")
    figure.legend(loc="outside right upper", fontsize=8)  # outside the axes: never over a curve
    return figure


def paired_difference(results: pd.DataFrame, metric: str, strategy: str) -> pd.Series:
    """Mean over seeds of ``strategy``'s metric minus Random's at each AL budget (paired by seed)."""
    al = results[results["budget"] < 1.0]
    table = al.pivot_table(index=["seed", "budget"], columns="strategy", values=metric)
    difference = (table[strategy] - table["random"]).dropna()
    return difference.groupby(level="budget").mean().sort_index()


def _difference_panel(axis, results: pd.DataFrame, metric: str, scale: float, unit: str, strategies) -> None:
    axis.axhline(0.0, color="black", linewidth=0.8)
    for strategy in strategies:
        if strategy == "random":
            continue
        difference = paired_difference(results, metric, strategy)
        style = {**strategy_style(strategy), "label": None}
        axis.plot(100 * difference.index, scale * difference.to_numpy(), markersize=3, linewidth=1.2, **style)
    axis.set_ylabel(f"difference to random{unit}")
    axis.grid(alpha=0.3)


def plot_learning_curves(
    results: pd.DataFrame,
    path: str | Path,
    metric: str = "dice",
    *,
    extra_suffixes: tuple[str, ...] = (),
    title: str | None = None,
) -> Path:
    """Draw :func:`learning_curve_figure` once and save it atomically to ``path`` (format from the
    suffix) and to ``path`` with each of ``extra_suffixes`` (e.g. ``(".pdf",)``); returns ``path``."""
    path = Path(path)
    figure = learning_curve_figure(results, metric, title)
    save_figure(figure, path)
    for suffix in extra_suffixes:
        save_figure(figure, path.with_suffix(suffix))
    return path
