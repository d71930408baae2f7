"""Dice coefficient (volume overlap), in percent in the tables; higher is better."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alstrategies.metrics.base import Metric, as_bool, check_shapes, register_metric

__all__ = ["DICE", "dice_score"]


def dice_score(pred_mask: np.ndarray, target_mask: np.ndarray) -> float:
    """Dice coefficient ``2|A∩B| / (|A|+|B|)`` of two binary masks; NaN if both are empty."""
    a = as_bool(pred_mask)
    b = as_bool(target_mask)
    check_shapes(a, b)
    total = int(np.count_nonzero(a)) + int(np.count_nonzero(b))
    if total == 0:
        return float("nan")
    inter = int(np.count_nonzero(np.logical_and(a, b)))
    return 2.0 * inter / total


def _dice(pred_mask: np.ndarray, target_mask: np.ndarray, spacing: Sequence[float] | None) -> float:
    """:func:`dice_score` as a registry function (the spacing does not matter)."""
    return dice_score(pred_mask, target_mask)


DICE = register_metric(
    Metric(
        name="dice",
        function=_dice,
        higher_is_better=True,
        scale=100.0,
        unit="%",
        label="Dice",
        heading="Mean Dice (%) on the test volumes, mean ± std over seeds",
        note=(
            "Dice is 3D per volume, averaged over classes, then volumes. Best mean per column in bold. "
            "HD95 is in hd95_table.md."
        ),
    )
)
