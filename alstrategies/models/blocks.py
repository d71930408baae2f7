"""Convolution blocks shared by the compact 2D backbones."""

from __future__ import annotations

import torch
from torch import nn

#: Dropout per encoder level, as in the SSL4MIS 2D U-Net (DESIGN section 3).
ENCODER_DROPOUT: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.5)


class ConvBlock(nn.Sequential):
    """conv3x3-BN-LeakyReLU, dropout, conv3x3-BN-LeakyReLU."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.BatchNorm2d(out_channels),
            nn.LeakyReLU(0.01),
            nn.Dropout(dropout),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
            nn.BatchNorm2d(out_channels),
            nn.LeakyReLU(0.01),
        )


class UpBlock(nn.Module):
    """1x1 reduction, bilinear upsampling, concatenation with the skip, ConvBlock."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(in_channels, skip_channels, 1)
        self.conv = ConvBlock(2 * skip_channels, out_channels)

    def forward(self, deep: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = nn.functional.interpolate(
            self.reduce(deep), size=skip.shape[-2:], mode="bilinear", align_corners=False
        )
        return self.conv(torch.cat([skip, up], dim=1))


def encoder_channels(width: int, levels: int = 5) -> list[int]:
    """Channels per encoder level: c, 2c, 4c, 8c, 16c."""
    return [width * 2**level for level in range(levels)]
