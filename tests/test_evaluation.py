"""evaluate(): 3D Dice and HD95 per volume and class against slow references written here.

A stub network predicts the label written into its input image (one-hot logits), so every
prediction is known exactly; the references count voxels and measure surface distances with
plain loops, with the voxel spacing applied.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from alstrategies.errors import DatasetError
from alstrategies.evaluation import evaluate
from alstrategies.types import ModelOutput, Volume

CPU = torch.device("cpu")
NUM_CLASSES = 4


class LabelEcho(nn.Module):
    """Predicts ``round(image)``: logits are 5 x the one-hot of the label stored in the image."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.calls: list[int] = []

    def forward(self, x: torch.Tensor) -> ModelOutput:
        self.calls.append(int(x.shape[0]))
        labels = x[:, 0].round().long().clamp(0, self.num_classes - 1)
        logits = 5.0 * F.one_hot(labels, self.num_classes).permute(0, 3, 1, 2).float()
        return ModelOutput(logits=logits, coarse_logits=logits)


# -- slow references --------------------------------------------------------------------------------
def slow_dice(prediction: np.ndarray, target: np.ndarray) -> float:
    """2 |P n T| / (|P| + |T|) by counting voxels; NaN when both are empty."""
    p = t = both = 0
    for a, b in zip(prediction.ravel().tolist(), target.ravel().tolist()):
        p += a
        t += b
        both += a and b
    return float("nan") if p + t == 0 else 2.0 * both / (p + t)


def slow_surface(mask: np.ndarray) -> list[tuple[int, ...]]:
    """Voxels of ``mask`` with a 6-neighbour outside the mask or outside the array."""
    points = []
    for index in itertools.product(*(range(n) for n in mask.shape)):
        if not mask[index]:
            continue
        for axis, step in itertools.product(range(mask.ndim), (-1, 1)):
            neighbour = list(index)
            neighbour[axis] += step
            if not 0 <= neighbour[axis] < mask.shape[axis] or not mask[tuple(neighbour)]:
                points.append(index)
                break
    return points


def slow_diagonal(shape, spacing=None) -> float:
    """Length of the volume's diagonal: the corner-to-corner distance of the box of its voxels."""
    scale = [1.0] * len(shape) if spacing is None else list(spacing)
    return float(np.sqrt(sum((n * s) ** 2 for n, s in zip(shape, scale))))


def slow_hd95(prediction: np.ndarray, target: np.ndarray, spacing=None) -> float:
    """95th percentile of the pooled surface-to-surface distances (both directions), in mm; the
    volume's diagonal for a structure in only one of the two masks, NaN for one in neither."""
    if not prediction.any() and not target.any():
        return float("nan")
    if not prediction.any() or not target.any():
        return slow_diagonal(prediction.shape, spacing)
    scale = np.ones(prediction.ndim) if spacing is None else np.asarray(spacing, dtype=float)
    a = np.asarray(slow_surface(prediction), dtype=float) * scale
    b = np.asarray(slow_surface(target), dtype=float) * scale
    distances = [min(float(np.sqrt(((q - other) ** 2).sum())) for q in b) for other in a]
    distances += [min(float(np.sqrt(((q - other) ** 2).sum())) for q in a) for other in b]
    return float(np.percentile(distances, 95))


def slow_metrics(prediction: np.ndarray, label: np.ndarray, spacing=None) -> tuple[list[float], list[float]]:
    """Per foreground class Dice and HD95 of one volume."""
    dice, hd95 = [], []
    for c in range(1, NUM_CLASSES):
        dice.append(slow_dice(prediction == c, label == c))
        hd95.append(slow_hd95(prediction == c, label == c, spacing))
    return dice, hd95


def slow_misses(prediction: np.ndarray, label: np.ndarray) -> list[bool]:
    """Per foreground class: present in exactly one of the prediction and the label."""
    return [bool((prediction == c).any()) != bool((label == c).any()) for c in range(1, NUM_CLASSES)]


def slow_mean(rows: list[list[float]]) -> float:
    """Mean over classes within each volume, then over volumes, NaN left out."""
    per_volume = [np.mean([v for v in row if v == v]) for row in rows if any(v == v for v in row)]
    return float(np.mean(per_volume)) if per_volume else float("nan")


