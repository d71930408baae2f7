"""BALD (MC-dropout mutual information) against hand-computed values and naive loops over stored passes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from alstrategies.baselines.bald import BALDStrategy
from alstrategies.errors import ConfigError
from alstrategies.mc_dropout import EntropySums, MCDropoutSampler, Workspace, fast_dropout
from alstrategies.models import build_model
from alstrategies.registry import STRATEGIES
from alstrategies.seeding import torch_seed
from alstrategies.strategy import QueryContext, RankingStrategy
from alstrategies.types import ModelOutput


def _unet(dropout: bool = True) -> nn.Module:
    return build_model({"width": 4, "heads": "plain", "dropout": dropout}, 4, seed=0).eval()


def _context(model: nn.Module, batch_size: int = 5, n: int = 12) -> QueryContext:
    generator = torch.Generator().manual_seed(1)
    pool = torch.rand((n, 1, 32, 32), generator=generator)
    return QueryContext(
        model=model,
        pool_images=pool,
        labeled=np.array([0, 3]),
        unlabeled=np.setdiff1d(np.arange(n), [0, 3]),
        num_classes=4,
        batch_size=batch_size,
    )


def _entropy_by_hand(p: torch.Tensor) -> torch.Tensor:
    """``-sum_c p log p`` over dim 1, with ``0 log 0 = 0``, in float64."""
    p = p.double()
    return -torch.where(p > 0, p * torch.log(torch.where(p > 0, p, 1.0)), 0.0).sum(dim=1)


def _naive_mutual_information(stored: list[torch.Tensor]) -> torch.Tensor:
    """H(mean of the T stored maps) - mean of their T entropies, pixel by pixel (float64)."""
    mean = sum(p.double() for p in stored) / len(stored)
    mean_entropy = sum(_entropy_by_hand(p) for p in stored) / len(stored)
    return _entropy_by_hand(mean) - mean_entropy


def _stored_passes_reference(context: QueryContext, passes: int, seed: int, reduction: str) -> np.ndarray:
    """Store the T softmax maps of each batch from the same seeded sampler, then MI by hand."""
    scores = []
    with MCDropoutSampler(context.model, seed, context.device) as sampler:
        for _, images in context.batches():
            stored = [probs.clone() for probs in sampler.passes(images, passes)]
            mi = _naive_mutual_information(stored).flatten(1)
            scores.append({"mean": mi.mean(1), "sum": mi.sum(1), "max": mi.amax(1)}[reduction])
    return torch.cat(scores).numpy()


def _plain_module_reference(context: QueryContext, passes: int, seed: int) -> np.ndarray:
    """Plain module calls (no cached prefix, no workspace) with the same masks, MI by hand."""
    model = context.model
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.train()
    scores = []
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad(), fast_dropout(model, seed):
            torch.manual_seed(seed)
            for _, images in context.batches():
                stored = [torch.softmax(model(images).logits, dim=1) for _ in range(passes)]
                scores.append(_naive_mutual_information(stored).flatten(1).mean(1))
    finally:
        model.eval()
    return torch.cat(scores).numpy()


@pytest.mark.parametrize("passes", [2, 5, 10])
def test_bald_equals_a_naive_loop_over_the_stored_passes(passes):
    context = _context(_unet())
    ours = BALDStrategy(passes=passes).score_pool(context, seed=123)
    reference = _stored_passes_reference(_context(_unet()), passes, 123, "mean")
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6)
    plain = _plain_module_reference(_context(_unet()), passes, 123)
    np.testing.assert_allclose(ours, plain, rtol=0, atol=1e-6)
    assert (ours > 0).all()


@pytest.mark.parametrize("reduction", ["sum", "max"])
def test_bald_reductions_equal_the_naive_loop(reduction):
    ours = BALDStrategy(passes=4, reduction=reduction).score_pool(_context(_unet()), seed=7)
    reference = _stored_passes_reference(_context(_unet()), 4, 7, reduction)
    atol = 1e-6 * (32 * 32 if reduction == "sum" else 1)
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=atol)


def test_bald_query_seeds_the_masks_from_the_generator_once_and_leaves_torch_alone():
    torch.manual_seed(5)
    expected_torch = torch.rand(3)
    torch.manual_seed(5)
    strategy = BALDStrategy(passes=3)
    result = strategy.query(_context(_unet()), 4, np.random.default_rng(11))
    assert torch.equal(torch.rand(3), expected_torch)
    reference = strategy.score_pool(_context(_unet()), torch_seed(np.random.default_rng(11)))
    np.testing.assert_array_equal(result.scores, reference)
    again = strategy.query(_context(_unet()), 4, np.random.default_rng(11))
    np.testing.assert_array_equal(again.indices, result.indices)
    np.testing.assert_array_equal(again.scores, result.scores)
    other = strategy.query(_context(_unet()), 4, np.random.default_rng(12))
    assert not np.array_equal(other.scores, result.scores)
    assert set(result.indices.tolist()) == set(result.candidates[np.argsort(-result.scores)[:4]].tolist())


class _TwoPassModel(nn.Module):
    """Saturated logits: the pass alternates between class 0 and class 1 while dropout is on."""

    def __init__(self) -> None:
        super().__init__()
        self.drop = nn.Dropout(0.5)
        self.norm = nn.BatchNorm2d(1)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> ModelOutput:
        assert not self.norm.training, "BatchNorm must stay in eval mode"
        self.norm(x)
        winner = self.calls % 2 if self.drop.training else 0
        self.calls += self.drop.training
        logits = torch.full((x.shape[0], 3, *x.shape[2:]), -200.0)
        logits[:, winner] = 200.0
        return ModelOutput(logits=logits, coarse_logits=logits)


@pytest.mark.parametrize(
    ("passes", "expected"),
    [
        (2, math.log(2)),  # each pass certain (entropy 0), the mean (1/2, 1/2, 0): ln 2
        (4, math.log(2)),
        # (2/3, 1/3, 0) on average: H = -(2/3 ln 2/3 + 1/3 ln 1/3)
        (3, -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))),
    ],
)
def test_bald_hand_computed_on_confident_but_disagreeing_passes(passes, expected):
    model = _TwoPassModel()
    pool = torch.zeros((4, 1, 2, 3))
    context = QueryContext(model, pool, np.array([0]), np.array([1, 2, 3]), num_classes=3, batch_size=2)
    result = BALDStrategy(passes=passes).query(context, 2, np.random.default_rng(0))
    np.testing.assert_allclose(result.scores, expected, rtol=1e-6)
    assert model.calls == 2 * passes  # two batches (2 + 1 images), T passes each


def test_bald_is_zero_without_dropout_and_warns():
    context = _context(_unet(dropout=False))
    with pytest.warns(UserWarning, match="no active dropout"):
        scores = BALDStrategy(passes=3).score_pool(context, seed=0)
    np.testing.assert_allclose(scores, 0.0, atol=1e-7)
    assert (scores >= 0).all()


def test_bald_keeps_batchnorm_in_eval_mode_and_the_model_unchanged():
    model = _unet().train()
    state = {key: value.clone() for key, value in model.state_dict().items()}
    modes = [module.training for module in model.modules()]
    BALDStrategy(passes=3).query(_context(model), 3, np.random.default_rng(0))
    assert [module.training for module in model.modules()] == modes
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_entropy_sums_stream_one_batch_and_equal_the_stacked_formula():
    generator = torch.Generator().manual_seed(4)
    logits = torch.randn((6, 3, 4, 5, 7), generator=generator) * 4
    logits[:, 0, 0, 0, 0] = 300.0  # a saturated pixel: its other p are exactly 0
    stack = torch.softmax(logits, dim=2)
    assert (stack == 0).any()
    for workspace in (None, Workspace()):
        sums = EntropySums(workspace)
        for t, probs in enumerate(stack, start=1):
            sums.update(t, probs.clone())
        assert sums.count == 6
        assert sums.probs_sum.shape == stack.shape[1:]  # one batch, not T of them
        assert sums.entropy_sum.shape == (3, 5, 7)
        torch.testing.assert_close(sums.probs_sum, stack.sum(dim=0), rtol=0, atol=1e-5)
        reference = _naive_mutual_information(list(stack)).float()
        torch.testing.assert_close(sums.mutual_information(), reference.clamp_min(0), rtol=0, atol=1e-6)
    if workspace is not None:
        assert set(workspace.buffers) == {"probs_sum", "entropy_sum", "plogp", "entropy_pass"}


@pytest.mark.parametrize("passes", [1, 0, 2.5, True])
def test_bald_rejects_bad_pass_counts(passes):
    with pytest.raises(ConfigError, match="at least 2"):
        BALDStrategy(passes=passes)


def test_bald_rejects_an_unknown_reduction_and_takes_the_sampling_options():
    with pytest.raises(ConfigError, match="reduction"):
        BALDStrategy(reduction="median")
    strategy = BALDStrategy(sampling="power", sampling_beta=2.0)
    assert (strategy.sampling, strategy.sampling_beta) == ("power", 2.0)
    assert BALDStrategy().sampling == "top_k"


def test_bald_is_registered_with_its_metadata():
    factory = STRATEGIES.get("bald")
    assert factory is BALDStrategy and issubclass(factory, RankingStrategy)
    assert factory.name == "bald" and factory.family == "uncertainty"
    assert "Houlsby" in factory.source and "Gal" in factory.source
    assert factory.forward_passes == "T (10)" and factory().passes == 10
    assert factory.select is RankingStrategy.select
