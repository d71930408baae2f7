"""The uncertainty baselines and Mean STD against hand-computed values and slow references."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
import torch
from torch import nn

from alstrategies.baselines.mean_std import MeanSTDStrategy
from alstrategies.baselines.uncertainty import (
    LeastConfidenceStrategy,
    MarginStrategy,
    MaxEntropyStrategy,
    entropy_map,
    least_confidence_map,
    margin_map,
)
from alstrategies.mc_dropout import (
    DropoutMasks,
    MCDropoutSampler,
    WelfordMoments,
    Workspace,
    cached_prefixes,
    dropout_scale,
    fast_dropout,
    mc_dropout,
)
from alstrategies.models import build_model
from alstrategies.strategy import QueryContext
from alstrategies.types import ModelOutput

# Three 1 x 2 "images" of class probabilities (C = 3), pixel by pixel:
#   image 0: a = (0.5, 0.25, 0.25), b = (0.7, 0.2, 0.1)
#   image 1: c = (1/3, 1/3, 1/3),   d = (0.1, 0.1, 0.8)
#   image 2: e = f = (0.98, 0.01, 0.01)  (confident everywhere)
A, B = (0.5, 0.25, 0.25), (0.7, 0.2, 0.1)
C, D = (1 / 3, 1 / 3, 1 / 3), (0.1, 0.1, 0.8)
E = (0.98, 0.01, 0.01)
PROBS = torch.tensor([[A, B], [C, D], [E, E]], dtype=torch.float64).permute(0, 2, 1)[:, :, None]  # 3x3x1x2

# Entropy -sum p ln p, pixel by pixel, written out:
H_A = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))  # = 1.5 ln 2 = 1.03972
H_B = -(0.7 * math.log(0.7) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1))  # = 0.80182
H_C = math.log(3)  # = 1.09861
H_D = -(2 * 0.1 * math.log(0.1) + 0.8 * math.log(0.8))  # = 0.63903
H_E = -(0.98 * math.log(0.98) + 2 * 0.01 * math.log(0.01))  # = 0.11190
# Least confidence 1 - max p:
LC_A, LC_B, LC_C, LC_D, LC_E = 1 - 0.5, 1 - 0.7, 1 - 1 / 3, 1 - 0.8, 1 - 0.98
# Margin p(1) - p(2):
M_A, M_B, M_C, M_D, M_E = 0.5 - 0.25, 0.7 - 0.2, 1 / 3 - 1 / 3, 0.8 - 0.1, 0.98 - 0.01


class FixedModel(nn.Module):
    """Returns the logits ``log(PROBS[i])`` for a pool image filled with the value ``i``.

    ``shift`` adds a per-pixel constant to the logits (softmax-invariant); ``coarse`` makes
    ``coarse_logits`` differ from ``logits`` (strategies must read the final ``logits``).
    """

    def __init__(self, shift: bool = False, coarse: bool = False) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.shift, self.coarse = shift, coarse

    def forward(self, x: torch.Tensor) -> ModelOutput:
        rows = x[:, 0, 0, 0].round().long()
        logits = PROBS[rows].log().float() * self.scale
        if self.shift:
            logits = logits + torch.tensor([[[3.0, -2.0]]])
        coarse = torch.zeros_like(logits) if self.coarse else logits
        return ModelOutput(logits=logits, coarse_logits=coarse)


def _fixed_context(model: nn.Module | None = None, batch_size: int = 2) -> QueryContext:
    pool = torch.arange(3, dtype=torch.float32)[:, None, None, None].expand(3, 1, 1, 2).contiguous()
    return QueryContext(
        model=model or FixedModel(),
        pool_images=pool,
        labeled=np.zeros(0, dtype=np.int64),
        unlabeled=np.arange(3),
        num_classes=3,
        batch_size=batch_size,
    )


def test_pixel_maps_match_hand_computed_values():
    logits = PROBS.log().float()
    np.testing.assert_allclose(
        entropy_map(logits)[:, 0].numpy(), [[H_A, H_B], [H_C, H_D], [H_E, H_E]], rtol=1e-5
    )
    np.testing.assert_allclose(
        least_confidence_map(logits)[:, 0].numpy(),
        [[LC_A, LC_B], [LC_C, LC_D], [LC_E, LC_E]],
        atol=1e-6,
    )
    np.testing.assert_allclose(
        margin_map(logits)[:, 0].numpy(), [[M_A, M_B], [M_C, M_D], [M_E, M_E]], atol=1e-6
    )


def test_two_classes_hand_computed():
    logits = torch.tensor([0.6, 0.4]).log()[None, :, None, None]
    entropy = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4))
    assert entropy_map(logits).item() == pytest.approx(entropy, rel=1e-6)
    assert least_confidence_map(logits).item() == pytest.approx(0.4, abs=1e-6)
    assert margin_map(logits).item() == pytest.approx(0.2, abs=1e-6)


def test_ties_and_saturated_pixels():
    # two equal maxima: margin 0; a saturated pixel: entropy 0 and least confidence 0, not NaN
    tie = torch.tensor([0.4, 0.4, 0.2]).log()[None, :, None, None]
    assert margin_map(tie).item() == pytest.approx(0.0, abs=1e-7)
    saturated = torch.tensor([0.0, -200.0, -200.0])[None, :, None, None]
    assert entropy_map(saturated).item() == pytest.approx(0.0, abs=1e-6)
    assert least_confidence_map(saturated).item() == pytest.approx(0.0, abs=1e-6)
    assert margin_map(saturated).item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("num_classes", [2, 3, 7])
def test_maps_agree_with_direct_formulas_for_any_class_count(num_classes):
    logits = torch.randn((3, num_classes, 5, 6), generator=torch.Generator().manual_seed(num_classes)) * 3
    probs = torch.softmax(logits.double(), dim=1)
    top2 = probs.topk(2, dim=1).values
    torch.testing.assert_close(margin_map(logits).double(), top2[:, 0] - top2[:, 1], atol=1e-6, rtol=0)
    torch.testing.assert_close(entropy_map(logits).double(), -(probs * probs.log()).sum(1), atol=1e-5, rtol=0)
    torch.testing.assert_close(least_confidence_map(logits).double(), 1 - probs.amax(1), atol=1e-6, rtol=0)


# (strategy, reduction, expected image scores, expected query order)
EXPECTED = [
    (MaxEntropyStrategy, "mean", [(H_A + H_B) / 2, (H_C + H_D) / 2, H_E], [0, 1, 2]),
    (MaxEntropyStrategy, "sum", [H_A + H_B, H_C + H_D, 2 * H_E], [0, 1, 2]),
    (MaxEntropyStrategy, "max", [H_A, H_C, H_E], [1, 0, 2]),
    (LeastConfidenceStrategy, "mean", [(LC_A + LC_B) / 2, (LC_C + LC_D) / 2, LC_E], [1, 0, 2]),
    (LeastConfidenceStrategy, "sum", [LC_A + LC_B, LC_C + LC_D, 2 * LC_E], [1, 0, 2]),
    (LeastConfidenceStrategy, "max", [LC_A, LC_C, LC_E], [1, 0, 2]),
    # margin is scored as 1 - margin: the smallest mean margin (image 1: 0.35 < 0.375) first
    (MarginStrategy, "mean", [1 - (M_A + M_B) / 2, 1 - (M_C + M_D) / 2, 1 - M_E], [1, 0, 2]),
    (MarginStrategy, "sum", [2 - (M_A + M_B), 2 - (M_C + M_D), 2 - 2 * M_E], [1, 0, 2]),
    (MarginStrategy, "max", [1 - M_A, 1 - M_C, 1 - M_E], [1, 0, 2]),
]


@pytest.mark.parametrize(("factory", "reduction", "scores", "order"), EXPECTED)
@pytest.mark.parametrize("batch_size", [1, 2, 64])
def test_image_scores_and_query_order(factory, reduction, scores, order, batch_size):
    result = factory(reduction=reduction).query(
        _fixed_context(batch_size=batch_size), 3, np.random.default_rng(0)
    )
    np.testing.assert_array_equal(result.candidates, [0, 1, 2])
    np.testing.assert_allclose(result.scores, scores, rtol=1e-5, atol=1e-6)
    assert result.indices.tolist() == order
    top = factory(reduction=reduction).query(_fixed_context(), 1, np.random.default_rng(0))
    assert top.indices.tolist() == order[:1]


def test_margin_queries_the_smallest_mean_margin_first():
    mean_margins = {0: (M_A + M_B) / 2, 1: (M_C + M_D) / 2, 2: M_E}  # 0.375, 0.35, 0.97
    result = MarginStrategy().query(_fixed_context(), 3, np.random.default_rng(0))
    assert result.indices.tolist() == sorted(mean_margins, key=mean_margins.get)


@pytest.mark.parametrize("factory", [MaxEntropyStrategy, LeastConfidenceStrategy, MarginStrategy])
def test_callable_reduction(factory):
    second_pixel = lambda maps: maps[:, 0, 1]  # noqa: E731
    result = factory(reduction=second_pixel).query(_fixed_context(), 3, np.random.default_rng(0))
    maps = {
        MaxEntropyStrategy: [H_B, H_D, H_E],
        LeastConfidenceStrategy: [LC_B, LC_D, LC_E],
        MarginStrategy: [1 - M_B, 1 - M_D, 1 - M_E],
    }[factory]
    np.testing.assert_allclose(result.scores, maps, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("factory", [MaxEntropyStrategy, LeastConfidenceStrategy, MarginStrategy])
def test_scores_use_the_softmax_of_the_final_logits(factory):
    reference = factory().query(_fixed_context(), 3, np.random.default_rng(0))
    shifted = factory().query(_fixed_context(FixedModel(shift=True)), 3, np.random.default_rng(0))
    np.testing.assert_allclose(shifted.scores, reference.scores, rtol=1e-5, atol=1e-6)
    coarse = factory().query(_fixed_context(FixedModel(coarse=True)), 3, np.random.default_rng(0))
    np.testing.assert_allclose(coarse.scores, reference.scores, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "factory", [MaxEntropyStrategy, LeastConfidenceStrategy, MarginStrategy, MeanSTDStrategy]
)
def test_unknown_reduction_is_rejected(factory):
    with pytest.raises(ValueError, match="reduction"):
        factory(reduction="median")


# -- Mean STD ------------------------------------------------------------------------------------


class AlternatingModel(nn.Module):
    """Returns PROBS[0] with dropout off; with dropout on, alternates image 0 and image 1 per pass."""

    def __init__(self) -> None:
        super().__init__()
        self.drop = nn.Dropout(0.5)
        self.norm = nn.BatchNorm2d(1)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> ModelOutput:
        assert not self.norm.training, "BatchNorm must stay in eval mode"
        self.norm(x)
        index = self.calls % 2 if self.drop.training else 0
        self.calls += self.drop.training
        logits = PROBS[index].log().float().expand(x.shape[0], -1, -1, -1)
        return ModelOutput(logits=logits, coarse_logits=logits)


@pytest.mark.parametrize(
    ("passes", "expected"),
    [
        # passes alternate p = image 0 (a, b) and q = image 1 (c, d); per pixel and class the
        # population std of {p, q} (T = 2, 4) is |p - q| / 2, of {p, q, p} (T = 3) |p - q| sqrt(2) / 3
        (2, np.mean([abs(a - c) / 2 for a, c in zip(A + B, C + D, strict=True)])),
        (4, np.mean([abs(a - c) / 2 for a, c in zip(A + B, C + D, strict=True)])),
        (3, np.mean([abs(a - c) * math.sqrt(2) / 3 for a, c in zip(A + B, C + D, strict=True)])),
    ],
)
def test_mean_std_hand_computed(passes, expected):
    model = AlternatingModel()
    context = _fixed_context(model, batch_size=64)
    context.unlabeled = np.array([0])
    result = MeanSTDStrategy(passes=passes).query(context, 1, np.random.default_rng(0))
    assert result.scores[0] == pytest.approx(expected, rel=1e-5)
    assert model.calls == passes


def test_mean_std_hand_computed_reductions():
    # T = 2: per-pixel mean over classes of |p - q| / 2: pixel (a, c) and pixel (b, d)
    first = np.mean([abs(a - c) / 2 for a, c in zip(A, C, strict=True)])
    second = np.mean([abs(b - d) / 2 for b, d in zip(B, D, strict=True)])
    for reduction, expected in [
        ("mean", (first + second) / 2),
        ("sum", first + second),
        ("max", max(first, second)),
    ]:
        context = _fixed_context(AlternatingModel(), batch_size=64)
        context.unlabeled = np.array([0])
        result = MeanSTDStrategy(passes=2, reduction=reduction).query(context, 1, np.random.default_rng(0))
        assert result.scores[0] == pytest.approx(expected, rel=1e-5)


def _unet(dropout: bool = True) -> nn.Module:
    return build_model({"width": 4, "heads": "plain", "dropout": dropout}, 4, seed=0).eval()


def _unet_context(model: nn.Module, batch_size: int = 5, n: int = 12) -> QueryContext:
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


def _slow_mean_std(context: QueryContext, passes: int, seed: int, torch_dropout: bool = False) -> np.ndarray:
    """Reference: store all T softmax maps of each batch, torch.std(unbiased=False), then means.

    Plain module calls (no cached prefix, no workspace). The masks are those of the strategy
    (``fast_dropout`` seeded alike, the same draw order: all passes of a batch, then the next),
    or with ``torch_dropout`` torch's own ``nn.Dropout`` seeded with ``seed``.
    """
    model = context.model
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.train()
    scores = []
    masks = contextlib.nullcontext() if torch_dropout else fast_dropout(model, seed)
    with torch.random.fork_rng(devices=[]), torch.no_grad(), masks:
        torch.manual_seed(seed)
        for _, images in context.batches():
            stack = torch.stack([torch.softmax(model(images).logits, dim=1) for _ in range(passes)])
            std = stack.std(dim=0, unbiased=False)  # population std over the passes
            scores.append(std.mean(dim=1).flatten(1).mean(dim=1))
    model.eval()
    return torch.cat(scores).double().numpy()


@pytest.mark.parametrize("passes", [2, 5, 10])
def test_mean_std_equals_the_slow_reference(passes):
    context = _unet_context(_unet())
    ours = MeanSTDStrategy(passes=passes).score_pool(context, seed=123)
    reference = _slow_mean_std(_unet_context(_unet()), passes, seed=123)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-7)
    assert (ours > 0).all()


def test_mean_std_agrees_with_torch_dropout_in_distribution():
    # other masks, the same estimator: with 64 passes both are within a few % of the expected std
    ours = MeanSTDStrategy(passes=64).score_pool(_unet_context(_unet(), batch_size=64), seed=5)
    torch_masks = _slow_mean_std(_unet_context(_unet(), batch_size=64), 64, seed=5, torch_dropout=True)
    np.testing.assert_allclose(ours, torch_masks, rtol=0.08)
    assert np.mean(ours) == pytest.approx(np.mean(torch_masks), rel=0.03)


def test_mean_std_keeps_batchnorm_in_eval_mode():
    model = _unet()
    context = _unet_context(model)
    image = context.pool_images[:2]
    with torch.no_grad():
        deterministic_before = model(image).logits
    buffers = {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
    seen: dict[str, set[bool]] = {"norm": set(), "dropout": set()}

    def record(module: nn.Module, _inputs: object) -> None:
        seen["norm" if isinstance(module, nn.BatchNorm2d) else "dropout"].add(module.training)

    hooks = [
        m.register_forward_pre_hook(record)
        for m in model.modules()
        if isinstance(m, nn.BatchNorm2d | nn.Dropout)
    ]
    MeanSTDStrategy(passes=3).query(context, 4, np.random.default_rng(0))
    for hook in hooks:
        hook.remove()
    assert seen == {"norm": {False}, "dropout": {True}}
    for key, value in buffers.items():
        assert torch.equal(model.state_dict()[key], value), f"{key} changed: BatchNorm ran in train mode"
    assert not model.training
    with torch.no_grad():
        torch.testing.assert_close(model(image).logits, deterministic_before, rtol=0, atol=0)


def test_mean_std_passes_use_different_dropout_masks():
    model = _unet()
    context = _unet_context(model, batch_size=64)
    outputs: list[torch.Tensor] = []
    hook = model.register_forward_hook(lambda _m, _i, out: outputs.append(out.logits.clone()))
    MeanSTDStrategy(passes=4).query(context, 2, np.random.default_rng(0))
    hook.remove()
    assert len(outputs) == 4
    for i in range(4):
        for j in range(i + 1, 4):
            assert not torch.allclose(outputs[i], outputs[j]), f"passes {i} and {j} are identical"


def test_mc_dropout_restores_every_module_mode():
    model = _unet().train()
    model.backbone.encoder.blocks[0].eval()  # a mixed state comes back as it was
    modes = [m.training for m in model.modules()]
    with mc_dropout(model) as dropouts:
        assert dropouts and all(m.training for m in dropouts)
        assert not any(m.training for m in model.modules() if not isinstance(m, nn.Dropout))
    assert [m.training for m in model.modules()] == modes


def test_mean_std_is_seeded_by_the_generator_and_leaves_torch_rng_alone():
    model = _unet()
    torch.manual_seed(1)
    first = MeanSTDStrategy(passes=3).query(_unet_context(model), 4, np.random.default_rng(5))
    after_query = torch.rand(3)
    torch.manual_seed(1)
    assert torch.equal(torch.rand(3), after_query), "the query consumed the global torch generator"
    torch.manual_seed(2)
    second = MeanSTDStrategy(passes=3).query(_unet_context(model), 4, np.random.default_rng(5))
    np.testing.assert_array_equal(first.scores, second.scores)
    third = MeanSTDStrategy(passes=3).query(_unet_context(model), 4, np.random.default_rng(6))
    assert not np.array_equal(first.scores, third.scores)


def test_mean_std_without_dropout_warns():
    context = _unet_context(_unet(dropout=False))
    with pytest.warns(UserWarning, match="no active dropout"):
        result = MeanSTDStrategy(passes=2).query(context, 3, np.random.default_rng(0))
    assert np.all(result.scores == 0)


@pytest.mark.parametrize("passes", [0, 1, 2.5, True])
def test_mean_std_rejects_bad_pass_counts(passes):
    with pytest.raises(ValueError, match="passes"):
        MeanSTDStrategy(passes=passes)


# -- Mean STD's CPU dropout --------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.05, 0.1, 0.2, 0.3, 0.37, 0.5, 0.9])
def test_mean_std_fast_dropout_masks_match_nn_dropout(p):
    n = 1 << 21
    x = torch.randn(n, generator=torch.Generator().manual_seed(0))
    x[x == 0] = 1.0  # a dropped element is then exactly the zeros
    dropout = nn.Dropout(p).train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        theirs = dropout(x)
    with fast_dropout(dropout, seed=0):
        ours = dropout(x)
    assert "forward" not in dropout.__dict__  # torch's forward is back
    sigma = math.sqrt(p * (1 - p) / n)
    for out in (ours, theirs):
        kept = out != 0
        # keep rate 1 - p; for p = 0.05 and 0.37 the 8-bit draws alone (12/256, 94/256 dropped)
        # would miss it by 0.003, more than 8 sigma
        assert kept.double().mean().item() == pytest.approx(1 - p, abs=6 * sigma)
        # independent elements: neighbours are both kept with probability (1 - p)^2
        both = (kept[:-1] & kept[1:]).double().mean().item()
        assert both == pytest.approx((1 - p) ** 2, abs=8 * math.sqrt((1 - p) ** 2 / n))
    # exact scaling: kept elements carry the very bits of nn.Dropout's kept elements
    scale = torch.nn.functional.dropout(torch.ones(8), p, training=True).max()
    assert dropout_scale(p) == scale.item()
    assert torch.equal(ours[ours != 0], x[ours != 0] * scale)
    assert torch.equal(theirs[theirs != 0], x[theirs != 0] * scale)
    assert torch.equal(ours[ours == 0].abs(), torch.zeros(int((ours == 0).sum())))


@pytest.mark.parametrize("p", [0.0, 1 / 256, 0.05, 0.3, 0.5, 0.999, 1.0])
def test_mean_std_dropout_masks_split_is_exact(p):
    a, q = DropoutMasks.split(p)
    assert 0 <= q < 1
    assert a / 256 + (1 - a / 256) * q == pytest.approx(p, abs=1e-15)


def test_mean_std_sparse_hits_are_bernoulli():
    masks = DropoutMasks(3)
    n, q, rounds = 1_000_000, 0.003, 20
    hit = np.zeros(n, dtype=np.int64)
    for _ in range(rounds):
        hits = masks.sparse_hits(n, q)
        assert hits.dtype == np.int64 and hits.min() >= 0 and hits.max() < n
        hit[np.unique(hits)] += 1
    # every index hit with probability q: the hit count over all indices and rounds, and over
    # the first and second half of the indices alike
    sigma = math.sqrt(n * rounds * q * (1 - q))
    assert hit.sum() == pytest.approx(n * rounds * q, abs=6 * sigma)
    assert hit[: n // 2].sum() == pytest.approx(n * rounds * q / 2, abs=6 * sigma / math.sqrt(2))
    assert masks.sparse_hits(n, 0.0).size == 0 and masks.sparse_hits(0, 0.5).size == 0
    assert masks.sparse_hits(10, 1e-300).size == 0


def test_mean_std_fast_dropout_is_deterministic_for_the_seed():
    model = _unet()
    images = _unet_context(model).pool_images[:4]

    def passes(seed: int, torch_seed: int) -> list[torch.Tensor]:
        torch.manual_seed(torch_seed)
        with torch.no_grad(), mc_dropout(model), fast_dropout(model, seed):
            outputs = [model(images).logits for _ in range(3)]
        after = torch.rand(2)
        torch.manual_seed(torch_seed)
        assert torch.equal(torch.rand(2), after)  # torch's generator was not used
        return outputs

    first, again, other = passes(7, 0), passes(7, 1), passes(8, 0)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not any(torch.equal(a, b) for a, b in zip(first, other, strict=True))
    assert not torch.equal(first[0], first[1])


def test_mean_std_fast_dropout_keeps_torch_semantics_elsewhere():
    x = torch.randn(64, 8)
    identity = nn.Sequential(nn.Dropout(0.0).train(), nn.Dropout(0.5).eval())
    everything = nn.Dropout(1.0).train()
    channels = nn.Dropout2d(0.5).train()
    with fast_dropout(identity, 0), fast_dropout(everything, 0), fast_dropout(channels, 0):
        assert torch.equal(identity(x), x)  # p = 0 and eval mode: the identity
        assert torch.equal(everything(x), torch.zeros_like(x))  # p = 1: zeros
        assert "forward" not in channels.__dict__  # channel dropout keeps torch's kernel
    inplace, out_of_place = nn.Dropout(0.5, inplace=True).train(), nn.Dropout(0.5).train()
    y = x.clone()
    with fast_dropout(inplace, 4):
        assert inplace(y) is y  # in place, like torch's inplace dropout
    with fast_dropout(out_of_place, 4):
        assert torch.equal(out_of_place(x), y)  # the same seed, the same values
    assert not torch.equal(y, x)


def test_mean_std_caches_the_first_block_head_once_per_batch():
    model = _unet()
    context = _unet_context(model, batch_size=5)  # 10 unlabeled images: 2 batches
    first_conv = model.backbone.encoder.blocks[0][0]
    second_conv = model.backbone.encoder.blocks[0][4]
    calls = {"first": 0, "second": 0}
    hooks = [
        first_conv.register_forward_hook(lambda *_: calls.__setitem__("first", calls["first"] + 1)),
        second_conv.register_forward_hook(lambda *_: calls.__setitem__("second", calls["second"] + 1)),
    ]
    MeanSTDStrategy(passes=5).query(context, 2, np.random.default_rng(0))
    for hook in hooks:
        hook.remove()
    assert calls == {"first": 2, "second": 10}  # conv-BN-act before the dropout: once per batch
    assert not any("forward" in module.__dict__ for module in model.modules())


def test_mean_std_cached_prefix_only_reuses_the_same_input():
    model = _unet()
    images = _unet_context(model).pool_images[:3]
    workspace = Workspace()

    def run() -> torch.Tensor:
        workspace.next_pass()
        return model(images).logits.clone()

    with torch.no_grad(), mc_dropout(model):
        # with a workspace: the cached head, reused buffers, and the first dropout scaling its
        # repeated input once: bit for bit the plain passes
        with fast_dropout(model, 0, workspace), cached_prefixes(model, workspace) as blocks:
            assert blocks == list(model.backbone.encoder.blocks)  # switched; reused: same input only
            cached = [run() for _ in range(3)]
            assert [key for key in workspace.buffers if key[0] == "scaled"]  # the shortcut ran
            images = images + 0
            cached.append(run())
        images = images - 0
        with fast_dropout(model, 0):
            plain = [model(images).logits for _ in range(4)]
    for a, b in zip(cached, plain, strict=True):
        assert torch.equal(a, b)


class TwiceDropout(nn.Module):
    """One dropout module called twice per forward pass (two live outputs at once)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.drop = nn.Dropout(0.3)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        h = self.conv(x)
        logits = self.drop(h) + 2 * self.drop(h)
        return ModelOutput(logits=logits, coarse_logits=logits)


