"""3D per-volume evaluation: predict every slice, restack, Dice and HD95 per class."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from alstrategies.metrics import nanmean_or_nan, volume_metrics
from alstrategies.types import Volume


@dataclass
class EvaluationResult:
    """Per-volume, per-class Dice and HD95 (``volumes x F``) and their summaries."""

    dice_per_volume: np.ndarray
    hd95_per_volume: np.ndarray

    @property
    def dice_per_class(self) -> np.ndarray:
        return np.array([nanmean_or_nan(col) for col in self.dice_per_volume.T])

    @property
    def hd95_per_class(self) -> np.ndarray:
        return np.array([nanmean_or_nan(col) for col in self.hd95_per_volume.T])

    @property
    def dice(self) -> float:
        """Mean over classes within each volume, then over volumes (NaN entries excluded)."""
        return nanmean_or_nan([nanmean_or_nan(row) for row in self.dice_per_volume])

    @property
    def hd95(self) -> float:
        return nanmean_or_nan([nanmean_or_nan(row) for row in self.hd95_per_volume])


def predict_volume(
    model: nn.Module, volume: Volume, device: torch.device, batch_size: int = 64, amp: bool = True
) -> np.ndarray:
    """Label volume at the original resolution of ``volume.label``."""
    target_size = tuple(volume.label.shape[-2:])
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16) if amp and device.type == "cuda" else nullcontext()
    )
    slices = []
    with torch.inference_mode():
        for start in range(0, volume.image.shape[0], batch_size):
            chunk = torch.from_numpy(np.ascontiguousarray(volume.image[start : start + batch_size]))
            with autocast:
                logits = model(chunk[:, None].to(device).float()).logits.float()
            if tuple(logits.shape[-2:]) != target_size:
                logits = F.interpolate(logits, size=target_size, mode="bilinear", align_corners=False)
            slices.append(logits.argmax(dim=1).to(torch.uint8).cpu())
    return torch.cat(slices).numpy()


def evaluate(
    model: nn.Module,
    volumes: list[Volume],
    num_classes: int,
    device: torch.device,
    batch_size: int = 64,
    amp: bool = True,
) -> EvaluationResult:
    """Dice and HD95 of every foreground class on every volume (3D, slices restacked)."""
    was_training = model.training
    model.eval()
    dice, hd95 = [], []
    try:
        for volume in volumes:
            prediction = predict_volume(model, volume, device, batch_size, amp)
            scores = volume_metrics(prediction, volume.label, num_classes, spacing=volume.spacing)
            dice.append(scores["dice"])
            hd95.append(scores["hd95"])
    finally:
        model.train(was_training)
    return EvaluationResult(np.array(dice, dtype=float), np.array(hd95, dtype=float))
