"""Differences to a baseline strategy (Random), paired by seed, with t-based and bootstrap intervals.

* **Paired difference**: for a strategy ``s`` and a seed, ``value(s, seed) - value(baseline,
  seed)``; seeds only one of the two has are dropped.
* **t interval** of the mean difference (:func:`t_mean_ci`): ``mean +- t_{1 - (1 - c) / 2, n - 1}
  s / sqrt(n)`` (``s`` the sample std, ddof 1), the interval of the paired t-test; it contains 0
  exactly when the two-sided paired t-test's p is at least ``1 - c``.
* **Bootstrap interval** of the mean difference: percentile bootstrap
  (``scipy.stats.bootstrap``, ``method="percentile"``, 9999 resamples of the seed-wise
  differences with replacement, a generator seeded with :data:`BOOTSTRAP_SEED`, so the report is
  deterministic). With 5 seeds it is too narrow alone (it ignores the heavy tails of the t
  distribution at small n), so both intervals are reported and only the test separates.
* One difference has no interval (NaN); equal differences give a zero-width one.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from alstrategies.report.detectability import assign_roles
from alstrategies.report.statistics import BASELINE, common_budgets, paired_test, per_seed_aulc

__all__ = [
    "BASELINE",
    "BOOTSTRAP_SEED",
    "aulc_differences",
    "aulc_vs_baseline",
    "bootstrap_mean_ci",
    "budget_differences",
    "difference_bands",
    "t_mean_ci",
]

#: Seed of the bootstrap's generator.
BOOTSTRAP_SEED = 0
#: Resamples per interval.
N_RESAMPLES = 9999
#: The columns of :func:`difference_bands` after ``strategy`` and ``budget``.
BAND_COLUMNS = ("mean_diff", "ci_low", "ci_high", "t_low", "t_high", "p_raw", "n_seeds")


def bootstrap_mean_ci(
    values: Sequence[float] | np.ndarray,
    confidence: float = 0.95,
    n_resamples: int = N_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of ``values`` and its percentile-bootstrap interval."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if x.size == 1:
        return mean, float("nan"), float("nan")
    if np.all(x == x[0]):
        return mean, mean, mean
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.bootstrap(
            (x,),
            np.mean,
            n_resamples=n_resamples,
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    interval = result.confidence_interval
    return mean, float(interval.low), float(interval.high)


def t_mean_ci(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """``(low, high)``: the t-based interval ``mean +- t_{(1 + confidence) / 2, n - 1} sd / sqrt(n)``
    of the mean of the finite ``values``; NaN for fewer than 2 values."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return float("nan"), float("nan")
    mean = float(x.mean())
    half = float(stats.t.ppf((1 + confidence) / 2, x.size - 1)) * float(x.std(ddof=1)) / np.sqrt(x.size)
    return mean - half, mean + half


def _summary(d: np.ndarray, confidence: float) -> dict[str, float | int]:
    """The mean, both intervals, n, sd and the paired t-test's p of seed-wise differences ``d``."""
    mean, low, high = bootstrap_mean_ci(d, confidence)
    t_low, t_high = t_mean_ci(d, confidence)
    _, p = paired_test(d, np.zeros_like(d))
    sd = float(d.std(ddof=1)) if len(d) > 1 else np.nan
    return {
        "mean_diff": mean,
        "ci_low": low,
        "ci_high": high,
        "t_low": t_low,
        "t_high": t_high,
        "n_seeds": len(d),
        "sd": sd,
        "p_raw": p,
    }


def _paired(wide: pd.DataFrame, baseline: str) -> dict[str, pd.Series]:
    out = {}
    for strategy in wide.columns:
        if strategy != baseline:
            out[strategy] = (wide[strategy] - wide[baseline]).dropna()
    return out


