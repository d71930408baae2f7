"""The statistics of one run, computed once for ``summary.md`` and for their CSV files and figures,
and the "Difference to Random" section of ``summary.md``.

Files (beside ``summary.md``): ``penalty_matrix.{csv,png}`` (Random and the ranked strategies),
``aulc_vs_random.csv``, ``difference_to_random.{csv,png,pdf}`` and, when round records carry
per-candidate errors, ``score_error.{csv,png}``; with the run folder's ``pool.csv``,
``batch_diagnostics.csv`` (:mod:`alstrategies.report.batch_diagnostics`). Differences in the CSV files are in percentage
points (``_pp``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alstrategies.engine.layout import RunLayout
from alstrategies.report.batch_diagnostics import (
    DIAGNOSTIC_COLUMNS,
    batch_diagnostics_table,
)
from alstrategies.report.bootstrap import BASELINE, aulc_vs_baseline, difference_bands
from alstrategies.report.detectability import (
    CONTROLS,
    ROLES,
    ControlVerdict,
    Detectability,
    control_verdicts,
    detectability,
    row_alphas,
    strategy_roles,
)
from alstrategies.report.io import save_figure, write_csv
from alstrategies.report.penalty import budget_tests, penalty_matrix
from alstrategies.report.power import minimal_detectable_effect
from alstrategies.report.score_error import SCORE_ERROR_COLUMNS, score_error_table
from alstrategies.report.statistics import per_seed_aulc, query_budgets
from alstrategies.report.tables import budget_label
from alstrategies.report.verdict_figures import (
    band_coverage,
    difference_figure,
    penalty_figure,
    score_error_figure,
)

__all__ = [
    "RunStatistics",
    "baseline_markdown",
    "pairwise_family",
    "run_statistics",
    "write_statistics_files",
]


@dataclass
class RunStatistics:
    """Everything the statistics part of ``summary.md`` shows; ``family``: the strategies of the
    pairwise comparison and the penalty matrix (Random and the ranked ones)."""

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
    roles: dict[str, str] = field(default_factory=dict)
    family: list[str] = field(default_factory=list)
    budgets: list[float] = field(default_factory=list)
    batches: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DIAGNOSTIC_COLUMNS))


def pairwise_family(strategies: list[str], roles: dict[str, str]) -> list[str]:
    """Random and the ranked strategies, in ``strategies`` order; every strategy when that leaves
    none (a run of controls only)."""
    family = [s for s in strategies if s == BASELINE or roles.get(s) == "ranked"]
    return family or list(strategies)


def run_statistics(
    results: pd.DataFrame, metric: str = "dice", alpha: float = 0.05, run_dir: str | Path | None = None
) -> RunStatistics:
    """Compute the roles, the differences to Random with t and bootstrap intervals, the penalty
    matrix over the family, the MDE, the controls' verdict and (from ``run_dir``'s round
    records) the score-error correlations."""
    strategies = list(dict.fromkeys(results["strategy"]))
    vs = aulc_vs_baseline(results, BASELINE, metric, alpha=alpha)
    vs["mde"] = [
        minimal_detectable_effect(sd, n, a) if n >= 2 and sd > 0 else float("nan")
        for sd, n, a in zip(vs["sd"], vs["n_seeds"], row_alphas(vs, alpha), strict=True)
    ]
    if BASELINE in strategies:
        roles = dict(zip(vs["strategy"], vs["role"], strict=True))
    else:
        roles = strategy_roles(
            per_seed_aulc(results, metric).groupby("strategy", sort=False).size().to_dict()
        )
    family = pairwise_family(strategies, roles)
    bands = difference_bands(results, BASELINE, metric)
    bands.insert(1, "role", bands["strategy"].map(roles).astype(object))
    folder = Path(run_dir) if run_dir is not None else None
    tests = budget_tests(results, metric, alpha=alpha, strategies=family)
    return RunStatistics(
        strategies=strategies,
        alpha=alpha,
        penalty=penalty_matrix(results, metric, alpha=alpha, strategies=family),
        n_penalty_budgets=int(tests["budget"].nunique()),
        vs_baseline=vs,
        bands=bands,
        detect=detectability(vs, alpha),
        verdicts=control_verdicts(vs, alpha),
        score_error=score_error_table(folder)
        if folder is not None
        else pd.DataFrame(columns=SCORE_ERROR_COLUMNS),
        has_baseline=BASELINE in strategies,
        run_dir=folder,
        roles=roles,
        family=family,
        budgets=query_budgets(results, metric),
        batches=batch_diagnostics_table(folder)
        if folder is not None
        else pd.DataFrame(columns=DIAGNOSTIC_COLUMNS),
    )


def _points(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        out[column] = 100 * out[column]
    return out.rename(columns={c: f"{c}_pp" for c in columns})


def _shown(frame: pd.DataFrame, strategies: Sequence[str] | None) -> pd.DataFrame:
    """The rows of ``frame`` whose ``strategy`` is one of ``strategies``, in that order (stable
    within a strategy); ``frame`` itself when None."""
    if strategies is None:
        return frame
    rank = {name: i for i, name in enumerate(strategies)}
    kept = frame[frame["strategy"].isin(list(rank))]
    return kept.iloc[np.argsort(kept["strategy"].map(rank).to_numpy(), kind="stable")]


def write_statistics_files(
    statistics: RunStatistics,
    out_dir: str | Path,
    ylabel: str = "Dice",
    strategies: Sequence[str] | None = None,
) -> list[Path]:
    """Write the statistics files into ``out_dir``; returns their paths (see the module).
    ``strategies`` (default: all) trims what the figures and their CSV files show
    (``penalty_matrix.{csv,png}``: the rows and columns of those in the pairwise family, in the
    order given; ``difference_to_random.*``, ``score_error.*``: their rows); every number stays
    the one computed over all strategies, and ``aulc_vs_random.csv`` and
    ``batch_diagnostics.csv`` keep every strategy."""
    files = RunLayout(out_dir)
    penalty_table, penalty_png = files.penalty_matrix
    penalty = statistics.penalty
    if strategies is not None:
        names = [s for s in strategies if s in penalty.index]
        penalty = penalty.loc[names, names]
    written = [write_csv(penalty.reset_index().rename(columns={"winner": "strategy"}), penalty_table)]
    written.append(save_figure(penalty_figure(penalty), penalty_png))
    if statistics.has_baseline and not statistics.vs_baseline.empty:
        columns = ["mean_diff", "ci_low", "ci_high", "t_low", "t_high", "sd", "mde"]
        written.append(write_csv(_points(statistics.vs_baseline, columns), files.aulc_vs_random))
        shown = _shown(statistics.bands, strategies)
        bands = _points(shown, ["mean_diff", "ci_low", "ci_high", "t_low", "t_high"])
        difference_table, *difference_figures = files.difference_to_random
        written.append(write_csv(bands, difference_table))
        figure = difference_figure(shown, BASELINE, ylabel)
        for path in difference_figures:
            written.append(save_figure(figure, path))
    if not statistics.batches.empty:
        written.append(write_csv(statistics.batches, files.batch_diagnostics))
    score_error = _shown(statistics.score_error, strategies)
    if not score_error.empty:
        score_table, score_png = files.score_error
        written.append(write_csv(score_error, score_table))
        written.append(save_figure(score_error_figure(score_error), score_png))
    return written


# -- the "Difference to Random" section of summary.md -------------------------------------------
def _percent(value: float) -> str:
    return "–" if not np.isfinite(value) else f"{100 * value:.2f}"


def _p(value: float) -> str:
    if not np.isfinite(value):
        return "–"
    return f"{value:.2e}" if value < 1e-3 else f"{value:.4f}"


def _verdict(row: Any) -> str:
    if row.role == "exploratory":
        return f"exploratory: {row.n_seeds} seeds, kept out of the Holm family"
    if row.role == "diagnostic":
        return "diagnostic: no verdict"
    if pd.isna(row.separated) or not bool(row.separated):
        return "not separated"
    if row.role == "control":
        expected = np.sign(row.mean_diff) == CONTROLS.get(row.strategy, 0)
        return "separated, as expected" if expected else "separated, unexpected direction"
    return "separated"


_TITLES = {
    "control": "Controls (each tested on its own: raw p < alpha separates)",
    "ranked": "Ranked strategies (Holm over the ranked family: Holm p < alpha separates)",
    "exploratory": "Exploratory arms (fewer paired seeds: raw p only, kept out of the Holm family and of m)",
    "diagnostic": "Diagnostics (reported, no verdict)",
}


def _role_table(rows: pd.DataFrame, role: str) -> list[str]:
    lines = [
        "",
        f"### {_TITLES[role]}",
        "",
        "| Strategy | mean diff (pp) | t 95% CI (pp) | bootstrap 95% CI (pp) | seeds | sd (pp) | p raw | "
        "p Holm | verdict | MDE (pp) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows.itertuples(index=False):
        lines.append(
            f"| {row.strategy} | {_percent(row.mean_diff)} | [{_percent(row.t_low)}, {_percent(row.t_high)}] | "
            f"[{_percent(row.ci_low)}, {_percent(row.ci_high)}] | {row.n_seeds} | {_percent(row.sd)} | "
            f"{_p(row.p_raw)} | {_p(row.p_holm)} | {_verdict(row)} | {_percent(row.mde)} |"
        )
    return lines


def _budget_lines(statistics: RunStatistics) -> list[str]:
    budgets = statistics.budgets
    bands = statistics.bands[np.isin(statistics.bands["budget"].astype(float), budgets)]
    if bands.empty:
        return []
    lines = [
        "",
        "### Per budget",
        "",
        "Mean seed-wise difference to Random (pp) at each AL budget after round 0; `*`: its t-based 95% "
        "interval excludes 0 (equivalently, the per-budget paired t-test's raw p < 0.05; uncorrected, "
        "read it as a description of the curve, not a ranking). Intervals and p-values per budget: "
        "`difference_to_random.csv`.",
        "",
        "| Strategy | role | " + " | ".join(budget_label(b) for b in budgets) + " |",
        "|---" * (len(budgets) + 2) + "|",
    ]
    order = {role: i for i, role in enumerate(ROLES)}
    names = sorted(dict.fromkeys(bands["strategy"]), key=lambda s: order.get(statistics.roles.get(s, ""), 9))
    for name in names:
        mine = bands[bands["strategy"] == name].set_index("budget")
        cells = []
        for budget in budgets:
            if budget not in mine.index:
                cells.append("–")
                continue
            row = mine.loc[budget]
            mark = "*" if row["t_low"] > 0 or row["t_high"] < 0 else ""
            cells.append(f"{100 * row['mean_diff']:+.2f}{mark}")
        lines.append(f"| {name} | {statistics.roles.get(name, '')} | " + " | ".join(cells) + " |")
    return lines


#: What ``summary.md`` says of the bands of ``difference_to_random.png`` (:func:`band_coverage`).
_BAND_NOTES = {
    "all": "bands: bootstrap 95%",
    "some": "bands: bootstrap 95%, where at least 2 seeds are paired",
    "none": "no bands: one paired seed, a 95% interval needs at least 2",
}


def baseline_markdown(statistics: RunStatistics, name: str) -> list[str]:
    """The lines of the "Difference to Random" section of ``summary.md`` (none without Random)."""
    vs = statistics.vs_baseline
    if not statistics.has_baseline or vs.empty:
        return []
    detect = statistics.detect
    m = detect.m if detect is not None else 0
    corrected = f"{detect.corrected_alpha:.4g}" if detect is not None else "–"
    lines = [
        "",
        "## Difference to Random",
        "",
        f"Per strategy and seed: the normalised AULC of {name} minus Random's on the same seed; mean over "
        "seeds with two 95% intervals: the t-based one (mean ± t_{0.975, n−1} sd / √n, the paired t-test's "
        "interval) and the percentile bootstrap (scipy.stats.bootstrap, 9999 resamples of the seed-wise "
        "differences, seeded: deterministic). With 5 seeds the bootstrap alone is too narrow: it ignores "
        "the heavy tails of the t distribution at small n. **A difference is called separated only by "
        f"the test**, both intervals are shown. p: two-sided paired t-test. Holm runs over the {m} ranked "
        f"strategies only (p Holm is – elsewhere); separated: Holm p < {statistics.alpha}. Controls are "
        f"tested on their own (raw p < {statistics.alpha}); exploratory arms and diagnostics get no "
        f"verdict. MDE: the difference the row's own paired spread detects with 80% power at its test's "
        f"level (alpha = {corrected} for the ranked rows, {statistics.alpha} for the others). Per budget: "
        f"`difference_to_random.png` ({_BAND_NOTES[band_coverage(statistics.bands)]}); numbers in "
        "`aulc_vs_random.csv` and `difference_to_random.csv` (percentage points).",
    ]
    for role in ROLES:
        rows = vs[vs["role"] == role]
        if role == "control":  # the positive control first
            rows = rows.sort_values("strategy", key=lambda c: c.map(list(CONTROLS).index), kind="stable")
        if not rows.empty:
            lines += _role_table(rows, role)
    return lines + _budget_lines(statistics)
