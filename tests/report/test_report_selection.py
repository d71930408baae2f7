"""write_report(budgets=, strategies=) (issue 29, item 2): the tables keep the chosen budget
columns and strategies, the figures the chosen strategies, and the statistics stay over all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alstrategies.errors import ConfigError
from alstrategies.report import learning_curve_figure, write_report
from alstrategies.report.palette import figure_styles
from tests.report.test_report import CLASSES, make_results, parse_latex

PAPER = Path(__file__).resolve().parents[2] / "benchmarks" / "reference" / "sbcal_miccai2024_acdc.csv"
STRATEGIES = ("random", "sbc_al", "margin", "bald")
BUDGETS = (1 / 15, 0.1, 0.2, 0.3)


def _results() -> pd.DataFrame:
    return make_results(strategies=STRATEGIES, seeds=(0, 1, 2, 3), budgets=BUDGETS)


def _slow_cell(results: pd.DataFrame, strategy: str, budget: float, column: str = "dice") -> float:
    values = [
        row[column]
        for _, row in results.iterrows()
        if row["strategy"] == strategy and abs(row["budget"] - budget) < 1e-12
    ]
    return 100 * sum(values) / len(values)


def test_budgets_keep_only_those_columns_in_every_table_format(tmp_path):
    results = _results()
    write_report(results, tmp_path, list(CLASSES), budgets=["6.67%", 0.2, 1.0])  # any order, any spelling
    csv = pd.read_csv(tmp_path / "dice_table.csv")
    assert sorted(set(csv["budget_label"])) == ["100%", "20.00%", "6.67%"]
    for row in csv[csv.metric == "dice"].itertuples():
        assert row.mean == pytest.approx(_slow_cell(results, row.strategy, row.budget))
    markdown = (tmp_path / "dice_table.md").read_text()
    assert "| Strategy | 6.67% | 20.00% | 100% |" in markdown and "10.00%" not in markdown.split("\n| ")[0]
    assert "Budgets shown: 6.67%, 20.00%, 100% (of 5)." in markdown
    latex = parse_latex((tmp_path / "dice_table.tex").read_text())
    assert latex["dice"]["header"] == ["Strategy", "6.67\\%", "20.00\\%", "100\\%"]
    # the budgets trim the tables only: the curves and the statistics keep every budget
    whole = tmp_path / "whole"
    write_report(results, whole, list(CLASSES))
    for name in ("summary.md", "aulc_vs_random.csv", "difference_to_random.csv", "penalty_matrix.csv"):
        assert (tmp_path / name).read_bytes() == (whole / name).read_bytes(), name


@pytest.mark.parametrize("spelling", [1 / 15, 0.0667, 0.066667, "6.67%", "6.67", 0.06667])
def test_a_budget_matches_within_the_displayed_precision(tmp_path, spelling):
    write_report(_results(), tmp_path, budgets=[spelling])
    assert set(pd.read_csv(tmp_path / "dice_table.csv")["budget_label"]) == {"6.67%"}


@pytest.mark.parametrize("budgets", [[0.25], [0.1, "50%"], [0.068]])
def test_a_budget_no_row_has_stops_the_report_before_any_file(tmp_path, budgets):
    with pytest.raises(ConfigError) as error:
        write_report(_results(), tmp_path / "out", budgets=budgets)
    message = str(error.value)
    assert "\n" not in message and "is not in the results" in message
    assert "0.0666667 (6.67%), 0.1 (10.00%), 0.2 (20.00%), 0.3 (30.00%), 1 (100%)" in message
    assert not (tmp_path / "out").exists()


def test_strategies_trim_the_tables_and_the_figures_but_not_the_statistics(tmp_path):
    results = _results()
    chosen = ["margin", "sbc_al"]  # Random not among them: it stays the reference of differences
    written = write_report(results, tmp_path, list(CLASSES), strategies=chosen, reference=PAPER)
    whole = tmp_path / "whole"
    write_report(results, whole, list(CLASSES), reference=PAPER)
    csv = pd.read_csv(tmp_path / "dice_table.csv")
    assert list(dict.fromkeys(csv["strategy"])) == chosen  # in the order given
    assert list(parse_latex((tmp_path / "dice_table.tex").read_text())["dice"]["rows"]) == chosen
    comparison = pd.read_csv(tmp_path / "reference_comparison.csv")
    assert list(dict.fromkeys(comparison["strategy"])) == chosen
    bands = pd.read_csv(tmp_path / "difference_to_random.csv")
    everything = pd.read_csv(whole / "difference_to_random.csv")
    assert list(dict.fromkeys(bands["strategy"])) == chosen  # Random is the reference, not a row
    expected = pd.concat([everything[everything["strategy"] == name] for name in chosen], ignore_index=True)
    pd.testing.assert_frame_equal(bands, expected)  # the same numbers, fewer rows
    penalty = pd.read_csv(tmp_path / "penalty_matrix.csv").set_index("strategy")
    full = pd.read_csv(whole / "penalty_matrix.csv").set_index("strategy")
    assert list(penalty.index) == list(penalty.columns) == chosen
    pd.testing.assert_frame_equal(penalty, full.loc[chosen, chosen])  # Holm over the whole family
    for name in ("summary.md", "aulc_vs_random.csv"):  # the statistics cover every strategy
        assert (tmp_path / name).read_bytes() == (whole / name).read_bytes(), name
    assert "penalty_matrix.png" in {p.name for p in written}


def test_the_learning_curves_draw_the_chosen_strategies_against_random(tmp_path):
    results = _results()
    figure = learning_curve_figure(results, strategies=["bald", "sbc_al"])
    top, bottom = figure.axes[:2]
    labels = [line.get_label() for line in top.get_lines()]
    assert labels[:2] == ["bald", "sbc_al"] and "random" not in labels
    styles = figure_styles(["bald", "sbc_al"])
    for name in ("bald", "sbc_al"):
        [line] = [line for line in bottom.get_lines() if line.get_color() == styles[name]["color"]]
        al = results[results["budget"] < 1]
        wide = al.pivot_table(index=["seed", "budget"], columns="strategy", values="dice")
        slow = [
            100 * np.mean([wide.loc[(s, b), name] - wide.loc[(s, b), "random"] for s in range(4)])
            for b in BUDGETS
        ]
        np.testing.assert_allclose(line.get_ydata(), slow)


@pytest.mark.parametrize("strategies", [["sbc_al", "tempent"], ["Random"], []])
def test_an_unknown_strategy_stops_the_report_before_any_file(tmp_path, strategies):
    with pytest.raises(ConfigError) as error:
        write_report(_results(), tmp_path / "out", strategies=strategies)
    message = str(error.value)
    assert "\n" not in message and "random, sbc_al, margin, bald" in message
    assert not (tmp_path / "out").exists()


def test_choosing_everything_writes_the_same_files_as_choosing_nothing(tmp_path):
    results = _results()
    write_report(results, tmp_path / "plain", list(CLASSES))
    write_report(results, tmp_path / "all", list(CLASSES), strategies=list(STRATEGIES), budgets=[*BUDGETS, 1])
    for path in (tmp_path / "plain").iterdir():
        if path.suffix in (".md", ".tex", ".csv"):
            assert path.read_bytes() == (tmp_path / "all" / path.name).read_bytes(), path.name


def test_the_qualitative_figure_shows_the_chosen_strategies(tmp_path, monkeypatch):
    from alstrategies.report import qualitative
    from tests.report.test_report_snapshots import _write_snapshots

    results = make_results(strategies=("random", "margin", "sbc_al"))
    _write_snapshots(tmp_path, results)
    drawn = []
    original = qualitative.qualitative_figure
    monkeypatch.setattr(
        qualitative,
        "qualitative_figure",
        lambda snapshots, *a, **k: drawn.append(list(snapshots)) or original(snapshots, *a, **k),
    )
    written = write_report(results, tmp_path, ["A", "B"], strategies=["margin", "random"])
    assert drawn == [["margin", "random"]] and "qualitative.png" in {p.name for p in written}
    assert "sbcal_outputs.png" not in {p.name for p in written}
    assert "sbcal_outputs.png skipped: sbc_al is not among the strategies shown" in written.notes
