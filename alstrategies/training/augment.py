"""Batched on-device augmentation: random flips/rot90 (shared by image and targets) and
intensity jitter (image only). Geometric transforms are exact symmetries of the pixel grid, so
label masks and distance maps stay exact."""

from __future__ import annotations

import torch


def _dihedral(x: torch.Tensor, code: int) -> torch.Tensor:
    """Apply one of the 8 flip/rotation symmetries (``code`` in 0..7) to the last two axes."""
    if code & 4:
        x = x.flip(-1)
    return torch.rot90(x, k=code & 3, dims=(-2, -1))


def augment_batch(
    images: torch.Tensor,
    targets: dict[str, torch.Tensor],
    generator: torch.Generator,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Randomly transform a batch; ``targets`` are ``B x ...`` tensors transformed alike."""
    batch, device = images.shape[0], images.device
    square = images.shape[-1] == images.shape[-2]
    codes = torch.randint(0, 8 if square else 1, (batch,), generator=generator, device=device)
    if not square:  # only flips keep a non-square grid
        codes = torch.randint(0, 2, (batch,), generator=generator, device=device) * 4
    out_images = images.clone()
    out_targets = {key: value.clone() for key, value in targets.items()}
    for code in codes.unique().tolist():
        if code == 0:
            continue
        rows = (codes == code).nonzero().squeeze(1)
        out_images[rows] = _dihedral(images[rows], code)
        for key, value in targets.items():
            out_targets[key][rows] = _dihedral(value[rows], code)
    # intensity: gamma in [0.7, 1.5], contrast/brightness jitter, gaussian noise
    shape = (batch,) + (1,) * (images.ndim - 1)
    uniform = torch.rand((3, *shape), generator=generator, device=device)
    gamma = 0.7 + 0.8 * uniform[0]
    scale = 0.9 + 0.2 * uniform[1]
    shift = 0.1 * (uniform[2] - 0.5)
    low = out_images.amin(dim=(-2, -1), keepdim=True)
    high = out_images.amax(dim=(-2, -1), keepdim=True)
    normalised = ((out_images - low) / (high - low).clamp_min(1e-6)).clamp(0, 1)
    out_images = normalised.pow(gamma) * (high - low) + low
    out_images = out_images * scale + shift
    noise = torch.randn(out_images.shape, generator=generator, device=device)
    out_images = out_images + 0.02 * noise
    return out_images, out_targets
