"""Reports of finished runs: tables, learning curves, statistics, qualitative figures, ablations.

See ``docs/reports.md`` for every file written and the exact definitions. The names below are
imported from their modules on first use, so that importing one report module (the run loop
imports ``report.capture``) does not import the others, nor matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public name -> the module that defines it (imported lazily by :func:`__getattr__`).
_EXPORTS: dict[str, str] = {
    "DEFAULT_LATEX_LAYOUT": "alstrategies.report.latex",
    "LATEX_LAYOUTS": "alstrategies.report.latex",
    "SNAPSHOT_KEYS": "alstrategies.report.snapshots",
    "ReportFiles": "alstrategies.report.writer",
    "SnapshotError": "alstrategies.report.snapshots",
    "Table": "alstrategies.report.tables",
    "ablation_table": "alstrategies.report.ablation",
    "aulc_vs_baseline": "alstrategies.report.bootstrap",
    "bootstrap_mean_ci": "alstrategies.report.bootstrap",
    "budget_table": "alstrategies.report.tables",
    "budget_tests": "alstrategies.report.penalty",
    "budget_to_reach": "alstrategies.report.statistics",
    "control_verdicts": "alstrategies.report.detectability",
    "detectability": "alstrategies.report.detectability",
    "difference_bands": "alstrategies.report.bootstrap",
    "find_snapshots": "alstrategies.report.snapshots",
    "holm": "alstrategies.report.statistics",
    "learning_curve_figure": "alstrategies.report.curves",
    "load_snapshot": "alstrategies.report.snapshots",
    "minimal_detectable_effect": "alstrategies.report.power",
    "network_query_split": "alstrategies.report.decomposition",
    "normalised_aulc": "alstrategies.report.statistics",
    "paired_power": "alstrategies.report.power",
    "paired_test": "alstrategies.report.statistics",
    "pairwise_tests": "alstrategies.report.statistics",
    "parse_budget": "alstrategies.report.qualitative",
    "penalty_matrix": "alstrategies.report.penalty",
    "per_seed_aulc": "alstrategies.report.statistics",
    "plot_learning_curves": "alstrategies.report.curves",
    "query_budgets": "alstrategies.report.statistics",
    "read_grid": "alstrategies.report.ablation",
    "render_latex": "alstrategies.report.tables",
    "render_markdown": "alstrategies.report.tables",
    "run_statistics": "alstrategies.report.run_statistics",
    "save_snapshot": "alstrategies.report.snapshots",
    "score_error_table": "alstrategies.report.score_error",
    "seeds_needed": "alstrategies.report.power",
    "snapshot_path": "alstrategies.report.snapshots",
    "summary_markdown": "alstrategies.report.summary",
    "tidy_frame": "alstrategies.report.tables",
    "win_tie_loss": "alstrategies.report.statistics",
    "write_ablation_report": "alstrategies.report.ablation",
    "write_network_query_split": "alstrategies.report.decomposition",
    "write_qualitative_figures": "alstrategies.report.qualitative",
    "write_report": "alstrategies.report.writer",
    "write_statistics_files": "alstrategies.report.run_statistics",
    "write_summary": "alstrategies.report.summary",
    "write_summary_files": "alstrategies.report.summary",
}

__all__ = [
    "DEFAULT_LATEX_LAYOUT",
    "LATEX_LAYOUTS",
    "ReportFiles",
    "SNAPSHOT_KEYS",
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

if TYPE_CHECKING:
    from alstrategies.report.ablation import ablation_table, read_grid, write_ablation_report
    from alstrategies.report.bootstrap import aulc_vs_baseline, bootstrap_mean_ci, difference_bands
    from alstrategies.report.curves import learning_curve_figure, plot_learning_curves
    from alstrategies.report.decomposition import network_query_split, write_network_query_split
    from alstrategies.report.detectability import control_verdicts, detectability
    from alstrategies.report.latex import DEFAULT_LATEX_LAYOUT, LATEX_LAYOUTS
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


def __getattr__(name: str) -> Any:
    """Import an exported name from its module on first access (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
