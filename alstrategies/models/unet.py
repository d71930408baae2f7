"""Compact 5-level 2D U-Net backbone (SSL4MIS style) exposing encoder and decoder features."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from alstrategies.models.blocks import ENCODER_DROPOUT, ConvBlock, UpBlock, encoder_channels


@dataclass
class BackboneFeatures:
    """Encoder features of every level (shallow to deep) and the final decoder features."""

    encoder: list[torch.Tensor]
    decoder: torch.Tensor

    def pooled_bottleneck(self) -> torch.Tensor:
        """``B x D`` float32: the deepest encoder level averaged over its pixels (global pooling).

        This is :attr:`ModelOutput.features <alstrategies.types.ModelOutput.features>`, the image
        embedding of the diversity strategies; it costs one mean over an ``H/16 x W/16`` map.
        """
        return self.encoder[-1].float().mean(dim=(2, 3))


class UNetEncoder(nn.Module):
    """Five ConvBlocks separated by 2x2 max pooling, with dropout growing with depth."""

    def __init__(self, in_channels: int, width: int, dropout: bool = True) -> None:
        super().__init__()
        self.channels = encoder_channels(width)
        rates = ENCODER_DROPOUT if dropout else (0.0,) * len(self.channels)
        blocks, previous = [], in_channels
        for channels, rate in zip(self.channels, rates, strict=True):
            blocks.append(ConvBlock(previous, channels, rate))
            previous = channels
        self.blocks = nn.ModuleList(blocks)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for level, block in enumerate(self.blocks):
            x = block(x if level == 0 else self.pool(x))
            features.append(x)
        return features


class UNet(nn.Module):
    """U-Net backbone, 5 levels (SSL4MIS style), the default of ``model.backbone``.

    ``forward`` returns :class:`BackboneFeatures`, not logits.

    ``decoder_channels`` (= width) is the channel count of the final decoder features that a
    segmentation head (see :mod:`alstrategies.models.segmentation`) turns into logits.
    Subclasses change the decoder by setting ``up_block``.
    """

    up_block: type[nn.Module] = UpBlock

    def __init__(self, in_channels: int = 1, width: int = 16, dropout: bool = True) -> None:
        super().__init__()
        self.encoder = UNetEncoder(in_channels, width, dropout)
        channels = self.encoder.channels
        self.encoder_channels = channels
        self.decoder_channels = channels[0]
        self.up = nn.ModuleList(
            self.up_block(channels[level + 1], channels[level], channels[level])
            for level in reversed(range(len(channels) - 1))
        )

    def forward(self, x: torch.Tensor) -> BackboneFeatures:
        features = self.encoder(x)
        y = features[-1]
        for block, skip in zip(self.up, reversed(features[:-1]), strict=True):
            y = block(y, skip)
        return BackboneFeatures(encoder=features, decoder=y)
