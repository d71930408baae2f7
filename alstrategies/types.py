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


def slice_positions(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(positions, depths)`` of slices listed volume by volume in slicing order: each slice's
    rank among the slices of its group in pool order (0-based) and its group's slice count."""
    groups = np.asarray(groups)
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    positions = np.empty(groups.size, dtype=np.int64)
    positions[order] = np.arange(groups.size) - starts[inverse[order]]
    return positions, counts[inverse].astype(np.int64)


@dataclass
class SegmentationData:
    """A dataset ready for active learning: a pool of 2D slices and 3D test volumes.

    ``pool_images`` is ``N x 1 x H x W`` float32, ``pool_labels`` ``N x H x W`` uint8,
    ``pool_groups`` the patient (volume) name of each pool slice, ``class_names`` the
    foreground class names (label ``i`` is ``class_names[i - 1]``). ``pool_positions`` is each
    pool slice's 0-based index along its volume's slicing axis and ``pool_depths`` that volume's
    number of slices (``int64``, ``0 <= position < depth``); a loader that gives neither gets
    :func:`slice_positions` of the groups, which assumes each volume's slices in order.
    """

    name: str
    class_names: list[str]
    pool_images: np.ndarray
    pool_labels: np.ndarray
    pool_groups: np.ndarray
    test_volumes: list[Volume]
    info: dict[str, Any] = field(default_factory=dict)
    pool_positions: np.ndarray | None = None
    pool_depths: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.pool_positions is None or self.pool_depths is None:
            self.pool_positions, self.pool_depths = slice_positions(self.pool_groups)
        self.pool_positions = np.asarray(self.pool_positions, dtype=np.int64)
        self.pool_depths = np.asarray(self.pool_depths, dtype=np.int64)
        n = len(self.pool_groups)
        if self.pool_positions.shape != (n,) or self.pool_depths.shape != (n,):
            raise ValueError(
                f"pool_positions {self.pool_positions.shape} and pool_depths {self.pool_depths.shape} "
                f"must hold one value per pool slice ({n})"
            )
        if n and ((self.pool_positions < 0).any() or (self.pool_positions >= self.pool_depths).any()):
            raise ValueError("every pool slice needs 0 <= pool_positions < pool_depths")

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
