"""Reports of finished runs: tables, learning curves, statistics, qualitative figures, ablations.

See ``docs/reports.md`` for every file written and the exact definitions.
"""

from alstrategies.report.ablation import ablation_table, read_grid, write_ablation_report
from alstrategies.report.bootstrap import aulc_vs_baseline, bootstrap_mean_ci, difference_bands
from alstrategies.report.curves import learning_curve_figure, plot_learning_curves
from alstrategies.report.decomposition import network_query_split, write_network_query_split
from alstrategies.report.detectability import control_verdicts, detectability
from alstrategies.report.penalty import budget_tests, penalty_matrix
from alstrategies.report.power import minimal_detectable_effect, paired_power, seeds_needed
from alstrategies.report.qualitative import parse_budget, write_qualitative_figures
from alstrategies.report.run_statistics import run_statistics, write_statistics_files
from alstrategies.report.score_error import score_error_table
from alstrategies.report.snapshots import (
    SNAPSHOT_KEYS,
    SnapshotError,
    find_snapshots,
    load_snapshot,
    save_snapshot,
    snapshot_path,
)
from alstrategies.report.statistics import (
    budget_to_reach,
    holm,
    normalised_aulc,
    paired_test,
    pairwise_tests,
    per_seed_aulc,
    query_budgets,
    win_tie_loss,
)
from alstrategies.report.summary import summary_markdown, write_summary, write_summary_files
from alstrategies.report.tables import Table, budget_table, render_latex, render_markdown, tidy_frame
from alstrategies.report.writer import ReportFiles, write_report

__all__ = [
    "SNAPSHOT_KEYS",
    "ReportFiles",
    "SnapshotError",
    "Table",
    "ablation_table",
    "aulc_vs_baseline",
    "bootstrap_mean_ci",
    "budget_table",
    "budget_tests",
    "budget_to_reach",
    "control_verdicts",
    "detectability",
    "difference_bands",
    "find_snapshots",
    "holm",
    "learning_curve_figure",
    "load_snapshot",
    "minimal_detectable_effect",
    "network_query_split",
    "normalised_aulc",
    "paired_power",
    "paired_test",
    "pairwise_tests",
    "parse_budget",
    "penalty_matrix",
    "per_seed_aulc",
    "plot_learning_curves",
    "query_budgets",
    "read_grid",
    "render_latex",
    "render_markdown",
    "run_statistics",
    "save_snapshot",
    "score_error_table",
    "seeds_needed",
    "snapshot_path",
    "summary_markdown",
    "tidy_frame",
    "win_tie_loss",
    "write_ablation_report",
    "write_network_query_split",
    "write_qualitative_figures",
    "write_report",
    "write_statistics_files",
    "write_summary",
    "write_summary_files",
]
