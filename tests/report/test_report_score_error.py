"""Score-error Spearman correlations read from hand-built round records in a tmp run folder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from scipy import stats

from alstrategies.engine.layout import RunLayout
from alstrategies.engine.records import write_record
from alstrategies.report.score_error import mean_rho_table, score_error_correlation, score_error_table
from alstrategies.report.summary import summary_markdown, write_summary_files
from alstrategies.report.verdict_figures import score_error_figure

BUDGETS = {1: 0.2, 2: 0.3}
SEEDS = (0, 1)


def build_run(root) -> dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]]:
    """Round records: two score-based strategies with errors, random without scores, one record
    of the lead's older format (scores but no error). Returns the (score, error) written."""
    layout = RunLayout(root)
    rng = np.random.default_rng(0)
    written = {}
    for seed in SEEDS:
        for r, budget in BUDGETS.items():
            for strategy, strength in (("finds", 1.0), ("blind", 0.0)):
                error = rng.random(40)
                score = strength * error + rng.normal(0, 0.2, 40)
                record = {
                    "strategy": strategy,
                    "seed": seed,
                    "round": r,
                    "budget": budget,
                    "scores": {"candidates": list(range(40)), "score": score, "error": error},
                }
                write_record(layout.strategy_round(strategy, seed, r), record)
                written[(strategy, seed, r)] = (score, error)
            write_record(layout.strategy_round("random", seed, r), {"budget": budget, "scores": None})
    old = {"budget": 0.2, "scores": {"candidates": [0, 1, 2], "score": [0.1, 0.2, 0.3]}}
    write_record(layout.strategy_round("old", 0, 1), old)
    return written


def test_score_error_table_is_scipy_spearman_per_record(tmp_path):
    written = build_run(tmp_path)
    table = score_error_table(tmp_path)
    assert set(table["strategy"]) == {"finds", "blind"}  # no random, no record without errors
    assert len(table) == len(written)
    for row in table.itertuples():
        score, error = written[(row.strategy, row.seed, row.round)]
        expected = stats.spearmanr(score, error)
        assert row.rho == pytest.approx(expected.statistic)
        assert row.p == pytest.approx(expected.pvalue)
        assert row.n == 40 and row.budget == BUDGETS[row.round]
    assert table.loc[table.strategy == "finds", "rho"].min() > 0.7
    assert table.loc[table.strategy == "blind", "rho"].abs().max() < 0.5
    means = mean_rho_table(table)
    for strategy in ("finds", "blind"):
        for budget in BUDGETS.values():
            rows = table[(table.strategy == strategy) & (table.budget == budget)]
            assert means.loc[strategy, budget] == pytest.approx(rows["rho"].mean())


def test_correlation_drops_missing_values_and_constant_sides():
    rho, p, n = score_error_correlation([1.0, 2.0, np.nan, 4.0, 3.0], [0.1, 0.3, 0.2, 0.5, np.nan])
    assert n == 3 and rho == pytest.approx(stats.spearmanr([1, 2, 4], [0.1, 0.3, 0.5]).statistic)
    rho, p, n = score_error_correlation([1.0, 1.0, 1.0, 1.0], [0.1, 0.2, 0.3, 0.4])
    assert np.isnan(rho) and np.isnan(p) and n == 4
    with pytest.raises(ValueError):
        score_error_correlation([1.0, 2.0], [1.0])


def _results() -> pd.DataFrame:
    rows = []
    for strategy in ("random", "finds", "blind"):
        for seed in SEEDS:
            for r, budget in [(0, 0.1), *BUDGETS.items()]:
                rows.append(
                    {
                        "strategy": strategy,
                        "seed": seed,
                        "round": r,
                        "budget": budget,
                        "dice": 0.5 + budget + 0.01 * seed + (0.001 * r if strategy == "finds" else 0),
                    }
                )
    return pd.DataFrame(rows)


def test_summary_table_and_files_from_the_run_folder(tmp_path):
    build_run(tmp_path)
    table = score_error_table(tmp_path)
    means = mean_rho_table(table)
    assert (tmp_path / "strategies").is_dir()
    written = write_summary_files(_results(), tmp_path / "summary.md")  # run folder found from the path
    assert {"score_error.csv", "score_error.png"} <= {p.name for p in written}
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "score_error.csv"), table, check_dtype=False)
    text = (tmp_path / "summary.md").read_text()
    section = text[text.index("## How well each score finds") :]
    assert "| Strategy | 20.00% | 30.00% |" in section
    for strategy in ("blind", "finds"):
        line = next(line for line in section.splitlines() if line.startswith(f"| {strategy} |"))
        assert line == f"| {strategy} | " + " | ".join(f"{v:.2f}" for v in means.loc[strategy]) + " |"
    assert "| random |" not in section
    assert "no run folder was given" in summary_markdown(_results())


def test_score_error_figure_draws_the_mean_rho(tmp_path):
    build_run(tmp_path)
    table = score_error_table(tmp_path)
    figure = score_error_figure(table)
    FigureCanvasAgg(figure).draw()
    axis = figure.axes[0]
    lines = {line.get_label(): line for line in axis.get_lines()}
    means = mean_rho_table(table)
    for strategy in ("finds", "blind"):
        np.testing.assert_allclose(lines[strategy].get_xdata(), [100 * b for b in means.columns])
        np.testing.assert_allclose(lines[strategy].get_ydata(), means.loc[strategy].to_numpy())
    renderer = figure.canvas.get_renderer()
    assert not figure.legends[0].get_window_extent(renderer).overlaps(axis.get_window_extent(renderer))
