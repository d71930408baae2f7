"""Published ablation values beside an ablation grid's table: ``ablation_reference.{md,csv}``.

A reference CSV has the columns ``variant``, ``class`` (a class name, or ``mean`` for the
average) and ``mean`` (Dice in %); ``#`` lines are comments
(``benchmarks/reference/sbcal_miccai2024_acdc_asr.csv``: the paper's Table 3).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from alstrategies.engine.layout import GridLayout
from alstrategies.errors import ReferenceTableError
from alstrategies.report.io import atomic_write_text, write_csv
from alstrategies.report.reference import read_reference_csv

COLUMNS = ("variant", "class", "mean")


def load_ablation_reference(path: str | Path) -> pd.DataFrame:
    """Read and check an ablation reference CSV."""
    frame = read_reference_csv(path, COLUMNS, "an ablation reference, e.g. benchmarks/reference/*_asr.csv")
    values = pd.to_numeric(frame["mean"], errors="coerce")
    if values.isna().any():
        bad = frame.loc[values.isna(), "mean"].iloc[0]
        raise ReferenceTableError(f"reference table {path}: mean {bad!r} is not a number")
    return frame.assign(
        mean=values, variant=frame["variant"].astype(str), **{"class": frame["class"].astype(str)}
    )


def write_ablation_reference(
    grid_dir: str | Path, ours: pd.DataFrame, reference: pd.DataFrame, source: str = "paper"
) -> list[Path]:
    """``ablation_reference.md`` and ``.csv``: each variant's mean Dice per class (``ours``, the
    tidy ``ablation_table.csv`` frame) followed by the reference's row, and their difference."""
    grid_dir = Path(grid_dir)
    classes = list(dict.fromkeys(ours["class"]))
    labels = dict(zip(ours["class"], ours["column_label"]))
    rows, lines = [], []
    header = "| Variant | " + " | ".join(labels[c] for c in classes) + " |"
    lines += [header, "|---" * (len(classes) + 1) + "|"]
    for variant in dict.fromkeys(ours["variant"]):
        mine = ours[ours["variant"] == variant].set_index("class")
        theirs = reference[reference["variant"] == variant].set_index("class")["mean"]
        cells, published = [], []
        for name in classes:
            value = float(mine.loc[name, "mean"]) if name in mine.index else np.nan
            several = name in mine.index and int(mine.loc[name, "n_seeds"]) > 1
            spread = float(mine.loc[name, "std"]) if several else np.nan
            paper = float(theirs[name]) if name in theirs.index else np.nan
            cells.append(
                "–" if np.isnan(value) else f"{value:.2f}" + ("" if np.isnan(spread) else f" ± {spread:.2f}")
            )
            published.append("–" if np.isnan(paper) else f"{paper:.2f}")
            rows.append(
                {
                    "variant": variant,
                    "class": name,
                    "mean": value,
                    "std": spread,
                    f"{source}_mean": paper,
                    "difference": value - paper,
                }
            )
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
        lines.append(f"| {variant} ({source}) | " + " | ".join(published) + " |")
    text = [
        "# Ablation against the published values",
        "",
        f"Dice (%) per class: this grid's mean ± std over seeds, each row followed by the {source} "
        "value for the same variant (no ± for a single seed); `ablation_reference.csv` has the differences (ours − "
        f"{source}).",
        "",
        *lines,
        "",
    ]
    markdown, csv = GridLayout(grid_dir).ablation_reference
    atomic_write_text(markdown, "\n".join(text))
    return [markdown, write_csv(pd.DataFrame(rows), csv)]
