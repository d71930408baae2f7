"""Normalised surface Dice at a tolerance (Nikolov et al. 2021), in percent; higher is better.

The DeepMind ``surface-distance`` definition with this suite's surfaces and voxel spacing: of the
surface voxels of both masks (mask minus its erosion, :mod:`alstrategies.metrics.surface`), the
fraction that lie within ``tolerance`` (in the unit of the spacing: mm when the dataset has one,
voxels otherwise) of the other mask's surface::

    NSD = (|{a in S_P : d(a, S_T) <= tau}| + |{b in S_T : d(b, S_P) <= tau}|) / (|S_P| + |S_T|)

Every surface voxel counts once (DeepMind weights surface elements by their area). Both masks
empty: NaN, like Dice; exactly one empty: 0. A distance counts as within the tolerance when
``d <= tau * (1 + TOLERANCE_RTOL)``: two voxel offsets of equal length in exact arithmetic (3-4-5 at
an isotropic spacing) can differ by an ulp in floating point, and the relative 1e-9 keeps such
ties on the same side of ``tau``, far below the step between two lattice distances.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alstrategies.metrics.base import Metric, as_bool, check_shapes, register_metric, resolve_spacing
from alstrategies.metrics.surface import surface_distances

__all__ = ["DEFAULT_TOLERANCE", "SURFACE_DICE", "TOLERANCE_RTOL", "surface_dice"]

#: Default tolerance, in the spacing's unit (mm).
DEFAULT_TOLERANCE = 1.0
#: Relative slack of the ``d <= tolerance`` comparison (see the module docstring).
TOLERANCE_RTOL = 1e-9


def surface_dice(
    pred_mask: np.ndarray,
    target_mask: np.ndarray,
    spacing: Sequence[float] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> float:
    """Normalised surface Dice of two binary masks at ``tolerance`` (see the module docstring)."""
    a = as_bool(pred_mask)
    b = as_bool(target_mask)
    check_shapes(a, b)
    if a.ndim == 0:
        raise ValueError("masks must have at least one dimension")
    if not (np.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be finite and >= 0, got {tolerance}")
    resolve_spacing(spacing, a.ndim)
    has_a, has_b = bool(a.any()), bool(b.any())
    if not has_a and not has_b:
        return float("nan")
    if not has_a or not has_b:
        return 0.0
    d_ab, d_ba = surface_distances(a, b, spacing)
    limit = tolerance * (1.0 + TOLERANCE_RTOL)
    within = int(np.count_nonzero(d_ab <= limit)) + int(np.count_nonzero(d_ba <= limit))
    return within / (d_ab.size + d_ba.size)


def _surface_dice(
    pred_mask: np.ndarray,
    target_mask: np.ndarray,
    spacing: Sequence[float] | None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> float:
    """:func:`surface_dice` as a registry function."""
    return surface_dice(pred_mask, target_mask, spacing, tolerance=tolerance)


SURFACE_DICE = register_metric(
    Metric(
        name="surface_dice",
        function=_surface_dice,
        higher_is_better=True,
        scale=100.0,
        unit="%",
        label="Surface Dice",
        options={"tolerance": DEFAULT_TOLERANCE},
        heading="Mean normalised surface Dice (%) on the test volumes, mean ± std over seeds",
        note=(
            "Normalised surface Dice (Nikolov et al. 2021): the share of the surface voxels of the "
            "prediction and the ground truth within the tolerance of the other surface "
            "(evaluation.surface_tolerance in config.json; mm where the dataset has a spacing, "
            "else voxels), 3D per volume, averaged over classes, then volumes. Best mean per column in bold."
        ),
    )
)