def budget_differences(results: pd.DataFrame, baseline: str = BASELINE, metric: str = "dice") -> pd.DataFrame:
    """Seed-wise differences to ``baseline`` at every common AL budget: columns ``strategy``,
    ``budget``, ``seed``, ``difference`` (empty without the baseline)."""
    grid = common_budgets(results, metric)
    rows = results[(results["budget"] < 1.0) & np.isin(results["budget"].astype(float), grid)]
    columns = ["strategy", "budget", "seed", "difference"]
    if baseline not in set(rows["strategy"]):
        return pd.DataFrame(columns=columns)
    wide = rows.groupby(["budget", "seed", "strategy"])[metric].mean().unstack("strategy")
    order = [s for s in dict.fromkeys(results["strategy"]) if s in wide.columns]
    frames = [
        diff.rename("difference").reset_index().assign(strategy=strategy)
        for strategy, diff in _paired(wide[order], baseline).items()
    ]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def difference_bands(
    results: pd.DataFrame, baseline: str = BASELINE, metric: str = "dice", confidence: float = 0.95
) -> pd.DataFrame:
    """Per strategy (not the baseline) and AL budget: ``mean_diff`` (mean over seeds of the
    seed-wise difference to ``baseline``), bootstrap ``ci_low`` / ``ci_high``, t-based ``t_low`` /
    ``t_high``, the paired t-test's ``p_raw`` (uncorrected) and ``n_seeds``."""
    rows = []
    differences = budget_differences(results, baseline, metric)
    for (strategy, budget), group in differences.groupby(["strategy", "budget"], sort=False):
        summary = _summary(group["difference"].to_numpy(dtype=float), confidence)
        rows.append({"strategy": strategy, "budget": float(budget), **{k: summary[k] for k in BAND_COLUMNS}})
    frame = pd.DataFrame(rows, columns=["strategy", "budget", *BAND_COLUMNS]).astype({"p_raw": float})
    return frame.sort_values(["strategy", "budget"], kind="stable", key=_order_key(results)).reset_index(
        drop=True
    )


def _order_key(results: pd.DataFrame):
    order = {name: i for i, name in enumerate(dict.fromkeys(results["strategy"]))}
    return lambda column: column.map(order) if column.name == "strategy" else column


def aulc_differences(results: pd.DataFrame, baseline: str = BASELINE, metric: str = "dice") -> pd.DataFrame:
    """Seed-wise differences of the normalised AULC to ``baseline``: ``strategy``, ``seed``,
    ``difference``."""
    aulc = per_seed_aulc(results, metric)
    columns = ["strategy", "seed", "difference"]
    if baseline not in set(aulc["strategy"]):
        return pd.DataFrame(columns=columns)
    wide = aulc.pivot_table(index="seed", columns="strategy", values="aulc")
    order = [s for s in dict.fromkeys(aulc["strategy"]) if s in wide.columns]
    frames = [
        diff.rename("difference").reset_index().assign(strategy=strategy)
        for strategy, diff in _paired(wide[order], baseline).items()
    ]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def aulc_vs_baseline(
    results: pd.DataFrame,
    baseline: str = BASELINE,
    metric: str = "dice",
    confidence: float = 0.95,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Per strategy (not the baseline): its ``role``, ``mean_diff``, bootstrap ``ci_low`` /
    ``ci_high`` and t-based ``t_low`` / ``t_high`` of the AULC difference to ``baseline``,
    ``n_seeds``, ``sd`` (ddof 1) of the seed-wise differences, the paired t-test's ``p_raw``,
    ``p_holm`` (Holm over the ranked strategies only, NaN for the others) and ``separated``
    (:func:`alstrategies.report.detectability.assign_roles`)."""
    rows = []
    for strategy, group in aulc_differences(results, baseline, metric).groupby("strategy", sort=False):
        rows.append({"strategy": strategy, **_summary(group["difference"].to_numpy(dtype=float), confidence)})
    columns = ["strategy", "mean_diff", "ci_low", "ci_high", "t_low", "t_high", "n_seeds", "sd", "p_raw"]
    frame = pd.DataFrame(rows, columns=columns).astype({"n_seeds": int, "p_raw": float, "sd": float})
    return assign_roles(frame, alpha)
