"""Bootstrap intervals of the differences to Random against loops; the difference figure."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from scipy import stats

from alstrategies.report.bootstrap import (
    aulc_vs_baseline,
    bootstrap_mean_ci,
    budget_differences,
    difference_bands,
)
from alstrategies.report.summary import write_summary_files
from alstrategies.report.verdict_figures import difference_figure
from tests.report.test_guards_report import slow_aulc


def _exact_bootstrap(values: np.ndarray) -> np.ndarray:
    """Every one of the n^n equally likely resamples, by a loop: the exact bootstrap distribution."""
    n = len(values)
    return np.array([sum(values[i] for i in index) / n for index in itertools.product(range(n), repeat=n)])


def _loop_bootstrap(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(resamples):
        draw = [values[int(rng.integers(len(values)))] for _ in range(len(values))]
        means.append(sum(draw) / len(draw))
    return np.array(means)


def test_bootstrap_interval_matches_the_exact_and_a_looped_bootstrap():
    rng = np.random.default_rng(0)
    for _ in range(3):
        values = rng.normal(0.01, 0.02, 5)
        mean, low, high = bootstrap_mean_ci(values)
        assert mean == pytest.approx(values.mean())
        exact = _exact_bootstrap(values)
        tolerance = 0.06 * values.std(ddof=1)
        assert low == pytest.approx(np.quantile(exact, 0.025), abs=tolerance)
        assert high == pytest.approx(np.quantile(exact, 0.975), abs=tolerance)
        looped = _loop_bootstrap(values, 4000, seed=1)
        assert low == pytest.approx(np.quantile(looped, 0.025), abs=2 * tolerance)
        assert high == pytest.approx(np.quantile(looped, 0.975), abs=2 * tolerance)
        assert bootstrap_mean_ci(values) == (mean, low, high)  # seeded: deterministic


def test_bootstrap_edge_cases():
    assert bootstrap_mean_ci([0.02, 0.02, 0.02]) == (0.02, 0.02, 0.02)
    mean, low, high = bootstrap_mean_ci([0.3])
    assert mean == 0.3 and np.isnan(low) and np.isnan(high)
    assert all(np.isnan(bootstrap_mean_ci([])))


BUDGETS = (0.1, 0.2, 0.3)
SEEDS = (0, 1, 2, 3)


def hand_results(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    base = {s: rng.uniform(0.4, 0.6) for s in SEEDS}  # seeds differ a lot: pairing matters
    for strategy, step in {"random": 0.0, "up": 0.03, "down": -0.03}.items():
        for s in SEEDS:
            for r, budget in enumerate(BUDGETS):
                dice = base[s] + budget
                if r:
                    dice += step * r + rng.normal(0, 0.005)
                rows.append({"strategy": strategy, "seed": s, "round": r, "budget": budget, "dice": dice})
            rows.append({"strategy": strategy, "seed": s, "round": 3, "budget": 1.0, "dice": 0.9})
    return pd.DataFrame(rows)


def _value(results, strategy, seed, budget):
    row = results[(results.strategy == strategy) & (results.seed == seed) & (results.budget == budget)]
    return float(row["dice"].iloc[0])


def test_difference_bands_are_paired_by_seed():
    results = hand_results()
    bands = difference_bands(results)
    assert set(bands.strategy) == {"up", "down"} and len(bands) == 2 * len(BUDGETS)
    for row in bands.itertuples():
        diffs = [
            _value(results, row.strategy, s, row.budget) - _value(results, "random", s, row.budget)
            for s in SEEDS
        ]
        assert row.mean_diff == pytest.approx(sum(diffs) / len(diffs), abs=1e-12)
        assert (row.ci_low, row.ci_high) == pytest.approx(bootstrap_mean_ci(diffs)[1:])
        assert row.n_seeds == len(SEEDS)
        if row.budget != BUDGETS[0]:
            test = stats.ttest_1samp(diffs, 0.0)
            assert row.p_raw == pytest.approx(test.pvalue)
            assert (row.t_low, row.t_high) == pytest.approx(tuple(test.confidence_interval(0.95)))
    at_round0 = bands[bands.budget == BUDGETS[0]]
    assert (at_round0[["mean_diff", "ci_low", "ci_high"]].abs() < 1e-12).all().all()  # shared model
    shuffled = difference_bands(results.sample(frac=1.0, random_state=1))
    key = ["strategy", "budget"]
    pd.testing.assert_frame_equal(
        shuffled.sort_values(key).reset_index(drop=True), bands.sort_values(key).reset_index(drop=True)
    )
    assert 1.0 not in set(budget_differences(results)["budget"])


def test_aulc_vs_random_against_loops_and_holm_by_hand():
    results = hand_results()
    vs = aulc_vs_baseline(results).set_index("strategy")
    p = {}
    for strategy in ("up", "down"):
        diffs = []
        for s in SEEDS:
            budgets = list(BUDGETS)
            mine = slow_aulc(budgets, [_value(results, strategy, s, b) for b in budgets])
            theirs = slow_aulc(budgets, [_value(results, "random", s, b) for b in budgets])
            diffs.append(mine - theirs)
        assert vs.loc[strategy, "mean_diff"] == pytest.approx(np.mean(diffs), abs=1e-12)
        assert vs.loc[strategy, "sd"] == pytest.approx(np.std(diffs, ddof=1), abs=1e-12)
        assert vs.loc[strategy, "n_seeds"] == len(SEEDS)
        p[strategy] = stats.ttest_1samp(diffs, 0.0).pvalue
        assert vs.loc[strategy, "p_raw"] == pytest.approx(p[strategy])
    # Holm by hand, m = 2: the smaller p times 2, the larger times 1 but not below the first
    small, large = sorted(p, key=p.get)
    assert vs.loc[small, "p_holm"] == pytest.approx(min(1, 2 * p[small]))
    assert vs.loc[large, "p_holm"] == pytest.approx(max(min(1, 2 * p[small]), p[large]))
    assert vs.loc["up", "mean_diff"] > 0 > vs.loc["down", "mean_diff"]
    assert vs.loc["down", "separated"] and (vs["role"] == "ranked").all()


def test_write_summary_files_write_the_csv_in_points_and_the_figure(tmp_path):
    results = hand_results()
    written = write_summary_files(results, tmp_path / "summary.md")
    names = [path.name for path in written]
    assert names[0] == "summary.md"
    assert {"aulc_vs_random.csv", "difference_to_random.png", "difference_to_random.pdf"} <= set(names)
    csv = pd.read_csv(tmp_path / "aulc_vs_random.csv").set_index("strategy")
    vs = aulc_vs_baseline(results).set_index("strategy")
    for column in ("mean_diff", "ci_low", "ci_high", "t_low", "t_high", "sd"):
        np.testing.assert_allclose(csv[f"{column}_pp"], 100 * vs[column])
    assert (csv["n_seeds"] == len(SEEDS)).all() and (csv["role"] == "ranked").all()
    bands = pd.read_csv(tmp_path / "difference_to_random.csv")
    assert list(bands.columns) == [
        "strategy", "role", "budget", "mean_diff_pp", "ci_low_pp", "ci_high_pp", "t_low_pp", "t_high_pp",
        "p_raw", "n_seeds",
    ]  # fmt: skip
    assert (tmp_path / "difference_to_random.pdf").read_bytes().startswith(b"%PDF")


def test_difference_figure_draws_the_bands_and_keeps_the_legend_off_the_data():
    results = hand_results()
    bands = difference_bands(results)
    figure = difference_figure(bands)
    FigureCanvasAgg(figure).draw()
    axis = figure.axes[0]
    lines = {line.get_label(): line for line in axis.get_lines()}
    for strategy, part in bands.groupby("strategy"):
        np.testing.assert_allclose(lines[strategy].get_xdata(), 100 * part["budget"])
        np.testing.assert_allclose(lines[strategy].get_ydata(), 100 * part["mean_diff"])
    polygons = [c for c in axis.collections if len(c.get_paths())]
    assert len(polygons) == 2
    for polygon, (_, part) in zip(polygons, bands.groupby("strategy", sort=False), strict=True):
        y = np.concatenate([p.vertices[:, 1] for p in polygon.get_paths()])
        assert y.min() == pytest.approx(100 * part["ci_low"].min())
        assert y.max() == pytest.approx(100 * part["ci_high"].max())
    zero = [line for line in axis.get_lines() if np.allclose(np.asarray(line.get_ydata(), float), 0.0)]
    assert zero, "a zero line"
    renderer = figure.canvas.get_renderer()
    legend = figure.legends[0].get_window_extent(renderer)
    assert not legend.overlaps(axis.get_window_extent(renderer))
    assert {t.get_text() for t in figure.legends[0].get_texts()} >= {"up", "down"}
