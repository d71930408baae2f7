"""Compare a run's Dice table with a reference run's: identical, or where they differ most.

``make benchmark`` ends with it: a fresh run of the phantom benchmark against the committed
reference report in ``results/synthetic``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from alstrategies.engine.layout import RunLayout
from alstrategies.errors import MissingFileError, RecordError

KEYS = ["metric", "strategy", "budget"]


def _table(run_dir: Path) -> pd.DataFrame:
    path = RunLayout(run_dir).metric_tables("dice")[2]
    if not path.is_file():
        raise MissingFileError(f"{path} not found: run `alstrategies report {run_dir}` first")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise RecordError(f"{path} is not a readable table ({error})") from None
    missing = set(KEYS + ["mean"]) - set(frame.columns)
    if missing:
        raise RecordError(f"{path} lacks the column(s) {sorted(missing)}: is it a dice_table.csv?")
    return frame


def compare_dice_tables(run_dir: str | Path, reference_dir: str | Path) -> tuple[bool, str]:
    """(identical, one-paragraph report) of the mean Dice per (strategy, budget, class) of two
    runs; cells only one run has are listed, the largest difference is named."""
    run, reference = _table(Path(run_dir)), _table(Path(reference_dir))
    merged = run.merge(reference, on=KEYS, how="outer", suffixes=("_run", "_reference"), indicator=True)
    only_run = merged[merged["_merge"] == "left_only"]
    only_reference = merged[merged["_merge"] == "right_only"]
    both = merged[merged["_merge"] == "both"].copy()
    both["difference"] = (both["mean_run"] - both["mean_reference"]).abs()
    lines = []
    if len(only_reference):
        strategies = sorted(set(only_reference["strategy"]))
        lines.append(
            f"the reference also has {len(only_reference)} cell(s) this run did not compute "
            f"({', '.join(strategies)}): compared on the {len(both)} cells both have"
        )
    if len(only_run):
        lines.append(
            f"{len(only_run)} cell(s) of this run are not in the reference (other strategies or budgets)"
        )
    identical = (
        not len(only_run) and len(both) > 0 and bool((both["mean_run"] == both["mean_reference"]).all())
    )
    if identical:
        lines.append(f"Dice table identical to {reference_dir} on those {len(both)} cells")
    elif len(both):
        worst = both.loc[both["difference"].idxmax()]
        lines.append(
            f"Dice differs from {reference_dir}: largest difference {worst['difference']:.2f} points "
            f"({worst['strategy']}, {worst['metric']}, budget {worst['budget']:.4f}: "
            f"{worst['mean_run']:.2f} here, {worst['mean_reference']:.2f} there); "
            f"{int((both['difference'] > 0).sum())} of {len(both)} shared cells differ. "
            "Different thread counts, torch versions or machines change the last bits of training."
        )
    return identical, "\n".join(lines)
