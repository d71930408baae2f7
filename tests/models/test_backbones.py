"""The three backbones (U-Net, U-Net++, Attention U-Net) share one interface and all train."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from alstrategies.models import build_model
from alstrategies.models.attention_unet import AttentionUNet
from alstrategies.models.blocks import ENCODER_DROPOUT
from alstrategies.models.segmentation import SegmentationNet
from alstrategies.models.unetpp import UNetPlusPlus
from alstrategies.registry import MODELS
from alstrategies.training.losses import segmentation_loss

BACKBONES = ["unet", "unetpp", "attention_unet"]


def test_registry_names() -> None:
    assert MODELS.get("unetpp") is UNetPlusPlus
    assert MODELS.get("attention_unet") is AttentionUNet


@pytest.mark.parametrize("name", BACKBONES)
@pytest.mark.parametrize("size", [(32, 48), (16, 16)])
def test_feature_shapes(name: str, size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    width = 4
    backbone = MODELS.get(name)(in_channels=2, width=width, dropout=True)
    assert backbone.encoder_channels == [4, 8, 16, 32, 64]
    assert backbone.decoder_channels == width
    height, wide = size
    features = backbone(torch.randn(2, 2, height, wide))
    assert len(features.encoder) == 5
    for level, feature in enumerate(features.encoder):
        assert feature.shape == (2, width * 2**level, height // 2**level, wide // 2**level)
    assert features.decoder.shape == (2, width, height, wide)
    assert torch.isfinite(features.decoder).all()


@pytest.mark.parametrize("name", BACKBONES)
def test_dropout_switch_and_eval_determinism(name: str) -> None:
    with_dropout = MODELS.get(name)(in_channels=1, width=4, dropout=True)
    rates = [m.p for m in with_dropout.modules() if isinstance(m, nn.Dropout) and m.p > 0]
    assert rates == list(ENCODER_DROPOUT)
    without = MODELS.get(name)(in_channels=1, width=4, dropout=False)
    assert all(m.p == 0 for m in without.modules() if isinstance(m, nn.Dropout))
    with_dropout.eval()
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(with_dropout(x).decoder, with_dropout(x).decoder)


@pytest.mark.parametrize("name", BACKBONES)
def test_every_parameter_gets_a_gradient_and_a_batch_is_learnt(name: str) -> None:
    torch.manual_seed(0)
    model = build_model({"backbone": name, "width": 4, "heads": "plain", "dropout": False}, num_classes=3)
    assert isinstance(model, SegmentationNet)
    images = torch.randn(4, 1, 16, 16)
    labels = (images[:, 0] > 0.5).long() + (images[:, 0] > 1.2).long()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for step in range(25):
        loss = segmentation_loss(model(images).logits, labels)
        optimizer.zero_grad()
        loss.backward()
        if step == 0:
            for pname, parameter in model.named_parameters():
                assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), pname
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize("name", BACKBONES)
def test_backbones_are_compact(name: str) -> None:
    model = MODELS.get(name)(in_channels=1, width=16, dropout=True)
    assert sum(p.numel() for p in model.parameters()) < 5_000_000


def test_alstrategies_list_says_what_each_backbone_is() -> None:
    """The listing's line is the docstring's first: what the backbone is, not its interface."""
    import re

    from alstrategies.registry import MODELS

    for name, line in MODELS.describe().items():
        assert "backbone" in line.lower(), (name, line)
        assert not re.search(r"\b(forward|returns?|logits)\b", line), (name, line)
