"""Value tests of the report: summary numbers, the (seed, budget) pairing, what the figures draw.

Every expected number is recomputed here with plain loops from a hand-built results frame, so
a changed definition (95 % target, round 0 in the pairing, a missing std band, the ground truth
drawn as a prediction) fails a test instead of only changing a PNG.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from alstrategies.report import learning_curve_figure
from alstrategies.report.qualitative import CLASS_COLORS, qualitative_figure, sbcal_figure
from alstrategies.report.statistics import pairwise_tests
from alstrategies.report.summary import pairing_values, strategy_summary, summary_markdown

BUDGETS = (0.1, 0.2, 0.3, 0.4)
SEEDS = (0, 1, 2)
FULL = {0: 0.89, 1: 0.90, 2: 0.91}  # the shared 100 % model of each seed: mean 0.90
ROUND0 = {0: 0.48, 1: 0.50, 2: 0.52}  # the shared round-0 model of each seed
#: Mean curve of each strategy after round 0; seeds add -0.01, 0, +0.01 (means stay exact).
CURVES = {
    "alpha": (0.70, 0.86, 0.88),  # reaches 95 % of 0.90 (0.855) at 30 %, never 100 %
    "beta": (0.80, 0.87, 0.93),  # reaches 95 % at 30 %, 100 % only at 40 %
}
OFFSET = {0: -0.01, 1: 0.0, 2: 0.01}


def hand_results() -> pd.DataFrame:
    """results.csv-shaped rows: a shared round 0 and 100 % row per seed, as the loop writes them."""
    rows = []
    for strategy, curve in CURVES.items():
        for seed in SEEDS:
            values = [ROUND0[seed], *(v + OFFSET[seed] for v in curve), FULL[seed]]
            for r, (budget, dice) in enumerate(zip([*BUDGETS, 1.0], values, strict=True)):
                rows.append({"strategy": strategy, "seed": seed, "round": r, "budget": budget, "dice": dice})
    return pd.DataFrame(rows)


def slow_aulc(budgets: list[float], values: list[float]) -> float:
    """Trapezoid area by an explicit loop, divided by the budget range."""
    area = 0.0
    for k in range(len(budgets) - 1):
        area += (budgets[k + 1] - budgets[k]) * (values[k] + values[k + 1]) / 2
    return area / (budgets[-1] - budgets[0])


def slow_chain(results: pd.DataFrame, strategy: str, seed: int) -> tuple[list[float], list[float]]:
    chain = results[(results.strategy == strategy) & (results.seed == seed) & (results.budget < 1)]
    chain = chain.sort_values("budget")
    return chain["budget"].tolist(), chain["dice"].tolist()


def slow_mean_curve(results: pd.DataFrame, strategy: str) -> dict[float, tuple[float, float]]:
    """Budget -> (mean, sample std) over seeds, with loops."""
    out = {}
    for budget in sorted(set(results["budget"])):
        values = results[(results.strategy == strategy) & (results.budget == budget)]["dice"].tolist()
        mean = sum(values) / len(values)
        std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
        out[budget] = (mean, std)
    return out


# -- strategy_summary --------------------------------------------------------------------------
def test_strategy_summary_values_against_loops():
    results = hand_results()
    table = strategy_summary(results).set_index("strategy")
    assert list(table.index) == list(CURVES)
    for strategy in CURVES:
        aulcs = [slow_aulc(*slow_chain(results, strategy, seed)) for seed in SEEDS]
        mean = sum(aulcs) / len(aulcs)
        std = (sum((a - mean) ** 2 for a in aulcs) / (len(aulcs) - 1)) ** 0.5
        full = sum(FULL.values()) / len(FULL)
        row = table.loc[strategy]
        assert row["aulc_mean"] == pytest.approx(mean, abs=1e-12)
        assert row["aulc_std"] == pytest.approx(std, abs=1e-12)
        assert row["n_seeds"] == len(SEEDS)
        assert row["full_mean"] == pytest.approx(full, abs=1e-12)
        assert row["target"] == pytest.approx(0.95 * full, abs=1e-12)  # the default is 95 %
        curve = slow_mean_curve(results, strategy)
        reached = [b for b in BUDGETS if curve[b][0] >= 0.95 * full]
        assert row["reach_budget"] == pytest.approx(min(reached))
    assert table.loc["alpha", "reach_budget"] == pytest.approx(0.3)
    assert table.loc["beta", "reach_budget"] == pytest.approx(0.3)


def test_budget_to_reach_follows_the_reach_fraction():
    results = hand_results()
    at_100 = strategy_summary(results, reach_fraction=1.0).set_index("strategy")
    never = at_100.loc["alpha", "reach_budget"]
    assert never is None or np.isnan(never)  # 0.88 never reaches 0.90 (None becomes NaN in a frame)
    assert at_100.loc["beta", "reach_budget"] == pytest.approx(0.4)
    assert at_100.loc["beta", "target"] == pytest.approx(0.90)
    at_80 = strategy_summary(results, reach_fraction=0.8).set_index("strategy")
    assert at_80.loc["alpha", "reach_budget"] == pytest.approx(0.3)  # 0.72 target: 0.86 at 30 %
    assert at_80.loc["beta", "reach_budget"] == pytest.approx(0.2)  # 0.80 at 20 %


def test_summary_markdown_reports_the_95_percent_budget():
    text = summary_markdown(hand_results())
    assert "budget to reach 95% of the 100% Dice" in text
    for strategy in CURVES:
        row = next(line for line in text.splitlines() if line.startswith(f"| {strategy} | "))
        cells = [cell.strip() for cell in row.split("|")[1:-1]]
        assert cells[3:] == ["90.00", "85.50", "30.00%"]  # 100 % Dice, target 0.95 x 90, budget


# -- the pairing ---------------------------------------------------------------------------------
def test_seed_budget_pairing_leaves_round0_out():
    results = hand_results()
    values = pairing_values(results, pairing="seed_budget")
    expected = {
        (strategy, seed, budget): dice
        for strategy, seed, budget, dice in results[["strategy", "seed", "budget", "dice"]].itertuples(
            index=False
        )
        if BUDGETS[0] < budget < 1.0  # after round 0, before the 100 % model
    }
    got = {
        (row.strategy, row.seed, row.budget): row.value
        for row in values[["strategy", "seed", "budget", "value"]].itertuples(index=False)
    }
    assert got.keys() == expected.keys()
    for key, dice in expected.items():
        assert got[key] == pytest.approx(dice, abs=1e-12)
    pairs = pairwise_tests(values, unit=["seed", "budget"])
    assert pairs["n"].tolist() == [len(SEEDS) * (len(BUDGETS) - 1)]
    beta_minus_alpha = [CURVES["beta"][i] - CURVES["alpha"][i] for i in range(3)]
    assert pairs["mean_diff"].iloc[0] == pytest.approx(-sum(beta_minus_alpha) / 3, abs=1e-12)


def test_seed_pairing_is_the_per_seed_aulc():
    results = hand_results()
    values = pairing_values(results, pairing="seed")
    assert len(values) == len(CURVES) * len(SEEDS)
    for row in values.itertuples(index=False):
        assert row.value == pytest.approx(slow_aulc(*slow_chain(results, row.strategy, row.seed)), abs=1e-12)


def test_summary_with_seed_budget_pairing_counts_nine_pairs():
    text = summary_markdown(hand_results(), pairing="seed_budget")
    pair_rows = [line for line in text.splitlines() if line.startswith("| alpha | beta |")]
    assert len(pair_rows) == 1 and pair_rows[0].split("|")[3].strip() == "9"


# -- learning curves -----------------------------------------------------------------------------
def _band_points(collection) -> np.ndarray:
    return np.concatenate([path.vertices for path in collection.get_paths()])


def test_learning_curves_plot_the_means_the_std_band_and_the_full_line():
    results = hand_results()
    figure = learning_curve_figure(results)
    assert isinstance(figure, Figure)
    axis = figure.axes[0]
    lines = {line.get_label(): line for line in axis.get_lines()}
    bands = [c for c in axis.collections if len(c.get_paths())]
    assert len(bands) == len(CURVES)
    for strategy, band in zip(CURVES, bands, strict=True):
        curve = slow_mean_curve(results, strategy)
        x = [100 * b for b in BUDGETS]
        mean = [100 * curve[b][0] for b in BUDGETS]
        std = [100 * curve[b][1] for b in BUDGETS]
        np.testing.assert_allclose(lines[strategy].get_xdata(), x)
        np.testing.assert_allclose(lines[strategy].get_ydata(), mean)
        assert max(std) > 0.5  # the band is not degenerate: the test can tell it from the line
        points = _band_points(band)
        expected = [(xi, m - s) for xi, m, s in zip(x, mean, std)] + [
            (xi, m + s) for xi, m, s in zip(x, mean, std)
        ]
        for point in expected:  # every corner of the band is drawn ...
            assert np.min(np.hypot(*(points - point).T)) < 1e-9, (strategy, point)
        for point in points:  # ... and nothing else
            assert min(np.hypot(point[0] - e[0], point[1] - e[1]) for e in expected) < 1e-9
    full = 100 * sum(FULL.values()) / len(FULL)
    horizontal = [
        line
        for line in axis.get_lines()
        if line.get_label() not in CURVES and np.allclose(np.asarray(line.get_ydata(), float), full)
    ]
    assert len(horizontal) == 1 and horizontal[0].get_linestyle() == "--"
    assert f"({full:.1f})" in horizontal[0].get_label()
    FigureCanvasAgg(figure).draw()  # the legend lies outside the axes, so it hides no curve
    renderer = figure.canvas.get_renderer()
    legend = (figure.legends or [axis.get_legend()])[0]
    assert not legend.get_window_extent(renderer).overlaps(axis.get_window_extent(renderer))


# -- the statistics part of summary.md -----------------------------------------------------------
def test_summary_opens_with_what_the_run_can_detect_and_skips_round0_in_the_penalty_matrix():
    results = hand_results()
    text = summary_markdown(results)
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[0] == "## What this run can detect"
    assert "No `random` strategy in this run" in text  # hand_results has alpha and beta only
    # 4 AL budgets, round 0 at 10 % left out: 3 budgets; beta is ahead at each by the same amount on
    # every seed (the seed offsets cancel in the paired differences), so it wins all three
    assert "At each of the 3 AL budgets after round 0" in text
    assert "| beta | 1.00 | – | 1.00 |" in text and "| alpha | – | 0.00 | 0.00 |" in text


# -- qualitative figures ---------------------------------------------------------------------------
def _expected_overlay(label: np.ndarray) -> np.ndarray:
    rgba = np.zeros((*label.shape, 4))
    for y in range(label.shape[0]):
        for x in range(label.shape[1]):
            if label[y, x]:
                rgba[y, x] = (*to_rgb(CLASS_COLORS[label[y, x] - 1]), 0.5)
    return rgba


def _slow_slice_dice(prediction: np.ndarray, label: np.ndarray) -> float:
    scores = []
    for c in sorted(set(prediction.ravel().tolist()) | set(label.ravel().tolist())):
        if c == 0:
            continue
        p = sum(1 for a in prediction.ravel() if a == c)
        g = sum(1 for a in label.ravel() if a == c)
        both = sum(1 for a, b in zip(prediction.ravel(), label.ravel()) if a == b == c)
        scores.append(2 * both / (p + g))
    return sum(scores) / len(scores)


def _snapshot(rng: np.random.Generator, n: int = 3, size: int = 12) -> dict[str, np.ndarray]:
    labels = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        labels[i, 2 + i : 7 + i, 3:9] = 1
        labels[i, 8:11, 1 + i : 5 + i] = 2
    prediction = np.roll(labels, 2, axis=-1)
    prediction[:, 0:2, 0:3] = 3  # a class the ground truth lacks
    return {
        "images": rng.random((n, size, size)).astype(np.float32),
        "labels": labels,
        "prediction": prediction,
        "coarse": np.roll(labels, -1, axis=-2),
        "distance": rng.random((n, 3, size, size)).astype(np.float16),
        "slice_names": np.array([f"v{i}:0" for i in range(n)]),
    }


def _overlay_of(axis) -> np.ndarray:
    images = axis.get_images()
    assert len(images) == 2, "a labelled panel is the image plus one overlay"
    return np.asarray(images[1].get_array(), dtype=float)


def test_qualitative_figure_draws_each_prediction_not_the_ground_truth():
    rng = np.random.default_rng(0)
    first, second = _snapshot(rng), _snapshot(rng)
    second["prediction"] = np.roll(first["labels"], -3, axis=-1)
    second["images"], second["labels"] = first["images"], first["labels"]
    figure = qualitative_figure({"a": first, "b": second, "c": None}, ["RV", "MYO", "LV"])
    columns = 5
    axes = figure.axes[: 3 * columns]
    for r in range(3):
        row = axes[r * columns : (r + 1) * columns]
        np.testing.assert_allclose(np.asarray(row[0].get_images()[0].get_array()), first["images"][r])
        np.testing.assert_allclose(_overlay_of(row[1]), _expected_overlay(first["labels"][r]))
        for axis, snapshot in zip(row[2:4], (first, second)):
            prediction = snapshot["prediction"][r]
            assert not np.array_equal(prediction, first["labels"][r])
            np.testing.assert_allclose(_overlay_of(axis), _expected_overlay(prediction), atol=1e-6)
            dice = _slow_slice_dice(prediction, first["labels"][r])
            assert [t.get_text() for t in axis.texts] == [f"Dice {100 * dice:.1f} %"]
        assert [t.get_text() for t in row[4].texts] == ["no snapshot"]
    assert [a.get_title() for a in axes[:columns]] == ["image", "ground truth", "a", "b", "c"]


def test_sbcal_figure_draws_distance_coarse_and_refined_outputs():
    snapshot = _snapshot(np.random.default_rng(1), n=2)
    figure = sbcal_figure(snapshot, ["RV", "MYO", "LV"])
    columns = 5
    for r in range(2):
        row = figure.axes[r * columns : (r + 1) * columns]
        np.testing.assert_allclose(_overlay_of(row[1]), _expected_overlay(snapshot["labels"][r]))
        distance = np.asarray(row[2].get_images()[0].get_array(), dtype=float)
        np.testing.assert_allclose(distance, snapshot["distance"][r].astype(np.float32).max(axis=0))
        np.testing.assert_allclose(_overlay_of(row[3]), _expected_overlay(snapshot["coarse"][r]), atol=1e-6)
        np.testing.assert_allclose(
            _overlay_of(row[4]), _expected_overlay(snapshot["prediction"][r]), atol=1e-6
        )
    assert [a.get_title() for a in figure.axes[:columns]] == [
        "image",
        "ground truth",
        "SFP distance",
        "coarse",
        "refined (ASR)",
    ]
