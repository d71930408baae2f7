"""SBCNet, the joint loss, the sbc_al strategy, and a short SBC-AL training on the phantom."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from alstrategies.errors import ConfigError
from alstrategies.models import build_criterion, build_model
from alstrategies.registry import STRATEGIES
from alstrategies.sbcal import boundary_consistency, distance_maps, structure_consistency
from alstrategies.sbcal.loss import SBCCriterion
from alstrategies.sbcal.network import ASR_VARIANTS, AttentionRefinement, SBCNet
from alstrategies.sbcal.strategy import SBCALStrategy
from alstrategies.strategy import QueryContext
from alstrategies.training.losses import soft_dice_loss
from alstrategies.training.trainer import TrainConfig, Trainer
from alstrategies.types import ModelOutput

BACKBONES = ["unet", "unetpp", "attention_unet"]


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Training on 2 busy cores is faster (and steadier) on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def sbc_model(backbone: str = "unet", asr: str = "attention", num_classes: int = 4, width: int = 4) -> SBCNet:
    model = build_model(
        {"backbone": backbone, "width": width, "heads": "sbc", "asr": asr}, num_classes, seed=0
    )
    assert isinstance(model, SBCNet)
    return model


def fake_targets(batch: int, height: int, width: int, num_classes: int = 4) -> dict[str, torch.Tensor]:
    labels = torch.zeros(batch, height, width, dtype=torch.long)
    labels[:, height // 4 : height // 2, width // 4 : width // 2] = 1
    labels[:, height // 2 :, width // 2 :] = num_classes - 1
    return {"labels": labels, "distance": distance_maps(labels, num_classes)}


# -- network --------------------------------------------------------------------------------
@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("asr", ASR_VARIANTS)
def test_output_shapes_and_ranges(backbone: str, asr: str) -> None:
    model = sbc_model(backbone, asr)
    x = torch.randn(2, 1, 32, 48)
    for train in (True, False):
        model.train(train)
        with torch.no_grad():
            out = model(x)
        assert isinstance(out, ModelOutput)
        assert out.logits.shape == out.coarse_logits.shape == (2, 4, 32, 48)
        assert out.distance is not None and out.distance.shape == (2, 4, 32, 48)  # C maps
        assert ((out.distance >= 0) & (out.distance <= 1)).all()
        assert out.features is not None and out.features.shape == (2, 64)  # pooled bottleneck (16c)
        assert out.head_features is not None and out.head_features.shape == (2, 4, 32, 48)
        assert torch.isfinite(out.logits).all() and torch.isfinite(out.coarse_logits).all()
        if asr == "none":
            assert out.logits is out.coarse_logits
        else:
            assert not torch.equal(out.logits, out.coarse_logits)


def test_two_classes_and_size_16() -> None:
    out = sbc_model(num_classes=2).eval()(torch.randn(1, 1, 16, 16))
    assert out.logits.shape == (1, 2, 16, 16) and out.distance.shape == (1, 2, 16, 16)


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="asr"):
        build_model({"heads": "sbc", "asr": "gated", "width": 4}, 4)
    with pytest.raises(ValueError, match="classes"):
        build_model({"heads": "sbc", "width": 4}, 1)


def test_distance_prior_sets_the_untrained_output() -> None:
    model = sbc_model().eval()
    with torch.no_grad():
        conv = model.sfp.head
        assert torch.allclose(torch.sigmoid(conv.bias), torch.full_like(conv.bias, 0.05))
        assert 0.0 < model(torch.randn(2, 1, 16, 16)).distance.mean().item() < 0.3


def test_attention_refinement_formula() -> None:
    torch.manual_seed(0)
    asr = AttentionRefinement(sfp_channels=3, decoder_channels=5).eval()
    decoder, structure = torch.randn(2, 5, 8, 8), torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        attention = asr.attention(structure)
        assert torch.allclose(attention.sum(dim=1), torch.ones(2, 8, 8))
        logits_sum = asr.branch3(structure) + asr.branch1(structure)
        assert torch.allclose(attention, torch.softmax(logits_sum, dim=1))
        assert asr.attention(structure).mul(5).mean().item() == pytest.approx(1.0)
        assert torch.allclose(asr(decoder, structure), decoder + decoder * attention * 5)


@pytest.mark.parametrize("asr", ASR_VARIANTS)
def test_gradients_reach_sfp_and_asr(asr: str) -> None:
    model = sbc_model(asr=asr).train()
    targets = fake_targets(2, 16, 16)
    losses = SBCCriterion()(model(torch.randn(2, 1, 16, 16)), targets)
    losses["total"].backward()
    groups = {"sfp": model.sfp, "backbone": model.backbone, "coarse": model.coarse_head}
    if asr != "none":
        groups["head"] = model.head
    if asr in ("attention", "concat"):  # "add" has no parameters when the channel counts agree
        groups["asr"] = model.asr
    for name, module in groups.items():
        grads = [p.grad for p in module.parameters()]
        assert grads and all(g is not None and torch.isfinite(g).all() for g in grads), name
        assert any(g.abs().sum() > 0 for g in grads), name
    if asr in ("attention", "concat"):  # every ASR parameter is used
        assert all(p.grad.abs().sum() > 0 for p in model.asr.parameters())


def test_parameter_groups() -> None:
    model = sbc_model()
    groups = model.parameter_groups(lr=0.01, sfp_lr=1e-4)
    by_name = {g["name"]: g for g in groups}
    assert by_name["sfp"]["lr"] == 1e-4 and by_name["backbone"]["lr"] == 0.01
    sfp_ids = {id(p) for p in model.sfp.parameters()}
    assert {id(p) for p in by_name["sfp"]["params"]} == sfp_ids
    asr_ids = {id(p) for p in model.asr.parameters()} | {id(p) for p in model.head.parameters()}
    assert asr_ids <= {id(p) for p in by_name["backbone"]["params"]}
    every = [id(p) for g in groups for p in g["params"]]
    assert len(every) == len(set(every)) and set(every) == {id(p) for p in model.parameters()}
    optimizer = Trainer(TrainConfig(lr=0.02, sfp_lr=3e-4), torch.device("cpu")).make_optimizer(model)
    assert sorted(g["lr"] for g in optimizer.param_groups) == [3e-4, 0.02]


# -- loss -------------------------------------------------------------------------------------
def test_joint_loss_formula() -> None:
    torch.manual_seed(0)
    targets = fake_targets(3, 8, 8)
    output = ModelOutput(
        logits=torch.randn(3, 4, 8, 8), coarse_logits=torch.randn(3, 4, 8, 8), distance=torch.rand(3, 4, 8, 8)
    )
    labels = targets["labels"]
    coarse = F.cross_entropy(output.coarse_logits, labels)
    mse = ((output.distance - targets["distance"]) ** 2).mean()
    refined = F.cross_entropy(output.logits, labels) + soft_dice_loss(output.logits, labels)
    criterion = build_criterion({"heads": "sbc"}, {"alpha": 0.5, "beta": 2.0, "gamma": 3.0})
    assert isinstance(criterion, SBCCriterion) and criterion.needs_distance
    losses = criterion(output, targets)
    assert losses["total"].item() == pytest.approx(
        (0.5 * coarse + 2.0 * mse + 3.0 * refined).item(), rel=1e-6
    )
    assert losses["sfp"].item() == pytest.approx(mse.item(), rel=1e-6)
    assert losses["coarse"].item() == pytest.approx(coarse.item(), rel=1e-6)
    assert (losses["refined_ce"] + losses["refined_dice"]).item() == pytest.approx(refined.item(), rel=1e-6)
    default = SBCCriterion()(output, targets)["total"]
    assert default.item() == pytest.approx((coarse + mse + refined).item(), rel=1e-6)
    with pytest.raises(ValueError, match="distance"):
        criterion(output, {"labels": labels})
    with pytest.raises(ValueError, match="heads"):
        criterion(ModelOutput(logits=output.logits, coarse_logits=output.logits), targets)
    foreground = ModelOutput(output.logits, output.coarse_logits, distance=output.distance[:, 1:])
    with pytest.raises(ConfigError, match="model.distance_classes"):  # F maps against C targets
        criterion(foreground, targets)


# -- strategy ---------------------------------------------------------------------------------
def tiny_context(model: torch.nn.Module, pool: int = 20, size: int = 32) -> QueryContext:
    torch.manual_seed(1)
    images = torch.randn(pool, 1, size, size)
    labeled = np.array([0, 3, 7])
    return QueryContext(
        model=model,
        pool_images=images,
        labeled=labeled,
        unlabeled=np.setdiff1d(np.arange(pool), labeled),
        num_classes=4,
        batch_size=6,
    )


def test_strategy_returns_k_distinct_unlabeled_indices() -> None:
    assert STRATEGIES.get("sbc_al") is SBCALStrategy
    model = sbc_model()
    context = tiny_context(model)
    result = SBCALStrategy().query(context, 5, np.random.default_rng(0))
    assert result.indices.shape == (5,) and len(set(result.indices.tolist())) == 5
    assert np.isin(result.indices, context.unlabeled).all()
    assert result.scores is not None and result.scores.shape == (17,)
    assert set(result.details) == {"scs", "bcs"}
    for values in (result.scores, result.details["scs"], result.details["bcs"]):
        assert values.shape == (17,) and np.isfinite(values).all()
    np.testing.assert_allclose(
        result.scores, 0.8 * result.details["scs"] + 0.2 * result.details["bcs"], atol=1e-6
    )
    top = result.candidates[np.argsort(-result.scores, kind="stable")[:5]]
    np.testing.assert_array_equal(result.indices, top)
    assert model.training  # the strategy restores the mode it found
    assert SBCALStrategy().query(context, 100, np.random.default_rng(0)).indices.size == 17


def test_strategy_score_is_the_documented_formula() -> None:
    model = sbc_model().eval()
    with torch.no_grad():
        output = model(torch.randn(4, 1, 32, 32))
    strategy = SBCALStrategy(w_s=0.7, w_b=0.3, w_c=0.5, w_d=0.5, cosine="paper", bcs_normalize=False)
    got = strategy.compute_score(output)
    refined, coarse = output.logits.argmax(1), output.coarse_logits.argmax(1)
    scs = structure_consistency(distance_maps(refined, 4), output.distance, 0.5, 0.5, cosine="paper")
    bcs = boundary_consistency(coarse, refined, 4, normalize=False)
    torch.testing.assert_close(got["scs"], scs)
    torch.testing.assert_close(got["bcs"], bcs)
    torch.testing.assert_close(got["score"], 0.7 * scs + 0.3 * bcs)


def test_strategy_needs_the_sbc_heads() -> None:
    plain = build_model({"width": 4, "heads": "plain"}, 4, seed=0)
    with pytest.raises(ValueError, match='heads = "sbc"'):
        SBCALStrategy().query(tiny_context(plain), 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="cosine"):
        SBCALStrategy(cosine="squared")  # type: ignore[arg-type]


# -- a short training on the phantom ------------------------------------------------------------
def test_training_on_the_phantom_teaches_the_sfp(one_thread: None) -> None:
    from alstrategies.data.synthetic import load_synthetic
    from alstrategies.training.targets import TargetCache

    data = load_synthetic(image_size=32, train_patients=6, test_patients=1, slices_per_patient=8)
    images = torch.from_numpy(data.pool_images)
    labels = torch.from_numpy(data.pool_labels.astype(np.int64))
    everything = np.arange(len(images))
    targets = TargetCache(labels, data.num_classes).targets(everything, need_distance=True)
    truth = targets["distance"]
    np.testing.assert_allclose(truth.numpy(), distance_maps(data.pool_labels, 4), rtol=1e-6, atol=1e-7)

    model = sbc_model(width=8)

    def sfp_quality() -> tuple[float, float]:
        model.eval()
        with torch.inference_mode():
            predicted = model(images).distance
        model.train()
        mse = ((predicted - truth) ** 2).mean().item()
        correlation = np.corrcoef(predicted.flatten().numpy(), truth.flatten().numpy())[0, 1]
        return mse, float(correlation)

    mse_before, _ = sfp_quality()
    # A short, fast schedule: higher SFP learning rate and MSE weight than the paper's, so that
    # the SFP visibly learns within a few seconds.
    config = TrainConfig(iterations=200, batch_size=8, lr=0.05, sfp_lr=0.1, augment=False, device="cpu")
    stats = Trainer(config, torch.device("cpu")).fit(model, images, targets, SBCCriterion(beta=10.0), seed=0)
    mse_after, correlation = sfp_quality()
    print(f"SFP: mse {mse_before:.4f} -> {mse_after:.4f}, correlation {correlation:.3f}")
    assert stats.loss_history[-1] < stats.loss_history[0]
    assert mse_after < 0.7 * mse_before
    assert correlation > 0.5
