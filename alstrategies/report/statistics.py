"""Learning-curve statistics: normalised AULC, budget to reach a target, paired tests with Holm.

Definitions (also written into ``summary.md`` and ``docs/reports.md``):

* **Normalised AULC** of a curve ``(b_1, d_1) .. (b_K, d_K)`` with ``b_1 < .. < b_K``::

      AULC = sum_{k=1}^{K-1} (b_{k+1} - b_k) (d_k + d_{k+1}) / 2  /  (b_K - b_1)

  i.e. the trapezoid area divided by the budget range: the average value of the piecewise
  linear curve over ``[b_1, b_K]``, in the units of ``d`` (a flat curve at 0.8 has AULC 0.8).
  A single point (K = 1) has AULC ``d_1``.
* **Budget to reach** a target: the smallest budget whose (mean) value is ``>= target``.
* **Holm** step-down adjustment of ``m`` p-values sorted ascending ``p_(1) <= .. <= p_(m)``:
  ``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``; rejecting ``p~ < alpha`` controls the
  family-wise error rate at ``alpha``.
* **Pairwise tests**: for each unordered pair of strategies, values are paired by a unit (the
  seed, by default); a two-sided paired t-test (``scipy.stats.ttest_rel``) or Wilcoxon
  signed-rank test (``scipy.stats.wilcoxon``, zero differences dropped) on the paired values;
  Holm over all tested pairs; a pair is a win for the strategy with the better mean when its
  Holm-adjusted p-value is below ``alpha``, else a tie.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "BASELINE",
    "TESTS",
    "PAIRINGS",
    "budget_to_reach",
    "common_budgets",
    "holm",
    "normalised_aulc",
    "paired_test",
    "pairwise_tests",
    "per_seed_aulc",
    "query_budgets",
    "win_tie_loss",
]

#: The strategy every other one is compared with (re-exported by :mod:`alstrategies.report.bootstrap`).
BASELINE = "random"
TestName = Literal["ttest", "wilcoxon"]
#: The paired tests :func:`paired_test` knows.
TESTS = ("ttest", "wilcoxon")
#: How :func:`alstrategies.report.summary` pairs strategies: by seed (value: the seed's AULC) or
#: by (seed, budget) over the rounds after round 0 (value: the Dice at that budget).
PAIRINGS = ("seed", "seed_budget")


def normalised_aulc(budgets: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray) -> float:
    """Trapezoid area under ``values`` over ``budgets`` divided by the budget range.

    Points may come in any order; they are sorted by budget. Budgets must be distinct and every
    value finite. One point gives its own value."""
    x = np.asarray(budgets, dtype=float)
    y = np.asarray(values, dtype=float)
    if x.ndim != 1 or x.shape != y.shape or x.size == 0:
        raise ValueError(
            f"budgets and values must be equal-length non-empty 1-D, got {x.shape} and {y.shape}"
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("budgets and values must be finite")
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if np.any(np.diff(x) == 0):
        raise ValueError(f"budgets must be distinct, got {x.tolist()}")
    if x.size == 1:
        return float(y[0])
    return float(np.trapezoid(y, x) / (x[-1] - x[0]))


def budget_to_reach(
    budgets: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray, target: float
) -> float | None:
    """The smallest budget whose value is ``>= target`` (NaN values never reach), or None."""
    x = np.asarray(budgets, dtype=float)
    y = np.asarray(values, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"budgets and values differ in shape: {x.shape} and {y.shape}")
    reached = x[np.isfinite(y) & (y >= target)]
    return float(reached.min()) if reached.size else None


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values, in the input order. NaN entries stay NaN and do not count in ``m``."""
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be 1-D, got shape {p.shape}")
    finite = np.isfinite(p)
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    adjusted = np.full(p.shape, np.nan)
    q = p[finite]
    m = q.size
    if m == 0:
        return adjusted
    order = np.argsort(q, kind="stable")
    steps = np.minimum(1.0, (m - np.arange(m)) * q[order])
    result = np.empty(m)
    result[order] = np.maximum.accumulate(steps)
    adjusted[finite] = result
    return adjusted


