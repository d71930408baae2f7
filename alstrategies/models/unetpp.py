"""Compact 5-level 2D U-Net++ backbone (Zhou et al., DLMIA 2018): nested dense skip pathways."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from alstrategies.models.blocks import ConvBlock
from alstrategies.models.unet import BackboneFeatures, UNetEncoder


class UNetPlusPlus(nn.Module):
    """U-Net++ backbone with the interface of :class:`~alstrategies.models.unet.UNet`.

    Node ``X[i][j]`` (level ``i``, column ``j >= 1``) is a :class:`ConvBlock` over the
    concatenation of ``X[i][0..j-1]`` and the bilinearly upsampled ``X[i+1][j-1]``, with
    ``c * 2^i`` channels; ``X[i][0]`` is the (shared, dropout-carrying) U-Net encoder. The
    decoder features are ``X[0][4]`` (``c`` channels; no deep supervision).
    """

    def __init__(self, in_channels: int = 1, width: int = 16, dropout: bool = True) -> None:
        super().__init__()
        self.encoder = UNetEncoder(in_channels, width, dropout)
        channels = self.encoder.channels
        self.encoder_channels = channels
        self.decoder_channels = channels[0]
        levels = len(channels)
        # nodes[i][j - 1] is X[i][j]; level i has levels - 1 - i nested nodes
        self.nodes = nn.ModuleList(
            nn.ModuleList(
                ConvBlock(j * channels[i] + channels[i + 1], channels[i]) for j in range(1, levels - i)
            )
            for i in range(levels - 1)
        )

    def forward(self, x: torch.Tensor) -> BackboneFeatures:
        encoder = self.encoder(x)
        grid: list[list[torch.Tensor]] = [[feature] for feature in encoder]
        levels = len(encoder)
        for j in range(1, levels):
            for i in range(levels - j):
                deeper = grid[i + 1][j - 1]
                up = F.interpolate(deeper, size=grid[i][0].shape[-2:], mode="bilinear", align_corners=False)
                node = self.nodes[i][j - 1]  # type: ignore[index]  # a ModuleList of ModuleLists
                grid[i].append(node(torch.cat([*grid[i], up], dim=1)))
        return BackboneFeatures(encoder=encoder, decoder=grid[0][-1])
