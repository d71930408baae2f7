"""What a run keeps of each round for the qualitative figures: which test slices, and the
network's outputs on them (written by the loop with :func:`~alstrategies.report.snapshots.save_snapshot`)."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from alstrategies.types import Volume


def choose_snapshot_slices(volumes: list[Volume], count: int) -> list[tuple[int, int]]:
    """``count`` (volume, slice) pairs for qualitative figures: volumes spread evenly over the
    test set, in each the slice with the most foreground (deterministic)."""
    if not volumes or count <= 0:
        return []
    picks = np.unique(np.linspace(0, len(volumes) - 1, min(count, len(volumes))).round().astype(int))
    chosen = []
    for v in picks:
        foreground = (volumes[v].label > 0).reshape(volumes[v].label.shape[0], -1).sum(axis=1)
        chosen.append((int(v), int(np.argmax(foreground))))
    return chosen


def snapshot_arrays(
    model: torch.nn.Module, volumes: list[Volume], slices: list[tuple[int, int]], device: torch.device
) -> dict[str, np.ndarray]:
    """Images, labels (nearest-zoomed to the working size), predictions, and the coarse
    prediction and SFP distance maps when the network has them, on the chosen slices."""
    images = np.stack([volumes[v].image[z] for v, z in slices]).astype(np.float32)
    size = images.shape[-2:]
    labels = torch.cat(  # labels are at each volume's original size: zoom them one by one
        [
            F.interpolate(torch.from_numpy(volumes[v].label[z][None, None].astype(np.float32)), size=size)[0]
            for v, z in slices
        ]
    ).to(torch.uint8)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            output = model(torch.from_numpy(images)[:, None].to(device))
    finally:
        model.train(was_training)
    arrays = {
        "images": images,
        "labels": labels.numpy(),
        "prediction": output.logits.argmax(dim=1).to(torch.uint8).cpu().numpy(),
        "slice_names": np.array([f"{volumes[v].name}:{z}" for v, z in slices]),
    }
    if output.coarse_logits is not output.logits:
        arrays["coarse"] = output.coarse_logits.argmax(dim=1).to(torch.uint8).cpu().numpy()
    if output.distance is not None:
        arrays["distance"] = output.distance.float().cpu().numpy().astype(np.float16)
    return arrays
