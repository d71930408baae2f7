"""The metric registry: one declaration makes a metric flow through evaluation, results.csv and
the report; the default evaluation keeps exactly the record fields of before the registry."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from alstrategies.engine.records import BASE_COLUMNS, RunLayout, collect_results, write_record, write_results
from alstrategies.evaluation import EvaluationResult, evaluate
from alstrategies.metrics import (
    METRICS,
    Metric,
    dice_score,
    hausdorff_distance,
    register_metric,
    surface_dice,
    unregister_metric,
    volume_metrics,
)
from alstrategies.report import write_report
from alstrategies.types import Volume

NUM_CLASSES = 3
CLASSES = ["A", "B"]
SPACING = (2.0, 0.75, 0.5)


class LabelEcho(nn.Module):
    """A 'network' whose prediction is its input image rounded to class indices."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> SimpleNamespace:
        labels = x[:, 0].round().long().clamp(0, NUM_CLASSES - 1)
        return SimpleNamespace(logits=F.one_hot(labels, NUM_CLASSES).permute(0, 3, 1, 2).float())


def _volumes(seed: int = 0, n: int = 3) -> list[Volume]:
    """Volumes whose image is a corrupted copy of the label (the prediction LabelEcho returns)."""
    rng = np.random.default_rng(seed)
    volumes = []
    for k in range(n):
        label = np.zeros((4, 10, 12), np.uint8)
        label[1:3, 2:7, 3:9] = 1
        label[0:4, 6:9, 1:5] = 2
        prediction = label.copy()
        flip = rng.random(label.shape) < 0.15
        prediction[flip] = rng.integers(0, NUM_CLASSES, int(flip.sum()))
        if k == 1:
            prediction[prediction == 2] = 0  # class 2 missed: HD95 is the volume's diagonal
        volumes.append(Volume(f"v{k}", prediction.astype(np.float32), label, spacing=SPACING))
    return volumes


def _expected(volumes: list[Volume], function) -> np.ndarray:
    """volumes x classes of ``function(pred_mask, target_mask)``, by a plain loop."""
    return np.array(
        [[function(v.image.round() == c, v.label == c) for c in range(1, NUM_CLASSES)] for v in volumes]
    )


def _mean_then_mean(values: np.ndarray) -> float:
    """Per volume the mean over its defined classes, then the mean over volumes (a plain loop)."""
    means = []
    for row in values:
        defined = [x for x in row if not math.isnan(x)]
        if defined:
            means.append(sum(defined) / len(defined))
    return sum(means) / len(means) if means else float("nan")


def _voxel_ratio(pred_mask: np.ndarray, target_mask: np.ndarray, spacing, offset: float = 0.0) -> float:
    """A trivial metric: |pred| / |target| (+ offset); NaN without target voxels."""
    target = int(np.count_nonzero(target_mask))
    return float("nan") if target == 0 else np.count_nonzero(pred_mask) / target + offset


def _ref_ratio(a: np.ndarray, b: np.ndarray) -> float:
    return float(a.sum()) / float(b.sum())


@pytest.fixture
def voxel_ratio():
    """The trivial metric, registered for the test only."""
    metric = register_metric(
        Metric(
            name="voxel_ratio",
            function=_voxel_ratio,
            higher_is_better=False,
            scale=10.0,
            unit="x10",
            label="Voxel ratio",
            options={"offset": 0.0},
        )
    )
    yield metric
    unregister_metric("voxel_ratio")
    assert "voxel_ratio" not in METRICS


