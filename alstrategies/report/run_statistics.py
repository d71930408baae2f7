"""The statistics of one run, computed once for ``summary.md`` and for their CSV files and figures.

Files (beside ``summary.md``): ``penalty_matrix.{csv,png}``, ``aulc_vs_random.csv``,
``difference_to_random.{csv,png,pdf}`` and, when round records carry per-candidate errors,
``score_error.{csv,png}``. Differences in the CSV files are in percentage points (``_pp``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from alstrategies.report.bootstrap import BASELINE, aulc_vs_baseline, difference_bands
from alstrategies.report.detectability import (
    ControlVerdict,
    Detectability,
    control_verdicts,
    detectability,
)
from alstrategies.report.io import save_figure, write_csv
from alstrategies.report.penalty import budget_tests, penalty_matrix
from alstrategies.report.power import minimal_detectable_effect
from alstrategies.report.score_error import SCORE_ERROR_COLUMNS, score_error_table
from alstrategies.report.verdict_figures import difference_figure, penalty_figure, score_error_figure

__all__ = ["RunStatistics", "run_statistics", "write_statistics_files"]


@dataclass
class RunStatistics:
    """Everything the statistics part of ``summary.md`` shows."""

    strategies: list[str]
    alpha: float
    penalty: pd.DataFrame
    n_penalty_budgets: int
    vs_baseline: pd.DataFrame
    bands: pd.DataFrame
    detect: Detectability | None
    verdicts: list[ControlVerdict]
    score_error: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SCORE_ERROR_COLUMNS))
    has_baseline: bool = False
    run_dir: Path | None = None


def run_statistics(
    results: pd.DataFrame, metric: str = "dice", alpha: float = 0.05, run_dir: str | Path | None = None
) -> RunStatistics:
    """Compute the penalty matrix, the differences to Random with bootstrap intervals, the MDE,
    the controls' verdict and (from ``run_dir``'s round records) the score-error correlations."""
    strategies = list(dict.fromkeys(results["strategy"]))
    tests = budget_tests(results, metric, alpha=alpha, strategies=strategies)
    vs = aulc_vs_baseline(results, BASELINE, metric, alpha=alpha)
    corrected = alpha / max(len(vs), 1)
    vs["mde"] = [
        minimal_detectable_effect(sd, n, corrected) if n >= 2 and sd > 0 else float("nan")
        for sd, n in zip(vs["sd"], vs["n_seeds"], strict=True)
    ]
    folder = Path(run_dir) if run_dir is not None else None
    return RunStatistics(
        strategies=strategies,
        alpha=alpha,
        penalty=penalty_matrix(results, metric, alpha=alpha, strategies=strategies),
        n_penalty_budgets=int(tests["budget"].nunique()),
        vs_baseline=vs,
        bands=difference_bands(results, BASELINE, metric),
        detect=detectability(vs, alpha),
        verdicts=control_verdicts(vs, alpha),
        score_error=score_error_table(folder)
        if folder is not None
        else pd.DataFrame(columns=SCORE_ERROR_COLUMNS),
        has_baseline=BASELINE in strategies,
        run_dir=folder,
    )


def _points(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        out[column] = 100 * out[column]
    return out.rename(columns={c: f"{c}_pp" for c in columns})


def write_statistics_files(
    statistics: RunStatistics, out_dir: str | Path, ylabel: str = "Dice"
) -> list[Path]:
    """Write the statistics files into ``out_dir``; returns their paths (see the module)."""
    out_dir = Path(out_dir)
    written = [
        write_csv(
            statistics.penalty.reset_index().rename(columns={"winner": "strategy"}),
            out_dir / "penalty_matrix.csv",
        )
    ]
    written.append(save_figure(penalty_figure(statistics.penalty), out_dir / "penalty_matrix.png"))
    if statistics.has_baseline and not statistics.vs_baseline.empty:
        columns = ["mean_diff", "ci_low", "ci_high", "sd", "mde"]
        written.append(write_csv(_points(statistics.vs_baseline, columns), out_dir / "aulc_vs_random.csv"))
        bands = _points(statistics.bands, ["mean_diff", "ci_low", "ci_high"])
        written.append(write_csv(bands, out_dir / "difference_to_random.csv"))
        figure = difference_figure(statistics.bands, BASELINE, ylabel)
        for suffix in (".png", ".pdf"):
            written.append(save_figure(figure, out_dir / f"difference_to_random{suffix}"))
    if not statistics.score_error.empty:
        written.append(write_csv(statistics.score_error, out_dir / "score_error.csv"))
        written.append(save_figure(score_error_figure(statistics.score_error), out_dir / "score_error.png"))
    return written
