"""Reports written from results.csv: Dice tables and learning curves."""

from alstrategies.report.curves import plot_learning_curves
from alstrategies.report.tables import budget_table, markdown_table, write_report

__all__ = ["budget_table", "markdown_table", "plot_learning_curves", "write_report"]
