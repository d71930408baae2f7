"""Property checks of the strategy and class palettes and of the qualitative figures.

What the figures draw is read back from the matplotlib objects (image arrays, texts, legend
handles, window extents) and compared with values recomputed here, never from PNG bytes.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb, to_rgba
from matplotlib.figure import Figure
from matplotlib.text import Text

from alstrategies.report.palette import (
    CLASS_COLORS,
    CONTROL_STRATEGIES,
    OKABE_ITO,
    STRATEGY_COLORS,
    TOL_MUTED,
    class_color,
    strategy_color,
    strategy_style,
)
from alstrategies.report.qualitative import (
    all_scores_equal,
    foreground_distance,
    qualitative_figure,
    sbcal_figure,
    slice_dice,
    slice_label,
)

BUILT_INS = (
    "random",
    "max_entropy",
    "least_confidence",
    "margin",
    "mean_std",
    "vaal",
    "sbc_al",
    "oracle",
    "confident",
    "random_foreground",
    "random_foreground_oracle",
    "bald",
    "power_bald",
    "coreset",
    "badge",
    "typiclust",
)
CLASSES = ["RV", "MYO", "LV"]
TEST_HEADINGS = ["image", "ground truth", "SFP distance", "coarse", "refined (ASR)"]


# -- strategy palette ------------------------------------------------------------------------------
def _lab(color: str) -> np.ndarray:
    """CIELAB (D65) of an sRGB colour."""
    rgb = np.array(to_rgb(color))
    linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    matrix = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = matrix @ linear / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_a_strategy_keeps_its_colour_and_style_whatever_the_other_strategies_of_a_run():
    first_run = ["random", "margin", "sbc_al", "my_plugin"]
    second_run = ["sbc_al", "bald", "my_plugin", "oracle", "random", "typiclust"]
    first = {name: (strategy_color(name), strategy_style(name)) for name in first_run}
    second = {name: (strategy_color(name), strategy_style(name)) for name in reversed(second_run)}
    for name in set(first_run) & set(second_run):
        assert first[name] == second[name], name


def test_unknown_names_hash_to_the_same_colour_in_every_process():
    names = ["my_plugin", "entropy_v2", "ensemble"]
    code = (
        "from alstrategies.report.palette import strategy_color, strategy_style\n"
        f"print([(strategy_color(n), strategy_style(n)['marker']) for n in {names!r}])"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        run = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(run.stdout.strip())
    assert outputs == {str([(strategy_color(n), strategy_style(n)["marker"]) for n in names])}


def test_unknown_names_take_colours_of_the_same_palette_and_spread_over_it():
    palette = {c.upper() for c in (*OKABE_ITO.values(), *TOL_MUTED.values())}
    colours = [strategy_color(f"plugin_{i}") for i in range(60)]
    assert {c.upper() for c in colours} <= palette
    assert len(set(colours)) >= 8
    assert strategy_style("plugin_0")["linestyle"] == "-"


def test_built_in_strategies_have_pairwise_distinct_colours_and_markers():
    assert set(STRATEGY_COLORS) == set(BUILT_INS)
    colours = [strategy_color(name) for name in BUILT_INS]
    assert len({c.upper() for c in colours}) == len(BUILT_INS)
    for (a, ca), (b, cb) in itertools.combinations(zip(BUILT_INS, colours), 2):
        assert np.linalg.norm(_lab(ca) - _lab(cb)) > 15, (a, b)  # CIE76 distance: visibly different
    markers = [strategy_style(name)["marker"] for name in BUILT_INS]
    assert len(set(markers)) == len(BUILT_INS)


def test_random_is_neutral_grey_and_only_the_controls_are_dashed():
    red, green, blue = to_rgb(strategy_color("random"))
    assert red == green == blue and 0.2 < red < 0.7
    assert sorted(CONTROL_STRATEGIES) == [
        "confident",
        "empty_first",
        "oracle",
        "random_foreground",
        "random_foreground_oracle",
    ]
    for name in BUILT_INS:
        style = strategy_style(name)
        assert style["linestyle"] == ("--" if name in CONTROL_STRATEGIES else "-"), name
        assert style["color"] == strategy_color(name)


def test_class_palette_is_okabe_ito_in_order_without_black():
    okabe = [c.upper() for c in OKABE_ITO.values()]
    assert okabe[:3] == ["#000000", "#E69F00", "#56B4E9"]  # the published order
    assert [c.upper() for c in CLASS_COLORS] == okabe[1:]
    assert class_color(1) == to_rgb(OKABE_ITO["orange"])  # RV
    assert class_color(2) == to_rgb(OKABE_ITO["sky_blue"])  # MYO
    assert class_color(3) == to_rgb(OKABE_ITO["bluish_green"])  # LV
    assert class_color(1 + len(CLASS_COLORS)) == class_color(1)
    with pytest.raises(ValueError):
        class_color(0)


# -- qualitative figures ---------------------------------------------------------------------------
def _snapshot(
    rng: np.random.Generator, n: int = 3, size: int = 16, channels: int = 3
) -> dict[str, np.ndarray]:
    labels = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        labels[i, 2 + i : 8 + i, 3:10] = 1
        labels[i, 10:14, 1 + i : 6 + i] = 2
        labels[i, 4:7, 11:14] = 3
    prediction = np.roll(labels, 1, axis=-1)
    return {
        "images": rng.random((n, size, size)).astype(np.float32),
        "labels": labels,
        "prediction": prediction,
        "coarse": np.roll(labels, -1, axis=-2),
        "distance": rng.random((n, channels, size, size)).astype(np.float16),
        "slice_names": np.array([f"patient{i:03d}_frame01:{i + 4}" for i in range(n)]),
        "cs_high_images": rng.random((4, size, size)).astype(np.float32),
        "cs_high_scores": np.array([0.9, 0.8, 0.7, 0.6]),
        "cs_low_images": rng.random((4, size, size)).astype(np.float32),
        "cs_low_scores": np.array([0.1, 0.2, 0.3, 0.4]),
    }


def _overlay(axis) -> np.ndarray:
    images = axis.get_images()
    assert len(images) == 2, "a labelled panel is the image plus one overlay"
    return np.asarray(images[1].get_array(), dtype=float)


def _expected_overlay(label: np.ndarray) -> np.ndarray:
    """Pixel by pixel: class c in ``CLASS_COLORS[c - 1]`` at alpha 0.5, background transparent."""
    rgba = np.zeros((*label.shape, 4))
    for (y, x), value in np.ndenumerate(label):
        if value:
            rgba[y, x] = (*to_rgb(CLASS_COLORS[value - 1]), 0.5)
    return rgba


def _texts(figure: Figure) -> list[str]:
    return [t.get_text() for t in figure.findobj(Text)]


def _assert_clear_of_axes(figure: Figure, box) -> None:
    for axis in figure.axes:
        extent = axis.get_window_extent()
        overlap_x = min(box.x1, extent.x1) - max(box.x0, extent.x0)
        overlap_y = min(box.y1, extent.y1) - max(box.y0, extent.y0)
        assert overlap_x <= 0 or overlap_y <= 0, f"legend overlaps {axis.get_title() or axis.get_label()}"


def test_overlays_use_the_class_palette_and_the_legend_names_it():
    snapshot = _snapshot(np.random.default_rng(0))
    figure = qualitative_figure({"margin": snapshot}, CLASSES)
    columns = 3
    for r in range(3):
        for axis, label in zip(figure.axes[r * columns + 1 : (r + 1) * columns], ("labels", "prediction")):
            overlay = _overlay(axis)
            array = snapshot[label][r]
            assert np.all(overlay[array == 0, 3] == 0)  # background transparent
            for c in (1, 2, 3):
                assert np.allclose(overlay[array == c], (*to_rgb(CLASS_COLORS[c - 1]), 0.5), atol=1e-6)
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == CLASSES
    facecolors = [tuple(h.get_facecolor()) for h in legend.legend_handles]
    assert facecolors == [to_rgba(CLASS_COLORS[i]) for i in range(3)]


def test_prediction_panels_show_the_prediction_with_a_labelled_dice():
    rng = np.random.default_rng(1)
    first, second = _snapshot(rng), _snapshot(rng)
    for key in ("images", "labels", "slice_names"):
        second[key] = first[key]
    second["prediction"] = np.roll(first["labels"], -2, axis=-2)
    figure = qualitative_figure({"random": first, "sbc_al": second, "vaal": None}, CLASSES)
    columns = 5
    for r in range(3):
        row = figure.axes[r * columns : (r + 1) * columns]
        assert len(row[1].texts) == 0  # the ground truth carries no Dice
        for axis, snapshot in zip(row[2:4], (first, second)):
            prediction = snapshot["prediction"][r]
            assert not np.array_equal(prediction, first["labels"][r])
            np.testing.assert_allclose(_overlay(axis), _expected_overlay(prediction), atol=1e-6)
            dice = slice_dice(prediction, first["labels"][r])
            assert [t.get_text() for t in axis.texts] == [f"Dice {100 * dice:.1f} %"]
        assert [t.get_text() for t in row[4].texts] == ["no snapshot"]
    assert [a.get_title() for a in figure.axes[:columns]] == [
        "image",
        "ground truth",
        "random",
        "sbc_al",
        "vaal",
    ]


def test_rows_are_named_by_volume_and_slice():
    snapshot = _snapshot(np.random.default_rng(2))
    figure = qualitative_figure({"margin": snapshot}, CLASSES)
    assert [figure.axes[3 * r].get_ylabel() for r in range(3)] == [
        "patient000_frame01\nslice 4",
        "patient001_frame01\nslice 5",
        "patient002_frame01\nslice 6",
    ]
    assert slice_label("synth_test_000:0") == "synth_test_000\nslice 0"
    assert slice_label("case_00012") == "case_00012" and slice_label("a:b") == "a:b"


@pytest.mark.parametrize("max_slices", [1, 3])
def test_legends_are_clear_of_every_panel(max_slices):
    snapshot = _snapshot(np.random.default_rng(3))
    for figure in (
        qualitative_figure(
            {"margin": snapshot, "random": snapshot}, CLASSES, title="t", max_slices=max_slices
        ),
        sbcal_figure(snapshot, CLASSES, title="t", max_slices=max_slices),
    ):
        figure.draw_without_rendering()
        (legend,) = figure.legends
        _assert_clear_of_axes(figure, legend.get_window_extent())


def _colorbars(figure: Figure) -> list:
    return [axis for axis in figure.axes if axis.get_label() == "<colorbar>"]


def test_sbcal_figure_has_two_labelled_blocks_and_a_colour_bar():
    snapshot = _snapshot(np.random.default_rng(4))
    figure = sbcal_figure(snapshot, CLASSES)
    texts = _texts(figure)
    assert "Test slices: image / ground truth / SFP distance / coarse / refined (ASR)" in texts
    assert "Pool images with the highest / lowest consistency score (CS)" in texts
    test_block, pool_block = figure.subfigs
    assert [a.get_title() for a in test_block.axes[:5]] == TEST_HEADINGS
    (bar,) = _colorbars(figure)
    sfp = [test_block.axes[5 * r + 2].get_images()[0] for r in range(3)]
    assert bar._colorbar.mappable is sfp[0]
    assert all(image.norm.vmin == 0.0 and image.norm.vmax == sfp[0].norm.vmax >= 1.0 for image in sfp)
    assert bar.get_xlabel() == "SFP distance: max over RV, MYO, LV"
    # the pool images are in their own block, under their scores, not under the test headings
    pool_titles = [a.get_title() for a in pool_block.axes]
    assert pool_titles == [f"CS {s:.3f}" for s in [*snapshot["cs_high_scores"], *snapshot["cs_low_scores"]]]
    assert [a.get_ylabel() for a in pool_block.axes if a.get_ylabel()] == ["highest CS", "lowest CS"]
    for axis, image in zip(pool_block.axes, [*snapshot["cs_high_images"], *snapshot["cs_low_images"]]):
        np.testing.assert_array_equal(axis.get_images()[0].get_array(), image)


@pytest.mark.parametrize(
    ("high", "low", "equal"),
    [
        ([0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5], True),
        ([0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.4999], False),
        ([0.9, 0.8, 0.7, 0.6], [0.1, 0.2, 0.3, 0.4], False),
    ],
)
def test_the_all_cs_equal_note_appears_exactly_when_the_scores_are_equal(high, low, equal):
    snapshot = {
        **_snapshot(np.random.default_rng(5)),
        "cs_high_scores": np.array(high),
        "cs_low_scores": np.array(low),
    }
    assert all_scores_equal(snapshot) is equal
    titles = [t for t in _texts(sbcal_figure(snapshot, CLASSES)) if t.startswith("Pool images")]
    assert len(titles) == 1
    notes = [line for line in titles[0].splitlines() if "all CS values are equal" in line]
    assert notes == (
        ["all CS values are equal (0.500): which images are highest or lowest is arbitrary"] if equal else []
    )


def test_all_scores_equal_needs_two_scores():
    assert not all_scores_equal({"cs_high_scores": np.array([0.3])})
    assert not all_scores_equal({})
    assert all_scores_equal({"cs_high_scores": np.array([0.3]), "cs_low_scores": np.array([0.3])})


@pytest.mark.parametrize(
    ("channels", "expected", "label"),
    [
        (4, lambda d: d[:, 1:].max(axis=1), "max over RV, MYO, LV\n(background map left out)"),
        (3, lambda d: d.max(axis=1), "max over RV, MYO, LV"),
        (2, lambda d: d.max(axis=1), "max over all 2 maps"),
    ],
)
def test_the_sfp_panel_shows_the_foreground_maximum_of_c_or_f_channels(channels, expected, label):
    snapshot = _snapshot(np.random.default_rng(6), channels=channels)
    snapshot["distance"][:, 0] = 5.0  # a background map would dominate the maximum
    figure = sbcal_figure(snapshot, CLASSES)
    want = expected(snapshot["distance"].astype(np.float32))
    for r in range(3):
        np.testing.assert_array_equal(figure.axes[5 * r + 2].get_images()[0].get_array(), want[r])
    assert _colorbars(figure)[0].get_xlabel() == f"SFP distance: {label}"
    maps, described = foreground_distance(snapshot["distance"], 4, [])
    assert described.startswith("max over the foreground maps" if channels in (3, 4) else "max over all")


def test_sbcal_figure_without_distance_or_pool_images():
    snapshot = _snapshot(np.random.default_rng(7))
    for key in ("distance", "cs_high_images", "cs_high_scores", "cs_low_images", "cs_low_scores"):
        del snapshot[key]
    figure = sbcal_figure(snapshot, CLASSES)
    assert _colorbars(figure) == [] and len(figure.subfigs) == 1
    assert [t.get_text() for t in figure.axes[2].texts] == ["not saved"]
    assert not [t for t in _texts(figure) if t.startswith("Pool images")]


# -- learning curves ---------------------------------------------------------------------------
def _curve_results() -> pd.DataFrame:
    rows = []
    for seed in range(3):
        for r, budget in enumerate((0.1, 0.2, 0.3)):
            for strategy, offset in (("random", 0.0), ("sbc_al", 0.02 * r), ("margin", -0.01 * seed)):
                rows.append(
                    dict(strategy=strategy, seed=seed, round=r, budget=budget, dice=0.5 + 0.1 * r + offset)
                )
        for strategy in ("random", "sbc_al", "margin"):
            rows.append(dict(strategy=strategy, seed=seed, round=3, budget=1.0, dice=0.9))
    return pd.DataFrame(rows)


def test_learning_curves_share_the_palette_and_show_the_difference_to_random():
    from alstrategies.report.curves import learning_curve_figure
    from alstrategies.report.palette import strategy_color

    results = _curve_results()
    figure = learning_curve_figure(results, title="phantom")
    top, bottom = figure.axes[:2]
    assert top.get_title() == "phantom: 3 seeds"
    colours = {
        line.get_label(): line.get_color()
        for line in top.get_lines()
        if not line.get_label().startswith("100%")
    }
    assert colours == {name: strategy_color(name) for name in ("random", "sbc_al", "margin")}
    fewer = learning_curve_figure(results[results["strategy"] != "margin"])
    assert {line.get_label(): line.get_color() for line in fewer.axes[0].get_lines()}["sbc_al"] == colours[
        "sbc_al"
    ]
    lines = {line.get_color(): line for line in bottom.get_lines() if len(line.get_xdata()) == 3}
    sbc = lines[strategy_color("sbc_al")]
    np.testing.assert_allclose(sbc.get_ydata(), [0.0, 2.0, 4.0])  # percent points, paired by seed
    margin = lines[strategy_color("margin")]
    np.testing.assert_allclose(margin.get_ydata(), [-1.0, -1.0, -1.0])
    assert all(band.get_alpha() <= 0.1 for band in top.collections)  # thin bands, no mud


def test_learning_curves_without_random_have_one_panel_and_the_legend_clears_the_data():
    from alstrategies.report.curves import learning_curve_figure

    results = _curve_results()
    figure = learning_curve_figure(results[results["strategy"] != "random"])
    assert len(figure.axes) == 1 and figure.axes[0].get_title() == "3 seeds"
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    legend = figure.legends[0].get_window_extent(renderer)
    axes = figure.axes[0].get_window_extent(renderer)
    assert legend.x0 >= axes.x1 or legend.y1 <= axes.y0  # outside the axes that hold the data
