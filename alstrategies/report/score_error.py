"""How well a strategy's image scores find the round model's errors on the unlabeled pool.

For every score-based strategy round whose record holds ``scores.score`` and ``scores.error``
(the round model's true per-slice error on the unlabeled pool, ``1 - Dice`` against the pool
labels, aligned with ``score``): the Spearman rank correlation ``rho`` of score and error
(``scipy.stats.spearmanr``; pairs with a non-finite value dropped). Scores are "higher = queried
first", so ``rho = 1`` means the strategy queries the worst-segmented slices first, ``0`` that its
ranking ignores the error. Records without scores (Random) or without ``error`` are skipped.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alstrategies.engine.layout import RunLayout
from alstrategies.engine.records import KEY_COLUMNS, read_record

__all__ = ["SCORE_ERROR_COLUMNS", "mean_rho_table", "score_error_correlation", "score_error_table"]

SCORE_ERROR_COLUMNS = [*KEY_COLUMNS, "rho", "p", "n"]


def score_error_correlation(score: object, error: object) -> tuple[float, float, int]:
    """``(rho, p, n)``: Spearman's rho of ``score`` and ``error`` over the ``n`` pairs where both
    are finite; NaN rho and p with fewer than 3 pairs or a constant side."""
    s = np.asarray(score, dtype=float)
    e = np.asarray(error, dtype=float)
    if s.shape != e.shape or s.ndim != 1:
        raise ValueError(f"score and error must be aligned 1-D arrays, got {s.shape} and {e.shape}")
    keep = np.isfinite(s) & np.isfinite(e)
    s, e = s[keep], e[keep]
    n = int(s.size)
    if n < 3 or np.all(s == s[0]) or np.all(e == e[0]):
        return float("nan"), float("nan"), n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.spearmanr(s, e)
    return float(result.statistic), float(result.pvalue), n


def _as_float(values: Iterable[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def score_error_table(run_dir: str | Path) -> pd.DataFrame:
    """One row per strategy round record of ``run_dir`` with scores and errors:
    :data:`SCORE_ERROR_COLUMNS`, sorted by strategy, seed and round."""
    layout = RunLayout(run_dir)
    rows = []
    for path in layout.strategy_records():
        key = layout.parse(path)
        record = read_record(path)
        if key is None or not record:
            continue
        scores = record.get("scores") or {}
        if scores.get("score") is None or scores.get("error") is None:
            continue
        score, error = _as_float(scores["score"]), _as_float(scores["error"])
        if score.shape != error.shape:
            continue  # not aligned: nothing to correlate
        rho, p, n = score_error_correlation(score, error)
        budget = record.get("budget")
        rows.append(
            {
                "strategy": key.strategy,
                "seed": key.seed,
                "round": key.round,
                "budget": float(budget) if budget is not None else np.nan,
                "rho": rho,
                "p": p,
                "n": n,
            }
        )
    frame = pd.DataFrame(rows, columns=SCORE_ERROR_COLUMNS)
    return frame.sort_values(["strategy", "seed", "round"], kind="stable").reset_index(drop=True)


def mean_rho_table(table: pd.DataFrame) -> pd.DataFrame:
    """Mean rho over seeds per strategy (rows) and budget (columns, ascending)."""
    if table.empty:
        return pd.DataFrame()
    return table.pivot_table(index="strategy", columns="budget", values="rho", aggfunc="mean", sort=True)
