"""Backbones and segmentation networks, built from the ``[model]`` config section."""

from __future__ import annotations

import torch
from torch import nn

from alstrategies.models.attention_unet import AttentionUNet
from alstrategies.models.segmentation import SegmentationNet
from alstrategies.models.unet import UNet
from alstrategies.models.unetpp import UNetPlusPlus
from alstrategies.registry import MODELS

MODELS.register("unet", UNet)
MODELS.register("unetpp", UNetPlusPlus)
MODELS.register("attention_unet", AttentionUNet)

HEADS = ("plain", "sbc")


def build_model(
    model_config: dict, num_classes: int, in_channels: int = 1, seed: int | None = None
) -> nn.Module:
    """A seeded network: backbone ``model.backbone`` of width ``model.width`` with ``model.heads``.

    ``heads = "plain"`` gives backbone + 1x1 head; ``"sbc"`` gives SBCNet (SFP + ASR, with
    ``model.asr`` and ``model.distance_prior``; 0 keeps PyTorch's default SFP bias).
    """
    if seed is not None:
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the global RNG
            torch.manual_seed(seed)
            return build_model(model_config, num_classes, in_channels, seed=None)
    backbone_factory = MODELS.get(model_config.get("backbone", "unet"))
    backbone = backbone_factory(
        in_channels=in_channels,
        width=model_config.get("width", 16),
        dropout=model_config.get("dropout", True),
    )
    heads = model_config.get("heads", "plain")
    if heads == "plain":
        return SegmentationNet(backbone, num_classes)
    if heads == "sbc":
        from alstrategies.sbcal.network import SBCNet

        prior = model_config.get("distance_prior", 0.05)
        return SBCNet(
            backbone, num_classes, asr=model_config.get("asr", "attention"), distance_prior=prior or None
        )
    raise ValueError(f"model.heads = {heads!r} is not one of {HEADS}")


def build_criterion(model_config: dict, loss_config: dict):
    """The training loss that matches ``model.heads``."""
    heads = model_config.get("heads", "plain")
    if heads == "sbc":
        from alstrategies.sbcal.loss import SBCCriterion

        return SBCCriterion(**loss_config)
    from alstrategies.training.losses import SegmentationCriterion

    return SegmentationCriterion()


__all__ = ["UNet", "SegmentationNet", "build_model", "build_criterion", "HEADS"]
