"""One table model, three renderings: Markdown, LaTeX (booktabs) and a tidy CSV.

A :class:`Table` holds rows x columns of ``mean``, ``std`` and seed ``count`` already in display
units (each metric's registered scale: Dice in percent). Which cell is the best of its column is decided once, in
:meth:`Table.best`, on the means rounded to the displayed decimals, so the bold cells of the
Markdown and LaTeX files and the ``best`` column of the CSV cannot disagree. The LaTeX
renderings and their layouts are in :mod:`alstrategies.report.latex` (re-exported here:
:data:`LATEX_LAYOUTS`, :data:`DEFAULT_LATEX_LAYOUT`, :func:`render_latex`).

:func:`budget_table` builds the paper's Table 1/2 layout from ``results.csv``: rows are
strategies, columns are the budgets (labeled fractions, the 100 % upper bound last), cells are
mean ± std over seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alstrategies.errors import EmptyResultsError
from alstrategies.metrics import metric_of_column
from alstrategies.report.latex import (
    DEFAULT_LATEX_LAYOUT,
    LATEX_LAYOUTS,
    MAX_COLUMNS,
    check_latex_layout,
    latex_escape,
    render_latex,
)

__all__ = [
    "DEFAULT_LATEX_LAYOUT",
    "EmptyResultsError",
    "LATEX_LAYOUTS",
    "MAX_COLUMNS",
    "Table",
    "budget_label",
    "budget_table",
    "check_latex_layout",
    "latex_escape",
    "render_latex",
    "render_markdown",
    "seed_text",
    "summarise",
    "tidy_frame",
]

#: Placeholder for a cell without data.
MISSING = "–"


def budget_label(fraction: float) -> str:
    """``0.0667 -> "6.67%"``; the 100 % column is ``"100%"``."""
    return "100%" if fraction >= 1.0 else f"{100 * fraction:.2f}%"


@dataclass(frozen=True)
class Table:
    """Rows x columns of ``mean ± std`` cells (display units) with the seed count per cell.

    ``mean`` is NaN where a cell has no data. ``column_keys`` and ``row_keys`` are the machine
    values written to the CSV (e.g. the budget fractions; default: the display labels
    ``columns`` and ``rows``). ``mark_best = False`` renders no cell in bold. ``unit`` is the
    unit of the cells (e.g. ``"mm"``); when a table has one, :func:`tidy_frame` writes it.
    ``column_header`` names what the columns are (``"Budget"``): the corner cell of the
    transposed LaTeX layout.
    """

    key: str
    title: str
    row_header: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    count: np.ndarray
    higher_is_better: bool = True
    decimals: int = 2
    column_keys: tuple[object, ...] = field(default=())
    row_keys: tuple[object, ...] = field(default=())
    mark_best: bool = True
    unit: str = ""
    column_header: str = ""

    def __post_init__(self) -> None:
        shape = (len(self.rows), len(self.columns))
        for name in ("mean", "std", "count"):
            value = np.asarray(getattr(self, name), dtype=float)
            if value.shape != shape:
                raise ValueError(f"Table {self.key!r}: {name} has shape {value.shape}, expected {shape}")
            object.__setattr__(self, name, value)
        if not self.column_keys:
            object.__setattr__(self, "column_keys", tuple(self.columns))
        if not self.row_keys:
            object.__setattr__(self, "row_keys", tuple(self.rows))
        if len(self.column_keys) != len(self.columns) or len(self.row_keys) != len(self.rows):
            raise ValueError(f"Table {self.key!r}: row or column keys do not match the {shape} cells")

    def present(self) -> np.ndarray:
        """Boolean mask of the cells that hold a finite mean."""
        return np.isfinite(self.mean)

    def rounded(self) -> np.ndarray:
        """The means as displayed (rounded to ``decimals``); NaN where missing."""
        return np.round(self.mean, self.decimals)

    def best(self) -> np.ndarray:
        """Boolean mask of the best cells: per column, every cell whose *displayed* mean equals
        the column's best displayed mean (highest, or lowest when ``higher_is_better`` is False).
        Ties at the displayed precision are all best, unless every row of the column ties (the
        shared round-0 and 100 % models): then none is. No cell when ``mark_best`` is False (rows
        that are not contenders, e.g. published values beside ours)."""
        rounded = self.rounded()
        mask = np.zeros(rounded.shape, dtype=bool)
        if not self.mark_best:
            return mask
        for j in range(rounded.shape[1]):
            column = rounded[:, j]
            finite = np.isfinite(column)
            if not finite.any():
                continue
            target = column[finite].max() if self.higher_is_better else column[finite].min()
            mask[:, j] = finite & (column == target)
            if finite.sum() > 1 and mask[:, j].sum() == finite.sum():
                mask[:, j] = False  # every row ties (e.g. the shared round-0 model): nothing is best
        return mask

    def cell_text(self, i: int, j: int) -> tuple[str, str | None] | None:
        """``(mean, std)`` formatted with ``decimals`` (std None for a single seed, where the
        sample std is undefined), or None for a missing cell."""
        if not np.isfinite(self.mean[i, j]):
            return None
        mean = f"{self.mean[i, j]:.{self.decimals}f}"
        std = self.std[i, j]
        if not np.isfinite(std) or (self.count[i, j] < 2 and std == 0):  # one seed: std undefined
            return mean, None
        return mean, f"{self.std[i, j]:.{self.decimals}f}"

    def cell(self, i: int, j: int, plus_minus: str = "±") -> str | None:
        """``mean ± std`` (``mean`` alone for a single seed), or None for a missing cell."""
        text = self.cell_text(i, j)
        if text is None:
            return None
        return text[0] if text[1] is None else f"{text[0]} {plus_minus} {text[1]}"


def summarise(results: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """Mean, std (ddof 1; 0 for a single seed) and seed count of ``metric`` per (strategy, budget).

    Rows repeated for one (strategy, budget, seed) are averaged first; NaN values (e.g. an
    undefined HD95) are left out, so ``count`` is the number of seeds with a value."""
    per_seed = results.groupby(["strategy", "budget", "seed"], sort=False)[metric].mean()
    grouped = per_seed.groupby(level=["strategy", "budget"], sort=False)
    summary = grouped.agg(["mean", "std", "count"]).reset_index()
    summary["std"] = summary["std"].where(summary["count"] > 1, 0.0).fillna(0.0)
    return summary


def budget_table(
    results: pd.DataFrame,
    metric: str = "dice",
    *,
    scale: float | None = None,
    higher_is_better: bool | None = None,
    title: str | None = None,
    decimals: int | None = None,
) -> Table:
    """Rows: strategies (in order of appearance); columns: budgets ascending (100 % last);
    cells: mean ± std over seeds of the column ``metric`` x ``scale``.

    ``scale``, ``higher_is_better`` and ``decimals`` default to those of the registered metric
    of the column (``dice``, ``dice_RV``: 100, higher, 2; see :mod:`alstrategies.metrics`), and
    to 1, higher, 2 for a column of no registered metric."""
    if results.empty:
        raise EmptyResultsError("results is empty: nothing to tabulate")
    found = metric_of_column(metric)
    if scale is None:
        scale = found[0].scale if found else 1.0
    if higher_is_better is None:
        higher_is_better = found[0].higher_is_better if found else True
    if decimals is None:
        decimals = found[0].decimals if found else 2
    summary = summarise(results, metric)
    budgets = sorted(float(b) for b in results["budget"].unique())
    strategies = list(dict.fromkeys(results["strategy"]))
    mean = np.full((len(strategies), len(budgets)), np.nan)
    std = np.full_like(mean, np.nan)
    count = np.zeros_like(mean)
    row_of = {name: i for i, name in enumerate(strategies)}
    column_of = {b: j for j, b in enumerate(budgets)}
    for row in summary.itertuples(index=False):
        i, j = row_of[row.strategy], column_of[float(row.budget)]
        mean[i, j] = row.mean * scale
        std[i, j] = row.std * scale
        count[i, j] = row.count
    return Table(
        key=metric,
        title=title or metric,
        row_header="Strategy",
        column_header="Budget",
        rows=tuple(strategies),
        columns=tuple(budget_label(b) for b in budgets),
        column_keys=tuple(budgets),
        mean=mean,
        std=std,
        count=count,
        higher_is_better=higher_is_better,
        decimals=decimals,
    )


def seed_text(seeds: Sequence[int]) -> str:
    """``"1 seed (0)"``, ``"5 seeds (0, 1, 2, 3, 4)"``: never "seeds: 0", which reads as none."""
    seeds = sorted(int(s) for s in seeds)
    return f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} ({', '.join(map(str, seeds))})"


def render_markdown(table: Table) -> str:
    """A Markdown table: ``mean ± std`` cells, the best cells of each column in bold."""
    best = table.best()
    lines = [
        f"| {table.row_header} | " + " | ".join(table.columns) + " |",
        "|" + "---|" * (len(table.columns) + 1),
    ]
    for i, row in enumerate(table.rows):
        cells = []
        for j in range(len(table.columns)):
            cell = table.cell(i, j)
            if cell is None:
                cells.append(MISSING)
                continue
            cells.append(f"**{cell}**" if best[i, j] else cell)
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def tidy_frame(
    tables: Sequence[Table],
    *,
    row_field: str = "strategy",
    column_field: str = "budget",
    label_field: str | None = "budget_label",
    metric_field: str = "metric",
    constants: dict[str, object] | None = None,
) -> pd.DataFrame:
    """One CSV row per non-missing cell of each table.

    Columns: ``metric_field`` (the table key), ``row_field`` (the row key), ``column_field`` (the
    column key),
    optionally ``label_field`` (the column's display label), the ``constants``, ``unit`` (the
    table's :attr:`Table.unit`; only when a table has one), then ``mean``, ``std``, ``n_seeds``
    and ``best`` (the same best cells as the bold ones). Values are in the tables' display units
    at full precision."""
    with_unit = any(table.unit for table in tables)
    records = []
    for table in tables:
        best = table.best()
        for i, row in enumerate(table.row_keys):
            for j, key in enumerate(table.column_keys):
                if not np.isfinite(table.mean[i, j]):
                    continue
                record: dict[str, object] = {metric_field: table.key, row_field: row, column_field: key}
                if label_field:
                    record[label_field] = table.columns[j]
                record.update(constants or {})
                if with_unit:
                    record["unit"] = table.unit
                record.update(
                    mean=float(table.mean[i, j]),
                    std=float(table.std[i, j]),
                    n_seeds=int(table.count[i, j]),
                    best=bool(best[i, j]),
                )
                records.append(record)
    columns = [metric_field, row_field, column_field, *([label_field] if label_field else [])]
    columns += [*(constants or {}), *(["unit"] if with_unit else []), "mean", "std", "n_seeds", "best"]
    return pd.DataFrame(records, columns=columns)
