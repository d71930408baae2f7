"""Learning curves: a metric (default Dice) against labeled fraction, mean with a std band per strategy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from alstrategies.metrics import metric_of_column
from alstrategies.report.io import save_figure
from alstrategies.report.palette import figure_styles
from alstrategies.report.tables import summarise

__all__ = [
    "full_bound",
    "learning_curve_figure",
    "paired_difference",
    "plot_learning_curves",
    "seed_counts",
    "seeds_heading",
]


def seed_counts(results: pd.DataFrame, strategies: Sequence[str]) -> dict[str, int]:
    """Per strategy of ``strategies``: the number of seeds it has in ``results``."""
    counts = results.groupby("strategy", sort=False)["seed"].nunique()
    return {name: int(counts.get(name, 0)) for name in strategies}


def seeds_heading(counts: dict[str, int]) -> str:
    """``"5 seeds"`` when every strategy has as many, else e.g. ``"seeds per strategy: 5 (10
    strategies), 3 (7); each curve over its own seeds"``, the larger counts first."""
    values = sorted(set(counts.values()), reverse=True)
    if len(values) <= 1:
        n = values[0] if values else 0
        return f"{n} seed{'s' if n != 1 else ''}"
    groups = [sum(1 for n in counts.values() if n == value) for value in values]
    parts = [f"{values[0]} ({groups[0]} {'strategy' if groups[0] == 1 else 'strategies'})"]
    parts += [f"{value} ({group})" for value, group in zip(values[1:], groups[1:], strict=True)]
    return f"seeds per strategy: {', '.join(parts)}; each curve over its own seeds"


def full_bound(results: pd.DataFrame, metric: str, strategies: Sequence[str]) -> float:
    """The mean over seeds of the 100 % rows of ``strategies`` (each seed's rows averaged first:
    the 100 % model is one per seed, whichever strategies have it); NaN without such rows."""
    rows = results[(results["budget"] >= 1.0) & results["strategy"].isin(list(strategies))]
    per_seed = rows.groupby("seed")[metric].mean().dropna()
    return float(per_seed.mean()) if len(per_seed) else float("nan")


def learning_curve_figure(
    results: pd.DataFrame,
    metric: str = "dice",
    title: str | None = None,
    strategies: Sequence[str] | None = None,
) -> Figure:
    """One line per strategy over the AL budgets (mean over the seeds it has, a thin band: ± one
    std), in the metric's display scale (Dice in percent); the 100 % model as a dashed horizontal
    line (:func:`full_bound`). When the run has ``random``, a second panel shows each strategy's
    mean paired difference to it. ``metric`` is a results.csv column: a registered metric or one
    of its class columns; ``strategies`` the ones drawn (default: all; Random stays the reference
    of the second panel when it is not drawn). The title names ``title`` (e.g. the dataset) and
    the seeds (:func:`seeds_heading`); when the strategies have different numbers of seeds, each
    legend entry ends with its ``(n=K)``."""
    found = metric_of_column(metric)
    scale, unit = (100.0, " (%)") if found is None else (found[0].scale, found[0].title_unit)
    summary = summarise(results, metric)
    al = summary[summary["budget"] < 1.0]
    has_random = "random" in set(results["strategy"])
    figure = Figure(figsize=(8, 6.5 if has_random else 4.5), dpi=120, layout="constrained")
    axes = figure.subplots(2, 1, sharex=True, height_ratios=[2, 1]) if has_random else [figure.add_subplot()]
    axis = axes[0]
    names = list(dict.fromkeys(results["strategy"])) if strategies is None else list(strategies)
    styles = figure_styles(names)
    counts = seed_counts(results, names)
    marked = len(set(counts.values())) > 1
    band_alpha = min(0.08, 0.6 / max(len(names), 1))  # many overlapping bands must not turn to mud
    for strategy in names:
        part = al[al["strategy"] == strategy].sort_values("budget")
        if part.empty:
            continue
        x = 100 * part["budget"]
        y = scale * part["mean"]
        label = f"{strategy} (n={counts[strategy]})" if marked else strategy
        (line,) = axis.plot(x, y, markersize=3, linewidth=1.4, label=label, **styles[strategy])
        band = scale * part["std"]
        axis.fill_between(x, y - band, y + band, color=line.get_color(), alpha=band_alpha, linewidth=0)
    bound = scale * full_bound(results, metric, names)
    if np.isfinite(bound):
        axis.axhline(bound, color="black", linestyle="--", linewidth=1, label=f"100% labels ({bound:.1f})")
    axis.set_ylabel(f"mean {metric.replace('_', ' ')}{unit}")
    axis.grid(alpha=0.3)
    heading = seeds_heading(counts)
    axis.set_title(f"{title}: {heading}" if title else heading, fontsize=10)
    if has_random:
        _difference_panel(axes[1], results, metric, scale, unit, names, styles)
    axes[-1].set_xlabel("labeled fraction of the pool (%)")
    figure.legend(loc="outside right upper", fontsize=8)  # outside the axes: never over a curve
    return figure


def paired_difference(results: pd.DataFrame, metric: str, strategy: str) -> pd.Series:
    """Mean over seeds of ``strategy``'s metric minus Random's at each AL budget (paired by seed)."""
    al = results[results["budget"] < 1.0]
    table = al.pivot_table(index=["seed", "budget"], columns="strategy", values=metric)
    difference = (table[strategy] - table["random"]).dropna()
    return difference.groupby(level="budget").mean().sort_index()


def _difference_panel(
    axis, results: pd.DataFrame, metric: str, scale: float, unit: str, strategies, styles
) -> None:
    axis.axhline(0.0, color="black", linewidth=0.8)
    for strategy in strategies:
        if strategy == "random":
            continue
        difference = paired_difference(results, metric, strategy)
        style = {**styles[strategy], "label": None}
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
    strategies: Sequence[str] | None = None,
) -> Path:
    """Draw :func:`learning_curve_figure` once and save it atomically to ``path`` (format from the
    suffix) and to ``path`` with each of ``extra_suffixes`` (e.g. ``(".pdf",)``); returns ``path``."""
    path = Path(path)
    figure = learning_curve_figure(results, metric, title, strategies)
    save_figure(figure, path)
    for suffix in extra_suffixes:
        save_figure(figure, path.with_suffix(suffix))
    return path
