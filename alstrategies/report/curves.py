"""Learning curves: Dice against labeled fraction, mean with a std band per strategy."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from alstrategies.report.tables import summarise  # noqa: E402


def plot_learning_curves(results: pd.DataFrame, path: str | Path, metric: str = "dice") -> Path:
    """One line per strategy over the AL budgets; the 100 % result as a dashed line."""
    path = Path(path)
    summary = summarise(results, metric)
    al = summary[summary["budget"] < 1.0]
    full = summary[summary["budget"] >= 1.0]
    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=120)
    for strategy in dict.fromkeys(results["strategy"]):
        part = al[al["strategy"] == strategy].sort_values("budget")
        x = 100 * part["budget"]
        y = 100 * part["mean"]
        (line,) = axis.plot(x, y, marker="o", markersize=3, label=strategy)
        axis.fill_between(x, y - 100 * part["std"], y + 100 * part["std"], color=line.get_color(), alpha=0.15)
    if not full.empty:
        bound = 100 * full["mean"].mean()
        axis.axhline(bound, color="black", linestyle="--", linewidth=1, label=f"100% labels ({bound:.1f})")
    axis.set_xlabel("labeled fraction of the pool (%)")
    axis.set_ylabel(f"mean {metric.replace('_', ' ')} (%)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}{path.suffix}")
    figure.savefig(temporary)
    plt.close(figure)
    os.replace(temporary, path)
    return path
