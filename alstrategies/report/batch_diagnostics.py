"""How redundant each queried batch is: volumes, adjacent slices, end slices, empty slices.

For every strategy round record with a non-empty ``queried`` (the indices that round's model
chose) and the run folder's ``pool.csv`` (:attr:`alstrategies.engine.layout.RunLayout.pool_table`: per
pool slice its ``volume``, 0-based ``slice`` index, ``slices_in_volume`` and ``foreground``), one
row of :data:`DIAGNOSTIC_COLUMNS`:

- ``batch_size``: the number of queried slices ``k``;
- ``volumes``: the distinct volumes among them, and ``volume_share = volumes / k``;
- ``adjacent_pairs``: the pairs of queried slices of the same volume whose slice indices differ
  by 1;
- ``end_share``: the share of queried slices at a volume's end, relative position
  ``(slice + 0.5) / slices_in_volume`` below 0.2 or above 0.8;
- ``empty_share``: the share of queried slices whose true label holds no foreground.

Everything comes from the run folder, so the report regenerates from it alone; a folder without
``pool.csv`` (written before it existed) has no diagnostic, quietly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from alstrategies.engine.layout import RunLayout
from alstrategies.engine.records import KEY_COLUMNS, read_record
from alstrategies.errors import RecordError
from alstrategies.report.io import write_csv
from alstrategies.report.statistics import BASELINE

__all__ = [
    "DIAGNOSTIC_COLUMNS",
    "batch_diagnostics_markdown",
    "batch_diagnostics_table",
    "batch_numbers",
    "read_pool_table",
    "write_batch_diagnostics",
]

NUMBERS = ["batch_size", "volumes", "volume_share", "adjacent_pairs", "end_share", "empty_share"]
DIAGNOSTIC_COLUMNS = [*KEY_COLUMNS, *NUMBERS]


def read_pool_table(run_dir: str | Path) -> pd.DataFrame | None:
    """``pool.csv`` of ``run_dir`` (volume names as text), or None when the folder has none."""
    path = RunLayout(run_dir).pool_table
    if not path.is_file():
        return None
    return pd.read_csv(path, dtype={"volume": str})


def end_slices(slices: np.ndarray, depths: np.ndarray) -> np.ndarray:
    """``(slice + 0.5) / depth`` below 0.2 or above 0.8, exactly (in integers)."""
    twice = 2 * np.asarray(slices, dtype=np.int64) + 1
    depths = np.asarray(depths, dtype=np.int64)
    return (5 * twice < 2 * depths) | (5 * twice > 8 * depths)


def batch_numbers(queried: np.ndarray, pool: pd.DataFrame) -> dict[str, float]:
    """The :data:`NUMBERS` of one batch of pool indices ``queried`` against ``pool`` (``pool.csv``)."""
    rows = pool.iloc[np.asarray(queried, dtype=np.int64)]
    k = len(rows)
    adjacent = 0
    for _, slices in rows.groupby("volume", sort=False)["slice"]:
        present = set(slices.tolist())
        adjacent += sum(z + 1 in present for z in present)
    volumes = rows["volume"].nunique()
    return {
        "batch_size": k,
        "volumes": volumes,
        "volume_share": volumes / k,
        "adjacent_pairs": adjacent,
        "end_share": float(end_slices(rows["slice"], rows["slices_in_volume"]).mean()),
        "empty_share": float((rows["foreground"] == 0).mean()),
    }


def batch_diagnostics_table(run_dir: str | Path) -> pd.DataFrame:
    """One row of :data:`DIAGNOSTIC_COLUMNS` per strategy round record of ``run_dir`` that queried,
    sorted by strategy, seed and round; empty without ``pool.csv``.

    Raises:
        RecordError: A record queried an index outside ``pool.csv``.
    """
    pool = read_pool_table(run_dir)
    rows: list[dict] = []
    layout = RunLayout(run_dir)
    if pool is None:
        return pd.DataFrame(rows, columns=DIAGNOSTIC_COLUMNS)
    for path in layout.strategy_records():
        key, record = layout.parse(path), read_record(path)
        queried = np.asarray((record or {}).get("queried") or [], dtype=np.int64)
        if key is None or queried.size == 0:
            continue
        if queried.min() < 0 or queried.max() >= len(pool):
            raise RecordError(f"{path} queried indices outside the {len(pool)} slices of {layout.pool_table}")
        budget = record.get("budget") if record else None
        rows.append(
            {
                "strategy": key.strategy,
                "seed": key.seed,
                "round": key.round,
                "budget": np.nan if budget is None else float(budget),
                **batch_numbers(queried, pool),  # type: ignore[arg-type]
            }
        )
    frame = pd.DataFrame(rows, columns=DIAGNOSTIC_COLUMNS)
    return frame.sort_values(["strategy", "seed", "round"], kind="stable").reset_index(drop=True)


def write_batch_diagnostics(run_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """Write ``out_dir/batch_diagnostics.csv`` from ``run_dir``; ``[]`` (nothing written) when the
    folder has no ``pool.csv`` or no round that queried."""
    table = batch_diagnostics_table(run_dir)
    return [] if table.empty else [write_csv(table, RunLayout(out_dir).batch_diagnostics)]


def batch_diagnostics_markdown(run_dir: str | Path | None, table: pd.DataFrame | None = None) -> list[str]:
    """The summary's "Batch redundancy" section: per strategy (Random first, then by name) the mean
    over seeds and rounds of each number of :func:`batch_diagnostics_table` (``table`` when given,
    else read from ``run_dir``), and the pool's own end and empty shares; ``[]`` when there is
    nothing to show (no run folder, no ``pool.csv``, no round that queried)."""
    if table is None:
        table = batch_diagnostics_table(run_dir) if run_dir is not None else pd.DataFrame()
    pool = read_pool_table(run_dir) if run_dir is not None else None
    if table.empty:
        return []
    means = table.groupby("strategy")[NUMBERS].mean()
    order = sorted(means.index, key=lambda name: (name != BASELINE, name))
    lines = [
        "## Batch redundancy",
        "",
        "Per queried batch (`batch_diagnostics.csv`, one row per strategy, seed and round): its size k, "
        "the distinct volumes (count and share of k), the pairs of queried slices of one volume whose "
        "slice indices differ by 1, the share of end slices (relative position (z + 0.5) / n below 0.2 "
        "or above 0.8) and the share of slices whose true label is empty. Mean over seeds and rounds.",
    ]
    if pool is not None and len(pool):
        end = float(end_slices(pool["slice"], pool["slices_in_volume"]).mean())
        empty = float((pool["foreground"] == 0).mean())
        lines += [
            "",
            f"The pool ({len(pool)} slices, {pool['volume'].nunique()} volumes) holds {100 * end:.1f}% end "
            f"slices and {100 * empty:.1f}% empty ones: what a uniform draw gives on average.",
        ]
    lines += [
        "",
        "| Strategy | k | volumes | volume share | adjacent pairs | end share | empty share |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in order:
        row = means.loc[name]
        lines.append(
            f"| {name} | {row['batch_size']:.1f} | {row['volumes']:.1f} | {100 * row['volume_share']:.1f}% | "
            f"{row['adjacent_pairs']:.2f} | {100 * row['end_share']:.1f}% | {100 * row['empty_share']:.1f}% |"
        )
    return lines
