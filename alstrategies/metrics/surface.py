"""Surfaces of binary masks and the distances between them (medpy's definition).

The surface of a mask is the mask minus its erosion by the connectivity-1 cross, with everything
outside the array treated as background (``medpy.metric.binary.__surface_distances``).

A distance is computed from the integer offset between two voxels times the spacing, never as the
difference of two absolute coordinates: it is then the same wherever the pair lies in the array
(a mask shifted or padded gives the same distances to the last bit), and a distance that is a
whole number of voxels along one axis is exactly that multiple of the spacing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

from alstrategies.metrics.base import as_bool, resolve_spacing

__all__ = ["offset_length", "surface_distances", "surface_mask"]


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
    voxels_a = np.argwhere(surface_mask(a))
    voxels_b = np.argwhere(surface_mask(b))
    _, nearest_in_b = cKDTree(voxels_b * sp).query(voxels_a * sp, k=1)
    _, nearest_in_a = cKDTree(voxels_a * sp).query(voxels_b * sp, k=1)
    return (
        offset_length(voxels_a - voxels_b[nearest_in_b], sp),
        offset_length(voxels_b - voxels_a[nearest_in_a], sp),
    )


def offset_length(offsets: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Euclidean length of integer voxel offsets ``(n, ndim)`` scaled by ``spacing``: a function
    of the offset alone, hence translation invariant (and equal for ``offsets`` and ``-offsets``)."""
    scaled = offsets.astype(np.float64) * spacing
    return np.sqrt(np.sum(scaled * scaled, axis=1))
