"""The label-reading controls on an imbalanced pool: ``empty_first`` (negative) and
``random_foreground_oracle`` with its default ``foreground_share = 1`` (positive)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from alstrategies.baselines.empty_first import EmptyFirstStrategy
from alstrategies.baselines.random_foreground import RandomForegroundOracleStrategy
from alstrategies.errors import ConfigError
from alstrategies.registry import STRATEGIES
from alstrategies.strategy import QueryContext
from alstrategies.types import ModelOutput

POOL, H, W = 40, 6, 6
#: The slices whose true label holds foreground (a minority: 12 of 40).
FOREGROUND = [1, 4, 5, 9, 13, 17, 22, 23, 30, 31, 36, 39]
LABELED = [0, 4, 9, 10, 25]


class Exploding(nn.Module):
    def forward(self, x: torch.Tensor) -> ModelOutput:
        raise AssertionError("a label-reading control must not run the model")


def make_context(labeled: list[int] = LABELED) -> QueryContext:
    labels = torch.zeros(POOL, H, W, dtype=torch.uint8)
    for i in FOREGROUND:
        labels[i, i % H, (2 * i) % W] = 1 + i % 3
    return QueryContext(
        model=Exploding(),
        pool_images=torch.rand(POOL, 1, H, W, generator=torch.Generator().manual_seed(0)),
        labeled=np.asarray(labeled),
        unlabeled=np.setdiff1d(np.arange(POOL), labeled),
        num_classes=4,
        batch_size=7,
        pool_labels=labels,
    )


def reference_empty(context: QueryContext) -> set[int]:
    """The unlabeled slices whose true label is 0 at every pixel, pixel by pixel."""
    labels = context.pool_labels.numpy()
    return {
        int(i)
        for i in context.unlabeled
        if all(labels[i, y, x] == 0 for y in range(labels.shape[1]) for x in range(labels.shape[2]))
    }


def test_empty_first_picks_only_empty_slices_while_any_remain() -> None:
    context = make_context()
    empty = reference_empty(context)
    assert len(empty) == 40 - 5 - 10  # 25 empty unlabeled slices
    for seed in range(60):
        for k in (1, 10, 25):
            chosen = set(EmptyFirstStrategy().query(context, k, np.random.default_rng(seed)).indices.tolist())
            assert len(chosen) == k and chosen <= empty, (seed, k)
        chosen = set(EmptyFirstStrategy().query(context, 30, np.random.default_rng(seed)).indices.tolist())
        assert empty <= chosen and len(chosen - empty) == 5 and not chosen & set(LABELED)


def test_empty_first_is_uniform_among_the_empty_slices_and_then_among_the_rest() -> None:
    context = make_context()
    empty = sorted(reference_empty(context))
    rest = sorted(set(context.unlabeled.tolist()) - set(empty))
    counts = np.zeros(POOL)
    extra = np.zeros(POOL)
    for seed in range(800):
        counts[EmptyFirstStrategy().query(context, 5, np.random.default_rng(seed)).indices] += 1
        extra[EmptyFirstStrategy().query(context, 27, np.random.default_rng(seed)).indices] += 1
    np.testing.assert_allclose(counts[empty] / 800, 5 / 25, atol=0.05)
    np.testing.assert_allclose(extra[rest] / 800, 2 / 10, atol=0.05)


def test_empty_first_is_deterministic_given_the_generator() -> None:
    context = make_context()
    a = EmptyFirstStrategy().query(context, 6, np.random.default_rng(9)).indices
    b = EmptyFirstStrategy().query(context, 6, np.random.default_rng(9)).indices
    c = EmptyFirstStrategy().query(context, 6, np.random.default_rng(10)).indices
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("strategy", [EmptyFirstStrategy, RandomForegroundOracleStrategy])
def test_the_label_reading_controls_need_pool_labels(strategy) -> None:
    context = make_context()
    context.pool_labels = None
    with pytest.raises(ConfigError, match="pool_labels"):
        strategy().query(context, 3, np.random.default_rng(0))


def test_the_positive_control_picks_only_true_foreground_slices_by_default() -> None:
    context = make_context()
    foreground = set(context.unlabeled.tolist()) - reference_empty(context)
    assert RandomForegroundOracleStrategy().foreground_share == 1.0
    for seed in range(60):
        for k in (1, 5, 10):
            chosen = RandomForegroundOracleStrategy().query(context, k, np.random.default_rng(seed)).indices
            assert set(chosen.tolist()) <= foreground, (seed, k)
        chosen = RandomForegroundOracleStrategy().query(context, 14, np.random.default_rng(seed)).indices
        assert foreground <= set(chosen.tolist())  # all 10, then 4 uniform from the rest


def test_nnactive_one_third_variant_keeps_its_quota() -> None:
    context = make_context()
    foreground = set(context.unlabeled.tolist()) - reference_empty(context)
    strategy = RandomForegroundOracleStrategy(foreground_share=1 / 3)
    for seed in range(30):
        chosen = strategy.query(context, 9, np.random.default_rng(seed)).indices
        assert len(set(chosen.tolist()) & foreground) >= 3


def test_registered_as_controls() -> None:
    assert STRATEGIES.get("empty_first") is EmptyFirstStrategy
    assert EmptyFirstStrategy.is_control() and EmptyFirstStrategy.forward_passes == "0"
    assert "negative control" in EmptyFirstStrategy.source
    assert "positive control" in RandomForegroundOracleStrategy.source
    assert "not a positive control" in STRATEGIES.get("oracle").source
