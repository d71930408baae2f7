"""The controls (DESIGN section 5): the oracle and confident, against slow references."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from alstrategies import errors
from alstrategies.baselines.confident import ConfidentStrategy
from alstrategies.baselines.oracle import OracleStrategy
from alstrategies.baselines.uncertainty import MaxEntropyStrategy
from alstrategies.registry import STRATEGIES
from alstrategies.strategy import QueryContext, is_control
from alstrategies.types import ModelOutput

NUM_CLASSES = 3


class _Pixelwise(nn.Module):
    """A seeded 1x1 convolution from the image to 3 class logits, with a BatchNorm to keep in place."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(1)
        self.conv = nn.Conv2d(1, NUM_CLASSES, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=generator) * 4)
            self.conv.bias.copy_(torch.randn(NUM_CLASSES, generator=generator))
        self.norm = nn.BatchNorm2d(1)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        self.norm(x)  # would move its running statistics in train mode
        logits = self.conv(x)
        return ModelOutput(logits=logits, coarse_logits=logits)


def _pool(n: int = 16, shape: tuple[int, int] = (5, 7)) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    images = torch.rand(n, 1, *shape, generator=generator)
    labels = torch.randint(0, NUM_CLASSES, (n, *shape), generator=generator)
    return images, labels


def _context(model: nn.Module, labels: torch.Tensor | None, batch_size: int = 4) -> QueryContext:
    images, _ = _pool()
    labeled = np.array([0, 3, 8])
    return QueryContext(
        model=model,
        pool_images=images,
        labeled=labeled,
        unlabeled=np.setdiff1d(np.arange(images.shape[0]), labeled),
        num_classes=NUM_CLASSES,
        batch_size=batch_size,
        pool_labels=labels,
    )


def _slow_pixel_logits(model: _Pixelwise, image: np.ndarray) -> list[list[list[float]]]:
    """logits[y][x][c] = w_c * value + b_c, pixel by pixel in float64."""
    w = model.conv.weight.detach().double().reshape(-1).tolist()
    b = model.conv.bias.detach().double().tolist()
    return [[[w[c] * float(v) + b[c] for c in range(NUM_CLASSES)] for v in row] for row in image]


def _slow_cross_entropy(model: _Pixelwise, image: np.ndarray, label: np.ndarray) -> float:
    total, count = 0.0, 0
    for logits_row, label_row in zip(_slow_pixel_logits(model, image), label, strict=True):
        for logits, true in zip(logits_row, label_row, strict=True):
            log_z = math.log(sum(math.exp(value) for value in logits))
            total += log_z - logits[int(true)]
            count += 1
    return total / count


def _slow_entropy(model: _Pixelwise, image: np.ndarray) -> float:
    total, count = 0.0, 0
    for logits_row in _slow_pixel_logits(model, image):
        for logits in logits_row:
            z = sum(math.exp(value) for value in logits)
            total -= sum(math.exp(v) / z * math.log(math.exp(v) / z) for v in logits)
            count += 1
    return total / count


def _top(unlabeled: np.ndarray, values: list[float], k: int) -> set[int]:
    ordered = sorted(zip(values, unlabeled.tolist(), strict=True), reverse=True)
    assert ordered[k - 1][0] > ordered[k][0] + 1e-6  # a clear top k
    return {c for _, c in ordered[:k]}


@pytest.mark.parametrize("batch_size", [1, 4, 64])
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8])
def test_oracle_queries_the_highest_cross_entropy_against_the_true_labels(batch_size, dtype):
    model = _Pixelwise().train()
    images, labels = _pool()
    context = _context(model, labels.to(dtype), batch_size)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    result = OracleStrategy().query(context, 5, np.random.default_rng(0))
    reference = [
        _slow_cross_entropy(model, images[i, 0].numpy(), labels[i].numpy()) for i in context.unlabeled
    ]
    np.testing.assert_allclose(result.scores, reference, rtol=1e-5, atol=1e-6)
    assert set(result.indices.tolist()) == _top(context.unlabeled, reference, 5)
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_oracle_reads_the_labels_so_other_labels_change_its_choice():
    model = _Pixelwise()
    _, labels = _pool()
    first = OracleStrategy().query(_context(model, labels), 4, np.random.default_rng(0))
    flipped = OracleStrategy().query(_context(model, (labels + 1) % NUM_CLASSES), 4, np.random.default_rng(0))
    assert not np.allclose(first.scores, flipped.scores)


def test_oracle_without_pool_labels_raises_a_clear_error():
    with pytest.raises(errors.ConfigError, match="pool_labels is None"):
        OracleStrategy().query(_context(_Pixelwise(), None), 2, np.random.default_rng(0))
    _, labels = _pool()
    with pytest.raises(errors.ConfigError, match=r"shape \(16, 5, 7\)"):
        OracleStrategy().query(_context(_Pixelwise(), labels[:, :4]), 2, np.random.default_rng(0))
    with pytest.raises(errors.ConfigError, match="integer class indices"):
        OracleStrategy().query(_context(_Pixelwise(), labels.float()), 2, np.random.default_rng(0))
    with pytest.raises(errors.DatasetError, match=r"outside 0\.\.2"):
        OracleStrategy().query(_context(_Pixelwise(), labels + 1), 2, np.random.default_rng(0))


@pytest.mark.parametrize("batch_size", [1, 64])
def test_confident_queries_the_lowest_mean_entropy(batch_size):
    model = _Pixelwise()
    images, _ = _pool()
    context = _context(model, None, batch_size)
    result = ConfidentStrategy().query(context, 5, np.random.default_rng(0))
    entropies = [_slow_entropy(model, images[i, 0].numpy()) for i in context.unlabeled]
    np.testing.assert_allclose(result.scores, [-h for h in entropies], rtol=1e-5, atol=1e-6)
    assert set(result.indices.tolist()) == _top(context.unlabeled, [-h for h in entropies], 5)
    # the opposite end of max_entropy's ranking
    most = MaxEntropyStrategy().query(
        _context(model, None), context.unlabeled.size - 5, np.random.default_rng(0)
    )
    assert set(result.indices.tolist()) == set(context.unlabeled.tolist()) - set(most.indices.tolist())


def test_controls_are_registered_as_controls_and_nothing_else_is():
    controls = {name for name in STRATEGIES.names() if is_control(STRATEGIES.get(name))}
    assert controls == {"oracle", "confident", "random_foreground_oracle", "empty_first"}
    assert STRATEGIES.get("oracle") is OracleStrategy and STRATEGIES.get("confident") is ConfidentStrategy
    assert {"random", "max_entropy", "least_confidence", "margin", "mean_std", "vaal", "sbc_al"} <= (
        set(STRATEGIES.names()) - controls
    )


@pytest.mark.parametrize("name", ["oracle", "confident"])
def test_alstrategies_check_passes_on_the_controls(name):
    out = subprocess.run(
        [sys.executable, "-m", "alstrategies", "check", name, "--heads", "plain"],
        capture_output=True,
        text=True,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    from alstrategies.conformance import CHECKS

    assert f"{name}: {len(CHECKS)} passed, 0 failed, 0 skipped" in out.stdout, out.stdout
