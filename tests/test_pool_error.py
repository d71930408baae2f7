"""The true per-slice error 1 - Dice of a round model on the pool, against a slow per-slice loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from alstrategies import errors
from alstrategies.pool_error import dice_errors, slice_errors
from alstrategies.types import ModelOutput

NUM_CLASSES = 4


class _Reads(nn.Module):
    """Predicts the class written in the image (pixel value = class index), through a Dropout and a
    BatchNorm that must stay in eval mode (in train mode they would change the output or the stats)."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(1)
        self.drop = nn.Dropout(0.9)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        self.norm(x)
        classes = x[:, 0].round().long().clamp(0, NUM_CLASSES - 1)
        logits = self.drop(nn.functional.one_hot(classes, NUM_CLASSES).permute(0, 3, 1, 2).float() * 5 + 1)
        return ModelOutput(logits=logits, coarse_logits=logits)


def _slow_error(prediction: np.ndarray, label: np.ndarray, num_classes: int) -> float:
    """1 - mean over the foreground classes present in either map of the 2D Dice, pixel loops."""
    dices = []
    for c in range(1, num_classes):
        overlap = predicted = true = 0
        for p, t in zip(prediction.ravel().tolist(), label.ravel().tolist(), strict=True):
            predicted += p == c
            true += t == c
            overlap += p == c and t == c
        if predicted + true:
            dices.append(2 * overlap / (predicted + true))
    return 1 - sum(dices) / len(dices) if dices else 0.0


def _pool(n: int = 24, shape: tuple[int, int] = (6, 9)) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(5)
    predictions = torch.randint(0, NUM_CLASSES, (n, *shape), generator=generator)
    labels = torch.randint(0, NUM_CLASSES, (n, *shape), generator=generator)
    predictions[0] = labels[0] = 0  # neither has foreground: error 0
    predictions[1] = labels[1]  # perfect: error 0
    predictions[2], labels[2] = 0, 2  # a missed structure: error 1
    predictions[3] = labels[3] = 0
    predictions[3, 2:4, 3:6], labels[3, 2:5, 3:6] = 3, 3  # one class, Dice 2*6/(6+9)
    labels[4] = torch.where(labels[4] == 1, 0, labels[4])  # class 1 only predicted: counts as Dice 0
    return predictions[:, None].float(), labels


@pytest.mark.parametrize("batch_size", [1, 5, 64])
def test_slice_errors_match_a_slow_per_slice_loop(batch_size):
    images, labels = _pool()
    model = _Reads().train()
    before = {key: value.clone() for key, value in model.state_dict().items()}
    indices = np.array([4, 0, 17, 1, 2, 3, 23, 9, 9, 12])  # any order, repeats allowed
    result = slice_errors(model, images, labels, indices, NUM_CLASSES, "cpu", batch_size=batch_size)
    reference = [_slow_error(images[i, 0].long().numpy(), labels[i].numpy(), NUM_CLASSES) for i in indices]
    assert result.dtype == np.float64 and result.shape == (indices.size,)
    np.testing.assert_allclose(result, reference, rtol=0, atol=1e-12)
    assert result[1] == 0 and result[3] == 0 and result[4] == 1
    assert result[5] == pytest.approx(1 - 12 / 15)
    assert model.training and model.norm.training and model.drop.training  # modes restored
    assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())


def test_dice_errors_on_whole_batches_match_the_slow_loop():
    generator = torch.Generator().manual_seed(9)
    predictions = torch.randint(0, 3, (30, 8, 8), generator=generator)
    labels = torch.randint(0, 3, (30, 8, 8), generator=generator) * (
        torch.rand(30, 1, 1, generator=generator) > 0.3
    )
    result = dice_errors(predictions, labels, 3).numpy()
    reference = [_slow_error(p.numpy(), t.numpy(), 3) for p, t in zip(predictions, labels, strict=True)]
    np.testing.assert_allclose(result, reference, rtol=0, atol=1e-12)


def test_slice_errors_reject_labels_that_do_not_match_the_pool():
    images, labels = _pool()
    model = _Reads()
    with pytest.raises(errors.ConfigError, match="pool labels must be"):
        slice_errors(model, images, labels[:, :5], np.arange(3), NUM_CLASSES, "cpu")
    with pytest.raises(errors.ConfigError, match="pool labels must be"):
        slice_errors(model, images, labels.float(), np.arange(3), NUM_CLASSES, "cpu")
    with pytest.raises(errors.ConfigError, match="pool indices"):
        slice_errors(model, images, labels, np.array([0, 24]), NUM_CLASSES, "cpu")
    assert slice_errors(model, images, labels, np.array([], dtype=np.int64), NUM_CLASSES, "cpu").shape == (0,)
