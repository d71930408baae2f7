"""``summary.md``: what the run can detect, normalised AULC, budget to reach 95 % of the 100 % Dice,
pairwise tests, the penalty matrix, differences to Random and how well scores find errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from alstrategies.engine.layout import RunLayout
from alstrategies.errors import ConfigError
from alstrategies.metrics import column_label
from alstrategies.report.batch_diagnostics import batch_diagnostics_markdown
from alstrategies.report.detectability import detection_markdown
from alstrategies.report.io import atomic_write_text
from alstrategies.report.penalty import NOT_TESTED
from alstrategies.report.run_statistics import (
    RunStatistics,
    baseline_markdown,
    run_statistics,
    write_statistics_files,
)
from alstrategies.report.schedule import schedule_check, schedule_markdown
from alstrategies.report.score_error import mean_rho_table
from alstrategies.report.statistics import (
    BASELINE,
    PAIRINGS,
    TESTS,
    TestName,
    budget_to_reach,
    common_budgets,
    pairwise_tests,
    per_seed_aulc,
    query_budgets,
    win_tie_loss,
)
from alstrategies.report.tables import EmptyResultsError, budget_label, seed_text, summarise

__all__ = ["pairing_values", "strategy_summary", "summary_markdown", "write_summary", "write_summary_files"]


def strategy_summary(
    results: pd.DataFrame, metric: str = "dice", reach_fraction: float = 0.95
) -> pd.DataFrame:
    """Per strategy: ``aulc_mean``, ``aulc_std`` (ddof 1), ``n_seeds`` (seeds with an AULC),
    ``full_mean`` (mean over seeds of the 100 % rows; NaN without them), ``target``
    (``reach_fraction * full_mean``) and ``reach_budget`` (smallest AL budget whose mean over
    seeds is ``>= target``; None if never). Values in the units of ``metric`` (fractions)."""
    aulc = per_seed_aulc(results, metric)
    summary = summarise(results, metric)
    all_full = summary.loc[summary["budget"] >= 1.0, "mean"]
    rows = []
    for strategy in dict.fromkeys(results["strategy"]):
        values = aulc.loc[aulc["strategy"] == strategy, "aulc"]
        mine = summary[summary["strategy"] == strategy]
        full = mine.loc[mine["budget"] >= 1.0, "mean"]
        full_mean = float(full.mean()) if len(full) else (float(all_full.mean()) if len(all_full) else np.nan)
        target = reach_fraction * full_mean
        al = mine[mine["budget"] < 1.0]
        reach = budget_to_reach(al["budget"], al["mean"], target) if np.isfinite(target) else None
        rows.append(
            {
                "strategy": strategy,
                "aulc_mean": float(values.mean()) if len(values) else np.nan,
                "aulc_std": float(values.std(ddof=1))
                if len(values) > 1
                else (0.0 if len(values) else np.nan),
                "n_seeds": len(values),
                "full_mean": full_mean,
                "target": target,
                "reach_budget": reach,
            }
        )
    return pd.DataFrame(rows)


def pairing_values(results: pd.DataFrame, metric: str = "dice", pairing: str = "seed") -> pd.DataFrame:
    """The paired values of :func:`pairwise_tests` (columns ``strategy``, ``seed``, [``budget``],
    ``value``). ``"seed"``: one value per seed, its normalised AULC. ``"seed_budget"``: one value
    per (seed, budget) over the common AL budgets after the first (round 0 precedes any query)."""
    if pairing not in PAIRINGS:
        raise ConfigError(f"unknown pairing {pairing!r}; choose one of {', '.join(PAIRINGS)}")
    if pairing == "seed":
        return per_seed_aulc(results, metric).rename(columns={"aulc": "value"})[["strategy", "seed", "value"]]
    grid = query_budgets(results, metric)
    rows = results[np.isin(results["budget"].astype(float), grid) & results[metric].notna()]
    values = rows.groupby(["strategy", "seed", "budget"], as_index=False, sort=False)[metric].mean()
    return values.rename(columns={metric: "value"})


def _percent(value: float | None, decimals: int = 2) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{100 * value:.{decimals}f}"


def _p(value: float) -> str:
    if not np.isfinite(value):
        return "–"
    return f"{value:.2e}" if value < 1e-3 else f"{value:.4f}"


def summary_markdown(
    results: pd.DataFrame,
    *,
    metric: str = "dice",
    test: TestName = "ttest",
    alpha: float = 0.05,
    pairing: str = "seed",
    reach_fraction: float = 0.95,
    run_dir: str | Path | None = None,
    statistics: RunStatistics | None = None,
) -> str:
    """The text of ``summary.md`` (see ``docs/reports.md``). ``run_dir``: the run folder whose
    round records give the score-error correlations; ``statistics``: precomputed
    :func:`alstrategies.report.run_statistics.run_statistics` (computed here when None)."""
    if test not in TESTS:
        raise ConfigError(f"unknown test {test!r}; choose one of {', '.join(TESTS)}")
    if results.empty:
        raise EmptyResultsError("results is empty: nothing to summarise")
    strategies = list(dict.fromkeys(results["strategy"]))
    grid = common_budgets(results, metric)
    table = strategy_summary(results, metric, reach_fraction)
    seeds = sorted(results["seed"].unique().tolist())
    span = f"{budget_label(grid[0])} to {budget_label(grid[-1])} ({len(grid)} budgets)" if grid else "none"
    name = column_label(metric)
    if statistics is None:
        statistics = run_statistics(results, metric, alpha, run_dir)
    family = statistics.family or strategies
    n_pairs = len(family) * (len(family) - 1) // 2
    lines = [
        f"# Summary of the learning curves ({name})",
        "",
        f"Strategies: {len(strategies)}; {seed_text(seeds)}; AL budgets used: {span}. Values in percent.",
        "",
        *detection_markdown(
            statistics.detect, statistics.verdicts, n_pairs, statistics.has_baseline, statistics.vs_baseline
        ),
        "",
        *schedule_markdown(schedule_check(results, run_dir)),
        "",
        "## Area under the learning curve and budget to reach "
        f"{100 * reach_fraction:.0f}% of the 100% {name}",
        "",
        "**Normalised AULC.** For each (strategy, seed), with the AL budgets "
        "b_1 < ... < b_K (labeled fractions of the pool; the 100% model is not part of the curve) "
        f"and the seed's {name} d_k at b_k: "
        "AULC = [sum_{k=1}^{K-1} (b_{k+1} - b_k) (d_k + d_{k+1}) / 2] / (b_K - b_1), "
        "the trapezoid area divided by the budget range, i.e. the average of the piecewise linear "
        "curve over [b_1, b_K] (a flat curve at 80% has AULC 80%). The budgets are those that every "
        "(strategy, seed) chain of the run has. Reported: mean ± sample std (ddof 1) over seeds; "
        "the AULC of the mean curve equals the mean of the per-seed AULCs.",
        "",
        f"**Budget to reach.** The smallest AL budget whose mean {name} over seeds is at least "
        f"{100 * reach_fraction:.0f}% of the strategy's mean 100% {name} (the target column).",
        "",
        f"| Strategy | AULC (%) | seeds | 100% {name} (%) | target (%) | budget to reach |",
        "|---|---|---|---|---|---|",
    ]
    best = table["aulc_mean"].max() if table["aulc_mean"].notna().any() else np.nan
    for row in table.itertuples(index=False):
        aulc = f"{_percent(row.aulc_mean)} ± {_percent(row.aulc_std)}" if row.n_seeds else "–"
        if row.n_seeds == 1:  # the sample std of one value is undefined: no "± 0.00"
            aulc = _percent(row.aulc_mean)
        if row.n_seeds and round(100 * row.aulc_mean, 2) == round(100 * best, 2):
            aulc = f"**{aulc}**"
        reached = row.reach_budget is not None and np.isfinite(row.reach_budget)
        reach = budget_label(row.reach_budget) if reached else "not reached"
        if not np.isfinite(row.target):
            reach = "– (no 100% rows)"
        lines.append(
            f"| {row.strategy} | {aulc} | {row.n_seeds} | {_percent(row.full_mean)} | "
            f"{_percent(row.target)} | {reach} |"
        )

    values = pairing_values(results, metric, pairing)
    units = ["seed"] if pairing == "seed" else ["seed", "budget"]
    pairs = pairwise_tests(values, test=test, alpha=alpha, strategies=family, unit=units)
    matrix = win_tie_loss(pairs, family)
    test_name = {
        "ttest": "paired t-test (scipy.stats.ttest_rel)",
        "wilcoxon": "Wilcoxon signed-rank test (scipy.stats.wilcoxon, zero differences dropped)",
    }[test]
    unit_text = (
        "pairs are seeds and the per-seed statistic is the seed's normalised AULC"
        if pairing == "seed"
        else "pairs are (seed, budget) points over the AL budgets after the first (round 0 precedes "
        "any query); points of one seed are correlated, so treat these p-values as optimistic"
    )
    tested = int(pairs["p_raw"].notna().sum())
    lines += [
        "",
        "## Pairwise comparison",
        "",
        f"{_family_text(strategies, family)} Two-sided {test_name}; {unit_text}. Holm's step-down "
        f"correction over all {tested} tested pairs of these strategies (adjusted p_(i) = max_(j<=i) "
        f"min(1, (m - j + 1) p_(j)), p sorted ascending, m = {tested}); "
        f"alpha = {alpha}. A pair is a win (W) for the strategy with the better mean when its "
        "Holm-adjusted p-value is below alpha, otherwise a tie (T); – marks pairs with fewer than 2 "
        "paired values. Read the matrix by rows: the row strategy against the column strategy.",
    ]
    n_paired = pairs["n"].max() if len(pairs) else 0
    if test == "wilcoxon" and 0 < n_paired <= 5:
        lines += [
            "",
            f"Note: with {n_paired} pairs the exact two-sided Wilcoxon p-value is at least "
            f"2 / 2^{n_paired} = {2 / 2**n_paired:.4f}, so no pair can be significant at alpha = {alpha} "
            "before (let alone after) the Holm correction.",
        ]
    lines += ["", "| | " + " | ".join(family) + " | W | T | L |", "|---" * (len(family) + 4) + "|"]
    for name_row in family:
        cells = matrix.loc[name_row].tolist()
        counts = [cells.count(mark) for mark in ("W", "T", "L")]
        lines.append(f"| {name_row} | " + " | ".join(cells) + " | " + " | ".join(map(str, counts)) + " |")
    lines += [
        "",
        "| A | B | n | mean A (%) | mean B (%) | mean A − B (pp) | statistic | p raw | p Holm | result |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in pairs.itertuples(index=False):
        result = {"a": f"{row.strategy_a} better", "b": f"{row.strategy_b} better"}.get(row.outcome, "tie")
        if not np.isfinite(row.p_raw):
            result = "not tested"
        statistic = "–" if np.isnan(row.statistic) else f"{row.statistic:.3f}"
        lines.append(
            f"| {row.strategy_a} | {row.strategy_b} | {row.n} | {_percent(row.mean_a)} | "
            f"{_percent(row.mean_b)} | {_percent(row.mean_diff)} | {statistic} | {_p(row.p_raw)} | "
            f"{_p(row.p_holm)} | {result} |"
        )
    lines += _penalty_lines(statistics, name)
    lines += baseline_markdown(statistics, name)
    lines += _score_error_lines(statistics)
    diagnostics = batch_diagnostics_markdown(run_dir, statistics.batches)
    if diagnostics:
        lines += ["", *diagnostics]
    return "\n".join(lines) + "\n"


def _family_text(strategies: list[str], family: list[str]) -> str:
    """Which strategies the pairwise comparisons cover."""
    left = [s for s in strategies if s not in family]
    if not left:
        return f"Strategies compared: all {len(family)}."
    if BASELINE not in family:
        return (
            f"Strategies compared: the {len(family)} ranked strategies; the {len(left)} controls, "
            "diagnostics and exploratory arms are left out."
        )
    return (
        f"Strategies compared: Random and the ranked strategies ({len(family)}); the {len(left)} controls, "
        "diagnostics and exploratory arms are compared with Random only (*Difference to Random*)."
    )


def _penalty_lines(statistics: RunStatistics, name: str) -> list[str]:
    matrix = statistics.penalty
    lines = [
        "",
        "## Pairwise penalty matrix over budgets",
        "",
        f"At each of the {statistics.n_penalty_budgets} AL budgets after round 0 (round 0 is one model "
        f"shared by every strategy; the 100% model is left out): a two-sided paired t-test across seeds "
        f"on the {name} for every pair of the strategies compared above, Holm's correction within the "
        f"budget over its tested pairs, alpha = {statistics.alpha}; a significant pair is a win for the "
        "better mean. Entry (row, column) = share of the budgets where the row strategy beats the column strategy. "
        "The last column is the row's mean share of wins, the last row the column's mean share of "
        "losses (over the other strategies). Figure: `penalty_matrix.png`; numbers: `penalty_matrix.csv`.",
        "",
        "| wins \\ loses | " + " | ".join(matrix.columns) + " | mean win |",
        "|---" * (len(matrix.columns) + 2) + "|",
    ]
    values = matrix.to_numpy(dtype=float)
    off_diagonal = ~np.eye(len(matrix), dtype=bool)
    tested = np.isfinite(values) & off_diagonal
    for i, (row_name, row) in enumerate(matrix.iterrows()):
        cells = ["–" if column == row_name else _share(v) for column, v in row.items()]
        mean_win = _mean_share(row.sum(), tested[i].sum(), len(matrix) - 1)
        lines.append(f"| {row_name} | " + " | ".join(cells) + f" | {mean_win} |")
    totals = matrix.sum(axis=0)  # NaN (not tested) skipped
    losses = [_mean_share(totals.iloc[j], tested[:, j].sum(), len(matrix) - 1) for j in range(len(totals))]
    lines.append("| mean loss | " + " | ".join(losses) + " | |")
    if (~np.isfinite(values) & off_diagonal).any():
        lines += [
            "",
            f"{NOT_TESTED}: not tested, the pair has fewer than 2 paired seeds at every budget (not a "
            "tie: nothing is known); the mean win and mean loss are over the tested pairs.",
        ]
    return lines


def _share(value: float) -> str:
    return NOT_TESTED if not np.isfinite(value) else f"{value:.2f}"


def _mean_share(total: float, tested: int, others: int) -> str:
    """``total`` (NaN skipped) over the ``tested`` pairs; ``n.t.`` when none of the ``others``
    was tested, ``0.00`` when there is no other strategy."""
    if not others:
        return f"{0.0:.2f}"
    return f"{total / tested:.2f}" if tested else NOT_TESTED


def _score_error_lines(statistics: RunStatistics) -> list[str]:
    lines = [
        "",
        "## How well each score finds the model's errors",
        "",
        "For every score-based strategy and round: Spearman's rho (scipy.stats.spearmanr) between the "
        "strategy's image scores (higher = queried first) and the round model's true per-slice error on "
        "the unlabeled pool (1 − Dice against the pool labels). rho = 1: the score ranks the worst slices "
        "first; 0: it ignores the error. Mean over seeds per budget; per round in `score_error.csv`, "
        "figure `score_error.png`.",
        "",
    ]
    table = mean_rho_table(statistics.score_error)
    if table.empty:
        where = (
            "no run folder was given"
            if statistics.run_dir is None
            else "no round record carries scores with errors"
        )
        return [*lines, f"Not available: {where}."]
    lines += [
        "| Strategy | " + " | ".join(budget_label(b) for b in table.columns) + " |",
        "|---" * (len(table.columns) + 1) + "|",
    ]
    for strategy, row in table.iterrows():
        cells = ["–" if not np.isfinite(v) else f"{v:.2f}" for v in row]
        lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    return lines


def _default_run_dir(path: Path) -> Path | None:
    return path.parent if RunLayout(path.parent).strategies_dir.is_dir() else None


def write_summary_files(
    results: pd.DataFrame,
    path: str | Path,
    *,
    run_dir: str | Path | None = None,
    strategies: Sequence[str] | None = None,
    **options: object,
) -> list[Path]:
    """Write ``summary.md`` to ``path`` and the statistics files beside it
    (:func:`alstrategies.report.run_statistics.write_statistics_files`); ``run_dir`` (default: the
    folder of ``path`` when it holds ``strategies/``) gives the round records. ``summary.md`` and
    every statistic cover all strategies of ``results``; ``strategies`` (default: all) trims what
    the figures and their CSV files show. Returns every path, ``path`` first."""
    path = Path(path)
    folder = Path(run_dir) if run_dir is not None else _default_run_dir(path)
    metric = str(options.get("metric", "dice"))
    alpha = float(options.get("alpha", 0.05))  # type: ignore[arg-type]
    if results.empty:
        raise EmptyResultsError("results is empty: nothing to summarise")
    statistics = run_statistics(results, metric, alpha, folder)
    text = summary_markdown(results, statistics=statistics, run_dir=folder, **options)  # type: ignore[arg-type]
    atomic_write_text(path, text)
    return [path, *write_statistics_files(statistics, path.parent, column_label(metric), strategies)]


def write_summary(
    results: pd.DataFrame, path: str | Path, *, run_dir: str | Path | None = None, **options: object
) -> Path:
    """:func:`write_summary_files`, returning the path of ``summary.md``."""
    return write_summary_files(results, path, run_dir=run_dir, **options)[0]  # type: ignore[arg-type]