def test_mean_std_with_a_dropout_called_twice_per_pass():
    model = TwiceDropout().eval()
    ours = MeanSTDStrategy(passes=4).score_pool(_unet_context(model), seed=9)
    reference = _slow_mean_std(_unet_context(model), 4, seed=9)
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-8)


def test_mean_std_workspace_reuses_buffers():
    workspace = Workspace()
    big = workspace.get("x", (4, 3))
    small = workspace.get("x", (2, 3))
    assert small.data_ptr() == big.data_ptr() and small.shape == (2, 3)
    assert workspace.get("x", (5, 3)).data_ptr() != big.data_ptr()


# -- the MC-dropout module (alstrategies.mc_dropout) ---------------------------------------------


def _naive_passes(
    model: nn.Module, batches: list[torch.Tensor], passes: int, seed: int
) -> list[torch.Tensor]:
    """Reference: only the nn.Dropout modules in train mode, T plain forward passes per batch
    (no cached prefix, no workspace) with masks from ``fast_dropout`` seeded alike."""
    model.eval()
    dropouts = [module for module in model.modules() if isinstance(module, nn.Dropout)]
    assert dropouts
    for module in dropouts:
        module.train()
    try:
        with torch.no_grad(), fast_dropout(model, seed):
            return [torch.softmax(model(images).logits, dim=1) for images in batches for _ in range(passes)]
    finally:
        model.eval()