# -- volumes ----------------------------------------------------------------------------------------
def random_case(rng: np.random.Generator, shape=(4, 12, 12)) -> tuple[np.ndarray, np.ndarray]:
    """A label volume of random boxes (classes 1-2, class 3 only sometimes) and a prediction that
    shifts, grows and speckles it."""
    d, h, w = shape
    label = np.zeros(shape, np.uint8)
    for c in (1, 2) + ((3,) if rng.random() < 0.5 else ()):
        z0, y0, x0 = rng.integers(0, d - 1), rng.integers(0, h - 4), rng.integers(0, w - 4)
        label[z0 : z0 + rng.integers(1, 3), y0 : y0 + rng.integers(2, 5), x0 : x0 + rng.integers(2, 5)] = c
    prediction = np.roll(label, int(rng.integers(-1, 2)), axis=int(rng.integers(0, 3)))
    noise = rng.random(shape) < 0.04
    prediction[noise] = rng.integers(0, NUM_CLASSES, int(noise.sum()))
    return prediction, label


def volume(name: str, prediction: np.ndarray, label: np.ndarray, spacing=None) -> Volume:
    return Volume(name, prediction.astype(np.float32), label, spacing)


# -- tests ------------------------------------------------------------------------------------------
def test_dice_and_hd95_match_the_slow_reference_with_spacing():
    rng = np.random.default_rng(0)
    spacings = [(5.0, 1.0, 2.0), (1.5, 0.7, 0.7), (1.0, 1.0, 1.0), (3.0, 1.25, 1.25)]
    cases = [random_case(rng) for _ in spacings]
    volumes = [volume(f"v{i}", p, t, s) for i, ((p, t), s) in enumerate(zip(cases, spacings))]
    result = evaluate(LabelEcho(), volumes, NUM_CLASSES, CPU, batch_size=3, amp=False)
    dice_rows, hd_rows = [], []
    for (prediction, label), spacing in zip(cases, spacings):
        dice, hd95 = slow_metrics(prediction, label, spacing)
        dice_rows.append(dice)
        hd_rows.append(hd95)
    assert np.isfinite(np.asarray(hd_rows)).sum() >= 6  # most entries are real distances
    misses = [slow_misses(prediction, label) for prediction, label in cases]
    assert any(map(any, misses)), "no case misses or invents a class: the diagonal is untested"
    np.testing.assert_array_equal(result.misses, misses)
    assert result.record_fields()["hd95_misses_per_class"] == np.sum(misses, axis=0).tolist()
    assert result.record_fields()["hd95_unit"] == "mm"
    np.testing.assert_allclose(result.dice_per_volume, dice_rows, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(result.hd95_per_volume, hd_rows, rtol=1e-9, equal_nan=True)
    assert result.dice == pytest.approx(slow_mean(dice_rows), rel=1e-12)
    assert result.hd95 == pytest.approx(slow_mean(hd_rows), rel=1e-9)
    per_class_dice = [np.nanmean(column) for column in np.asarray(dice_rows).T]
    np.testing.assert_allclose(result.dice_per_class, per_class_dice, rtol=1e-12)
    hd = np.asarray(hd_rows)
    per_class_hd = [np.nanmean(col) if np.isfinite(col).any() else np.nan for col in hd.T]
    np.testing.assert_allclose(result.hd95_per_class, per_class_hd, rtol=1e-9, equal_nan=True)


def test_perfect_prediction_and_absent_classes():
    label = np.zeros((3, 10, 10), np.uint8)
    label[1, 2:6, 3:8] = 1
    label[0:2, 7:9, 1:4] = 2  # class 3 is absent from the volume and the prediction
    result = evaluate(LabelEcho(), [volume("v", label, label, (2.0, 1.0, 1.0))], NUM_CLASSES, CPU, amp=False)
    np.testing.assert_array_equal(result.dice_per_volume, [[1.0, 1.0, np.nan]])
    np.testing.assert_array_equal(result.hd95_per_volume, [[0.0, 0.0, np.nan]])
    assert result.dice == 1.0 and result.hd95 == 0.0


def test_anisotropic_spacing_scales_hd95_by_the_voxel_size_of_each_axis():
    """Single-voxel masks one or two voxels apart along one axis: HD95 is that many voxels times
    the spacing of that axis."""
    label = np.zeros((4, 8, 8), np.uint8)
    prediction = np.zeros_like(label)
    label[1, 2, 3], prediction[1, 2, 5] = 1, 1  # two voxels along x
    label[0, 5, 5], prediction[2, 5, 5] = 2, 2  # two along z
    label[3, 6, 1], prediction[3, 7, 1] = 3, 3  # one along y
    spacing = (10.0, 1.0, 3.0)
    anisotropic = evaluate(
        LabelEcho(), [volume("a", prediction, label, spacing)], NUM_CLASSES, CPU, amp=False
    )
    np.testing.assert_allclose(anisotropic.hd95_per_volume, [[6.0, 20.0, 1.0]])
    np.testing.assert_allclose(anisotropic.dice_per_volume, [[0.0, 0.0, 0.0]])
    unit = evaluate(LabelEcho(), [volume("u", prediction, label)], NUM_CLASSES, CPU, amp=False)
    np.testing.assert_allclose(unit.hd95_per_volume, [[2.0, 2.0, 1.0]])
    assert anisotropic.hd95 == pytest.approx(9.0) and unit.hd95 == pytest.approx(5.0 / 3.0)


def test_isotropic_spacing_multiplies_every_distance():
    rng = np.random.default_rng(3)
    prediction, label = random_case(rng, (5, 10, 10))
    one = evaluate(LabelEcho(), [volume("a", prediction, label, (1.0, 1.0, 1.0))], NUM_CLASSES, CPU)
    many = evaluate(LabelEcho(), [volume("b", prediction, label, (2.5, 2.5, 2.5))], NUM_CLASSES, CPU)
    assert np.isfinite(one.hd95_per_volume).any() and np.nanmax(one.hd95_per_volume) > 0
    np.testing.assert_allclose(many.hd95_per_volume, 2.5 * one.hd95_per_volume, rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(many.dice_per_volume, one.dice_per_volume)


def slow_upsample(small: np.ndarray, size: tuple[int, int], num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Per output pixel, the class with the largest bilinear weight of the one-hot ``small`` slices,
    corners aligned: output pixel ``i`` of ``n`` samples input coordinate ``i (m - 1) / (n - 1)``
    (the first and last pixel centres coincide, as in ``scipy.ndimage.zoom(grid_mode=False)``)."""
    depth, h, w = small.shape
    out = np.zeros((depth, *size), np.uint8)
    for z, y, x in itertools.product(range(depth), range(size[0]), range(size[1])):
        sy, sx = y * (h - 1) / (size[0] - 1), x * (w - 1) / (size[1] - 1)
        y0, x0 = min(int(sy), h - 2), min(int(sx), w - 2)
        fy, fx = sy - y0, sx - x0
        weight = [0.0] * num_classes
        for dy, dx in itertools.product((0, 1), (0, 1)):
            weight[small[z, y0 + dy, x0 + dx]] += (fy if dy else 1 - fy) * (fx if dx else 1 - fx)
        out[z, y, x] = max(range(num_classes), key=lambda c: (weight[c], -c))
    return out


def test_labels_at_another_resolution_are_compared_with_the_upsampled_prediction():
    """Labels kept at about twice the working size (6 x 7 -> 12 x 13): the prediction is upsampled
    bilinearly with aligned corners, the convention of the loaders' zoom (never a fraction of
    exactly one half here, so no ties)."""
    rng = np.random.default_rng(5)
    small, _ = random_case(rng, (3, 6, 7))
    upsampled = slow_upsample(small, (12, 13))
    assert not np.array_equal(upsampled, np.repeat(np.repeat(small, 2, axis=1), 2, axis=2)[:, :, :13])
    label = upsampled.copy()
    label[:, 0:3, 0:3] = 1  # some disagreement
    spacing = (4.0, 0.5, 0.5)
    result = evaluate(LabelEcho(), [Volume("v", small.astype(np.float32), label, spacing)], NUM_CLASSES, CPU)
    dice, hd95 = slow_metrics(upsampled, label, spacing)
    np.testing.assert_allclose(result.dice_per_volume, [dice], rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(result.hd95_per_volume, [hd95], rtol=1e-9, equal_nan=True)


def test_volumes_must_agree_on_having_a_spacing():
    rng = np.random.default_rng(9)
    a, b = random_case(rng), random_case(rng)
    volumes = [volume("with", *a, (2.0, 1.0, 1.0)), volume("without", *b)]
    with pytest.raises(DatasetError, match="without"):
        evaluate(LabelEcho(), volumes, NUM_CLASSES, CPU)
    assert evaluate(LabelEcho(), volumes[1:], NUM_CLASSES, CPU).record_fields()["hd95_unit"] == "voxels"
    assert evaluate(LabelEcho(), volumes[:1], NUM_CLASSES, CPU).record_fields()["hd95_unit"] == "mm"
    dice_only = evaluate(LabelEcho(), volumes[:1], NUM_CLASSES, CPU, metrics=("dice",)).record_fields()
    assert "hd95_unit" not in dice_only and "hd95_misses_per_class" not in dice_only
    assert evaluate(LabelEcho(), volumes, NUM_CLASSES, CPU, metrics=("dice",)).dice > 0  # no HD95: no unit


def test_batches_restack_in_order_and_the_mode_is_restored():
    rng = np.random.default_rng(7)
    prediction, label = random_case(rng, (7, 8, 8))
    model = LabelEcho()
    model.train()
    by_one = evaluate(model, [volume("v", prediction, label)], NUM_CLASSES, CPU, batch_size=1)
    assert model.training and model.calls == [1] * 7
    whole = evaluate(model, [volume("v", prediction, label)], NUM_CLASSES, CPU, batch_size=64)
    np.testing.assert_array_equal(by_one.dice_per_volume, whole.dice_per_volume)
    expected, _ = slow_metrics(prediction, label)
    np.testing.assert_allclose(by_one.dice_per_volume, [expected], equal_nan=True)


def test_class_argmax_is_argmax_over_the_channels_with_ties_to_the_first():
    from alstrategies.evaluation import class_argmax

    generator = torch.Generator().manual_seed(0)
    logits = torch.randint(0, 3, (3, 4, 17, 9), generator=generator).float()  # many ties
    assert torch.equal(class_argmax(logits), logits.argmax(dim=1))
    smooth = torch.randn(2, 5, 8, 6, 3, generator=generator)
    assert torch.equal(class_argmax(smooth), smooth.argmax(dim=1))


def test_the_mean_is_over_volumes_of_the_class_mean_when_a_class_is_absent_from_a_volume():
    """Class 3 is in neither the prediction nor the label of volume a (NaN there): the mean of
    each volume's class mean differs from the mean of the per-class means."""
    a_label = np.zeros((2, 8, 8), np.uint8)
    a_label[:, :4, :4], a_label[:, 4:, 4:] = 1, 2
    a_pred = a_label.copy()
    a_pred[:, :2, :4] = 0  # class 1 half missed, class 2 exact
    b_label = np.zeros((2, 8, 8), np.uint8)
    b_label[:, :4, :], b_label[:, 4:, :4], b_label[:, 4:, 4:] = 1, 2, 3
    b_pred = b_label.copy()
    b_pred[:, 4:, 4:6] = 0  # class 3 half missed
    b_pred[:, 4:, :2] = 1  # class 2 half taken by class 1
    cases = [(a_pred, a_label), (b_pred, b_label)]
    result = evaluate(
        LabelEcho(), [volume(f"v{i}", p, t) for i, (p, t) in enumerate(cases)], NUM_CLASSES, CPU
    )
    rows = [slow_metrics(p, t)[0] for p, t in cases]
    assert np.isnan(rows[0][2]) and not np.isnan(rows[1][2])
    per_class = [np.nanmean([row[c] for row in rows]) for c in range(3)]
    assert abs(slow_mean(rows) - float(np.mean(per_class))) > 0.01  # the two means really differ
    assert result.dice == pytest.approx(slow_mean(rows), abs=1e-12)
    assert result.record_fields()["dice"] == pytest.approx(slow_mean(rows), abs=1e-12)
    assert np.allclose(result.per_class("dice"), per_class, atol=1e-12)
