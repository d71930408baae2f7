"""One orientation for every NIfTI volume, and the choice of the slice axis.

Volumes of one dataset are often stored in different orientations (MS-CMRSeg mixes PSR and LSP
files); sliced in array order they would give the network flipped and transposed slices. With
``data.reorient = true`` (the default of the file-pair loaders) every NIfTI volume is turned to
the closest canonical orientation, RAS+ (array axes pointing to the patient's Right, Anterior,
Superior), by :func:`nibabel.as_closest_canonical`; its voxel sizes follow the axes.

``data.slice_axis = "auto"`` takes the axis with the largest voxel size (the through-plane axis
of a stack of 2D acquisitions); ties go to the format's default axis when it is among them, else
to the first tied axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alstrategies.errors import DatasetError

#: relative tolerance under which two voxel sizes count as equal (header rounding)
SPACING_TOLERANCE = 1e-3


def canonical(volume: Any) -> Any:
    """The nibabel image turned to RAS+ (a no-op when it is already)."""
    import nibabel

    return nibabel.as_closest_canonical(volume)


def axis_codes(affine: Any) -> str:
    """The orientation letters of an affine, e.g. ``"PSR"``."""
    import nibabel

    return "".join(nibabel.aff2axcodes(affine))


def check_slice_axis(slice_axis: Any) -> None:
    """``None``, ``"auto"`` or an axis of a 3D array; anything else is an error."""
    if slice_axis is None or slice_axis == "auto":
        return
    if isinstance(slice_axis, bool) or slice_axis not in (-3, -2, -1, 0, 1, 2):
        raise DatasetError(f"data.slice_axis must be 0, 1, 2, -1 or 'auto', got {slice_axis!r}")


def choose_slice_axis(
    requested: int | str | None, spacing: Sequence[float] | None, default: int, source: Path | str
) -> int:
    """The slice axis of one volume: ``requested`` as an int, the largest voxel size for
    ``"auto"`` (and for ``None`` when a spacing is known), else ``default``."""
    if requested is None:
        requested = "auto" if spacing is not None else default
    if requested != "auto":
        return int(requested) % 3
    if spacing is None:
        raise DatasetError(
            f"{source}: data.slice_axis = 'auto' needs a voxel spacing and this file has none; set "
            "data.spacing = [a, b, c] (mm, in the file's axis order) or an integer data.slice_axis"
        )
    largest = max(spacing)
    tied = [axis for axis, size in enumerate(spacing) if size >= largest * (1 - SPACING_TOLERANCE)]
    return default % 3 if default % 3 in tied else tied[0]
