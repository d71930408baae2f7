"""SBCNet: a backbone with SBC-AL's SFP and ASR modules (DESIGN section 3, paper Fig. 1)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from alstrategies.types import ModelOutput

ASR_VARIANTS = ("attention", "add", "concat", "none")
#: ``model.distance_classes``: distance maps for every class (C) or for the foreground only (F).
DISTANCE_CLASSES = ("all", "foreground")


class ConvBNReLU(nn.Sequential):
    """conv3x3-BN-ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class DisBlock(nn.Module):
    """Distance block: upsample the deeper map, concatenate encoder features, conv-BN-ReLU x2."""

    def __init__(self, deep_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            ConvBNReLU(deep_channels + skip_channels, out_channels), ConvBNReLU(out_channels, out_channels)
        )

    def forward(self, deep: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(deep, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.convs(torch.cat([up, skip], dim=1))


class StructureFeaturePrediction(nn.Module):
    """SFP: four cascaded DisBlocks from the bottleneck up to level 0, then 1x1 conv + sigmoid.

    DisBlock ``k`` (``k = 3, 2, 1, 0``) outputs the channel count of encoder level ``k``.
    ``forward`` returns ``(features of the last DisBlock, distance maps in [0, 1])``. The output
    conv's bias starts at ``logit(distance_prior)``, so the untrained SFP predicts about the
    mean of normalised distance maps (mostly background zeros) instead of 0.5 everywhere.
    """

    def __init__(
        self, encoder_channels: list[int], out_maps: int, distance_prior: float | None = 0.05
    ) -> None:
        super().__init__()
        if len(encoder_channels) != 5:
            raise ValueError(f"SFP needs a 5-level encoder, got channels {encoder_channels}")
        blocks, deep = [], encoder_channels[-1]
        for level in reversed(range(len(encoder_channels) - 1)):
            blocks.append(DisBlock(deep, encoder_channels[level], encoder_channels[level]))
            deep = encoder_channels[level]
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = deep
        self.head = nn.Conv2d(deep, out_maps, 1)
        if distance_prior is not None:
            if not 0.0 < distance_prior < 1.0:
                raise ValueError(f"distance_prior must lie in (0, 1), got {distance_prior}")
            assert self.head.bias is not None  # Conv2d's default bias=True
            nn.init.constant_(self.head.bias, math.log(distance_prior / (1.0 - distance_prior)))

    def forward(self, encoder: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x = encoder[-1]
        for block, skip in zip(self.blocks, reversed(encoder[:-1]), strict=True):
            x = block(x, skip)
        return x, torch.sigmoid(self.head(x))


class AttentionRefinement(nn.Module):
    """ASR: ``A = softmax_c(BN(conv3x3 s) + BN(conv1x1 s))``; ``f + f * A * c_dec``.

    ``A`` sums to 1 over the ``c_dec`` decoder channels at each pixel, so ``A * c_dec`` has mean 1
    and the refinement neither shrinks nor inflates the features on average.
    """

    def __init__(self, sfp_channels: int, decoder_channels: int) -> None:
        super().__init__()
        self.decoder_channels = decoder_channels
        self.branch3 = nn.Sequential(
            nn.Conv2d(sfp_channels, decoder_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(decoder_channels),
        )
        self.branch1 = nn.Sequential(
            nn.Conv2d(sfp_channels, decoder_channels, 1, bias=False), nn.BatchNorm2d(decoder_channels)
        )

    def attention(self, structure: torch.Tensor) -> torch.Tensor:
        """The attention map ``A`` (B x c_dec x H x W, softmax over channels)."""
        return torch.softmax(self.branch3(structure) + self.branch1(structure), dim=1)

    def forward(self, decoder: torch.Tensor, structure: torch.Tensor) -> torch.Tensor:
        return decoder + decoder * self.attention(structure) * self.decoder_channels


class AddRefinement(nn.Module):
    """ASR (A): ``f + s`` (``s`` projected by a 1x1 conv when the channel counts differ)."""

    def __init__(self, sfp_channels: int, decoder_channels: int) -> None:
        super().__init__()
        self.project = (
            nn.Identity()
            if sfp_channels == decoder_channels
            else nn.Conv2d(sfp_channels, decoder_channels, 1)
        )

    def forward(self, decoder: torch.Tensor, structure: torch.Tensor) -> torch.Tensor:
        return decoder + self.project(structure)


class ConcatRefinement(nn.Module):
    """ASR (C): one 1x1 conv (with bias) over ``[f, s]`` back to ``c_dec`` channels (DESIGN 3).

    With the linear refined head, ``logits`` are then a linear map of ``[f_dec, s]``.
    """

    def __init__(self, sfp_channels: int, decoder_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(sfp_channels + decoder_channels, decoder_channels, kernel_size=1)

    def forward(self, decoder: torch.Tensor, structure: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([decoder, structure], dim=1))


class SBCNet(nn.Module):
    """Backbone + coarse head, SFP (distance maps) and ASR (refined logits).

    ``backbone(x)`` must return :class:`~alstrategies.models.unet.BackboneFeatures` with five
    encoder levels and expose ``encoder_channels`` and ``decoder_channels`` (UNet, UNetPlusPlus,
    AttentionUNet). ``asr`` picks the refinement (paper Table 3): ``"attention"`` (default),
    ``"add"``, ``"concat"`` or ``"none"`` (``logits`` are the coarse logits). Inputs need H and W
    divisible by 16. ``distance_prior`` is the SFP's initial output (``None``: PyTorch's default
    initialisation, i.e. 0.5 on average). ``distance_classes`` sets the SFP's maps: ``"all"``
    (default, C: background included, as in the paper) or ``"foreground"`` (F = C - 1).
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int,
        asr: str = "attention",
        distance_prior: float | None = 0.05,
        distance_classes: str = "all",
    ) -> None:
        super().__init__()
        if asr not in ASR_VARIANTS:
            raise ValueError(f"model.asr = {asr!r} is not one of {ASR_VARIANTS}")
        if distance_classes not in DISTANCE_CLASSES:
            raise ValueError(
                f"model.distance_classes = {distance_classes!r} is not one of {DISTANCE_CLASSES}"
            )
        if num_classes < 2:
            raise ValueError(f"SBCNet needs at least 2 classes (background + one), got {num_classes}")
        self.backbone = backbone
        self.num_classes = num_classes
        self.asr_variant = asr
        self.distance_classes = distance_classes
        shape: Any = backbone  # a backbone states its channels (models/blocks.py)
        decoder_channels = int(shape.decoder_channels)
        self.coarse_head = nn.Conv2d(decoder_channels, num_classes, 1)
        maps = num_classes if distance_classes == "all" else num_classes - 1
        self.sfp = StructureFeaturePrediction(list(shape.encoder_channels), maps, distance_prior)
        sfp_channels = self.sfp.out_channels
        self.asr: nn.Module | None
        self.head: nn.Module | None
        if asr == "none":
            self.asr, self.head = None, None
        else:
            refinement = {"attention": AttentionRefinement, "add": AddRefinement, "concat": ConcatRefinement}[
                asr
            ]
            self.asr = refinement(sfp_channels, decoder_channels)
            self.head = nn.Conv2d(decoder_channels, num_classes, 1)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        features = self.backbone(x)
        coarse = self.coarse_head(features.decoder)
        structure, distance = self.sfp(features.encoder)
        if self.asr is None or self.head is None:
            refined, logits = features.decoder, coarse
        else:
            refined = self.asr(features.decoder, structure)
            logits = self.head(refined)
        return ModelOutput(
            logits=logits,
            coarse_logits=coarse,
            distance=distance,
            features=features.pooled_bottleneck(),
            head_features=refined,
        )

    def final_head(self) -> nn.Conv2d:
        """The 1x1 conv that maps ``ModelOutput.head_features`` to ``ModelOutput.logits``.

        The refined head after the ASR, or the coarse head when ``asr = "none"`` (then
        ``head_features`` are the decoder features and ``logits`` the coarse logits).
        """
        if self.head is None:
            return self.coarse_head
        assert isinstance(self.head, nn.Conv2d)
        return self.head

    def parameter_groups(self, lr: float, sfp_lr: float) -> list[dict]:
        """Two SGD groups: the SFP at ``sfp_lr`` and everything else (backbone, heads, ASR) at ``lr``."""
        sfp = list(self.sfp.parameters())
        sfp_ids = {id(p) for p in sfp}
        main = [p for p in self.parameters() if id(p) not in sfp_ids]
        return [{"params": main, "lr": lr, "name": "backbone"}, {"params": sfp, "lr": sfp_lr, "name": "sfp"}]