# -- evaluation ---------------------------------------------------------------------------------
def test_default_evaluation_keeps_todays_record_fields():
    volumes = _volumes()
    result = evaluate(LabelEcho(), volumes, NUM_CLASSES, torch.device("cpu"), batch_size=3)
    assert result.metrics == ("dice", "hd95")
    fields = result.record_fields()
    assert set(fields) == {
        "dice",
        "hd95",
        "dice_per_class",
        "hd95_per_class",
        "dice_per_volume",
        "hd95_misses_per_class",
        "hd95_unit",
    }
    dice = _expected(volumes, dice_score)
    diagonal = math.sqrt(sum((n * s) ** 2 for n, s in zip(volumes[1].label.shape, SPACING)))
    hd95 = _expected(
        volumes, lambda a, b: hausdorff_distance(a, b, 95, SPACING) if a.any() == b.any() else diagonal
    )
    assert hd95[1, 1] == diagonal  # a missed class counts as the volume's diagonal
    assert fields["hd95_misses_per_class"] == [0, 1] and fields["hd95_unit"] == "mm"
    np.testing.assert_array_equal(fields["dice_per_volume"], dice)
    np.testing.assert_array_equal(result.hd95_per_volume, hd95)
    assert fields["dice"] == result.dice == pytest.approx(_mean_then_mean(dice), abs=1e-12)
    assert fields["hd95"] == result.hd95 == pytest.approx(_mean_then_mean(hd95), abs=1e-12)
    np.testing.assert_allclose(fields["dice_per_class"], dice.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(fields["hd95_per_class"], [hd95[:, 0].mean(), hd95[:, 1].mean()], atol=1e-12)
    np.testing.assert_array_equal(result.dice_per_class, result.per_class("dice"))
    assert isinstance(fields["dice"], float) and isinstance(fields["dice_per_class"], np.ndarray)


def test_surface_dice_is_opt_in_and_lands_in_the_record_fields():
    volumes = _volumes(seed=1)
    result = evaluate(
        LabelEcho(),
        volumes,
        NUM_CLASSES,
        torch.device("cpu"),
        metrics=("dice", "hd95", "surface_dice"),
        metric_options={"surface_dice": {"tolerance": 1.0}},
    )
    fields = result.record_fields()
    assert set(fields) == {
        "dice",
        "hd95",
        "surface_dice",
        "dice_per_class",
        "hd95_per_class",
        "surface_dice_per_class",
        "dice_per_volume",
        "hd95_misses_per_class",
        "hd95_unit",
    }
    nsd = _expected(volumes, lambda a, b: surface_dice(a, b, SPACING, tolerance=1.0))
    np.testing.assert_array_equal(result.per_volume("surface_dice"), nsd)
    assert fields["surface_dice"] == pytest.approx(_mean_then_mean(nsd), abs=1e-12)
    np.testing.assert_allclose(fields["surface_dice_per_class"], nsd.mean(axis=0), atol=1e-12)
    assert 0.0 < fields["surface_dice"] < 1.0
    # the other metrics are unchanged by computing one more
    default = evaluate(LabelEcho(), volumes, NUM_CLASSES, torch.device("cpu"))
    np.testing.assert_array_equal(result.dice_per_volume, default.dice_per_volume)
    np.testing.assert_array_equal(result.hd95_per_volume, default.hd95_per_volume)
    # a wider tolerance counts more surface voxels
    wide = evaluate(
        LabelEcho(),
        volumes,
        NUM_CLASSES,
        torch.device("cpu"),
        metrics=("surface_dice",),
        metric_options={"surface_dice": {"tolerance": 3.0}},
    )
    assert wide.mean("surface_dice") > fields["surface_dice"]
    assert set(wide.record_fields()) == {"surface_dice", "surface_dice_per_class"}


def test_unknown_metric_or_option_fails_before_predicting():
    class Boom(LabelEcho):
        def forward(self, x):  # pragma: no cover - must not run
            raise AssertionError("predicted before validating the metric names")

    with pytest.raises(KeyError, match="unknown metric 'nsd'.*dice, hd95, surface_dice"):
        evaluate(Boom(), _volumes(), NUM_CLASSES, torch.device("cpu"), metrics=("dice", "nsd"))
    with pytest.raises(KeyError, match="unknown metric 'surface_dise'"):
        evaluate(Boom(), _volumes(), NUM_CLASSES, torch.device("cpu"), metric_options={"surface_dise": {}})
    with pytest.raises(KeyError, match="was not computed"):
        EvaluationResult({"dice": np.zeros((1, 2))}).per_volume("hd95")


# -- one declaration: evaluation, results.csv and the report ---------------------------------------
def _run_records(layout: RunLayout, volumes: list[Volume], metrics: tuple[str, ...]) -> None:
    """Two strategies x two seeds x two rounds, plus the 100 % rows, as the loop stores them."""
    for seed in (0, 1):
        for k, strategy in enumerate(("random", "margin")):
            for r in range(2):
                subset = volumes[: 1 + (seed + k + r) % len(volumes)]
                result = evaluate(LabelEcho(), subset, NUM_CLASSES, torch.device("cpu"), metrics=metrics)
                record = {
                    "strategy": strategy,
                    "seed": seed,
                    "round": r,
                    "budget": 0.1 * (r + 1),
                    "n_labeled": 10 * (r + 1),
                    "fraction": 0.1 * (r + 1),
                    "iterations": 7,
                    "train_seconds": 1.0,
                    "eval_seconds": 0.5,
                    "query_seconds": 0.25,
                    **result.record_fields(),
                }
                write_record(layout.strategy_round(strategy, seed, r), record)
        full = evaluate(LabelEcho(), volumes, NUM_CLASSES, torch.device("cpu"), metrics=metrics)
        full_record = {"seed": seed, "round": 9, "budget": 1.0, "n_labeled": 100, "fraction": 1.0}
        write_record(layout.shared(seed, "full"), {**full_record, "iterations": 9, **full.record_fields()})


def test_a_registered_metric_reaches_records_results_and_the_report(voxel_ratio, tmp_path):
    volumes = _volumes(seed=2)
    assert list(METRICS)[-1] == "voxel_ratio"
    # volume_metrics and evaluate(): computed with the declared default option, or a given one
    per_class = volume_metrics(
        volumes[0].image.round(), volumes[0].label, NUM_CLASSES, metrics=["voxel_ratio"]
    )
    np.testing.assert_allclose(per_class["voxel_ratio"], _expected(volumes[:1], _ref_ratio)[0])
    shifted = volume_metrics(
        volumes[0].image.round(),
        volumes[0].label,
        NUM_CLASSES,
        None,
        ["voxel_ratio"],
        {"voxel_ratio": {"offset": 1}},
    )
    np.testing.assert_allclose(shifted["voxel_ratio"], per_class["voxel_ratio"] + 1)
    metrics = ("dice", "hd95", "voxel_ratio")
    fields = evaluate(LabelEcho(), volumes, NUM_CLASSES, torch.device("cpu"), metrics=metrics).record_fields()
    assert {"voxel_ratio", "voxel_ratio_per_class"} <= set(fields)
    assert fields["voxel_ratio"] == pytest.approx(_mean_then_mean(_expected(volumes, _ref_ratio)))

    # results.csv: its mean after hd95, its per-class columns after hd95's
    layout = RunLayout(tmp_path / "run")
    _run_records(layout, volumes, metrics)
    frame = write_results(layout, CLASSES)
    columns = pd.read_csv(layout.results).columns.tolist()
    assert columns == [
        *BASE_COLUMNS[:-1],
        "voxel_ratio",
        "iterations",
        "dice_A",
        "dice_B",
        "hd95_A",
        "hd95_B",
        "voxel_ratio_A",
        "voxel_ratio_B",
        "hd95_misses_A",
        "hd95_misses_B",
        "hd95_unit",
    ]
    record = pd.read_json(layout.strategy_round("margin", 1, 1), typ="series")
    row = frame[(frame.strategy == "margin") & (frame.seed == 1) & (frame["round"] == 1)].iloc[0]
    assert row["voxel_ratio"] == pytest.approx(record["voxel_ratio"])
    assert [row["voxel_ratio_A"], row["voxel_ratio_B"]] == pytest.approx(record["voxel_ratio_per_class"])

    # the report: a voxel_ratio table in the metric's scale, lowest bold (higher_is_better False)
    written = write_report(frame, tmp_path / "report", CLASSES)
    names = {p.name for p in written}
    assert {"voxel_ratio_table.md", "voxel_ratio_table.tex", "voxel_ratio_table.csv"} <= names
    markdown = (tmp_path / "report" / "voxel_ratio_table.md").read_text()
    assert "## Voxel ratio A (x10)" in markdown and "lower is better" in markdown
    table = pd.read_csv(tmp_path / "report" / "voxel_ratio_table.csv")
    cells = table[table.metric == "voxel_ratio"]
    for (strategy, budget), cell in cells.groupby(["strategy", "budget"]):
        rows = frame[(frame.strategy == strategy) & np.isclose(frame.budget, budget)]
        assert cell["mean"].item() == pytest.approx(10 * rows.groupby("seed")["voxel_ratio"].mean().mean())
    for _budget, column in cells.groupby("budget"):
        best = column["mean"].round(2) == column["mean"].round(2).min()
        if best.all() and len(best) > 1:  # the whole column ties: nothing is bold
            best[:] = False
        assert column["best"].tolist() == best.tolist()


def test_old_records_keep_todays_columns_while_more_metrics_are_registered(voxel_ratio, tmp_path):
    layout = RunLayout(tmp_path)
    _run_records(layout, _volumes(), ("dice", "hd95"))
    columns = collect_results(layout, CLASSES).columns.tolist()
    assert columns[: len(BASE_COLUMNS)] == BASE_COLUMNS
    assert columns[len(BASE_COLUMNS) :] == [
        "dice_A",
        "dice_B",
        "hd95_A",
        "hd95_B",
        "hd95_misses_A",
        "hd95_misses_B",
        "hd95_unit",
        "train_seconds",
        "query_seconds",
        "eval_seconds",
    ]
    # a metric in some records only: a column, NaN where a record lacks it
    volumes = _volumes()
    result = evaluate(
        LabelEcho(), volumes, NUM_CLASSES, torch.device("cpu"), metrics=("dice", "hd95", "surface_dice")
    )
    path = layout.strategy_round("random", 0, 1)
    record = pd.read_json(path, typ="series").to_dict()
    write_record(path, {**record, **result.record_fields()})
    frame = collect_results(layout, CLASSES)  # the same cache: the changed record is read again
    assert frame.columns.tolist()[6:10] == ["dice", "hd95", "surface_dice", "iterations"]
    assert frame.columns.tolist()[-8:-6] == ["surface_dice_A", "surface_dice_B"]
    has = frame["surface_dice"].notna()
    assert has.sum() == 1 and frame.loc[has, "round"].item() == 1
    assert frame.loc[has, "surface_dice"].item() == pytest.approx(result.mean("surface_dice"))


# -- registry rules ---------------------------------------------------------------------------------
def _metric(name: str) -> Metric:
    return Metric(name=name, function=_voxel_ratio, higher_is_better=True)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("dice", "already registered"),
        ("dice_extra", "clashes with 'dice'"),
        ("surface", "clashes with 'surface_dice'"),
        ("iterations", "reserved"),
        ("foo_per_class", "reserved"),
    ],
)
def test_register_refuses_names_that_would_mix_columns(name, message):
    before = dict(METRICS)
    with pytest.raises(ValueError, match=message):
        register_metric(_metric(name))
    assert list(METRICS.items()) == list(before.items())


def test_metric_declaration_is_validated():
    with pytest.raises(ValueError, match="lower_snake_case"):
        _metric("Dice-2")
    with pytest.raises(ValueError, match="scale"):
        Metric(name="x", function=_voxel_ratio, higher_is_better=True, scale=0.0)
    with pytest.raises(ValueError, match="default metric"):
        unregister_metric("dice")
    assert METRICS["dice"].title_unit == " (%)" and METRICS["hd95"].title_unit == ""
