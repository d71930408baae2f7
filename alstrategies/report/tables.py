"""Budget x strategy tables of mean +- std over seeds, in percent (like the paper's Table 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def budget_label(fraction: float) -> str:
    """``0.0667 -> "6.67%"``; the 100 % column is ``"100%"``."""
    return "100%" if fraction >= 1.0 else f"{100 * fraction:.2f}%"


def summarise(results: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """Mean, std and seed count of ``metric`` per (strategy, budget)."""
    grouped = results.groupby(["strategy", "budget"])[metric]
    summary = grouped.agg(["mean", "std", "count"]).reset_index()
    summary["std"] = summary["std"].fillna(0.0)
    return summary


def budget_table(results: pd.DataFrame, metric: str = "dice", scale: float = 100.0) -> pd.DataFrame:
    """Rows: strategies; columns: budgets; cells: ``(mean, std)`` of ``metric`` x ``scale``."""
    summary = summarise(results, metric)
    budgets = sorted(summary["budget"].unique())
    strategies = list(dict.fromkeys(results["strategy"]))
    table = pd.DataFrame(index=strategies, columns=[budget_label(b) for b in budgets], dtype=object)
    for row in summary.itertuples():
        table.loc[row.strategy, budget_label(row.budget)] = (row.mean * scale, row.std * scale)
    return table


def markdown_table(table: pd.DataFrame, higher_is_better: bool = True, decimals: int = 2) -> str:
    """Markdown with ``mean ± std`` cells and the best mean of each column in bold."""
    header = "| Strategy | " + " | ".join(table.columns) + " |"
    lines = [header, "|" + "---|" * (len(table.columns) + 1)]
    best = {}
    for column in table.columns:
        means = [cell[0] for cell in table[column] if isinstance(cell, tuple) and np.isfinite(cell[0])]
        best[column] = (max if higher_is_better else min)(means) if means else None
    for strategy, row in table.iterrows():
        cells = []
        for column in table.columns:
            cell = row[column]
            if not isinstance(cell, tuple):
                cells.append("–")
                continue
            text = f"{cell[0]:.{decimals}f} ± {cell[1]:.{decimals}f}"
            is_best = best[column] is not None and round(cell[0], decimals) == round(best[column], decimals)
            cells.append(f"**{text}**" if is_best else text)
        lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(
    results: pd.DataFrame, out_dir: str | Path, class_names: list[str] | None = None
) -> list[Path]:
    """Write ``dice_table.md`` and ``learning_curves.png`` into ``out_dir``; return the paths."""
    from alstrategies.records import atomic_write_text
    from alstrategies.report.curves import plot_learning_curves

    out_dir = Path(out_dir)
    seeds = results.groupby("strategy")["seed"].nunique()
    text = [
        "# Mean Dice (%) on the test volumes, mean ± std over seeds",
        "",
        f"Seeds per strategy: {', '.join(f'{k}={v}' for k, v in seeds.items())}. "
        "Columns are the labeled fractions of the pool; 100% is the fully supervised bound. "
        "Dice is 3D per volume, averaged over classes, then volumes. Best mean per column in bold.",
        "",
        markdown_table(budget_table(results, "dice")),
    ]
    for name in class_names or []:
        column = f"dice_{name}"
        if column in results:
            text += [f"## Dice {name} (%)", "", markdown_table(budget_table(results, column))]
    if "hd95" in results and results["hd95"].notna().any():
        text += [
            "## HD95 (pixels or mm, medpy's surface definition; lower is better)",
            "",
            markdown_table(budget_table(results, "hd95", scale=1.0), higher_is_better=False),
        ]
    table_path = out_dir / "dice_table.md"
    atomic_write_text(table_path, "\n".join(text))
    curve_path = plot_learning_curves(results, out_dir / "learning_curves.png")
    return [table_path, curve_path]
