"""Published numbers beside ours: a run's Dice table next to a paper's (e.g. SBC-AL's Table 1).

A reference is a CSV with the columns ``strategy, budget, mean, std`` (``#`` lines are
comments): strategy names as registered here, budgets as labeled fractions (``1.0`` for the
100 % column), values in the report's display units (Dice in percent). The comparison keeps our
budget columns and our strategies; a cell the reference lacks is left empty. The files for the
SBC-AL paper's Tables 1 and 2 are in ``benchmarks/reference/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from alstrategies.engine.layout import RunLayout
from alstrategies.errors import ReferenceTableError
from alstrategies.report.io import atomic_write_text, write_csv
from alstrategies.report.latex import DEFAULT_LATEX_LAYOUT, check_latex_layout, latex_header_comment
from alstrategies.report.reference_aulc import reference_aulc, reference_aulc_markdown
from alstrategies.report.selection import keep_rows
from alstrategies.report.tables import Table, budget_label, render_latex, render_markdown, summarise

__all__ = [
    "REFERENCE_COLUMNS",
    "ReferenceTableError",
    "load_reference",
    "reference_table",
    "write_reference_comparison",
]

#: Columns a reference CSV must have.
REFERENCE_COLUMNS = ("strategy", "budget", "mean", "std")


def read_reference_csv(path: str | Path, columns: tuple[str, ...], hint: str) -> pd.DataFrame:
    """The CSV at ``path`` (``#`` lines are comments), checked to exist, parse and have
    ``columns``; ``hint`` says where valid tables are. Every problem is a
    :class:`ReferenceTableError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ReferenceTableError(
            f"reference table {path} does not exist; pass a CSV with columns {', '.join(columns)} ({hint})"
        )
    try:
        frame = pd.read_csv(path, comment="#", skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ReferenceTableError(f"reference table {path} is not a readable CSV ({error})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ReferenceTableError(
            f"reference table {path} lacks the column(s) {', '.join(missing)}; it needs {', '.join(columns)}"
        )
    return frame


def load_reference(path: str | Path) -> pd.DataFrame:
    """Read and check a reference CSV (see the module docstring)."""
    frame = read_reference_csv(path, REFERENCE_COLUMNS, "see benchmarks/reference/")
    for column in ("budget", "mean", "std"):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = frame.loc[values.isna() & frame[column].notna(), column]
        if not bad.empty:
            raise ReferenceTableError(f"reference table {path}: {column} {bad.iloc[0]!r} is not a number")
        frame[column] = values
    outside = frame.loc[(frame["budget"] <= 0) | (frame["budget"] > 1), "budget"]
    if not outside.empty:
        raise ReferenceTableError(
            f"reference table {path}: budget {outside.iloc[0]} is not a labeled fraction in (0, 1] "
            "(write 0.1 for 10 %, 1.0 for the 100 % column)"
        )
    frame["strategy"] = frame["strategy"].astype(str).str.strip()
    return frame[list(REFERENCE_COLUMNS)]


def reference_table(
    results: pd.DataFrame, reference: pd.DataFrame, source: str = "paper", metric: str = "dice"
) -> Table:
    """Rows: each of our strategies, then the same strategy's ``source`` values; columns: our
    budgets; cells: mean ± std (ours over seeds, in percent; the reference's as given). No bold."""
    ours = summarise(results, metric)
    budgets = sorted(float(b) for b in results["budget"].unique())
    labels = [budget_label(b) for b in budgets]
    strategies = list(dict.fromkeys(results["strategy"]))
    published = {
        (row.strategy, budget_label(float(row.budget))): (row.mean, row.std)
        for row in reference.itertuples(index=False)
    }
    rows, keys = [], []
    mean = np.full((2 * len(strategies), len(budgets)), np.nan)
    std = np.full_like(mean, np.nan)
    count = np.zeros_like(mean)
    for i, name in enumerate(strategies):
        rows += [name, f"{name} ({source})"]
        keys += [f"{name}", f"{name}@{source}"]
        mine = ours[ours["strategy"] == name]
        for row in mine.itertuples(index=False):
            j = labels.index(budget_label(float(row.budget)))
            mean[2 * i, j], std[2 * i, j], count[2 * i, j] = 100 * row.mean, 100 * row.std, row.count
        for j, label in enumerate(labels):
            if (name, label) in published:
                mean[2 * i + 1, j], std[2 * i + 1, j] = published[(name, label)]
    return Table(
        key=f"{metric}_vs_{source}",
        title=f"Mean Dice (%): this run against the {source}",
        row_header="Strategy",
        column_header="Budget",
        rows=tuple(rows),
        row_keys=tuple(keys),
        columns=tuple(labels),
        column_keys=tuple(budgets),
        mean=mean,
        std=std,
        count=count,
        mark_best=False,
    )


def write_reference_comparison(
    results: pd.DataFrame,
    reference_path: str | Path,
    out_dir: str | Path,
    source: str = "paper",
    *,
    strategies: Sequence[str] | None = None,
    budgets: Sequence[float] | None = None,
    latex_layout: str = DEFAULT_LATEX_LAYOUT,
) -> list[Path]:
    """Write ``reference_comparison.{md,tex,csv}``: our Dice table with the reference's rows
    interleaved, and per cell the difference (ours minus reference) in the CSV; the markdown ends
    with the whole curve's AULC and gain over Random on both sides, also in ``reference_aulc.csv``
    (:mod:`alstrategies.report.reference_aulc`). ``strategies`` and ``budgets`` (budgets of
    ``results``; default: all) trim the rows and the budget columns of the table; the AULC and the
    gain stay those of the whole curve (every budget, Random as the reference even when it is not
    shown), for the strategies shown. ``latex_layout``: see :mod:`alstrategies.report.latex`."""
    check_latex_layout(latex_layout)
    reference = load_reference(reference_path)
    shown = keep_rows(results, strategies, budgets)
    table = reference_table(shown, reference, source)
    out_dir = Path(out_dir)
    matched = [name for name in dict.fromkeys(shown["strategy"]) if name in set(reference["strategy"])]
    matched = matched if strategies is not None else sorted(matched)
    note = (
        f"Ours: mean ± std over seeds of this run. {source}: {Path(reference_path).name}, values as "
        f"published. Strategies in both: {', '.join(matched) or 'none'}."
    )
    aulc = reference_aulc(results, reference)
    if strategies is not None:
        rank = {name: i for i, name in enumerate(strategies)}
        aulc = aulc[aulc["strategy"].isin(list(rank))]
        aulc = aulc.iloc[np.argsort(aulc["strategy"].map(rank).to_numpy(), kind="stable")]
    markdown = f"# {table.title}\n\n{note}\n\n{render_markdown(table)}"
    if not aulc.empty:
        markdown += "\n" + reference_aulc_markdown(aulc, source)
    latex = render_latex(
        table, caption=f"{table.title}. {note}", label="tab:reference-comparison", layout=latex_layout
    )
    latex = f"% {table.title}. {note}\n{latex_header_comment(latex_layout)}\n\n{latex}"
    frame = []
    for i in range(0, len(table.rows), 2):
        for j, budget in enumerate(table.column_keys):
            ours, theirs = table.mean[i, j], table.mean[i + 1, j]
            if np.isnan(ours) and np.isnan(theirs):
                continue
            frame.append(
                {
                    "strategy": table.row_keys[i],
                    "budget": budget,
                    "budget_label": table.columns[j],
                    "mean": ours,
                    "std": table.std[i, j],
                    "n_seeds": int(table.count[i, j]),
                    f"{source}_mean": theirs,
                    f"{source}_std": table.std[i + 1, j],
                    "difference": ours - theirs,
                }
            )
    files = RunLayout(out_dir)
    paths = list(files.reference_comparison)
    atomic_write_text(paths[0], markdown)
    atomic_write_text(paths[1], latex)
    write_csv(pd.DataFrame(frame), paths[2])
    if not aulc.empty:
        renamed = aulc.rename(columns={"paper_aulc": f"{source}_aulc", "paper_gain": f"{source}_gain"})
        paths.append(write_csv(renamed, files.reference_aulc))
    return paths
