"""Surface Hausdorff distance (HD, HD95) as in medpy; HD95 is registered, lower is better.

Distances are measured between the surface voxels of the two masks (see
:mod:`alstrategies.metrics.surface`), in the unit of the voxel spacing (mm when the dataset
has one, voxels otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alstrategies.metrics.base import Metric, as_bool, check_shapes, register_metric, resolve_spacing
from alstrategies.metrics.surface import surface_distances

__all__ = ["HD95", "hausdorff_distance"]


def hausdorff_distance(
    pred_mask: np.ndarray,
    target_mask: np.ndarray,
    percentile: float = 100,
    spacing: Sequence[float] | None = None,
) -> float:
    """Surface Hausdorff distance (``percentile=100``) or HDxx (e.g. ``95``), as in medpy.

    Distances from every surface voxel of each mask to the nearest surface voxel of
    the other mask (scaled by ``spacing``) are pooled and the given percentile is
    returned. NaN when either mask is empty.
    """
    a = as_bool(pred_mask)
    b = as_bool(target_mask)
    check_shapes(a, b)
    if a.ndim == 0:
        raise ValueError("masks must have at least one dimension")
    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {percentile}")
    resolve_spacing(spacing, a.ndim)
    if not a.any() or not b.any():
        return float("nan")
    pooled = np.hstack(surface_distances(a, b, spacing))
    if percentile == 100:
        return float(pooled.max())
    return float(np.percentile(pooled, percentile))


def _hd(
    pred_mask: np.ndarray, target_mask: np.ndarray, spacing: Sequence[float] | None, percentile: float = 95
) -> float:
    """:func:`hausdorff_distance` as a registry function."""
    return hausdorff_distance(pred_mask, target_mask, percentile=percentile, spacing=spacing)


HD95 = register_metric(
    Metric(
        name="hd95",
        function=_hd,
        higher_is_better=False,
        scale=1.0,
        unit="mm or voxels",
        label="HD95",
        unit_in_title=False,  # the unit depends on the dataset's spacing
        options={"percentile": 95},
        heading="HD95 on the test volumes, mean ± std over seeds (lower is better)",
        note=(
            "HD95 in pixels, or mm where the dataset has a spacing (medpy's surface definition), "
            "averaged over the seeds where it is defined (n_seeds in hd95_table.csv). "
            "Lowest mean per column in bold."
        ),
    )
)
