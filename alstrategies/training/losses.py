"""Segmentation losses: cross-entropy plus soft Dice, and the criterion interface."""

from __future__ import annotations

from typing import Protocol

import torch
from torch.nn import functional as F

from alstrategies.types import ModelOutput


class Criterion(Protocol):
    """Maps a model output and a batch of targets to ``{"total": loss, ...parts}``.

    ``needs_distance`` says whether the targets must include ground-truth distance maps.
    """

    needs_distance: bool

    def __call__(self, output: ModelOutput, targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]: ...


def soft_dice_loss(logits: torch.Tensor, labels: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """1 - mean over classes of the soft Dice between softmax(logits) and one-hot labels."""
    probs = logits.float().softmax(dim=1)
    onehot = F.one_hot(labels, probs.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    dims = (0, 2, 3)
    intersection = (probs * onehot).sum(dims)
    denominator = probs.sum(dims) + onehot.sum(dims)
    return 1.0 - ((2.0 * intersection + eps) / (denominator + eps)).mean()


def segmentation_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """CE + soft Dice on one set of logits."""
    return F.cross_entropy(logits.float(), labels) + soft_dice_loss(logits, labels)


class SegmentationCriterion:
    """CE + Dice on the final logits: the loss of a plain backbone."""

    needs_distance = False

    def __call__(self, output: ModelOutput, targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        total = segmentation_loss(output.logits, targets["labels"])
        return {"total": total}
