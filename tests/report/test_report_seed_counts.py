"""Figures and statistics that tell the truth about their seeds (issue 29, items 3 and 4): seed
counts per strategy in the learning curves, one 100 % line over the seeds, distinct colours for
plug-ins beside built-ins, no "± 0.00" for one seed, pairs never tested shown as such, and a
difference figure whose title says whether it has bands."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from alstrategies.report import learning_curve_figure, penalty_matrix, write_report
from alstrategies.report.bootstrap import difference_bands
from alstrategies.report.palette import STRATEGY_COLORS, figure_styles, strategy_color
from alstrategies.report.verdict_figures import difference_figure, penalty_figure
from tests.report.test_report import make_results

BUDGETS = (0.1, 0.2, 0.3)
FULL = {0: 0.80, 1: 0.84, 2: 0.88, 3: 0.92, 4: 0.96}  # each seed's one 100 % model
SEEDS = {"random": range(5), "sbc_al": range(5), "margin": range(3)}  # margin: a 3-seed arm


def _uneven() -> pd.DataFrame:
    rows = []
    for strategy, seeds in SEEDS.items():
        for seed in seeds:
            for r, budget in enumerate(BUDGETS):
                dice = 0.4 + 0.05 * seed if r == 0 else 0.5 + 0.1 * r + 0.02 * seed + 0.01 * len(strategy)
                rows.append(dict(strategy=strategy, seed=seed, round=r, budget=budget, dice=dice))
            rows.append(dict(strategy=strategy, seed=seed, round=3, budget=1.0, dice=FULL[seed]))
    return pd.DataFrame(rows)


def test_the_learning_curves_state_each_strategys_seeds():
    results = _uneven()
    top = learning_curve_figure(results, title="acdc").axes[0]
    assert (
        top.get_title() == "acdc: seeds per strategy: 5 (2 strategies), 3 (1); each curve over its own seeds"
    )
    labels = [line.get_label() for line in top.get_lines()]
    assert labels[:3] == ["random (n=5)", "sbc_al (n=5)", "margin (n=3)"]
    for line, (strategy, seeds) in zip(top.get_lines(), SEEDS.items(), strict=False):
        slow = [
            100 * np.mean([results[(results.strategy == strategy) & (results.seed == s) & (results.budget == b)].dice.item() for s in seeds])
            for b in BUDGETS
        ]  # fmt: skip
        np.testing.assert_allclose(line.get_ydata(), slow)  # each curve over its own seeds
    # one seed count for all: the plain title and names, as before
    even = learning_curve_figure(results[results.strategy != "margin"], title="acdc").axes[0]
    assert even.get_title() == "acdc: 5 seeds"
    assert [line.get_label() for line in even.get_lines()][:2] == ["random", "sbc_al"]


def test_the_100_percent_line_is_the_mean_over_seeds_not_over_strategies():
    results = _uneven()
    top = learning_curve_figure(results).axes[0]
    [bound] = [line for line in top.get_lines() if line.get_label().startswith("100% labels")]
    slow = 100 * sum(FULL.values()) / len(FULL)  # every seed once, whichever strategies have it
    assert np.asarray(bound.get_ydata(), dtype=float) == pytest.approx([slow, slow])
    assert bound.get_label() == f"100% labels ({slow:.1f})"


def test_a_plug_in_never_takes_the_colour_of_a_built_in_of_its_figure():
    assert strategy_color("my_tempent") == strategy_color("sbc_al")  # the hash alone collides
    styles = figure_styles(["sbc_al", "my_tempent"])
    assert styles["sbc_al"]["color"] == STRATEGY_COLORS["sbc_al"]  # built-ins keep theirs
    assert styles["my_tempent"]["color"].upper() != styles["sbc_al"]["color"].upper()
    assert figure_styles(["my_tempent", "sbc_al"]) == styles  # not the order: the set of names
    assert figure_styles(["my_tempent"])["my_tempent"]["color"] == strategy_color("my_tempent")
    rows = make_results(strategies=("random", "sbc_al", "my_tempent"), seeds=(0, 1))
    top = learning_curve_figure(rows).axes[0]
    colours = {line.get_label(): line.get_color() for line in top.get_lines()}
    assert colours["my_tempent"] != colours["sbc_al"] == strategy_color("sbc_al")


def test_plug_ins_beside_every_built_in_get_pairwise_distinct_colours():
    plug_ins = [f"plugin_{i}" for i in range(6)]
    styles = figure_styles([*STRATEGY_COLORS, *plug_ins])
    colours = [style["color"].upper() for style in styles.values()]
    assert len(set(colours)) == len(colours)
    for order in itertools.islice(itertools.permutations(plug_ins), 5):
        assert figure_styles([*order, *STRATEGY_COLORS]) == styles


def test_one_seed_cells_drop_the_plus_minus_in_the_summary_and_the_tables(tmp_path):
    results = make_results(seeds=(0,))
    write_report(results, tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    aulc_rows = [
        line for line in summary.split("## Pairwise comparison")[0].splitlines() if line.startswith("| alpha")
    ]
    assert aulc_rows and "±" not in aulc_rows[0] and "| 1 |" in aulc_rows[0]
    assert "± 0.00" not in summary
    for name in ("dice_table.md", "hd95_table.md"):
        assert "±" not in (tmp_path / name).read_text().split("|", 1)[1], name
    assert "$\\pm$" not in "".join(
        line for line in (tmp_path / "dice_table.tex").read_text().splitlines() if "&" in line
    )


def test_pairs_never_tested_are_not_shown_as_never_winning(tmp_path):
    results = make_results(seeds=(0,))  # one seed: no pair can be tested
    matrix = penalty_matrix(results)
    off = ~np.eye(3, dtype=bool)
    assert np.isnan(matrix.to_numpy()[off]).all() and (np.diag(matrix.to_numpy()) == 0).all()
    write_report(results, tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    section = summary.split("## Pairwise penalty matrix over budgets")[1].split("\n## ")[0]
    assert "| alpha | – | n.t. | n.t. | n.t. |" in section and "0.00" not in section
    assert "n.t.: not tested, the pair has fewer than 2 paired seeds at every budget" in section
    csv = pd.read_csv(tmp_path / "penalty_matrix.csv").set_index("strategy")
    assert csv.isna().to_numpy()[off].all()
    figure = penalty_figure(matrix)
    FigureCanvasAgg(figure).draw()
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert texts.count("n.t.") == 6 and texts.count("–") == 3 and "0.00" not in texts
    assert "n.t.: not tested" in figure.axes[0].get_title()


def test_a_pair_tested_at_some_budget_keeps_its_share():
    results = make_results(seeds=(0, 1, 2))
    lonely = results[~((results.strategy == "gamma") & (results.seed > 0))]  # gamma: one seed
    matrix = penalty_matrix(lonely)
    assert np.isnan(matrix.loc["alpha", "gamma"]) and np.isnan(matrix.loc["gamma", "beta"])
    assert np.isfinite(matrix.loc["alpha", "beta"]) and np.isfinite(matrix.loc["beta", "alpha"])


@pytest.mark.parametrize(
    ("seeds", "title"),
    [
        ({"alpha": 5, "beta": 5}, "bands: bootstrap 95 % CI"),
        ({"alpha": 1, "beta": 1}, "no bands: one paired seed (a 95 % CI needs at least 2)"),
        ({"alpha": 5, "beta": 1}, "bands: bootstrap 95 % CI, where at least 2 seeds are paired"),
    ],
)
def test_the_difference_figure_says_whether_it_has_bands(seeds, title):
    results = make_results(strategies=("random", "alpha", "beta"), seeds=tuple(range(5)))
    for name, n in seeds.items():
        results = results[(results.strategy != name) | (results.seed < n)]
    bands = difference_bands(results)
    axis = difference_figure(bands).axes[0]
    assert axis.get_title() == f"Difference to random, paired by seed; {title}"
    drawn = [c for c in axis.collections if len(c.get_paths()) and len(c.get_paths()[0].vertices)]
    assert len(drawn) == sum(1 for n in seeds.values() if n >= 2)  # a band exactly where there are 2 seeds


def test_one_seed_aulc_beside_the_paper_has_no_plus_minus(tmp_path):
    from pathlib import Path

    from alstrategies.report.reference import write_reference_comparison

    paper = Path(__file__).resolve().parents[2] / "benchmarks" / "reference" / "sbcal_miccai2024_acdc.csv"
    results = make_results(strategies=("random", "sbc_al"), seeds=(0,), budgets=(1 / 15, 0.1, 0.2))
    markdown = write_reference_comparison(results, paper, tmp_path)[0].read_text()
    section = markdown.split("## The whole curve")[1]
    rows = [line for line in section.splitlines() if line.startswith(("| random |", "| sbc_al |"))]
    assert len(rows) == 2 and all("±" not in row for row in rows)
    several = make_results(strategies=("random", "sbc_al"), seeds=(0, 1), budgets=(1 / 15, 0.1, 0.2))
    markdown = write_reference_comparison(several, paper, tmp_path / "two")[0].read_text()
    assert "| sbc_al | " in markdown and " ± " in markdown.split("## The whole curve")[1]
