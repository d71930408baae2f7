"""Batched on-device augmentation: random flips and transposes (shared by image and targets)
and intensity jitter (image only).

The geometric transforms are the 8 symmetries of the square pixel grid (only the flips on a
non-square grid), so label masks and distance maps stay exact. Every transform is a whole-batch
``torch.where`` between the tensor and its flipped copy: no per-sample Python loop.
"""

from __future__ import annotations

import torch


def _select(mask: torch.Tensor, transformed: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, *([1] * (original.ndim - 1))), transformed, original)


def symmetry(x: torch.Tensor, transpose: bool, flip_rows: bool, flip_cols: bool) -> torch.Tensor:
    """One grid symmetry of the last two axes (transpose first, then the flips)."""
    if transpose:
        x = x.transpose(-1, -2)
    if flip_rows:
        x = x.flip(-2)
    if flip_cols:
        x = x.flip(-1)
    return x


def augment_batch(
    images: torch.Tensor,
    targets: dict[str, torch.Tensor],
    generator: torch.Generator,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Randomly transform a batch; ``targets`` are ``B x ...`` tensors transformed alike."""
    batch, device = images.shape[0], images.device
    square = images.shape[-1] == images.shape[-2]
    coins = torch.rand((3, batch), generator=generator, device=device) < 0.5
    tensors = [images, *targets.values()]
    if square:
        tensors = [_select(coins[0], t.transpose(-1, -2), t) for t in tensors]
    tensors = [_select(coins[1], t.flip(-2), t) for t in tensors]
    tensors = [_select(coins[2], t.flip(-1), t) for t in tensors]
    out_images, out_targets = tensors[0], dict(zip(targets, tensors[1:]))
    # intensity: gamma in [0.7, 1.5], contrast/brightness jitter, gaussian noise
    shape = (batch,) + (1,) * (images.ndim - 1)
    uniform = torch.rand((3, *shape), generator=generator, device=device)
    low = out_images.amin(dim=(-2, -1), keepdim=True)
    span = (out_images.amax(dim=(-2, -1), keepdim=True) - low).clamp_min(1e-6)
    normalised = ((out_images - low) / span).clamp(0, 1)
    out_images = normalised.pow(0.7 + 0.8 * uniform[0]) * span + low
    out_images = out_images * (0.9 + 0.2 * uniform[1]) + 0.1 * (uniform[2] - 0.5)
    noise = torch.randn(out_images.shape, generator=generator, device=device)
    return out_images + 0.02 * noise, out_targets
