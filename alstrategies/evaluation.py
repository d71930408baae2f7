"""3D per-volume evaluation: predict every slice, restack, the registered metrics per class.

Logits come back to the original size with ``align_corners=True``, the corner convention of
the loaders' ``scipy.ndimage.zoom(..., grid_mode=False)`` (first and last pixel centres
coincide), so a perfect prediction survives the round trip. Per volume and foreground class the
evaluation also notes whether the prediction missed or invented the structure (its HD95 is then
the volume's diagonal) and in which unit HD95 is: ``"mm"`` with a voxel spacing, ``"voxels"``
without.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from alstrategies.errors import DatasetError
from alstrategies.metrics import (
    DEFAULT_METRICS,
    class_misses,
    nanmean_or_nan,
    resolve_metrics,
    volume_metrics,
)
from alstrategies.types import Volume


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """Per metric (registry name, in the order computed) a ``volumes x F`` array of per-volume,
    per-class values (NaN where undefined), and their summaries.

    ``misses`` (``volumes x F`` booleans, or None when not known) marks the classes that the
    prediction missed or invented in a volume; ``hd95_unit`` is ``"mm"`` or ``"voxels"`` (None
    when not known)."""

    scores: Mapping[str, np.ndarray]
    misses: np.ndarray | None = None
    hd95_unit: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scores", {k: np.asarray(v, dtype=float) for k, v in self.scores.items()})
        if self.misses is not None:
            object.__setattr__(self, "misses", np.asarray(self.misses, dtype=bool))
        if self.hd95_unit not in (None, "mm", "voxels"):
            raise ValueError(f"hd95_unit must be 'mm' or 'voxels', got {self.hd95_unit!r}")

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

    def misses_per_class(self) -> list[int]:
        """Per foreground class, the number of volumes where the prediction missed or invented it."""
        if self.misses is None:
            raise ValueError("this evaluation did not note the missed classes")
        return [int(n) for n in self.misses.sum(axis=0)]

    def record_fields(self) -> dict[str, Any]:
        """The round record's metric fields: per computed metric ``m``, ``m`` (:meth:`mean`, a
        float) and ``m_per_class`` (:meth:`per_class`, an array); with Dice also
        ``dice_per_volume`` (the ``volumes x F`` array); with HD95 also ``hd95_misses_per_class``
        (:meth:`misses_per_class`, ints) and ``hd95_unit`` (``"mm"`` or ``"voxels"``) when known."""
        fields: dict[str, Any] = {}
        for name in self.scores:
            fields[name] = self.mean(name)
            fields[f"{name}_per_class"] = self.per_class(name)
        if "dice" in self.scores:
            fields["dice_per_volume"] = self.per_volume("dice")
        if "hd95" in self.scores:
            if self.misses is not None:
                fields["hd95_misses_per_class"] = self.misses_per_class()
            if self.hd95_unit is not None:
                fields["hd95_unit"] = self.hd95_unit
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


def class_argmax(logits: torch.Tensor) -> torch.Tensor:
    """``logits.argmax(dim=1)`` (the first class of a tie), computed along a contiguous last axis:
    on the CPU, argmax over the channel axis of an ``N x C x H x W`` tensor is several times
    slower than over the last axis of its channels-last copy, and the result is the same."""
    return logits.permute(0, *range(2, logits.ndim), 1).contiguous().argmax(dim=-1)


def predict_volume(
    model: nn.Module, volume: Volume, device: torch.device, batch_size: int = 64, amp: bool = True
) -> np.ndarray:
    """Label volume at the original resolution of ``volume.label``: logits resized bilinearly with
    aligned corners (the convention of the loaders' zoom), then the argmax."""
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
                logits = F.interpolate(logits, size=target_size, mode="bilinear", align_corners=True)
            slices.append(class_argmax(logits).to(torch.uint8).cpu())
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
    ``{"surface_dice": {"tolerance": 1.0}}``; options of metrics not computed are ignored.

    The result also holds the missed or invented classes per volume and, with HD95, its unit
    (:func:`hd95_unit`)."""
    names = tuple(dict.fromkeys(metrics))
    resolve_metrics(names, metric_options)  # unknown names fail before any prediction
    unit = hd95_unit(volumes) if "hd95" in names else None  # mixed spacings fail before predicting
    was_training = model.training
    model.eval()
    scores: dict[str, list[np.ndarray]] = {name: [] for name in names}
    misses: list[np.ndarray] = []
    try:
        for volume in volumes:
            prediction = predict_volume(model, volume, device, batch_size, amp)
            values = volume_metrics(
                prediction, volume.label, num_classes, volume.spacing, names, metric_options
            )
            for name in names:
                scores[name].append(values[name])
            misses.append(class_misses(prediction, volume.label, num_classes))
    finally:
        model.train(was_training)
    return EvaluationResult(
        {name: np.array(rows, dtype=float) for name, rows in scores.items()},
        misses=np.array(misses, dtype=bool).reshape(len(volumes), max(num_classes - 1, 0)),
        hd95_unit=unit,
    )


def hd95_unit(volumes: list[Volume]) -> str | None:
    """``"mm"`` when every volume has a spacing, ``"voxels"`` when none has; None for no volume.
    Volumes that disagree are a :class:`~alstrategies.errors.DatasetError` (their HD95 values
    could not be averaged)."""
    units = {"voxels" if volume.spacing is None else "mm" for volume in volumes}
    if len(units) > 1:
        without = [volume.name for volume in volumes if volume.spacing is None][:3]
        raise DatasetError(
            "the test volumes mix known and unknown voxel spacings (none for "
            f"{', '.join(without)}): HD95 in mm and in voxels cannot be averaged"
        )
    return units.pop() if units else None