def paired_test(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, test: TestName = "ttest"
) -> tuple[float, float]:
    """``(statistic, two-sided p)`` of a paired test of ``a`` against ``b``.

    Fewer than 2 pairs: ``(nan, nan)`` (not tested). All differences zero: ``(0.0, 1.0)``.
    Otherwise scipy's ``ttest_rel`` or ``wilcoxon`` (its default ``zero_method="wilcox"``
    drops zero differences; with 5 pairs its smallest two-sided p is 2 / 2**5 = 0.0625)."""
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; choose one of {', '.join(TESTS)}")
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired samples must be equal-length 1-D, got {x.shape} and {y.shape}")
    if x.size < 2:
        return float("nan"), float("nan")
    if np.all(x == y):
        return 0.0, 1.0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_rel(x, y) if test == "ttest" else stats.wilcoxon(x, y)
    return float(result.statistic), float(result.pvalue)


def pairwise_tests(
    values: pd.DataFrame,
    *,
    test: TestName = "ttest",
    alpha: float = 0.05,
    higher_is_better: bool = True,
    strategies: Sequence[str] | None = None,
    unit: str | Sequence[str] = "seed",
    value: str = "value",
) -> pd.DataFrame:
    """Paired tests between every pair of strategies, Holm-corrected over all tested pairs.

    ``values`` has a ``strategy`` column, the pairing column(s) ``unit`` and ``value``. Rows of
    two strategies are paired on equal ``unit``; units only one strategy has are dropped. The
    result has one row per pair ``(strategy_a, strategy_b)`` (``a`` before ``b`` in
    ``strategies``, default: order of appearance) with ``n`` pairs, ``mean_a``, ``mean_b``,
    ``mean_diff`` (mean of a - b), ``statistic``, ``p_raw``, ``p_holm`` and ``outcome``: ``"a"``
    or ``"b"`` (the significantly better one) or ``"tie"`` (also for untested pairs)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    units = [unit] if isinstance(unit, str) else list(unit)
    names = list(strategies) if strategies is not None else list(dict.fromkeys(values["strategy"]))
    wide = values.groupby([*units, "strategy"])[value].mean().unstack("strategy")
    rows = []
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            if first in wide.columns and second in wide.columns:
                paired = wide[[first, second]].dropna().set_axis(["a", "b"], axis=1)
            else:
                paired = pd.DataFrame({"a": [], "b": []}, dtype=float)
            statistic, p = paired_test(paired["a"].to_numpy(), paired["b"].to_numpy(), test)
            rows.append(
                {
                    "strategy_a": first,
                    "strategy_b": second,
                    "n": len(paired),
                    "mean_a": float(paired["a"].mean()) if len(paired) else np.nan,
                    "mean_b": float(paired["b"].mean()) if len(paired) else np.nan,
                    "mean_diff": float((paired["a"] - paired["b"]).mean()) if len(paired) else np.nan,
                    "statistic": statistic,
                    "p_raw": p,
                }
            )
    columns = ["strategy_a", "strategy_b", "n", "mean_a", "mean_b", "mean_diff", "statistic", "p_raw"]
    numeric = {
        "n": int,
        "mean_a": float,
        "mean_b": float,
        "mean_diff": float,
        "statistic": float,
        "p_raw": float,
    }
    result = pd.DataFrame(rows, columns=columns).astype(numeric)
    result["p_holm"] = holm(result["p_raw"].to_numpy(dtype=float))
    significant = result["p_holm"].to_numpy(dtype=float) < alpha
    better_a = result["mean_diff"].to_numpy(dtype=float) > 0
    if not higher_is_better:
        better_a = result["mean_diff"].to_numpy(dtype=float) < 0
    result["outcome"] = np.where(significant, np.where(better_a, "a", "b"), "tie")
    return result


def win_tie_loss(pairs: pd.DataFrame, strategies: Sequence[str] | None = None) -> pd.DataFrame:
    """Square matrix from :func:`pairwise_tests`: cell (row, column) is ``"W"``, ``"T"`` or
    ``"L"`` for the row strategy against the column strategy; the diagonal is ``"·"``; pairs
    that were not tested (fewer than 2 paired units) are ``"–"``."""
    names = (
        list(strategies)
        if strategies is not None
        else list(dict.fromkeys([*pairs["strategy_a"], *pairs["strategy_b"]]))
    )
    matrix = pd.DataFrame("–", index=names, columns=names, dtype=object)
    for name in names:
        matrix.loc[name, name] = "·"
    for row in pairs.itertuples(index=False):
        if row.strategy_a not in matrix.index or row.strategy_b not in matrix.index:
            continue
        if not np.isfinite(row.p_raw):
            continue
        if row.outcome == "a":
            matrix.loc[row.strategy_a, row.strategy_b], matrix.loc[row.strategy_b, row.strategy_a] = "W", "L"
        elif row.outcome == "b":
            matrix.loc[row.strategy_a, row.strategy_b], matrix.loc[row.strategy_b, row.strategy_a] = "L", "W"
        else:
            matrix.loc[row.strategy_a, row.strategy_b] = matrix.loc[row.strategy_b, row.strategy_a] = "T"
    return matrix


def _al_rows(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    al = results[(results["budget"] < 1.0) & results[metric].notna()]
    return al.groupby(["strategy", "seed", "budget"], as_index=False)[metric].mean()


def common_budgets(results: pd.DataFrame, metric: str = "dice") -> list[float]:
    """The AL budgets (``budget < 1``) at which every (strategy, seed) chain has a ``metric`` value."""
    al = _al_rows(results, metric)
    if al.empty:
        return []
    sets = [set(group["budget"].astype(float)) for _, group in al.groupby(["strategy", "seed"])]
    return sorted(set.intersection(*sets))


def query_budgets(results: pd.DataFrame, metric: str = "dice") -> list[float]:
    """:func:`common_budgets` without those of round 0 (a model every strategy shares, so it says
    nothing about a query): the budgets of rows with ``round > 0``, or all but the first common
    budget when ``results`` has no ``round`` column."""
    grid = common_budgets(results, metric)
    if "round" not in results:
        return grid[1:]
    shared = set(results.loc[results["round"] == 0, "budget"].astype(float))
    return [b for b in grid if b not in shared]


def per_seed_aulc(
    results: pd.DataFrame, metric: str = "dice", budgets: Sequence[float] | None = None
) -> pd.DataFrame:
    """Normalised AULC of ``metric`` per (strategy, seed) over ``budgets`` (default:
    :func:`common_budgets`). Chains lacking one of the budgets are left out. Columns:
    ``strategy``, ``seed``, ``aulc``, ``n_budgets``."""
    grid = list(common_budgets(results, metric) if budgets is None else budgets)
    al = _al_rows(results, metric)
    rows = []
    for (strategy, seed), group in al.groupby(["strategy", "seed"], sort=False):
        points = group[np.isin(group["budget"].astype(float), grid)]
        if not grid or len(points) != len(grid):
            continue
        rows.append(
            {
                "strategy": strategy,
                "seed": seed,
                "aulc": normalised_aulc(points["budget"], points[metric]),
                "n_budgets": len(points),
            }
        )
    frame = pd.DataFrame(rows, columns=["strategy", "seed", "aulc", "n_budgets"])
    order = {name: i for i, name in enumerate(dict.fromkeys(results["strategy"]))}
    return frame.sort_values(["strategy", "seed"], key=lambda c: c.map(order) if c.name == "strategy" else c)
