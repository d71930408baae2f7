"""The strategy base classes: reduction, top-k, contract checks and model-mode hygiene."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from alstrategies.config import load_config, strategy_options
from alstrategies.models import build_model
from alstrategies.strategy import (
    QueryContext,
    QueryResult,
    QueryStrategy,
    ScoreStrategy,
    reduce_pixels,
    top_k,
)
from alstrategies.types import ModelOutput


class _Brightness(ScoreStrategy):
    name = "brightness"

    def compute_score(self, output: ModelOutput) -> torch.Tensor:
        return output.logits[:, 0]  # B x H x W pixel map


class _Identity(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm2d(1)

    def forward(self, x):
        return ModelOutput(logits=x, coarse_logits=x)


def _context(model, n=10, labeled=(0, 1)):
    images = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 4, 4).clone()
    unlabeled = np.setdiff1d(np.arange(n), labeled)
    return QueryContext(
        model=model,
        pool_images=images,
        labeled=np.array(labeled),
        unlabeled=unlabeled,
        num_classes=2,
        batch_size=3,
    )


def test_reductions_against_explicit_values():
    maps = torch.tensor([[[1.0, 2.0], [3.0, 6.0]]])
    assert reduce_pixels(maps, "mean").item() == 3.0
    assert reduce_pixels(maps, "sum").item() == 12.0
    assert reduce_pixels(maps, "max").item() == 6.0
    assert reduce_pixels(maps, lambda m: m.flatten(1).min(1).values).item() == 1.0
    with pytest.raises(ValueError, match="unknown reduction"):
        reduce_pixels(maps, "median")


def test_top_k_prefers_high_scores_and_earlier_ties():
    candidates = np.array([5, 6, 7, 8])
    assert top_k(candidates, np.array([0.1, 0.9, 0.9, 0.5]), 3).tolist() == [6, 7, 8]


def test_score_strategy_streams_the_unlabeled_pool_in_order():
    result = _Brightness().query(_context(_Identity()), 3, np.random.default_rng(0))
    assert result.indices.tolist() == [9, 8, 7]
    assert result.candidates.tolist() == list(range(2, 10))
    assert result.scores.tolist() == [float(i) for i in range(2, 10)]


def test_query_restores_every_module_mode():
    model = _Identity()
    model.train()
    model.norm.eval()  # a frozen BatchNorm inside a training model must stay frozen
    _Brightness().query(_context(model), 2, np.random.default_rng(0))
    assert model.training and not model.norm.training


def test_contract_violations_are_reported():
    class Broken(QueryStrategy):
        name = "broken"

        def select(self, context, k, rng):
            return QueryResult(indices=np.array([0] * k))  # labeled and duplicated

    with pytest.raises(RuntimeError, match="duplicate.*outside the unlabeled pool"):
        Broken().query(_context(_Identity()), 2, np.random.default_rng(0))


def test_query_reduction_reaches_strategies_that_take_one():
    config = load_config(None, ["query.reduction=max"])
    assert strategy_options(config, "max_entropy")["reduction"] == "max"
    assert "reduction" not in strategy_options(config, "random")
    config = load_config(None, ["query.reduction=max", "strategies.margin.reduction=sum"])
    assert strategy_options(config, "margin")["reduction"] == "sum"


def test_build_model_is_seeded_without_touching_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = build_model({"width": 4}, 4, seed=7)
    assert torch.equal(torch.rand(3), expected)
    b = build_model({"width": 4}, 4, seed=7)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_load_config_works_in_a_fresh_interpreter():
    code = "from alstrategies.config import load_config; print(load_config(None, [])['data']['name'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "synthetic"
