"""Compact 5-level 2D Attention U-Net backbone (Oktay et al., 2018): gated skip connections."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from alstrategies.models.blocks import ConvBlock
from alstrategies.models.unet import UNet


class AttentionGate(nn.Module):
    """Additive attention gate: ``skip * sigmoid(psi(relu(W_x skip + W_g gate)))``.

    ``gate`` (the coarser decoder signal, already upsampled to the skip's size) decides which
    skip pixels pass; one attention coefficient per pixel.
    """

    def __init__(self, skip_channels: int, gate_channels: int) -> None:
        super().__init__()
        inner = max(skip_channels // 2, 1)
        self.skip = nn.Sequential(nn.Conv2d(skip_channels, inner, 1, bias=False), nn.BatchNorm2d(inner))
        self.gate = nn.Sequential(nn.Conv2d(gate_channels, inner, 1, bias=False), nn.BatchNorm2d(inner))
        self.psi = nn.Sequential(nn.Conv2d(inner, 1, 1), nn.BatchNorm2d(1), nn.Sigmoid())

    def forward(self, skip: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        return skip * self.psi(F.relu(self.skip(skip) + self.gate(gate)))


class AttentionUpBlock(nn.Module):
    """1x1 reduction and bilinear upsampling of the deeper map, gated skip, concat, ConvBlock."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(in_channels, skip_channels, 1)
        self.attention = AttentionGate(skip_channels, skip_channels)
        self.conv = ConvBlock(2 * skip_channels, out_channels)

    def forward(self, deep: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(self.reduce(deep), size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([self.attention(skip, up), up], dim=1))


class AttentionUNet(UNet):
    """Attention U-Net backbone with the interface of :class:`~alstrategies.models.unet.UNet`.

    The U-Net encoder and decoder, with an attention gate on each of the four skip
    connections, gated by the upsampled deeper decoder features.
    """

    up_block = AttentionUpBlock
