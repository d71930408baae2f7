"""Backbones and segmentation networks, built from the ``[model]`` config section.

The built-in backbones are registered by name through the entry-point group
``alstrategies.models`` (``pyproject.toml``), like third-party ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, get_args

import torch
from torch import nn

from alstrategies.errors import ConfigError
from alstrategies.models.attention_unet import AttentionUNet
from alstrategies.models.segmentation import SegmentationNet
from alstrategies.models.unet import UNet
from alstrategies.models.unetpp import UNetPlusPlus
from alstrategies.registry import MODELS
from alstrategies.settings import Heads, LossConfig, ModelConfig

#: ``model.heads``, from the one declaration :data:`alstrategies.settings.Heads`.
HEADS: tuple[Heads, ...] = get_args(Heads)


def _typed(cls: type, section: Any) -> Any:
    """``section`` as its dataclass ``cls``: as is, or a (partial) table with the rest defaulted."""
    return section if isinstance(section, cls) else cls(**{**asdict(cls()), **dict(section)})


def build_model(
    model_config: ModelConfig | Mapping[str, Any],
    num_classes: int,
    in_channels: int = 1,
    seed: int | None = None,
) -> nn.Module:
    """A seeded network: backbone ``model.backbone`` of width ``model.width`` with ``model.heads``.

    ``heads = "plain"`` gives backbone + 1x1 head; ``"sbc"`` gives SBCNet (SFP + ASR, with
    ``model.asr``, ``model.distance_prior`` and ``model.distance_classes`` (C or F distance maps);
    0 keeps PyTorch's default SFP bias). ``model_config`` is the ``[model]`` section, typed or as
    a table whose missing keys take their defaults.
    """
    model: ModelConfig = _typed(ModelConfig, model_config)
    if seed is not None:
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the global RNG
            torch.manual_seed(seed)
            return build_model(model, num_classes, in_channels, seed=None)
    backbone = MODELS.get(model.backbone)(in_channels=in_channels, width=model.width, dropout=model.dropout)
    if model.heads == "plain":
        return SegmentationNet(backbone, num_classes)
    if model.heads == "sbc":
        from alstrategies.sbcal.network import SBCNet

        return SBCNet(
            backbone,
            num_classes,
            asr=model.asr,
            distance_prior=model.distance_prior or None,
            distance_classes=model.distance_classes,
        )
    raise ConfigError(f"model.heads = {model.heads!r} is not one of {HEADS}")


def build_criterion(
    model_config: ModelConfig | Mapping[str, Any], loss_config: LossConfig | Mapping[str, Any] | None = None
):
    """The training loss that matches ``model.heads`` (SBC-AL's with the ``[loss]`` weights)."""
    if _typed(ModelConfig, model_config).heads == "sbc":
        from alstrategies.sbcal.loss import SBCCriterion

        return SBCCriterion(**asdict(_typed(LossConfig, loss_config or {})))
    from alstrategies.training.losses import SegmentationCriterion

    return SegmentationCriterion()


__all__ = [
    "AttentionUNet",
    "UNet",
    "UNetPlusPlus",
    "SegmentationNet",
    "build_model",
    "build_criterion",
    "HEADS",
]