def test_mc_dropout_sampler_passes_equal_a_naive_loop_of_forward_passes():
    model = _unet()
    context = _unet_context(model, batch_size=4)  # 10 unlabeled images: batches of 4, 4, 2
    batches = [images for _, images in context.batches()]
    reference = _naive_passes(model, batches, 3, seed=21)
    ours = []
    with MCDropoutSampler(model, 21) as sampler:
        assert sampler.active
        for images in batches:
            ours += [probs.clone() for probs in sampler.passes(images, 3)]
    assert len(ours) == len(reference) == 9
    for a, b in zip(ours, reference, strict=True):
        assert torch.equal(a, b)  # bit for bit, cached prefix and reused buffers included
    assert not torch.equal(ours[0], ours[1])  # the passes differ


def test_mc_dropout_sampler_restores_the_model_and_torch_generator():
    model = _unet().train()
    model.backbone.encoder.blocks[1].eval()
    modes = [module.training for module in model.modules()]
    torch.manual_seed(3)
    expected = torch.rand(2)
    torch.manual_seed(3)
    images = _unet_context(model).pool_images[:2]
    with MCDropoutSampler(model, 0) as sampler:
        assert not any(m.training for m in model.modules() if not isinstance(m, nn.Dropout))
        list(sampler.passes(images, 2))
    assert [module.training for module in model.modules()] == modes
    assert not any("forward" in module.__dict__ for module in model.modules())
    assert torch.equal(torch.rand(2), expected)
    with pytest.raises(RuntimeError, match="with"):
        next(MCDropoutSampler(model, 0).passes(images, 2))


