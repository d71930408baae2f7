"""Foreground-aware Random: the share from (predicted or true) foreground slices, fallback, seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from alstrategies.baselines.random_foreground import (
    RandomForegroundOracleStrategy,
    RandomForegroundStrategy,
    foreground_quota,
)
from alstrategies.errors import ConfigError
from alstrategies.strategy import QueryContext
from alstrategies.types import ModelOutput

POOL, H, W = 60, 8, 8


class ThresholdModel(nn.Module):
    """Predicts class 1 where a pixel exceeds 0.5, background elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> ModelOutput:
        self.calls += 1
        logits = torch.cat([torch.full_like(x, 0.5), x], dim=1)
        return ModelOutput(logits=logits, coarse_logits=logits)


class Exploding(nn.Module):
    def forward(self, x: torch.Tensor) -> ModelOutput:
        raise AssertionError("the oracle variant must not run the model")


def make_context(
    predicted: list[int], true: list[int] | None = None, model: nn.Module | None = None
) -> QueryContext:
    """A pool where slices ``predicted`` get one bright pixel (predicted foreground) and slices
    ``true`` carry a true foreground label; labeled = the first 10 slices."""
    images = torch.zeros(POOL, 1, H, W)
    images[predicted, 0, 3, 4] = 1.0
    labels = torch.zeros(POOL, H, W, dtype=torch.long)
    if true is not None:
        labels[true, 5, 5] = 2
    labeled = np.arange(10)
    return QueryContext(
        model=model or ThresholdModel(),
        pool_images=images,
        labeled=labeled,
        unlabeled=np.arange(10, POOL),
        num_classes=3,
        batch_size=16,
        pool_labels=labels,
    )


def count_from(indices: np.ndarray, group: list[int]) -> int:
    return int(np.isin(indices, group).sum())


def test_quota() -> None:
    assert [foreground_quota(k, 0.5) for k in (1, 2, 3, 4, 5)] == [1, 1, 2, 2, 3]
    assert foreground_quota(7, 0.0) == 0 and foreground_quota(7, 1.0) == 7


def test_the_share_comes_from_predicted_foreground_and_the_rest_is_uniform() -> None:
    foreground = list(range(10, 30))  # 20 of the 50 unlabeled slices
    context = make_context(foreground, true=list(range(40, 60)))  # true labels are ignored
    background_hits, rest_hits = 0, 0
    for seed in range(300):
        chosen = RandomForegroundStrategy().query(context, 10, np.random.default_rng(seed)).indices
        assert count_from(chosen, foreground) >= 5  # the quota
        # the other 5: uniform over the 45 remaining slices, 15 of which are foreground
        background_hits += 10 - count_from(chosen, foreground)
        rest_hits += 5
    # expected share of background in the uniform part: 30 / 45
    assert background_hits / rest_hits == pytest.approx(30 / 45, abs=0.04)


def test_every_foreground_slice_is_equally_likely() -> None:
    foreground = list(range(10, 20))
    context = make_context(foreground)
    counts = np.zeros(POOL)
    strategy = RandomForegroundStrategy(foreground_share=1.0)
    for seed in range(400):
        chosen = strategy.query(context, 3, np.random.default_rng(seed)).indices
        assert count_from(chosen, foreground) == 3
        counts[chosen] += 1
    frequencies = counts[foreground] / 400
    np.testing.assert_allclose(frequencies, 0.3, atol=0.08)


def test_too_few_foreground_slices_take_them_all_and_fill_uniformly() -> None:
    context = make_context([12, 40])
    for seed in range(20):
        chosen = (
            RandomForegroundStrategy(foreground_share=0.8)
            .query(context, 10, np.random.default_rng(seed))
            .indices
        )
        assert {12, 40} <= set(chosen.tolist()) and len(set(chosen.tolist())) == 10


def test_no_predicted_foreground_is_plain_random() -> None:
    context = make_context([])
    seen = np.zeros(POOL)
    strategy = RandomForegroundStrategy()
    strategy.has_foreground = lambda ctx: np.zeros(ctx.unlabeled.size, dtype=bool)  # no model runs
    assert not RandomForegroundStrategy().has_foreground(context).any()
    for seed in range(1000):
        seen[strategy.query(context, 5, np.random.default_rng(seed)).indices] += 1
    assert seen[:10].sum() == 0  # labeled never
    np.testing.assert_allclose(seen[10:] / 1000, 5 / 50, atol=0.04)  # binomial std 0.0095


def test_deterministic_given_the_generator_and_one_pass() -> None:
    context = make_context(list(range(10, 25)))
    strategy = RandomForegroundStrategy()
    a = strategy.query(context, 7, np.random.default_rng(11)).indices
    calls = context.model.calls
    b = strategy.query(context, 7, np.random.default_rng(11)).indices
    assert np.array_equal(a, b)
    assert context.model.calls - calls == 4  # one pass: 50 unlabeled slices in batches of 16
    c = strategy.query(context, 7, np.random.default_rng(12)).indices
    assert not np.array_equal(a, c)


def test_the_oracle_reads_the_true_labels_and_never_the_model() -> None:
    true = list(range(40, 50))
    context = make_context(list(range(10, 30)), true=true, model=Exploding())
    for seed in range(50):
        chosen = RandomForegroundOracleStrategy().query(context, 6, np.random.default_rng(seed)).indices
        assert count_from(chosen, true) >= 3


def test_the_oracle_needs_pool_labels() -> None:
    context = make_context([])
    context.pool_labels = None
    with pytest.raises(ConfigError, match="pool_labels"):
        RandomForegroundOracleStrategy().query(context, 3, np.random.default_rng(0))


def test_metadata_and_options() -> None:
    assert RandomForegroundStrategy.family == "random" and not RandomForegroundStrategy.is_control()
    assert RandomForegroundOracleStrategy.family == "control" and RandomForegroundOracleStrategy.is_control()
    assert (
        "nnActive" in RandomForegroundStrategy.source and "nnActive" in RandomForegroundOracleStrategy.source
    )
    assert (
        RandomForegroundStrategy.forward_passes == "1"
        and RandomForegroundOracleStrategy.forward_passes == "0"
    )
    with pytest.raises(ValueError, match="foreground_share"):
        RandomForegroundStrategy(foreground_share=1.5)
