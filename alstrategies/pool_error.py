"""The true per-slice error of a round model on the pool (DESIGN section 5).

For the score-error correlation: for every score-based strategy and round, the Spearman
correlation of its image scores with :func:`slice_errors`, the round model's ``1 - Dice`` on each
unlabeled slice against the pool's true labels, i.e. how well the score finds the errors.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from alstrategies.errors import ConfigError
from alstrategies.ranking import eval_inference

__all__ = ["dice_errors", "slice_errors"]


def dice_errors(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Per-slice ``1 - mean 2D Dice`` over the foreground classes present in label or prediction.

    Args:
        predictions: ``B x H x W`` predicted class indices.
        labels: ``B x H x W`` true class indices.
        num_classes: Classes including the background (class 0, never scored).

    Returns:
        ``B`` float64 errors in [0, 1]; 0 for a slice where neither has any foreground.
    """
    dice_sum = torch.zeros(predictions.shape[0], dtype=torch.float64, device=predictions.device)
    present = torch.zeros_like(dice_sum)
    for c in range(1, num_classes):
        predicted, true = predictions == c, labels == c
        overlap = (predicted & true).flatten(1).sum(1).double()
        size = (predicted.flatten(1).sum(1) + true.flatten(1).sum(1)).double()
        seen = size > 0
        dice_sum += torch.where(seen, 2 * overlap / size.clamp_min(1), torch.zeros_like(size))
        present += seen.double()
    return torch.where(present > 0, 1 - dice_sum / present.clamp_min(1), torch.zeros_like(present))


def slice_errors(
    model: nn.Module,
    pool_images: torch.Tensor,
    pool_labels: torch.Tensor,
    indices: np.ndarray,
    num_classes: int,
    device: torch.device | str,
    batch_size: int = 64,
) -> np.ndarray:
    """The model's per-slice error ``1 - Dice`` (:func:`dice_errors`) on the pool slices ``indices``.

    The prediction is the argmax of the final logits, from one pass in eval mode under
    ``torch.inference_mode()``; every module's mode is restored afterwards.

    Args:
        model: The round's network (returns a :class:`~alstrategies.types.ModelOutput`).
        pool_images: The pool, ``N x C x H x W``, on any device.
        pool_labels: Its true labels, ``N x H x W`` integers, on any device.
        indices: The pool indices to score (e.g. the unlabeled pool), in the order wanted.
        num_classes: Classes including the background.
        device: The model's device.
        batch_size: Slices per forward pass.

    Returns:
        One float64 error per index, aligned with ``indices``.

    Raises:
        ConfigError: The labels do not match the images, an index is outside the pool, or the
            batch size is below 1.
    """
    expected = (pool_images.shape[0], *pool_images.shape[2:])
    if tuple(pool_labels.shape) != expected or pool_labels.dtype.is_floating_point:
        raise ConfigError(
            f"pool labels must be {expected} integer class indices to match the pool images, got "
            f"{tuple(pool_labels.shape)} of dtype {pool_labels.dtype}"
        )
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if indices.size and (indices.min() < 0 or indices.max() >= pool_images.shape[0]):
        raise ConfigError(f"pool indices must lie in 0..{pool_images.shape[0] - 1}")
    device = torch.device(device)
    errors: list[torch.Tensor] = []
    with eval_inference(model):
        for start in range(0, indices.size, batch_size):
            chunk = indices[start : start + batch_size]
            images = pool_images[torch.as_tensor(chunk, device=pool_images.device)].to(device).float()
            labels = pool_labels[torch.as_tensor(chunk, device=pool_labels.device)].to(device).long()
            predictions = model(images).logits.argmax(dim=1)
            errors.append(dice_errors(predictions, labels, num_classes).cpu())
    if not errors:
        return np.zeros(0, dtype=np.float64)
    return torch.cat(errors).numpy().astype(np.float64)
