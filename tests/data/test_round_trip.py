"""The resampling round trip: slices zoomed to the working size by the loaders, predictions sent
back to the original size by evaluation, one corner convention both ways (DESIGN section 5).

A perfect network predicts the working-size label that the loaders' own zoom makes of the
original label (nearest, as for the pool labels); evaluation must bring it back to the original
size so that Dice stays >= 0.995 for off-centre structures, whether the original is larger
(512 -> 256 -> 512) or smaller (216 -> 256 -> 216) than the working size.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alstrategies.data.volumes import zoom_slices
from alstrategies.evaluation import evaluate, predict_volume
from alstrategies.types import Volume
from tests.test_evaluation import LabelEcho, slow_dice

CPU = torch.device("cpu")
WORKING_SIZE = 256
NUM_CLASSES = 3


def off_centre_label(size: int, depth: int = 3) -> np.ndarray:
    """Two ellipses, one towards each of two opposite corners (where a corner-convention mismatch
    shifts most), a little different on each slice; semi-axes about a fifth of the image."""
    yy, xx = np.mgrid[:size, :size].astype(float)
    label = np.zeros((depth, size, size), np.uint8)
    for z in range(depth):
        grow = 1 - 0.06 * z
        r = 0.2 * size
        label[z][((yy - 0.27 * size) / (r * grow)) ** 2 + ((xx - 0.72 * size) / (1.1 * r)) ** 2 < 1] = 1
        label[z][((yy - 0.74 * size) / (0.9 * r)) ** 2 + ((xx - 0.27 * size) / (r * grow)) ** 2 < 1] = 2
    return label


def perfect_volume(size: int) -> Volume:
    """The label at ``size``; as the image, the loaders' zoom of it to the working size (LabelEcho
    predicts the class written in its input), as a perfect network trained on the pool would."""
    label = off_centre_label(size)
    working = zoom_slices(label, WORKING_SIZE, 0)
    assert working.shape == (label.shape[0], WORKING_SIZE, WORKING_SIZE)
    return Volume(f"perfect{size}", working.astype(np.float32), label, None)


@pytest.mark.parametrize("size", [512, 216])
def test_a_perfect_prediction_survives_the_round_trip(size):
    volume = perfect_volume(size)
    prediction = predict_volume(LabelEcho(NUM_CLASSES), volume, CPU, amp=False)
    assert prediction.shape == volume.label.shape
    dice = [slow_dice(prediction == c, volume.label == c) for c in range(1, NUM_CLASSES)]
    assert np.mean(dice) >= 0.995, dice
    assert min(dice) >= 0.995, dice
    result = evaluate(LabelEcho(NUM_CLASSES), [volume], NUM_CLASSES, CPU, amp=False)
    np.testing.assert_allclose(result.dice_per_volume, [dice], rtol=1e-12)
    assert result.dice >= 0.995
    assert result.misses_per_class() == [0, 0] and result.hd95 <= 2.0  # pixels


@pytest.mark.parametrize("size", [16, 20, 48, 64, 256])
@pytest.mark.parametrize("original", [32, 100, 216, 512])
def test_zooming_never_zeroes_the_edge_of_a_slice(original, size):
    """scipy's zoom with corners aligned and mode "constant" returned 0 on the last row for
    some factors (32 -> 16): a constant slice must stay constant, image and label alike."""
    ones = np.ones((2, original, original), dtype=np.float32)
    assert (zoom_slices(ones, size, order=1) == 1).all()
    assert (zoom_slices(ones.astype(np.uint8) * 3, size, order=0) == 3).all()
