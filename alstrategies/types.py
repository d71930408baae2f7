"""Small typed records shared by models, strategies, datasets and the loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


@dataclass
class ModelOutput:
    """What every segmentation network returns (DESIGN section 2).

    Attributes:
        logits: ``B x C x H x W`` final (refined) class scores, before the softmax.
        coarse_logits: ``B x C x H x W`` class scores of the backbone head (the same tensor as
            ``logits`` for a plain network).
        distance: ``B x C x H x W`` (or ``B x F x H x W`` with foreground maps only) normalised
            distance maps in [0, 1] from SBC-AL's SFP; ``None`` for a plain network.
        features: ``B x D`` float32 image embeddings for diversity strategies (CoreSet,
            TypiClust): the bottleneck (deepest encoder level, ``D = 16c``) averaged over its
            pixels. Every built-in network fills it; ``None`` for networks that do not.
        head_features: ``B x D' x H x W`` per-pixel features that enter the network's final 1x1
            classification head, ``model.final_head()`` (an ``nn.Conv2d``), so that
            ``logits == F.conv2d(head_features, head.weight, head.bias)`` exactly (for gradient
            embeddings such as BADGE's): the decoder output of the plain network, the refined
            (ASR) features of SBCNet (the decoder output with ``asr = "none"``). ``None`` for
            networks that do not expose it.
    """

    logits: torch.Tensor
    coarse_logits: torch.Tensor
    distance: torch.Tensor | None = None
    features: torch.Tensor | None = None
    head_features: torch.Tensor | None = None


@dataclass
class Volume:
    """One evaluation volume: slices at the working resolution and labels at the original one.

    ``image`` is ``D x H x W`` float32 at the working resolution; ``label`` is ``D x H0 x W0``
    integer labels at the original resolution, ``spacing`` the voxel spacing (z, y, x) in mm
    when known.
    """

    name: str
    image: np.ndarray
    label: np.ndarray
    spacing: tuple[float, float, float] | None = None


@dataclass
class SegmentationData:
    """A dataset ready for active learning: a pool of 2D slices and 3D test volumes.

    ``pool_images`` is ``N x 1 x H x W`` float32, ``pool_labels`` ``N x H x W`` uint8,
    ``pool_groups`` the patient (volume) name of each pool slice, ``class_names`` the
    foreground class names (label ``i`` is ``class_names[i - 1]``).
    """

    name: str
    class_names: list[str]
    pool_images: np.ndarray
    pool_labels: np.ndarray
    pool_groups: np.ndarray
    test_volumes: list[Volume]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        """Number of classes including background."""
        return len(self.class_names) + 1

    @property
    def pool_size(self) -> int:
        return int(self.pool_images.shape[0])

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.pool_images.shape[-2]), int(self.pool_images.shape[-1])
