"""HD95 of a structure that the prediction misses or invents: the volume's diagonal, counted per
class in the records, results.csv and the HD95 table (DESIGN section 5); both absent stays NaN."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch

from alstrategies.engine.records import RunLayout, write_record, write_results
from alstrategies.evaluation import evaluate
from alstrategies.metrics import class_misses, hd95_with_misses, volume_diagonal, volume_metrics
from alstrategies.report import write_report
from alstrategies.types import Volume
from tests.test_evaluation import LabelEcho, slow_hd95, slow_mean

CPU = torch.device("cpu")
NUM_CLASSES = 4
CLASSES = ["RV", "MYO", "LV"]


def corner_diagonal(shape, spacing=None) -> float:
    """The longest distance between two of the 2^d corners of the volume's box (in mm with the
    spacing): its diagonal."""
    scale = [1.0] * len(shape) if spacing is None else list(spacing)
    corners = [
        [n * s * bit for n, s, bit in zip(shape, scale, bits)]
        for bits in itertools.product((0, 1), repeat=len(shape))
    ]
    return max(math.dist(p, q) for p in corners for q in corners)


def case() -> tuple[np.ndarray, np.ndarray]:
    """(prediction, label) of one 4 x 10 x 12 volume: class 1 found (one voxel off), class 2 in
    the label only (missed), class 3 in the prediction only (invented)."""
    label = np.zeros((4, 10, 12), np.uint8)
    label[1:3, 2:6, 2:7] = 1
    label[0:2, 7:9, 8:11] = 2
    prediction = np.zeros_like(label)
    prediction[1:3, 2:6, 3:8] = 1
    prediction[3, 0:2, 0:3] = 3
    return prediction, label


def test_the_diagonal_matches_the_corner_reference():
    for shape, spacing in [((4, 10, 12), None), ((4, 10, 12), (10.0, 1.5, 0.75)), ((7, 3), (2.0, 5.0))]:
        assert volume_diagonal(shape, spacing) == pytest.approx(corner_diagonal(shape, spacing), rel=1e-12)


def test_a_missed_or_invented_class_gets_the_diagonal_and_both_absent_stays_nan():
    prediction, label = case()
    spacing = (10.0, 1.5, 0.75)
    diagonal = corner_diagonal(label.shape, spacing)
    values = volume_metrics(prediction, label, NUM_CLASSES, spacing)["hd95"]
    want = [slow_hd95(prediction == c, label == c, spacing) for c in (1, 2, 3)]
    np.testing.assert_allclose(values, want, rtol=1e-9)
    assert values[1] == pytest.approx(diagonal) and values[2] == pytest.approx(diagonal)  # missed, invented
    assert 0 < values[0] < diagonal
    empty = np.zeros_like(label)
    assert math.isnan(hd95_with_misses(empty == 1, empty == 1, spacing))  # in neither: undefined
    assert hd95_with_misses(label == 2, empty == 1) == pytest.approx(corner_diagonal(label.shape))  # voxels
    assert class_misses(prediction, label, NUM_CLASSES).tolist() == [False, True, True]
    assert class_misses(label, label, NUM_CLASSES).tolist() == [False, False, False]


def test_evaluation_counts_the_misses_and_the_mean_includes_their_diagonal():
    """Fails before the diagonal: a missed class had a NaN HD95 that left the mean, uncounted."""
    prediction, label = case()
    spacing = (10.0, 1.5, 0.75)
    found = label.copy()  # a second volume where every class present is found
    found[found == 2] = 0
    volumes = [Volume("miss", prediction.astype(np.float32), label, spacing)]
    volumes.append(Volume("found", found.astype(np.float32), found, spacing))
    result = evaluate(LabelEcho(), volumes, NUM_CLASSES, CPU, amp=False)
    diagonal = corner_diagonal(label.shape, spacing)
    rows = [
        [slow_hd95(p == c, t == c, spacing) for c in (1, 2, 3)]
        for p, t in [(prediction, label), (found, found)]
    ]
    np.testing.assert_allclose(result.hd95_per_volume, rows, rtol=1e-9, equal_nan=True)
    assert result.hd95_per_volume[0, 1] == pytest.approx(diagonal)
    assert np.isnan(result.hd95_per_volume[1, 1:]).all()  # absent from both: undefined, left out
    assert result.hd95 == pytest.approx(slow_mean(rows), rel=1e-9)
    assert result.hd95 > np.nanmean(result.hd95_per_volume[:, 0])  # the misses raise the mean
    fields = result.record_fields()
    assert fields["hd95_misses_per_class"] == [0, 1, 1] and fields["hd95_unit"] == "mm"
    np.testing.assert_allclose(fields["hd95_per_class"], [np.mean([rows[0][0], 0.0]), diagonal, diagonal])


def _record(strategy: str | None, seed: int, round_index: int, result) -> dict:
    return {
        "strategy": strategy,
        "seed": seed,
        "round": round_index,
        "budget": 1.0 if strategy is None else 0.1 * (round_index + 1),
        "n_labeled": 10,
        "fraction": 0.1,
        "iterations": 3,
        **result.record_fields(),
    }


def test_miss_counts_and_the_unit_reach_results_csv_and_the_hd95_table(tmp_path):
    prediction, label = case()
    miss = Volume("miss", prediction.astype(np.float32), label, None)
    hit = Volume("hit", label.astype(np.float32), label, None)
    layout = RunLayout(tmp_path)
    expected = {}
    for seed in (0, 1):
        for r in (0, 1):
            volumes = [miss, hit] if (seed + r) % 2 == 0 else [hit, hit]
            result = evaluate(LabelEcho(), volumes, NUM_CLASSES, CPU, amp=False)
            write_record(layout.strategy_round("random", seed, r), _record("random", seed, r, result))
            expected[(seed, r)] = (
                [0, 1, 1] if any(v is miss for v in volumes) else [0, 0, 0]
            )  # MYO missed, LV invented
    frame = write_results(layout, CLASSES, include_full=False)
    for row in frame.itertuples():
        assert [getattr(row, f"hd95_misses_{c}") for c in CLASSES] == expected[(row.seed, row.round)]
    assert set(frame["hd95_unit"]) == {"voxels"}
    written = write_report(pd.read_csv(layout.results), tmp_path / "report", CLASSES)
    assert "hd95_table.md" in {p.name for p in written}
    markdown = (tmp_path / "report" / "hd95_table.md").read_text()
    assert markdown.startswith("# HD95 (voxels) on the test volumes")
    assert "## HD95 MYO (voxels)" in markdown and "## HD95 misses MYO (test volumes)" in markdown
    assert "slice spacing taken as 1" in markdown
    table = pd.read_csv(tmp_path / "report" / "hd95_table.csv")
    counts = table[table.metric == "hd95_misses_MYO"].set_index("budget")
    # per budget: the mean over the seeds of the count (round 0: seed 0 missed once, seed 1 not)
    assert counts.loc[0.1, "mean"] == pytest.approx(0.5) and counts.loc[0.2, "mean"] == pytest.approx(0.5)
    assert set(table.loc[table.metric == "hd95", "unit"]) == {"voxels"}
    assert set(counts["unit"]) == {"volumes"} and not counts["best"].any()
