"""Image and label on one voxel grid: the check of their NIfTI affines (as nnU-Net's dataset
integrity check compares spacing, origin and direction).

Each file is reoriented by its own affine, so a label whose header differs from its image's would
be flipped, transposed or shifted against it without any other error. The two stored affines
must agree: voxel sizes within a relative :data:`SPACING_TOLERANCE`, axis directions (unit
vectors) within :data:`DIRECTION_TOLERANCE`, and origins within :data:`ORIGIN_TOLERANCE` of the
smallest voxel size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alstrategies.data.orientation import SPACING_TOLERANCE, axis_codes
from alstrategies.errors import DatasetError

#: largest difference of the axis direction cosines
DIRECTION_TOLERANCE = 1e-3
#: largest origin offset, as a share of the smallest voxel size
ORIGIN_TOLERANCE = 1e-2


def _parts(affine: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(voxel sizes, unit axis directions as columns, origin) of a 4 x 4 affine."""
    block = np.asarray(affine, np.float64)[:3, :3]
    zooms = np.linalg.norm(block, axis=0)
    return zooms, block / np.where(zooms > 0, zooms, 1.0), np.asarray(affine, np.float64)[:3, 3]


def _numbers(values: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"


def mismatch(image_affine: np.ndarray, label_affine: np.ndarray) -> str:
    """What differs between two grids (``""`` when they agree within the tolerances)."""
    image_zooms, image_axes, image_origin = _parts(image_affine)
    label_zooms, label_axes, label_origin = _parts(label_affine)
    problems = []
    if np.abs(image_axes - label_axes).max() > DIRECTION_TOLERANCE:
        problems.append("axis directions differ")
    if np.abs(image_zooms - label_zooms).max() > SPACING_TOLERANCE * image_zooms.max():
        problems.append(f"voxel sizes {_numbers(image_zooms)} vs {_numbers(label_zooms)} mm")
    offset = float(np.linalg.norm(image_origin - label_origin))
    if offset > ORIGIN_TOLERANCE * max(float(image_zooms.min()), 1e-6):
        problems.append(f"origins {offset:.4g} mm apart")
    return ", ".join(problems)


def check_same_grid(image: Path, image_affine: np.ndarray, label: Path, label_affine: np.ndarray) -> None:
    """A :class:`DatasetError` naming both files and orientations when ``label`` does not lie on
    the voxel grid of ``image``."""
    problem = mismatch(image_affine, label_affine)
    if not problem:
        return
    raise DatasetError(
        f"{label} (orientation {axis_codes(label_affine)}) does not lie on the grid of its image {image} "
        f"(orientation {axis_codes(image_affine)}): {problem}; if the arrays match voxel for voxel, "
        "save the label with the image's affine (nibabel.Nifti1Image(label_array, image.affine)), "
        "else resample the label onto the image"
    )
