"""3D per-volume evaluation: predict every slice, restack, the registered metrics per class."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from alstrategies.metrics import DEFAULT_METRICS, nanmean_or_nan, resolve_metrics, volume_metrics
from alstrategies.types import Volume


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """Per metric (registry name, in the order computed) a ``volumes x F`` array of per-volume,
    per-class values (NaN where undefined), and their summaries."""

    scores: Mapping[str, np.ndarray]

    def __post_init__(self) -> None:
        object.__setattr__(self, "scores", {k: np.asarray(v, dtype=float) for k, v in self.scores.items()})

    @property
    def metrics(self) -> tuple[str, ...]:
        """The names of the computed metrics."""
        return tuple(self.scores)

    def per_volume(self, name: str) -> np.ndarray:
        """``volumes x F`` values of metric ``name``."""
        try:
            return self.scores[name]
        except KeyError:
            raise KeyError(f"metric {name!r} was not computed; computed: {', '.join(self.scores)}") from None

    def per_class(self, name: str) -> np.ndarray:
        """Per class, the mean over the volumes where it is defined (``(F,)``)."""
        return np.array([nanmean_or_nan(col) for col in self.per_volume(name).T])

    def mean(self, name: str) -> float:
        """Mean over classes within each volume, then over volumes (NaN entries excluded)."""
        return nanmean_or_nan([nanmean_or_nan(row) for row in self.per_volume(name)])

    def record_fields(self) -> dict[str, Any]:
        """The round record's metric fields: per computed metric ``m``, ``m`` (:meth:`mean`, a
        float) and ``m_per_class`` (:meth:`per_class`, an array); with Dice also
        ``dice_per_volume`` (the ``volumes x F`` array)."""
        fields: dict[str, Any] = {}
        for name in self.scores:
            fields[name] = self.mean(name)
            fields[f"{name}_per_class"] = self.per_class(name)
        if "dice" in self.scores:
            fields["dice_per_volume"] = self.per_volume("dice")
        return fields

    # -- the names used before the registry -------------------------------------------------------
    @property
    def dice_per_volume(self) -> np.ndarray:
        return self.per_volume("dice")

    @property
    def hd95_per_volume(self) -> np.ndarray:
        return self.per_volume("hd95")

    @property
    def dice_per_class(self) -> np.ndarray:
        return self.per_class("dice")

    @property
    def hd95_per_class(self) -> np.ndarray:
        return self.per_class("hd95")

    @property
    def dice(self) -> float:
        """Mean over classes within each volume, then over volumes (NaN entries excluded)."""
        return self.mean("dice")

    @property
    def hd95(self) -> float:
        return self.mean("hd95")


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
    metrics: Iterable[str] = DEFAULT_METRICS,
    metric_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> EvaluationResult:
    """The registered ``metrics`` (default Dice and HD95) of every foreground class on every volume
    (3D, slices restacked). ``metric_options`` maps a metric name to its keyword options, e.g.
    ``{"surface_dice": {"tolerance": 1.0}}``; options of metrics not computed are ignored."""
    names = tuple(dict.fromkeys(metrics))
    resolve_metrics(names, metric_options)  # unknown names fail before any prediction
    was_training = model.training
    model.eval()
    scores: dict[str, list[np.ndarray]] = {name: [] for name in names}
    try:
        for volume in volumes:
            prediction = predict_volume(model, volume, device, batch_size, amp)
            values = volume_metrics(
                prediction, volume.label, num_classes, volume.spacing, names, metric_options
            )
            for name in names:
                scores[name].append(values[name])
    finally:
        model.train(was_training)
    return EvaluationResult({name: np.array(rows, dtype=float) for name, rows in scores.items()})