def test_welford_moments_equal_the_stacked_mean_and_population_std():
    generator = torch.Generator().manual_seed(4)
    stack = torch.softmax(torch.randn((7, 3, 4, 5, 6), generator=generator), dim=2)
    for workspace in (None, Workspace()):
        moments = WelfordMoments(workspace)
        for t, probs in enumerate(stack, start=1):
            moments.update(t, probs.clone())
        assert moments.count == 7
        torch.testing.assert_close(moments.mean, stack.mean(dim=0), rtol=0, atol=1e-6)
        torch.testing.assert_close(moments.std(), stack.std(dim=0, unbiased=False), rtol=0, atol=1e-6)


class _Recorder:
    """A custom accumulator: keeps the pass numbers and a copy of each pass's softmax."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, torch.Tensor]] = []

    def update(self, t: int, probs: torch.Tensor) -> None:
        self.seen.append((t, probs.clone()))


def test_mc_dropout_sampler_accumulate_streams_every_pass_to_the_accumulator():
    model = _unet()
    images = _unet_context(model).pool_images[:3]
    with MCDropoutSampler(model, 8) as sampler:
        recorder = sampler.accumulate(images, 4, _Recorder())
    assert [t for t, _ in recorder.seen] == [1, 2, 3, 4]
    reference = _naive_passes(model, [images], 4, seed=8)
    assert all(torch.equal(probs, ref) for (_, probs), ref in zip(recorder.seen, reference, strict=True))
    sums = torch.stack([probs for _, probs in recorder.seen]).sum(dim=2)
    torch.testing.assert_close(sums, torch.ones_like(sums))  # softmax over the classes
