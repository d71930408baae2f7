"""Surfaces of binary masks and the distances between them (medpy's definition).

The surface of a mask is the mask minus its erosion by the connectivity-1 cross, with everything
outside the array treated as background (``medpy.metric.binary.__surface_distances``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

from alstrategies.metrics.base import as_bool, resolve_spacing

__all__ = ["surface_distances", "surface_mask"]


def surface_mask(mask: np.ndarray) -> np.ndarray:
    """Surface voxels: ``mask AND NOT erosion(mask)`` with the cross element, border = background.

    Computed with array slicing, which is much faster than
    ``scipy.ndimage.binary_erosion`` for a single cross-shaped erosion.
    """
    m = as_bool(mask)
    if m.ndim == 0:
        raise ValueError("mask must have at least one dimension")
    padded = np.pad(m, 1, mode="constant", constant_values=False)
    core = tuple(slice(1, -1) for _ in range(m.ndim))
    interior = m.copy()
    for axis in range(m.ndim):
        lo = list(core)
        hi = list(core)
        lo[axis] = slice(0, -2)
        hi[axis] = slice(2, None)
        interior &= padded[tuple(lo)]
        interior &= padded[tuple(hi)]
    return m & ~interior


def surface_distances(
    a: np.ndarray, b: np.ndarray, spacing: Sequence[float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """``(d_ab, d_ba)``: for every surface voxel of ``a`` the distance (scaled by ``spacing``) to
    the nearest surface voxel of ``b``, and the reverse. Both masks must be boolean, of one shape,
    and non-empty."""
    sp = resolve_spacing(spacing, a.ndim)
    pts_a = np.argwhere(surface_mask(a)) * sp
    pts_b = np.argwhere(surface_mask(b)) * sp
    d_ab, _ = cKDTree(pts_b).query(pts_a, k=1)
    d_ba, _ = cKDTree(pts_a).query(pts_b, k=1)
    return d_ab, d_ba
