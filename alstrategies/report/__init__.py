"""Reports of finished runs: tables, learning curves, statistics, qualitative figures, ablations.

See ``docs/reports.md`` for every file written and the exact definitions.
"""

from alstrategies.report.ablation import ablation_table, read_grid, write_ablation_report
from alstrategies.report.curves import learning_curve_figure, plot_learning_curves
from alstrategies.report.qualitative import parse_budget, write_qualitative_figures
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
    win_tie_loss,
)
from alstrategies.report.summary import summary_markdown, write_summary
from alstrategies.report.tables import Table, budget_table, render_latex, render_markdown, tidy_frame
from alstrategies.report.writer import ReportFiles, write_report

__all__ = [
    "SNAPSHOT_KEYS",
    "ReportFiles",
    "SnapshotError",
    "Table",
    "ablation_table",
    "budget_table",
    "budget_to_reach",
    "find_snapshots",
    "holm",
    "learning_curve_figure",
    "load_snapshot",
    "normalised_aulc",
    "paired_test",
    "pairwise_tests",
    "parse_budget",
    "per_seed_aulc",
    "plot_learning_curves",
    "read_grid",
    "render_latex",
    "render_markdown",
    "save_snapshot",
    "snapshot_path",
    "summary_markdown",
    "tidy_frame",
    "win_tie_loss",
    "write_ablation_report",
    "write_qualitative_figures",
    "write_report",
    "write_summary",
]
