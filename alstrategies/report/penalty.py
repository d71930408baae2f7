"""The pairwise penalty matrix: for each ordered pair, the share of budgets where the row wins.

Per AL budget after round 0 (round 0 is one model that every strategy shares) and before the
100 % model: for every unordered pair of strategies a two-sided paired t-test across seeds on
the metric at that budget (:func:`alstrategies.report.statistics.paired_test`); Holm's
correction within the budget over its tested pairs; a pair whose Holm-adjusted p is below
``alpha`` is a win for the strategy with the better mean. Matrix entry (row, column) = number of
budgets where the row beats the column significantly / number of budgets. The diagonal is 0; an
entry and its transpose sum to the share of budgets where the pair differs. A pair that is
tested at no budget (fewer than 2 paired seeds at each, e.g. a one-seed run) is NaN both ways:
not tested, which is not the same as never winning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from alstrategies.report.statistics import holm, paired_test, query_budgets

__all__ = ["NOT_TESTED", "budget_tests", "penalty_matrix"]

#: How a pair that was never tested is shown (``summary.md``, ``penalty_matrix.png``).
NOT_TESTED = "n.t."


def budget_tests(
    results: pd.DataFrame,
    metric: str = "dice",
    *,
    alpha: float = 0.05,
    higher_is_better: bool = True,
    strategies: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per (budget, unordered pair) over :func:`query_budgets`: ``budget``,
    ``strategy_a``, ``strategy_b``, ``n`` (paired seeds), ``mean_diff`` (a - b), ``p_raw``,
    ``p_holm`` (Holm within the budget) and ``winner`` (a strategy name, or "" for a tie)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    names = list(strategies) if strategies is not None else list(dict.fromkeys(results["strategy"]))
    grid = query_budgets(results, metric)
    rows = results[np.isin(results["budget"].astype(float), grid) & results[metric].notna()]
    columns = ["budget", "strategy_a", "strategy_b", "n", "mean_diff", "p_raw", "p_holm", "winner"]
    out = []
    for budget, at in rows.groupby("budget", sort=True):
        wide = at.groupby(["seed", "strategy"])[metric].mean().unstack("strategy")
        tests: list[list[Any]] = []
        for i, first in enumerate(names):
            for second in names[i + 1 :]:
                if first in wide.columns and second in wide.columns:
                    paired = wide[[first, second]].dropna()
                    a, b = paired[first].to_numpy(dtype=float), paired[second].to_numpy(dtype=float)
                else:
                    a = b = np.array([])
                _, p = paired_test(a, b)
                diff = float((a - b).mean()) if a.size else np.nan
                tests.append([float(budget), first, second, int(a.size), diff, p])
        adjusted = holm(np.array([t[-1] for t in tests], dtype=float))
        for test, p_holm in zip(tests, adjusted, strict=True):
            winner = ""
            if np.isfinite(p_holm) and p_holm < alpha and test[4] != 0:
                a_better = test[4] > 0 if higher_is_better else test[4] < 0
                winner = test[1] if a_better else test[2]
            out.append([*test, float(p_holm), winner])
    return pd.DataFrame(out, columns=columns).astype({"n": int, "p_raw": float, "p_holm": float})


def penalty_matrix(
    results: pd.DataFrame,
    metric: str = "dice",
    *,
    alpha: float = 0.05,
    higher_is_better: bool = True,
    strategies: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Square frame (rows and columns: the strategies): entry (row, column) is the share of the
    budgets of :func:`budget_tests` where the row strategy beats the column strategy
    significantly after Holm; NaN (both ways) for a pair tested at no budget, and so every
    pair when there is no such budget. The diagonal is 0."""
    names = list(strategies) if strategies is not None else list(dict.fromkeys(results["strategy"]))
    tests = budget_tests(results, metric, alpha=alpha, higher_is_better=higher_is_better, strategies=names)
    matrix = pd.DataFrame(0.0, index=pd.Index(names, name="winner"), columns=pd.Index(names, name="loser"))
    n_budgets = tests["budget"].nunique()
    for row in tests.itertuples(index=False):
        if row.winner:
            loser = row.strategy_b if row.winner == row.strategy_a else row.strategy_a
            matrix.loc[row.winner, loser] += 1.0
    if n_budgets:
        matrix /= n_budgets
    tested = tests.loc[tests["n"] >= 2, ["strategy_a", "strategy_b"]]  # paired_test's minimum
    pairs = {frozenset(pair) for pair in tested.itertuples(index=False, name=None)}
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            if frozenset((first, second)) not in pairs:
                matrix.loc[first, second] = matrix.loc[second, first] = np.nan
    return matrix
