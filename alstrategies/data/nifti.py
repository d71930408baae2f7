"""Reading NIfTI volumes with errors that say what to fix: missing, unreadable, corrupt, a plain
NIfTI named ``.nii.gz``, not 3D, and several channels (a 4D volume) without ``data.channel``."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from alstrategies.data.orientation import axis_codes, canonical
from alstrategies.errors import DatasetError

Spacing = tuple[float, float, float]
GZIP_MAGIC = b"\x1f\x8b"


class NiftiVolume(NamedTuple):
    """A 3D volume as read: the array, its voxel sizes (mm), the affine stored in the file and the
    orientation letters of the returned array's axes (``"RAS"`` after reorientation)."""

    array: np.ndarray
    zooms: Spacing
    affine: np.ndarray
    codes: str


def is_plain_nifti(head: bytes) -> bool:
    """Whether ``head`` (the first bytes of a file) starts an uncompressed NIfTI-1 or -2 header."""
    if len(head) < 4:
        return False
    return any(struct.unpack(f"{order}i", head[:4])[0] in (348, 540) for order in "<>")


def read_head(path: Path, size: int = 8) -> bytes:
    """The first ``size`` bytes of ``path``; a file that cannot be opened is one-line error."""
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise DatasetError(
            f"{path} cannot be read ({reason}): give this user read access (e.g. chmod a+r) or copy it"
        ) from None


def check_compression(path: Path) -> None:
    """A file named ``.gz`` that holds an uncompressed NIfTI: an error that says how to compress it
    under its name (renaming it to ``.nii`` would leave it outside a ``*.nii.gz`` pattern)."""
    if not path.name.lower().endswith(".gz"):
        return
    head = read_head(path)
    if head[:2] != GZIP_MAGIC and is_plain_nifti(head):
        plain = path.name[:-3]
        raise DatasetError(
            f"{path} is not gzip-compressed (it is an uncompressed NIfTI): compress it under its name "
            f"(mv {path.name} {plain} && gzip {plain}), or rename it to {plain} and make the file pattern "
            "(data.images / data.labels, or dataset.json's file_ending) match .nii"
        )


def _corrupt(path: Path, error: Exception) -> DatasetError:
    """The error for a file nibabel cannot read: a plain NIfTI named ``.gz`` says so
    (:func:`check_compression` raises), anything else is corrupt or truncated."""
    check_compression(path)
    return DatasetError(f"{path} is corrupt or truncated ({error})")


def read_volume(
    path: Path,
    dtype: type | None = None,
    *,
    reorient: bool = False,
    channel: int | None = None,
    channel_hint: bool = False,
) -> NiftiVolume:
    """A NIfTI file's 3D array, voxel sizes, stored affine and orientation; see :func:`read_nifti`."""
    import nibabel

    if not path.is_file():
        raise DatasetError(f"{path} is missing")
    read_head(path)
    try:
        volume: Any = nibabel.load(str(path))  # a NIfTI image: shape, affine, header, dataobj
    except Exception as error:  # nibabel raises several types for corrupt or truncated files
        raise _corrupt(path, error) from None
    if len(volume.shape) < 3:
        raise DatasetError(f"{path}: expected a 3D volume, got an array of shape {tuple(volume.shape)}")
    stored = np.asarray(volume.affine, np.float64)
    try:
        if reorient:
            volume = canonical(volume)
        array = volume.get_fdata(dtype=dtype) if dtype is not None else np.asarray(volume.dataobj)
    except Exception as error:  # the data of a truncated file fail only here
        raise _corrupt(path, error) from None
    while array.ndim > 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 4 and channel is not None:
        if isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel < array.shape[-1]:
            raise DatasetError(
                f"{path}: data.channel = {channel!r} is not one of its {array.shape[-1]} channels "
                f"(0..{array.shape[-1] - 1})"
            )
        array = array[..., channel]
    if array.ndim != 3:
        hint = ""
        if channel_hint and array.ndim == 4:
            hint = f"; it holds {array.shape[-1]} channels: choose one with data.channel = 0..{array.shape[-1] - 1}"
        raise DatasetError(f"{path}: expected a 3D volume, got an array of shape {array.shape}{hint}")
    x, y, z = (float(zoom) for zoom in volume.header.get_zooms()[:3])
    zooms = (x, y, z)
    return NiftiVolume(array, zooms, stored, axis_codes(volume.affine))


def read_nifti(
    path: Path,
    dtype: type | None = None,
    *,
    reorient: bool = False,
    channel: int | None = None,
    channel_hint: bool = False,
) -> tuple[np.ndarray, Spacing]:
    """The 3D array of a NIfTI file and its voxel sizes (mm), in file axis order or, with
    ``reorient``, turned to RAS+ (:mod:`alstrategies.data.orientation`).

    ``dtype`` (e.g. ``np.float32``) reads scaled intensities in that type; ``None`` keeps the
    stored values (for labels). Trailing singleton axes are dropped; ``channel`` picks one
    volume of a 4D file (channels last, as in the Medical Segmentation Decathlon); any other
    shape than 3D is an error (``channel_hint``: that names ``data.channel``), with or without
    ``reorient``. A file this user cannot read is a one-line error too.
    """
    volume = read_volume(path, dtype, reorient=reorient, channel=channel, channel_hint=channel_hint)
    return volume.array, volume.zooms
