"""Training targets per pool image, computed once: labels, and distance maps on demand."""

from __future__ import annotations

import numpy as np
import torch


class TargetCache:
    """The labels of the whole pool, and the SBC distance maps of each image the first time a
    training needs them (an EDT per labeled image costs more than its forward pass on a CPU).

    ``include_background`` selects the maps (:func:`alstrategies.sbcal.distance_maps`): C per
    image with the background (``model.distance_classes = "all"``), F = C - 1 without it.
    """

    def __init__(self, labels: torch.Tensor, num_classes: int, include_background: bool = True) -> None:
        self.labels = labels
        self.num_classes = num_classes
        self.include_background = bool(include_background)
        self.maps = num_classes if self.include_background else num_classes - 1
        self._distance: torch.Tensor | None = None
        self._have = torch.zeros(labels.shape[0], dtype=torch.bool)

    def targets(self, indices: np.ndarray, need_distance: bool) -> dict[str, torch.Tensor]:
        """``labels`` (and ``distance`` when asked) of the pool images ``indices``."""
        rows = torch.as_tensor(indices, device=self.labels.device)
        out = {"labels": self.labels[rows]}
        if need_distance:
            out["distance"] = self.distance(indices)
        return out

    def distance(self, indices: np.ndarray) -> torch.Tensor:
        """The distance maps of ``indices`` (n x maps x H x W), computing only those not cached yet."""
        from alstrategies.sbcal.scores import distance_maps

        if self._distance is None:
            n, h, w = self.labels.shape
            self._distance = torch.zeros((n, self.maps, h, w), dtype=torch.float32, device=self.labels.device)
        indices = np.asarray(indices, dtype=np.int64)
        missing = indices[~self._have[torch.as_tensor(indices)].numpy()]
        if missing.size:
            rows = torch.as_tensor(missing, device=self.labels.device)
            maps = distance_maps(
                self.labels[rows], self.num_classes, include_background=self.include_background
            )
            self._distance[rows] = maps.float()
            self._have[torch.as_tensor(missing)] = True
        return self._distance[torch.as_tensor(indices, device=self.labels.device)]
